import { Errors, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Actor, Process, RuntimeError, RuntimeEvents } from "../src/index.js"
import { eventsOf } from "./helpers.js"

const withEvents = Effect.provide(Events.layerMemory)

describe("unexpected messages", () => {
  it.effect("a cast to an actor without handleCast is dropped with an event; the actor keeps serving", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        name: "calls-only",
        init: () => Effect.succeed(1),
        handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n))
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref as unknown as Actor.ActorRef<never, never, string>, "surprise")
      assert.strictEqual(yield* Actor.call(ref, "get"), 1)
      const dropped = yield* eventsOf(RuntimeEvents.UnexpectedMessage.type)
      assert.strictEqual(dropped[0]!.data.kind, "cast")
      assert.strictEqual(dropped[0]!.data.pid, ref.pid.toString())
      yield* Process.stop(ref)
    }).pipe(withEvents)
  )

  it.effect("an info message to an actor without handleInfo is dropped with an event", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        name: "no-info",
        init: () => Effect.succeed(1),
        handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n))
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.send(ref as unknown as Actor.ActorRef<never, never, never, string>, "tick")
      assert.strictEqual(yield* Actor.call(ref, "get"), 1)
      assert.strictEqual((yield* eventsOf(RuntimeEvents.UnexpectedMessage.type))[0]!.data.kind, "info")
      yield* Process.stop(ref)
    }).pipe(withEvents)
  )
})

describe("calling yourself", () => {
  it.effect("fails at once with CalledSelf instead of timing out", () =>
    Effect.gen(function* () {
      const Selfish = Actor.make({
        name: "selfish",
        init: () => Effect.succeed(0),
        handleCall: (msg: "outer" | "inner", n: number, self: Actor.ActorRef<"outer" | "inner", string>) =>
          msg === "inner"
            ? Effect.succeed(Actor.reply("inner", n))
            : Effect.map(Effect.either(Actor.call(self, "inner")), (r) =>
                Actor.reply(Either.isLeft(r) ? r.left._tag : "answered", n)
              )
      })
      const ref = yield* Actor.spawn(Selfish, undefined)
      const outer = yield* Effect.fork(Actor.call(ref, "outer", "1 second"))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(outer), "CalledSelf")
      yield* Process.stop(ref)
    })
  )

  it.effect("a call to self from init fails at once too", () =>
    Effect.gen(function* () {
      const InitCaller = Actor.make({
        name: "init-caller",
        init: (_: void, self: Actor.ActorRef<"get", number>) =>
          Effect.map(Effect.flip(Actor.call(self, "get")), (e) => e._tag),
        handleCall: (_: "get", s: string) => Effect.succeed(Actor.reply(0, s))
      })
      const ref = yield* Effect.fork(Actor.spawn(InitCaller, undefined))
      yield* TestClock.adjust("5 seconds")
      const actor = yield* Fiber.join(ref)
      assert.strictEqual(yield* Actor.getState(actor), "CalledSelf")
      const error = new RuntimeError.CalledSelf({ message: "x", target: "y" })
      assert.strictEqual(error.code, "calling_self")
      assert.isTrue(Errors.isDSPyError(error))
      assert.isTrue(RuntimeError.isRuntimeError(error))
      assert.isFalse(RuntimeError.isRuntimeError(new Errors.UnexpectedError({ message: "x" })))
      yield* Process.stop(actor)
    })
  )
})

describe("handleContinue", () => {
  it.effect("runs after init and after a handler that asks for it, before the next message", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        name: "continuing",
        init: () => Effect.succeed(Actor.continueWith(["init"] as ReadonlyArray<string>, "after-init")),
        handleCall: (_: "log", log: ReadonlyArray<string>) => Effect.succeed(Actor.reply(log, log)),
        handleCast: (msg: string, log: ReadonlyArray<string>) =>
          Effect.succeed(Actor.continueWith([...log, msg], `after-${msg}`)),
        handleContinue: (arg: string, log: ReadonlyArray<string>) => Effect.succeed([...log, arg])
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref, "a")
      yield* Actor.cast(ref, "b")
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), ["init", "after-init", "a", "after-a", "b", "after-b"])
      yield* Process.stop(ref)
    })
  )

  it.effect("a call can reply and continue", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        name: "reply-continue",
        init: () => Effect.succeed(0),
        handleCall: (msg: "bump" | "get", n: number) =>
          Effect.succeed(msg === "get" ? Actor.reply(n, n) : Actor.replyContinue(n, n, 10)),
        handleContinue: (by: number, n: number) => Effect.succeed(n + by)
      })
      const ref = yield* Actor.spawn(def, undefined)
      assert.strictEqual(yield* Actor.call(ref, "bump"), 0)
      assert.strictEqual(yield* Actor.call(ref, "get"), 10)
      yield* Process.stop(ref)
    })
  )
})

describe("getState / replaceState", () => {
  it.effect("read and replace the state through the mailbox, in order with other messages", () =>
    Effect.gen(function* () {
      const def = Actor.make({
        name: "inspectable",
        init: () => Effect.succeed(1),
        handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n)),
        handleCast: (by: number, n: number) => Effect.succeed(n + by)
      })
      const ref = yield* Actor.spawn(def, undefined)
      yield* Actor.cast(ref, 2)
      assert.strictEqual(yield* Actor.getState(ref), 3)
      assert.strictEqual(yield* Actor.replaceState(ref, (n) => (n as number) * 10), 30)
      assert.strictEqual(yield* Actor.call(ref, "get"), 30)
      yield* Process.stop(ref)
      assert.strictEqual((yield* Effect.flip(Actor.getState(ref)))._tag, "NoProc")
    })
  )
})

describe("state redaction", () => {
  const secret = "sk-live-123"
  const handlers = {
    init: () => Effect.succeed({ apiKey: secret, calls: 7 }),
    // A bad return value (the state itself): the runtime's error message must not print it raw.
    handleCall: (_: "bad", s: { apiKey: string; calls: number }) =>
      Effect.succeed(s as unknown as Actor.CallResult<never, { apiKey: string; calls: number }>)
  }

  it.effect("a crash report shows formatState's view of the state, never the raw state", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(
        Actor.make({ name: "keeper", ...handlers, formatState: (s) => ({ calls: s.calls, apiKey: "<redacted>" }) }),
        undefined
      )
      yield* Effect.exit(Actor.call(ref, "bad"))
      const reason = yield* Process.await(ref)
      assert.strictEqual(reason._tag, "Failure")
      const text = reason._tag === "Failure" ? Cause.pretty(reason.cause) : ""
      assert.notInclude(text, secret)
      assert.include(text, '"calls":7')
      const reports = yield* eventsOf(RuntimeEvents.ActorCrashed.type)
      assert.notInclude(JSON.stringify(reports), secret)
      assert.deepStrictEqual(reports[0]!.data.state, { calls: 7, apiKey: "<redacted>" })
    }).pipe(withEvents)
  )

  it.effect("without formatState the state is not printed at all", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Actor.make({ name: "keeper", ...handlers }), undefined)
      yield* Effect.exit(Actor.call(ref, "bad"))
      const reason = yield* Process.await(ref)
      const text = reason._tag === "Failure" ? Cause.pretty(reason.cause) : ""
      assert.notInclude(text, secret)
      const reports = yield* eventsOf(RuntimeEvents.ActorCrashed.type)
      assert.notInclude(JSON.stringify(reports), secret)
      assert.strictEqual(reports[0]!.data.state, "<state redacted: define formatState to show it>")
    }).pipe(withEvents)
  )
})
