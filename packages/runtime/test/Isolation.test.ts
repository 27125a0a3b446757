import { assert, describe, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { Actor, Process, RuntimeError } from "../src/index.js"

interface Order {
  id: string
  items: Array<{ sku: string; qty: number }>
  at: Date
}

type Call = { readonly _tag: "last" } | { readonly _tag: "echo"; readonly value: unknown }

const keeper = (isolation: Actor.Isolation | undefined) =>
  Actor.make({
    name: "keeper",
    ...(isolation === undefined ? {} : { isolation }),
    init: () => Effect.succeed({ last: undefined as unknown }),
    handleCall: (msg: Call, s: { last: unknown }) =>
      Effect.succeed(msg._tag === "last" ? Actor.reply(s.last, s) : Actor.reply(msg.value, s)),
    handleCast: (msg: unknown, _s: { last: unknown }) => Effect.succeed({ last: msg })
  })

const order = (): Order => ({ id: "o1", items: [{ sku: "a", qty: 1 }], at: new Date(0) })

describe("message isolation", () => {
  it.effect("none (the default): a sender's later mutation is seen by the actor", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(keeper(undefined), undefined)
      const sent = order()
      yield* Actor.cast(ref, sent)
      sent.items[0]!.qty = 99
      assert.strictEqual(((yield* Actor.call(ref, { _tag: "last" })) as Order).items[0]!.qty, 99)
      yield* Process.stop(ref)
    })
  )

  it.effect("copy: the actor keeps what was sent, whatever the sender does afterwards", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(keeper("copy"), undefined)
      const sent = order()
      yield* Actor.cast(ref, sent)
      sent.items[0]!.qty = 99
      sent.at.setTime(5)
      const seen = (yield* Actor.call(ref, { _tag: "last" })) as Order
      assert.strictEqual(seen.items[0]!.qty, 1)
      assert.strictEqual(seen.at.getTime(), 0)
      // The reply is a copy too: mutating it does not reach the actor's state.
      seen.items[0]!.qty = 42
      assert.strictEqual(((yield* Actor.call(ref, { _tag: "last" })) as Order).items[0]!.qty, 1)
      yield* Process.stop(ref)
    })
  )

  it.effect("freeze: the message is deep-frozen, so the sender's mutation throws", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(keeper("freeze"), undefined)
      const sent = { id: "o1", items: [{ sku: "a", qty: 1 }] }
      yield* Actor.cast(ref, sent)
      assert.throws(() => {
        sent.items[0]!.qty = 99
      }, TypeError)
      assert.isTrue(Object.isFrozen(sent.items))
      assert.strictEqual(((yield* Actor.call(ref, { _tag: "last" })) as Order).items[0]!.qty, 1)
      // A Date (or a Map, a Set) cannot be frozen: refused, with the advice to copy instead.
      const date = yield* Effect.flip(Actor.cast(ref, order()))
      assert.strictEqual(date._tag, "MessageNotIsolatable")
      assert.match(date.message, /use isolation "copy"/)
      yield* Process.stop(ref)
    })
  )

  it.effect("a payload that cannot be isolated is a typed error at send time", () =>
    Effect.gen(function* () {
      for (const mode of ["copy", "freeze"] as const) {
        const ref = yield* Actor.spawn(keeper(mode), undefined)
        const fn = yield* Effect.flip(Actor.cast(ref, { onDone: () => 1 }))
        assert.instanceOf(fn, RuntimeError.MessageNotIsolatable)
        assert.strictEqual((fn as RuntimeError.MessageNotIsolatable).path, "$.onDone")
        const deferred = yield* Deferred.make<number>()
        const d = yield* Effect.flip(Actor.call(ref, { _tag: "echo", value: [deferred] }))
        assert.strictEqual(d._tag, "MessageNotIsolatable")
        assert.strictEqual((d as RuntimeError.MessageNotIsolatable).path, "$.value[0]")
        // Nothing was delivered.
        assert.isUndefined(yield* Actor.call(ref, { _tag: "last" }))
        yield* Process.stop(ref)
      }
    })
  )

  it.effect("process refs, class instances and cycles are handled", () =>
    Effect.gen(function* () {
      class Point extends Data.Class<{ x: number; y: number }> {}
      const ref = yield* Actor.spawn(keeper("copy"), undefined)
      const other = yield* Actor.spawn(keeper(undefined), undefined)
      const cyclic: { self?: unknown; p: Point; ref: unknown } = { p: new Point({ x: 1, y: 2 }), ref: other }
      cyclic.self = cyclic
      yield* Actor.cast(ref, cyclic)
      const seen = (yield* Actor.call(ref, { _tag: "last" })) as typeof cyclic
      assert.notStrictEqual(seen, cyclic)
      assert.strictEqual(seen.self, seen)
      assert.instanceOf(seen.p, Point)
      assert.strictEqual(seen.p.x, 1)
      assert.strictEqual(seen.ref, other)
      yield* Process.stop(ref)
      yield* Process.stop(other)
    })
  )

  it.effect("layerIsolation sets the default for actors that do not choose", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(keeper(undefined), undefined)
      const sent = order()
      yield* Actor.cast(ref, sent)
      sent.items[0]!.qty = 99
      assert.strictEqual(((yield* Actor.call(ref, { _tag: "last" })) as Order).items[0]!.qty, 1)
      yield* Process.stop(ref)
    }).pipe(Effect.provide(Actor.layerIsolation("copy")))
  )

  it.effect("copy keeps JSON-like values equal", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(keeper("copy"), undefined)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.jsonValue(), async (value) => {
            const echoed = await Effect.runPromise(Actor.call(ref, { _tag: "echo", value }))
            assert.deepStrictEqual(echoed, value)
          }),
          { numRuns: 200 }
        )
      )
      yield* Process.stop(ref)
    })
  )
})
