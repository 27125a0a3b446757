/**
 * A run's fenced checkpoint store over an in-memory job table: reads come from one snapshot of the namespace (none
 * on a job's first run), concurrent writes are group-committed (one statement for the units finishing within a
 * millisecond, each `set` answered after its own commit), and a run fenced off writes nothing and stops.
 */
import { Checkpoint } from "@effect-dspy/optimizers"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Fenced from "../src/internal/fencedCheckpoints.js"
import type { JobTable } from "../src/internal/jobTable.js"

/** A job table holding one job's epoch and checkpoint rows, counting its statements. */
const memoryTable = (epoch: number, rows: Map<string, string>) => {
  const calls = { units: 0, writes: 0, written: [] as Array<ReadonlyArray<string>> }
  const table = {
    units: (namespace: string) =>
      Effect.sync(() => {
        calls.units++
        return new Map(
          [...rows].filter(([k]) => k.startsWith(`${namespace}|`)).map(([k, v]) => [k.slice(namespace.length + 1), v])
        )
      }),
    writeUnits: (
      _id: string,
      runEpoch: number,
      units: ReadonlyArray<{ namespace: string; key: string; json: string }>
    ) =>
      Effect.sync(() => {
        calls.writes++
        if (runEpoch !== epoch) return false
        for (const u of units) rows.set(`${u.namespace}|${u.key}`, u.json)
        calls.written.push(units.map((u) => u.key))
        return true
      })
  } as unknown as JobTable
  return { table, calls }
}

describe("fenced checkpoints", () => {
  it.effect("reads a namespace once and group-commits concurrent writes", () =>
    Effect.gen(function* () {
      const rows = new Map([["ns|done", JSON.stringify({ n: 1 })]])
      const { calls, table } = memoryTable(3, rows)
      const fenced = yield* Fenced.make(Checkpoint.makeMemory(), table, "job_1", 3)
      const found = yield* Effect.all(
        ["done", "a", "b"].map((key) => fenced.store.get("ns", key)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(found, [Option.some({ n: 1 }), Option.none(), Option.none()])
      assert.strictEqual(calls.units, 1, "one snapshot read for the namespace")
      assert.strictEqual(fenced.resumed(), 1)
      const sets = yield* Effect.fork(
        Effect.all(
          ["a", "b", "c", "d"].map((key) => fenced.store.set("ns", key, { key })),
          { concurrency: "unbounded" }
        )
      )
      // The statement waits a millisecond for the units finishing with the first.
      yield* Effect.yieldNow()
      assert.strictEqual(calls.writes, 0)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(sets)
      // Every unit is stored once its set returned, in one statement.
      for (const key of ["a", "b", "c", "d"]) assert.strictEqual(rows.get(`ns|${key}`), JSON.stringify({ key }))
      assert.strictEqual(calls.writes, 1)
      assert.deepStrictEqual(calls.written.flat().sort(), ["a", "b", "c", "d"])
      // The run's own units read back (the snapshot was taken before they were written).
      assert.deepStrictEqual(yield* fenced.store.get("ns", "c"), Option.some({ key: "c" }))
    })
  )

  it.effect("a job's first run reads nothing back", () =>
    Effect.gen(function* () {
      const { calls, table } = memoryTable(1, new Map([["ns|stray", "1"]]))
      const fenced = yield* Fenced.make(Checkpoint.makeMemory(), table, "job_1", 1, { empty: true })
      assert.deepStrictEqual(yield* fenced.store.get("ns", "stray"), Option.none())
      assert.strictEqual(calls.units, 0, "no snapshot read")
      assert.strictEqual(fenced.resumed(), 0)
    })
  )

  it.effect("a run fenced off writes nothing and is marked superseded", () =>
    Effect.gen(function* () {
      const rows = new Map<string, string>()
      const { table } = memoryTable(4, rows)
      const fenced = yield* Fenced.make(Checkpoint.makeMemory(), table, "job_1", 3)
      const set = yield* Effect.fork(Effect.flip(fenced.store.set("ns", "a", { a: 1 })))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(set)
      assert.strictEqual(error._tag, "CheckpointError")
      assert.include(error.message, "taken over by another run")
      assert.isTrue(fenced.superseded())
      assert.strictEqual(rows.size, 0)
    })
  )
})
