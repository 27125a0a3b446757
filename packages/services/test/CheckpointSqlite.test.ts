import { Example } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Checkpoint } from "@effect-dspy/optimizers"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CheckpointSqlite, ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-ckpt-sqlite-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

type Op =
  | { readonly _tag: "set"; readonly ns: string; readonly key: string; readonly value: unknown }
  | { readonly _tag: "clear"; readonly ns: string }

const namespaces = ["run-a/f1", "run-b/f2"]
const keys = ["bootstrap/0/r0", "bootstrap/1/r0", "score/3"]

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("set" as const),
      ns: fc.constantFrom(...namespaces),
      key: fc.constantFrom(...keys),
      value: fc.jsonValue()
    })
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("clear" as const), ns: fc.constantFrom(...namespaces) }) }
)

/** Every unit and size of `store` agrees with the model (values as JSON text). */
const agrees = (store: Checkpoint.Service, model: Map<string, Map<string, string>>) =>
  Effect.gen(function* () {
    for (const ns of namespaces) {
      assert.strictEqual(yield* store.size(ns), model.get(ns)?.size ?? 0)
      for (const key of keys) {
        const json = model.get(ns)?.get(key)
        const got = yield* store.get(ns, key)
        if (json === undefined) assert.isTrue(Option.isNone(got), `${ns} ${key} should be absent`)
        else assert.deepStrictEqual(got, Option.some(JSON.parse(json) as unknown))
      }
    }
  })

/** The stores under one contract: how to open one on a file (the memory store ignores it) and if it is durable. */
const stores: ReadonlyArray<{
  readonly name: string
  readonly durable: boolean
  readonly open: (file: string) => Effect.Effect<Checkpoint.Service, unknown, Scope.Scope>
}> = [
  { name: "memory", durable: false, open: () => Effect.sync(Checkpoint.makeMemory) },
  { name: "file", durable: true, open: (file) => Checkpoint.makeFile(`${file}.jsonl`) },
  { name: "sqlite", durable: true, open: (file) => CheckpointSqlite.make({ filename: `${file}.db` }) }
]

describe("CheckpointSqlite", () => {
  for (const kind of stores) {
    it.scoped(`${kind.name} store: get/size/clear follow a model of the operations, and survive reopening`, () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        let run = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(op, { maxLength: 30 }), (ops) =>
              Effect.runPromise(
                Effect.scoped(
                  Effect.gen(function* () {
                    const file = path.join(dir, `run-${run++}`)
                    const model = new Map<string, Map<string, string>>()
                    yield* Effect.scoped(
                      Effect.gen(function* () {
                        const store = yield* kind.open(file)
                        for (const o of ops) {
                          if (o._tag === "set") {
                            yield* store.set(o.ns, o.key, o.value)
                            let map = model.get(o.ns)
                            if (map === undefined) model.set(o.ns, (map = new Map()))
                            map.set(o.key, JSON.stringify(o.value ?? null))
                          } else {
                            yield* store.clear(o.ns)
                            model.delete(o.ns)
                          }
                        }
                        yield* agrees(store, model)
                      })
                    )
                    if (kind.durable) yield* agrees(yield* kind.open(file), model)
                  })
                )
              )
            ),
            { numRuns: 40 }
          )
        )
      })
    )
  }

  it.scoped("shares a database with other tables, and fails to open with a typed error saying where", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = path.join(dir, "jobs.db")
      const store = yield* CheckpointSqlite.make({ filename })
      yield* store.set("ns", "a", { score: 1 })
      const again = yield* CheckpointSqlite.make({ filename })
      assert.deepStrictEqual(yield* again.get("ns", "a"), Option.some({ score: 1 }))
      fs.writeFileSync(path.join(dir, "plain"), "a file, not a folder")
      const error = yield* Effect.flip(CheckpointSqlite.make({ filename: path.join(dir, "plain", "x.db") }))
      assert.strictEqual(error._tag, "CheckpointError")
      assert.strictEqual(error.operation, "open")
      assert.include(error.message, "plain")
      const cyclic: { self?: unknown } = {}
      cyclic.self = cyclic
      const bad = yield* Effect.flip(store.set("ns", "b", cyclic))
      assert.strictEqual(bad.operation, "set")
      assert.strictEqual(yield* store.size("ns"), 1)
    })
  )

  it.scoped("a database file replaced while open fails the next write with CheckpointError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = path.join(dir, "replaced.db")
      const store = yield* CheckpointSqlite.make({ filename })
      yield* store.set("ns", "a", { score: 1 })
      for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(filename + suffix, { force: true })
      fs.writeFileSync(filename, "")
      const error = yield* Effect.flip(store.set("ns", "b", { score: 2 }))
      assert.strictEqual(error._tag, "CheckpointError")
      assert.include(error.message, "replaced")
    })
  )

  it.effect("in the coordinator's job database: a restarted application resumes its job from that one file", () => {
    const splits = SimTask.splits(Arithmetic.task, { seed: 0, train: 6, dev: 4, test: 0 })
    const toExample = (e: Arithmetic.Example) =>
      Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
    const request: OptimizationCoordinator.StartRequest = {
      moduleId: "qa",
      optimizer: "bootstrap_few_shot",
      trainset: splits.train.map(toExample),
      valset: splits.dev.map(toExample)
    }
    const application = (filename: string) =>
      Layer.unwrapScoped(
        Effect.map(CheckpointSqlite.make({ filename }), (checkpoints) =>
          Layer.provideMerge(
            Layer.effectDiscard(
              Effect.orDie(
                Effect.flatMap(ModuleManager.ModuleManager, (m) =>
                  m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
                )
              )
            ),
            TestRuntime.layer({
              config: { optimization: { concurrency: 1 } },
              sim: { default: { latency: TestRuntime.fixedLatency(1000) } },
              checkpoints,
              application: { optimization: { coordinator: { filename } } }
            })
          )
        )
      )
    /** Moves the TestClock on until `fiber` ends. */
    const drive = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<A, E> =>
      Effect.flatMap(Fiber.poll(fiber), (exit) =>
        Option.isSome(exit) ? exit.value : Effect.zipRight(TestClock.adjust(1000), drive(fiber))
      )
    return Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = path.join(dir, "optimization.db")
      const id = yield* Effect.gen(function* () {
        const c = yield* OptimizationCoordinator.OptimizationCoordinator
        const started = yield* c.start(request)
        const steps = yield* Effect.fork(
          c.progress(started.id).pipe(
            Stream.filter((u) => u._tag === "Progress" && u.event._tag === "Step"),
            Stream.take(2),
            Stream.runDrain
          )
        )
        yield* drive(steps)
        return started.id
      }).pipe(Effect.provide(application(filename)))

      const job = yield* Effect.gen(function* () {
        const c = yield* OptimizationCoordinator.OptimizationCoordinator
        return yield* drive(yield* Effect.fork(c.await(id)))
      }).pipe(Effect.provide(application(filename)))
      assert.include(["swapped", "rejected"], job.status)
      assert.isAtLeast(job.progress.resumedSteps, 2)
      // One file: the jobs and the checkpoints.
      assert.deepStrictEqual(
        fs.readdirSync(dir).filter((f) => !f.endsWith("-wal") && !f.endsWith("-shm")),
        ["optimization.db"]
      )
    }).pipe(Effect.scoped)
  })
})
