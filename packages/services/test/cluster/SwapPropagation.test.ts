/**
 * Swap propagation between two application instances in this process, each with its own PostgreSQL pool and its
 * own listening connection (real LISTEN/NOTIFY on a throwaway server, support/pgServer.ts): a swap, a rollback and
 * a traffic policy made in A are served by B without a restart; a stale notice changes nothing; a change whose
 * notice was lost is caught by the reconciliation; and PostgreSQL restarted mid-run gives typed errors during the
 * outage and recovery after (the listener reconnects), with no corrupted release.
 *
 * Waiting for the other instance polls with a bounded timeout (a real server delivers the notices); the timing
 * target itself is the `cluster-swap` bench's.
 */
import { Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { ClusterChannel, ModuleManager, ReleaseStore, Storage, TestRuntime } from "../../src/index.js"
import * as PgServer from "../support/pgServer.js"

const pg = PgServer.shared()

/** One application instance on the database at `url`, with the module `qa`. */
const instance = (url: Redacted.Redacted<string>, reconcileMs = 60_000) =>
  Layer.provideMerge(
    Layer.effectDiscard(
      Effect.orDie(
        Effect.flatMap(ModuleManager.ModuleManager, (m) =>
          m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
        )
      )
    ),
    TestRuntime.layer({
      config: {
        storage: { backend: "postgres", postgres: { url: Redacted.value(url), maxConnections: 3 } },
        // Only a notice (or the reconciliation after a reconnect) can tell B in time: the periodic one is far off.
        cluster: { sync: { reconcileMs, reconnectMs: 100 } }
      }
    })
  )

type Instance = Layer.Layer.Success<ReturnType<typeof instance>>

const onInstance = <A, E>(app: Context.Context<Instance>, effect: Effect.Effect<A, E, ModuleManager.ModuleManager>) =>
  Effect.provide(effect, app)

const describeQa = Effect.flatMap(ModuleManager.ModuleManager, (m) => m.describe("qa"))
const instructionsOf = Effect.flatMap(ModuleManager.ModuleManager, (m) =>
  Effect.map(m.program("qa"), (p) => JSON.stringify(Module.dumpState(p)))
)

/** Waits (bounded) until the instance serves `version`. */
const served = (app: Context.Context<Instance>, version: number) =>
  onInstance(app, describeQa).pipe(
    Effect.filterOrFail(
      (info) => info.version === version,
      (info) => new Error(`serves version ${info.version}, not ${version}`)
    ),
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`version ${version} not served in 10 s`) })
  )

describe.skipIf(PgServer.binaries === undefined)("swap propagation", () => {
  it.live(
    "a swap and a rollback in A are served by B, without a restart",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const a = yield* Layer.build(instance(url))
          const b = yield* Layer.build(instance(url))
          const swapped = yield* onInstance(
            a,
            ModuleManager.swap("qa", { instructions: { self: "Answer with a number." } })
          )
          assert.strictEqual(swapped.version, 2)
          yield* served(b, 2)
          assert.strictEqual(yield* onInstance(b, instructionsOf), yield* onInstance(a, instructionsOf))
          assert.include(yield* onInstance(b, instructionsOf), "Answer with a number.")
          // B swaps next, from the version it now serves: accepted (no conflict), and A follows.
          yield* onInstance(b, ModuleManager.swap("qa", { instructions: { self: "Answer in words." }, ifVersion: 2 }))
          yield* served(a, 3)
          // A rolls back to version 2 (as version 4): B serves version 2's program.
          yield* onInstance(a, ModuleManager.rollback("qa", 2))
          yield* served(b, 4)
          assert.include(yield* onInstance(b, instructionsOf), "Answer with a number.")
          const history = yield* onInstance(
            b,
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.history("qa"))
          )
          assert.deepStrictEqual(
            history.map((v) => [v.version, v.current]),
            [
              [1, false],
              [2, false],
              [3, false],
              [4, true]
            ]
          )
        })
      ),
    60_000
  )

  it.live(
    "a stale or repeated notice changes nothing",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const a = yield* Layer.build(instance(url))
          const b = yield* Layer.build(instance(url))
          yield* onInstance(a, ModuleManager.swap("qa", { instructions: { self: "Two." } }))
          yield* onInstance(a, ModuleManager.swap("qa", { instructions: { self: "Three." } }))
          yield* served(b, 3)
          // A late notice of version 2, and the same notice of version 3 again, from a third process.
          yield* Effect.provide(
            Effect.all([
              ClusterChannel.publish({ kind: "release", moduleId: "qa", revision: 2, origin: "elsewhere" }),
              ClusterChannel.publish({ kind: "release", moduleId: "qa", revision: 3, origin: "elsewhere" })
            ]),
            Storage.layerPostgresClient({ url })
          )
          const reload = yield* onInstance(
            b,
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.reload("qa"))
          )
          assert.deepStrictEqual(reload, { moduleId: "qa", from: 3, to: 3, applied: false })
          assert.strictEqual((yield* onInstance(b, describeQa)).version, 3)
          assert.include(yield* onInstance(b, instructionsOf), "Three.")
        })
      ),
    60_000
  )

  it.live(
    "a traffic policy set and cleared in A routes in B",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const a = yield* Layer.build(instance(url))
          const b = yield* Layer.build(instance(url))
          yield* onInstance(a, ModuleManager.swap("qa", { instructions: { self: "Two." } }))
          const policyOf = Effect.flatMap(ModuleManager.ModuleManager, (m) => m.policy("qa"))
          const pinned = { _tag: "Pinned", version: "1" }
          yield* onInstance(
            a,
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.setPolicy("qa", pinned))
          )
          const followed = yield* onInstance(b, policyOf).pipe(
            Effect.filterOrFail(
              (status) => status !== undefined,
              () => new Error("no policy in B yet")
            ),
            Effect.retry(Schedule.spaced("10 millis")),
            Effect.timeout("10 seconds")
          )
          assert.deepStrictEqual(followed?.policy, (yield* onInstance(a, policyOf))?.policy)
          // B serves the version the policy pins, while its promoted version is 2.
          const execution = yield* onInstance(b, ModuleManager.execute("qa", { question: "1 + 1?" }))
          assert.deepStrictEqual([execution.version, execution.reason], [1, "pinned"])
          yield* onInstance(
            a,
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.clearPolicy("qa"))
          )
          yield* onInstance(b, policyOf).pipe(
            Effect.filterOrFail(
              (status) => status === undefined,
              () => new Error("B still has the policy")
            ),
            Effect.retry(Schedule.spaced("10 millis")),
            Effect.timeout("10 seconds")
          )
        })
      ),
    60_000
  )

  it.live(
    "a canary that A rolls back by itself stops routing in B: its version and the lifted policy propagate",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const a = yield* Layer.build(instance(url, 200))
          const b = yield* Layer.build(instance(url, 200))
          // The regression: version 2 asks the LM for a temperature it refuses (every call fails).
          yield* onInstance(a, ModuleManager.swap("qa", { config: { self: { temperature: 5 } } }))
          const canary = {
            _tag: "Canary",
            stable: "1",
            candidate: "2",
            fraction: 0.5,
            guardRails: { maxErrorRate: 0.2, minSamples: 10 }
          }
          yield* onInstance(
            a,
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.setPolicy("qa", canary, { seed: 5 }))
          )
          const policyOf = Effect.flatMap(ModuleManager.ModuleManager, (m) => m.policy("qa"))
          yield* onInstance(b, policyOf).pipe(
            Effect.filterOrFail(
              (status) => status?.policy._tag === "Canary",
              () => new Error("B does not route the canary yet")
            ),
            Effect.retry(Schedule.spaced("10 millis")),
            Effect.timeout("10 seconds")
          )
          // Only A takes traffic: its guard rail breaks and its ModuleManager rolls back (version 3).
          for (let i = 0; i < 100; i++)
            yield* Effect.exit(onInstance(a, ModuleManager.execute("qa", { question: `${i}?` })))
          yield* served(a, 3)
          yield* served(b, 3)
          // B stops routing the canary too (A clears the shared policy at its next reconciliation).
          yield* onInstance(b, policyOf).pipe(
            Effect.filterOrFail(
              (status) => status === undefined,
              () => new Error("B still routes the canary")
            ),
            Effect.retry(Schedule.spaced("20 millis")),
            Effect.timeout("10 seconds")
          )
          const after = yield* onInstance(b, ModuleManager.execute("qa", { question: "1 + 1?" }))
          assert.deepStrictEqual([after.version, after.reason], [3, "promoted"])
        })
      ),
    60_000
  )

  it.live(
    "a change whose notice was lost is caught by the periodic reconciliation",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const b = yield* Layer.build(instance(url, 200))
          // A writer that sends no notice (as if B had been disconnected when it was sent): version 2 promoted.
          yield* Effect.provide(
            Effect.gen(function* () {
              const store = yield* ReleaseStore.ReleaseStore
              const stored = Option.getOrThrow(yield* store.load("qa"))
              const first = stored.versions[0]!
              yield* store.appendIf(
                {
                  ...first,
                  version: 2,
                  lineage: { ...first.lineage, parent: 1, reason: "swapped" },
                  createdAt: Date.now()
                },
                1
              )
            }),
            Layer.provide(ReleaseStore.layerPostgres, Storage.layerPostgresClient({ url }))
          )
          yield* served(b, 2)
        })
      ),
    60_000
  )

  it.live(
    "PostgreSQL restarted mid-run: typed errors during the outage, the listener reconnects, nothing corrupted",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const server = pg.server()
          const a = yield* Layer.build(instance(url))
          const b = yield* Layer.build(instance(url))
          yield* onInstance(a, ModuleManager.swap("qa", { instructions: { self: "Two." } }))
          yield* served(b, 2)

          yield* server.stop
          // A change during the outage fails with the store's typed error and changes nothing.
          const refused = yield* Effect.flip(onInstance(a, ModuleManager.swap("qa", { instructions: { self: "X." } })))
          assert.strictEqual(refused._tag, "ReleaseStoreError")
          assert.strictEqual((yield* onInstance(a, describeQa)).version, 2)
          // B keeps serving what it served (from memory).
          const during = yield* onInstance(b, ModuleManager.execute("qa", { question: "2 + 2?" }))
          assert.strictEqual(during.version, 2)

          yield* server.start
          // The pool reconnects: A's next swap succeeds (retried while the server finishes starting).
          const swapped = yield* onInstance(a, ModuleManager.swap("qa", { instructions: { self: "Three." } })).pipe(
            Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds")))
          )
          assert.strictEqual(swapped.version, 3)
          // B learns of it through its reconnected listener (or the reconciliation it runs on connecting).
          yield* served(b, 3)
          assert.include(yield* onInstance(b, instructionsOf), "Three.")
          // The stored releases are whole: versions 1..3, version 3 promoted, nothing from the refused swap.
          const stored = yield* Effect.provide(
            Effect.flatMap(ReleaseStore.ReleaseStore, (s) => s.load("qa")),
            Layer.provide(ReleaseStore.layerPostgres, Storage.layerPostgresClient({ url }))
          )
          const module = Option.getOrThrow(stored)
          assert.deepStrictEqual([module.module.promoted, module.versions.map((v) => v.version)], [3, [1, 2, 3]])
          assert.notInclude(JSON.stringify(module.versions), "X.")
        })
      ),
    90_000
  )
})
