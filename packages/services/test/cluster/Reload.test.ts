/**
 * `ModuleManager.reload`: the stored promoted version served when another application sharing the release store
 * made a newer one; nothing changed when the stored version is the served one or older (a stale notice never rolls
 * a module back). Two applications in memory over one in-memory release store: no database, no notices.
 */
import { Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ModuleManager, ReleaseStore, TestRuntime } from "../../src/index.js"

/** An application over the shared store, with the module `qa`. */
const application = (store: ReleaseStore.Service) =>
  Layer.build(
    Layer.provideMerge(
      Layer.effectDiscard(
        Effect.orDie(
          Effect.flatMap(ModuleManager.ModuleManager, (m) =>
            m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
          )
        )
      ),
      TestRuntime.layer()
    ).pipe(Layer.provide(Layer.succeed(ReleaseStore.ReleaseStore, store)))
  )

const managerOf = (app: Effect.Effect.Success<ReturnType<typeof application>>) =>
  Effect.provide(ModuleManager.ModuleManager, app)

describe("ModuleManager.reload", () => {
  it.scoped("serves a newer stored version, once; an equal or older one changes nothing", () =>
    Effect.gen(function* () {
      const store = ReleaseStore.makeMemory()
      const a = yield* managerOf(yield* application(store))
      const b = yield* managerOf(yield* application(store))
      yield* a.swap("qa", { instructions: { self: "Two." } })
      yield* a.swap("qa", { instructions: { self: "Three." } })
      assert.strictEqual((yield* b.describe("qa")).version, 1)

      assert.deepStrictEqual(yield* b.reload("qa"), { moduleId: "qa", from: 1, to: 3, applied: true })
      const served = JSON.stringify(Module.dumpState(yield* b.program("qa")))
      assert.include(served, "Three.")
      assert.deepStrictEqual(
        (yield* b.history("qa")).map((v) => v.version),
        [1, 2, 3]
      )
      // Again: nothing to do.
      assert.deepStrictEqual(yield* b.reload("qa"), { moduleId: "qa", from: 3, to: 3, applied: false })
      // B swaps on top of what it reloaded: the compare-and-swap accepts it (version 4), and A reloads it.
      yield* b.swap("qa", { instructions: { self: "Four." }, ifVersion: 3 })
      assert.strictEqual((yield* a.reload("qa")).to, 4)
      // A stored version older than the served one (written behind the ModuleManager's back) is not applied.
      yield* store.promote("qa", 2, Date.now())
      assert.deepStrictEqual(yield* a.reload("qa"), { moduleId: "qa", from: 4, to: 4, applied: false })
      assert.include(JSON.stringify(Module.dumpState(yield* a.program("qa"))), "Four.")
    })
  )

  it.scoped("an unknown module fails with ModuleNotFound", () =>
    Effect.gen(function* () {
      const a = yield* managerOf(yield* application(ReleaseStore.makeMemory()))
      assert.strictEqual((yield* Effect.flip(a.reload("nope")))._tag, "ModuleNotFound")
    })
  )
})
