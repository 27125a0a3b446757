import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as FiberLocal from "../src/FiberLocal.js"

const ref = FiberRef.unsafeMake("outer")

describe("FiberLocal", () => {
  it.effect("sets the value for the effect and puts the previous one back after a success", () =>
    Effect.gen(function* () {
      const inside = yield* FiberLocal.locally(FiberRef.get(ref), ref, "inner")
      assert.strictEqual(inside, "inner")
      assert.strictEqual(yield* FiberRef.get(ref), "outer")
    })
  )

  it.effect("puts the previous value back after a failure, and after the effect set its own", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        FiberLocal.locally(Effect.zipRight(FiberRef.set(ref, "changed"), Effect.fail("boom")), ref, "inner")
      )
      assert.deepStrictEqual(exit, Exit.fail("boom"))
      assert.strictEqual(yield* FiberRef.get(ref), "outer")
    })
  )

  it.effect("updates from the current value, nests, and is inherited by forked fibers", () =>
    Effect.gen(function* () {
      const seen = yield* FiberLocal.locallyWith(
        FiberLocal.locallyWith(Effect.flatMap(Effect.fork(FiberRef.get(ref)), Fiber.join), ref, (v) => `${v}/b`),
        ref,
        (v) => `${v}/a`
      )
      assert.strictEqual(seen, "outer/a/b")
      assert.strictEqual(yield* FiberRef.get(ref), "outer")
    })
  )

  it.effect("puts the previous value back when the effect is interrupted (a finalizer outside sees it)", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const seen = yield* Ref.make("unset")
      const fiber = yield* Effect.fork(
        Effect.ensuring(
          FiberLocal.locally(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never), ref, "inner"),
          Effect.flatMap(FiberRef.get(ref), (value) => Ref.set(seen, value))
        )
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* Ref.get(seen), "outer")
    })
  )

  it.effect("provides a context or a service for the effect only", () =>
    Effect.gen(function* () {
      class Name extends Context.Tag("test/Name")<Name, string>() {}
      class Other extends Context.Tag("test/Other")<Other, number>() {}
      const both = Effect.zip(Name, Effect.serviceOption(Other))
      const [name, other] = yield* FiberLocal.provideService(FiberLocal.provideService(both, Name, "inner"), Other, 7)
      assert.strictEqual(name, "inner")
      assert.deepStrictEqual(other, Option.some(7))
      const whole = yield* FiberLocal.provideContext(both, Context.make(Name, "only"))
      assert.deepStrictEqual(whole, ["only", Option.none()])
      assert.isTrue(Option.isNone(yield* Effect.serviceOption(Name)))
    })
  )
})
