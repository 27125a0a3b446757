import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Actor, Process, RuntimeError, RuntimeEvents } from "../src/index.js"
import { eventsOf } from "./helpers.js"

const withEvents = Effect.provide(Events.layerMemory)

type Overflow = "block" | "fail" | "dropNewest" | "dropOldest"

/** Blocked on `gate` by the first cast; records every cast it handles. */
const gated = (overflow: Overflow) =>
  Actor.make({
    name: `gated-${overflow}`,
    mailboxCapacity: 2,
    mailboxOverflow: overflow,
    init: (gates: Gates) => Effect.succeed({ ...gates, seen: [] as Array<number> }),
    handleCall: (_: "seen", s: State) => Effect.succeed(Actor.reply([...s.seen], s)),
    handleCast: (n: number, s: State) =>
      Effect.as(
        n === 0 ? Effect.zipRight(Deferred.succeed(s.entered, undefined), Deferred.await(s.gate)) : Effect.void,
        {
          ...s,
          seen: [...s.seen, n]
        }
      )
  })

interface Gates {
  readonly gate: Deferred.Deferred<void>
  readonly entered: Deferred.Deferred<void>
}

interface State extends Gates {
  readonly seen: Array<number>
}

/** Spawns a gated actor and blocks it in its first cast (0). */
const blocked = (overflow: Overflow) =>
  Effect.gen(function* () {
    const gates = { gate: yield* Deferred.make<void>(), entered: yield* Deferred.make<void>() }
    const ref = yield* Actor.spawn(gated(overflow), gates)
    yield* Actor.cast(ref, 0)
    yield* Deferred.await(gates.entered)
    return { ref, gate: gates.gate }
  })

/** Opens the gate and waits until the actor has handled everything queued. */
const open = (gate: Deferred.Deferred<void>, ref: Process.Process) =>
  Effect.gen(function* () {
    yield* Deferred.succeed(gate, undefined)
    while ((yield* Actor.mailboxSize(ref)) > 0) yield* Effect.yieldNow()
  })

const fill = (overflow: Overflow) =>
  Effect.gen(function* () {
    const { gate, ref } = yield* blocked(overflow)
    yield* Actor.cast(ref, 1)
    yield* Actor.cast(ref, 2)
    return { ref, gate }
  })

describe("mailbox overflow", () => {
  it.effect("fail: a send to a full mailbox fails at once with MailboxFull", () =>
    Effect.gen(function* () {
      const { gate, ref } = yield* fill("fail")
      const error = yield* Effect.flip(Actor.cast(ref, 3))
      assert.instanceOf(error, RuntimeError.MailboxFull)
      assert.strictEqual(error.code, "mailbox_full")
      const call = yield* Effect.flip(Actor.call(ref, "seen"))
      assert.strictEqual(call._tag, "MailboxFull")
      yield* open(gate, ref)
      assert.deepStrictEqual(yield* Actor.call(ref, "seen"), [0, 1, 2])
      yield* Process.stop(ref)
    })
  )

  it.effect("dropNewest: the new message is dropped, with an event", () =>
    Effect.gen(function* () {
      const { gate, ref } = yield* fill("dropNewest")
      yield* Actor.cast(ref, 3)
      yield* open(gate, ref)
      assert.deepStrictEqual(yield* Actor.call(ref, "seen"), [0, 1, 2])
      const dropped = yield* eventsOf(RuntimeEvents.MailboxDropped.type)
      assert.strictEqual(dropped[0]!.data.policy, "dropNewest")
      assert.strictEqual(dropped[0]!.data.pid, ref.pid.toString())
      yield* Process.stop(ref)
    }).pipe(withEvents)
  )

  it.effect("dropOldest: the oldest queued message makes room, with an event", () =>
    Effect.gen(function* () {
      const { gate, ref } = yield* fill("dropOldest")
      yield* Actor.cast(ref, 3)
      yield* open(gate, ref)
      assert.deepStrictEqual(yield* Actor.call(ref, "seen"), [0, 2, 3])
      assert.strictEqual((yield* eventsOf(RuntimeEvents.MailboxDropped.type))[0]!.data.policy, "dropOldest")
      yield* Process.stop(ref)
    }).pipe(withEvents)
  )

  it.effect("a call dropped from the mailbox fails its caller with MailboxFull", () =>
    Effect.gen(function* () {
      const { gate, ref } = yield* blocked("dropOldest")
      const caller = yield* Effect.fork(Effect.flip(Actor.call(ref, "seen")))
      yield* Effect.yieldNow()
      yield* Actor.cast(ref, 1)
      yield* Actor.cast(ref, 2)
      assert.strictEqual((yield* Fiber.join(caller))._tag, "MailboxFull")
      yield* Deferred.succeed(gate, undefined)
      yield* Process.stop(ref)
    }).pipe(withEvents)
  )

  it.effect("two actors casting to each other through full mailboxes do not deadlock when they drop", () =>
    Effect.gen(function* () {
      // Each message makes the receiver cast two to its peer: the traffic grows until the mailboxes are full.
      // With overflow "block" both would wait on each other for ever; dropping lets both keep serving.
      type Peer = Actor.ActorRef<"count", number, number>
      const Pinger = Actor.make({
        name: "pinger",
        mailboxCapacity: 4,
        mailboxOverflow: "dropNewest",
        init: () => Effect.succeed({ peer: undefined as Peer | undefined, handled: 0 }),
        handleCall: (_: "count", s: { peer: Peer | undefined; handled: number }) =>
          Effect.succeed(Actor.reply(s.handled, s)),
        handleCast: (msg: number | Peer, s: { peer: Peer | undefined; handled: number }) =>
          Effect.gen(function* () {
            if (typeof msg !== "number") return { ...s, peer: msg }
            if (msg > 0 && s.peer !== undefined) {
              yield* Actor.cast(s.peer, msg - 1)
              yield* Actor.cast(s.peer, msg - 1)
            }
            return { ...s, handled: s.handled + 1 }
          })
      })
      const a = yield* Actor.spawn(Pinger, undefined)
      const b = yield* Actor.spawn(Pinger, undefined)
      yield* Actor.cast(a, b as unknown as number)
      yield* Actor.cast(b, a as unknown as number)
      yield* Actor.cast(a, 12)
      // Wait for the storm to settle (every message either handled or dropped).
      while ((yield* Actor.mailboxSize(a)) + (yield* Actor.mailboxSize(b)) > 0) yield* Effect.yieldNow()
      const counts = yield* Effect.fork(
        Effect.all([Actor.call(a, "count", "1 second"), Actor.call(b, "count", "1 second")])
      )
      yield* TestClock.adjust("1 second")
      const [na, nb] = yield* Fiber.join(counts)
      assert.isAbove(na + nb, 1)
      assert.isAbove((yield* eventsOf(RuntimeEvents.MailboxDropped.type)).length, 0)
      yield* Process.stop(a)
      yield* Process.stop(b)
    }).pipe(withEvents)
  )

  it.effect("an unknown overflow policy is a typed InvalidOptions", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Actor.spawn({ ...gated("fail"), mailboxOverflow: "spill" as never }, undefined as never)
      )
      assert.instanceOf(error, RuntimeError.InvalidOptions)
      assert.strictEqual(error.option, "mailboxOverflow")
    })
  )
})
