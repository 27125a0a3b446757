import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Actor, Process, RuntimeError } from "../src/index.js"

type CounterCall = { readonly _tag: "Get" } | { readonly _tag: "Add"; readonly by: number }

const Counter = Actor.make({
  name: "counter",
  init: (start: number) => Effect.succeed(start),
  handleCall: (msg: CounterCall, n: number) =>
    Effect.succeed(msg._tag === "Get" ? Actor.reply(n, n) : Actor.reply(n + msg.by, n + msg.by)),
  handleCast: (by: number, n: number) => Effect.succeed(n + by)
})

class Boom {
  readonly _tag = "Boom"
}

describe("Actor", () => {
  it.scoped("call and cast update and read the state in order", () =>
    Effect.gen(function* () {
      const counter = yield* Actor.start(Counter, 10)
      yield* Actor.cast(counter, 5)
      assert.strictEqual(yield* Actor.call(counter, { _tag: "Add", by: 2 }), 17)
      assert.strictEqual(yield* Actor.call(counter, { _tag: "Get" }), 17)
      assert.isTrue(yield* Process.isAlive(counter))
      assert.match(counter.toString(), /^counter<0\.\d+\.0>$/)
    })
  )

  it.scoped("init runs before the first message, even one sent to self during init", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const def = Actor.make({
        init: (_: void, self: Actor.ActorRef<"log", ReadonlyArray<string>, string>) =>
          Effect.gen(function* () {
            yield* Actor.cast(self, "from-init")
            log.push("init")
            return log
          }),
        handleCall: (_: "log", state: Array<string>) => Effect.succeed(Actor.reply([...state], state)),
        handleCast: (msg: string, state: Array<string>) => Effect.sync(() => [...state, msg])
      })
      const ref = yield* Actor.start(def, undefined)
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), ["init", "from-init"])
    })
  )

  it.effect("a failing init fails the start with its error and the actor is dead", () =>
    Effect.gen(function* () {
      let self: Process.Process | undefined
      const def = Actor.make({
        init: (_: void, ref: Actor.ActorRef<never, never>) => {
          self = ref
          return Effect.fail(new Boom())
        }
      })
      const exit = yield* Effect.exit(Actor.spawn(def, undefined))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.deepStrictEqual(Cause.failureOption(exit.cause)._tag, "Some")
      assert.isDefined(self)
      assert.isFalse(yield* Process.isAlive(self!))
      const reason = yield* Process.await(self!)
      assert.strictEqual(reason._tag, "Failure")
    })
  )

  it.effect("a zero mailbox capacity is a typed InvalidOptions", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Actor.spawn({ ...Counter, mailboxCapacity: 0 }, 0))
      assert.instanceOf(error, RuntimeError.InvalidOptions)
      assert.strictEqual(error.code, "badarg")
    })
  )

  it.effect("call times out with CallTimeout through the TestClock and the late reply is discarded", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const handled: Array<string> = []
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCall: (msg: "slow" | "fast", n: number) =>
          msg === "slow"
            ? Effect.as(Deferred.await(gate), Actor.reply("late", n + 1))
            : Effect.sync(() => {
                handled.push("fast")
                return Actor.reply(`fast-${n}`, n)
              })
      })
      const ref = yield* Actor.spawn(def, undefined)
      const caller = yield* Effect.fork(Effect.flip(Actor.call(ref, "slow", "1 second")))
      yield* TestClock.adjust("999 millis")
      assert.isNull(yield* Fiber.poll(caller).pipe(Effect.map((o) => (o._tag === "Some" ? "done" : null))))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(caller)
      assert.instanceOf(error, RuntimeError.CallTimeout)
      assert.strictEqual((error as RuntimeError.CallTimeout).timeoutMillis, 1000)
      assert.strictEqual(error.code, "timeout")
      // The server finishes later; its reply is dropped and it keeps serving with the new state.
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Actor.call(ref, "fast"), "fast-1")
      assert.deepStrictEqual(handled, ["fast"])
      yield* Process.stop(ref)
    })
  )

  it.effect("the default call timeout is 5 seconds", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCall: (_: "never", n: number) => Effect.as(Effect.never, Actor.reply(0, n))
      })
      const ref = yield* Actor.spawn(def, undefined)
      const caller = yield* Effect.fork(Effect.flip(Actor.call(ref, "never")))
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual((yield* Fiber.poll(caller))._tag, "None")
      yield* TestClock.adjust("1 millis")
      assert.instanceOf(yield* Fiber.join(caller), RuntimeError.CallTimeout)
      yield* Process.kill(ref)
    })
  )

  it.effect("calling a dead actor fails with NoProc; cast and send still succeed", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      assert.strictEqual((yield* Process.stop(ref))._tag, "Shutdown")
      const error = yield* Effect.flip(Actor.call(ref, { _tag: "Get" }))
      assert.instanceOf(error, RuntimeError.NoProc)
      assert.strictEqual(error.code, "noproc")
      yield* Actor.cast(ref, 1)
      yield* Actor.send(ref, undefined as never)
    })
  )

  it.effect("a failing handler crashes the actor with Failure; the caller gets NoProc with the reason", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCall: (msg: "ok" | "boom", n: number) =>
          msg === "boom" ? Effect.fail(new Boom()) : Effect.succeed(Actor.reply(n, n))
      })
      const ref = yield* Actor.spawn(def, undefined)
      const error = yield* Effect.flip(Actor.call(ref, "boom"))
      assert.instanceOf(error, RuntimeError.NoProc)
      assert.strictEqual((error as RuntimeError.NoProc).reason, "failure: Boom")
      const reason = yield* Process.await(ref)
      assert.strictEqual(reason._tag, "Failure")
      if (reason._tag === "Failure") assert.instanceOf(Cause.squash(reason.cause), Boom)
    })
  )

  it.effect("a defect in a cast handler crashes the actor and fails queued callers with NoProc", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n)),
        handleCast: (_: "die", n: number) => Effect.zipRight(Deferred.await(gate), Effect.die(new Error(`kaput${n}`)))
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref, "die")
      const queued = yield* Effect.fork(Effect.flip(Actor.call(ref, "get")))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      assert.instanceOf(yield* Fiber.join(queued), RuntimeError.NoProc)
      const reason = yield* Process.await(ref)
      assert.strictEqual(Process.formatReason(reason), "failure: defect Error: kaput0")
    })
  )

  it.effect("terminate runs on an orderly stop and after a crash, with the reason and last state", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const def = Actor.make({
        init: (id: string) => Effect.succeed(id),
        handleCast: (msg: "crash" | "stop", id: string) =>
          msg === "crash" ? Effect.fail(new Boom()) : Effect.succeed(Actor.stop(`${id}!`)),
        terminate: (reason, id) => Effect.sync(() => seen.push(`${id}:${Process.formatReason(reason)}`))
      })
      const a = yield* Actor.spawn(def, "a")
      const b = yield* Actor.spawn(def, "b")
      const c = yield* Actor.spawn(def, "c")
      yield* Actor.cast(a, "stop")
      assert.strictEqual((yield* Process.await(a))._tag, "Normal")
      yield* Actor.cast(b, "crash")
      assert.strictEqual((yield* Process.await(b))._tag, "Failure")
      assert.strictEqual((yield* Process.stop(c))._tag, "Shutdown")
      assert.deepStrictEqual(seen, ["a!:normal", "b:failure: Boom", "c:shutdown"])
    })
  )

  it.effect("kill interrupts without terminate and exits with Killed", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const def = Actor.make({
        init: () => Effect.succeed(0),
        terminate: () => Effect.sync(() => seen.push("terminate"))
      })
      const ref = yield* Actor.spawn(def, undefined)
      assert.strictEqual((yield* Process.kill(ref))._tag, "Killed")
      assert.deepStrictEqual(seen, [])
    })
  )

  it.effect("stop waits for the shutdown timeout, then interrupts a stuck actor (Killed)", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCast: (_: "hang", n: number) => Effect.as(Effect.never, n)
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref, "hang")
      yield* Effect.yieldNow()
      const stopping = yield* Effect.fork(Process.stop(ref, { timeout: "2 seconds" }))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(yield* Process.isAlive(ref))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(stopping))._tag, "Killed")
    })
  )

  it.effect("start ties the actor to its scope", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const ref = yield* Scope.extend(Actor.start(Counter, 0), scope)
      assert.isTrue(yield* Process.isAlive(ref))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* Process.exitReason(ref).pipe(Effect.map((o) => o._tag)), "Some")
      assert.strictEqual((yield* Process.await(ref))._tag, "Shutdown")
    })
  )

  it.effect("sendAfter delivers an info message after the delay on the TestClock; cancelTimer stops it", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        init: () => Effect.succeed<Array<string>>([]),
        handleCall: (_: "log", log: Array<string>) => Effect.succeed(Actor.reply([...log], log)),
        handleInfo: (msg: string, log: Array<string>) => Effect.sync(() => [...log, msg])
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.sendAfter(ref, "tick", "1 second")
      const cancelled = yield* Actor.sendAfter(ref, "never", "2 seconds")
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), ["tick"])
      assert.isTrue(yield* Actor.cancelTimer(cancelled))
      assert.isFalse(yield* Actor.cancelTimer(cancelled))
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), ["tick"])
      yield* Process.stop(ref)
    })
  )

  it.effect("sendInterval repeats periodic work until cancelled; an actor can re-arm its own timer", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        init: (_: void, self: Actor.ActorRef<"count", number, never, "tick" | "self">) =>
          Effect.as(Actor.sendAfter(self, "self", "300 millis"), { ticks: 0, selfTicks: 0 }),
        handleCall: (_: "count", s: { ticks: number; selfTicks: number }) =>
          Effect.succeed(Actor.reply(s.ticks * 100 + s.selfTicks, s)),
        handleInfo: (msg: "tick" | "self", s: { ticks: number; selfTicks: number }, self) =>
          msg === "tick"
            ? Effect.succeed({ ...s, ticks: s.ticks + 1 })
            : Effect.as(Actor.sendAfter(self, "self", "300 millis"), { ...s, selfTicks: s.selfTicks + 1 })
      })
      const ref = yield* Actor.spawn(def, undefined)
      const timer = yield* Actor.sendInterval(ref, "tick", "100 millis")
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Actor.call(ref, "count"), 10 * 100 + 3)
      yield* Actor.cancelTimer(timer)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(Math.floor((yield* Actor.call(ref, "count")) / 100), 10)
      yield* Process.stop(ref)
    })
  )

  it.effect("noReply holds the caller until replyTo; stopReply answers then stops", () =>
    Effect.gen(function* () {
      type S = { readonly waiting: Array<Actor.From<string>> }
      const def = Actor.make({
        init: () => Effect.succeed<S>({ waiting: [] }),
        handleCall: (msg: "wait" | "release" | "quit", s: S, _self, from: Actor.From<string>) => {
          if (msg === "wait") return Effect.succeed(Actor.noReply({ waiting: [...s.waiting, from] }))
          if (msg === "quit") return Effect.succeed(Actor.stopReply("bye", s))
          return Effect.as(
            Effect.forEach(s.waiting, (w) => Actor.replyTo(w, "released")),
            Actor.reply(`released ${s.waiting.length}`, { waiting: [] })
          )
        }
      })
      const ref = yield* Actor.spawn(def, undefined)
      const waiter = yield* Effect.fork(Actor.call(ref, "wait"))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* Actor.call(ref, "release"), "released 1")
      assert.strictEqual(yield* Fiber.join(waiter), "released")
      assert.strictEqual(yield* Actor.call(ref, "quit"), "bye")
      assert.strictEqual((yield* Process.await(ref))._tag, "Normal")
    })
  )

  it.effect("a full mailbox makes senders wait; they get in as messages are taken", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const def = Actor.make({
        name: "small",
        mailboxCapacity: 2,
        init: () => Effect.succeed<Array<number>>([]),
        handleCall: (_: "log", log: Array<number>) => Effect.succeed(Actor.reply([...log], log)),
        handleCast: (n: number, log: Array<number>) =>
          Effect.as(n === 0 ? Deferred.await(gate) : Effect.void, [...log, n])
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref, 0)
      yield* Effect.yieldNow()
      yield* Actor.cast(ref, 1)
      yield* Actor.cast(ref, 2)
      assert.strictEqual(yield* Actor.mailboxSize(ref), 2)
      const third = yield* Effect.fork(Actor.cast(ref, 3))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* Fiber.poll(third))._tag, "None")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(third)
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), [0, 1, 2, 3])
      yield* Process.stop(ref)
    })
  )

  it.effect("an interrupted caller abandons its call; the server still handles it", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const def = Actor.make({
        init: () => Effect.succeed(0),
        handleCall: (msg: "slow" | "get", n: number) =>
          msg === "slow" ? Effect.as(Deferred.await(gate), Actor.reply(n, n + 1)) : Effect.succeed(Actor.reply(n, n))
      })
      const ref = yield* Actor.spawn(def, undefined)
      const caller = yield* Effect.fork(Actor.call(ref, "slow"))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(caller)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Actor.call(ref, "get"), 1)
      yield* Process.stop(ref)
    })
  )
})
