import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Actor, Process, Supervisor } from "../src/index.js"

const Idle = Actor.make({
  name: "idle",
  init: () => Effect.succeed(0),
  handleCall: (_: "ping", n: number) => Effect.succeed(Actor.reply("pong", n)),
  handleCast: (msg: "crash" | "stop", n: number) =>
    msg === "crash" ? Effect.dieMessage("crashed on purpose") : Effect.succeed(Actor.stop(n))
})

type ParentCall = "spawn"
/** Spawns an Idle child from its handler; crashes on "crash". */
const Parent = Actor.make({
  name: "parent",
  init: () => Effect.succeed(0),
  handleCall: (_: ParentCall, n: number) => Effect.map(Actor.spawn(Idle, undefined), (child) => Actor.reply(child, n)),
  handleCast: (_: "crash", _n: number) => Effect.dieMessage("parent crashed")
})

/** Traps exits and records every exit message it receives. */
const Trapper = Actor.make({
  name: "trapper",
  trapExit: true,
  init: () => Effect.succeed([] as Array<Process.ExitMessage>),
  handleCall: (_: "exits", exits: Array<Process.ExitMessage>) => Effect.succeed(Actor.reply([...exits], exits)),
  handleInfo: (msg: Process.ExitMessage, exits: Array<Process.ExitMessage>) => Effect.succeed([...exits, msg])
})

describe("links", () => {
  it.effect("a process spawned in a handler dies with its parent's reason when the parent crashes", () =>
    Effect.gen(function* () {
      const parent = yield* Actor.spawn(Parent, undefined)
      const child = yield* Actor.call(parent, "spawn")
      yield* Actor.cast(parent, "crash")
      const reason = yield* Process.await(child)
      assert.strictEqual(reason._tag, "Failure")
      assert.match(Process.formatReason(reason), /parent crashed/)
    })
  )

  it.effect("a process spawned from a fiber the actor forked is linked to the actor too", () =>
    Effect.gen(function* () {
      const Forking = Actor.make({
        name: "forking",
        init: () => Effect.succeed(0),
        handleCall: (_: "spawn", n: number) =>
          Effect.map(Effect.flatMap(Effect.fork(Actor.spawn(Idle, undefined)), Fiber.join), (c) => Actor.reply(c, n)),
        handleCast: (_: "crash", _n: number) => Effect.dieMessage("forking crashed")
      })
      const parent = yield* Actor.spawn(Forking, undefined)
      const child = yield* Actor.call(parent, "spawn")
      yield* Actor.cast(parent, "crash")
      assert.strictEqual((yield* Process.await(child))._tag, "Failure")
    })
  )

  it.effect("a process started in a worker's init stops when the worker's supervisor stops", () =>
    Effect.gen(function* () {
      let helper: Process.Process | undefined
      const WithHelper = Actor.make({
        name: "with-helper",
        init: () => Effect.map(Actor.spawn(Idle, undefined), (h) => (helper = h)),
        handleCall: (_: "ping", s: Process.Process) => Effect.succeed(Actor.reply("pong", s))
      })
      const sup = yield* Supervisor.spawn({ children: [Supervisor.worker("w", Actor.spawn(WithHelper, undefined))] })
      assert.isTrue(yield* Process.isAlive(helper!))
      yield* Process.stop(sup)
      assert.isFalse(yield* Process.isAlive(helper!))
      assert.strictEqual((yield* Process.await(helper!))._tag, "Shutdown")
    })
  )

  it.effect("a normal exit does not kill a linked process; an abnormal one does", () =>
    Effect.gen(function* () {
      const a = yield* Actor.spawn(Idle, undefined)
      const b = yield* Actor.spawn(Idle, undefined)
      const c = yield* Actor.spawn(Idle, undefined)
      yield* Process.link(a, b)
      yield* Process.link(b, c)
      yield* Actor.cast(a, "stop")
      assert.strictEqual((yield* Process.await(a))._tag, "Normal")
      assert.strictEqual(yield* Actor.call(b, "ping"), "pong")
      yield* Actor.cast(b, "crash")
      assert.strictEqual((yield* Process.await(c))._tag, "Failure")
    })
  )

  it.effect("unlink removes the link both ways", () =>
    Effect.gen(function* () {
      const a = yield* Actor.spawn(Idle, undefined)
      const b = yield* Actor.spawn(Idle, undefined)
      yield* Process.link(a, b)
      yield* Process.unlink(b, a)
      yield* Process.kill(a)
      assert.strictEqual(yield* Actor.call(b, "ping"), "pong")
      yield* Process.stop(b)
    })
  )

  it.effect("linking to a dead process fails with NoProc", () =>
    Effect.gen(function* () {
      const a = yield* Actor.spawn(Idle, undefined)
      const b = yield* Actor.spawn(Idle, undefined)
      yield* Process.kill(b)
      const error = yield* Effect.flip(Process.link(a, b))
      assert.strictEqual(error._tag, "NoProc")
      yield* Process.stop(a)
    })
  )

  it.effect("a trapping process receives an exit message instead of dying", () =>
    Effect.gen(function* () {
      const trapper = yield* Actor.spawn(Trapper, undefined)
      const a = yield* Actor.spawn(Idle, undefined)
      yield* Process.link(trapper, a)
      yield* Actor.cast(a, "crash")
      yield* Process.await(a)
      const exits = yield* Actor.call(trapper, "exits")
      assert.strictEqual(exits.length, 1)
      assert.strictEqual(exits[0]!._tag, "Exit")
      assert.strictEqual(exits[0]!.pid.id, a.pid.id)
      assert.strictEqual(exits[0]!.reason._tag, "Failure")
      yield* Process.stop(trapper)
    })
  )

  it.effect("trapExit can be switched on at run time and returns the previous flag", () =>
    Effect.gen(function* () {
      const Switching = Actor.make({
        name: "switching",
        init: (_: void, self: Actor.ActorRef<"exits", ReadonlyArray<string>, never, Process.ExitMessage>) =>
          Effect.as(Process.trapExit(self, true), [] as ReadonlyArray<string>),
        handleCall: (_: "exits", s: ReadonlyArray<string>) => Effect.succeed(Actor.reply(s, s)),
        handleInfo: (msg: Process.ExitMessage, s: ReadonlyArray<string>) => Effect.succeed([...s, msg.reason._tag])
      })
      const ref = yield* Actor.spawn(Switching, undefined)
      const a = yield* Actor.spawn(Idle, undefined)
      yield* Process.link(ref, a)
      yield* Process.kill(a)
      assert.deepStrictEqual(yield* Actor.call(ref, "exits"), ["Killed"])
      assert.isTrue(yield* Process.trapExit(ref, false))
      yield* Process.stop(ref)
    })
  )

  it.effect("a trapping child stops in order, running terminate, when its parent exits", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const Child = Actor.make({
        name: "trapping-child",
        trapExit: true,
        init: () => Effect.succeed(0),
        terminate: (reason) => Effect.sync(() => log.push(`terminate:${reason._tag}`))
      })
      let child: Process.Process | undefined
      const Owner = Actor.make({
        name: "owner",
        init: () => Effect.map(Actor.spawn(Child, undefined), (c) => (child = c)),
        handleCast: (_: "crash", _s: Process.Process) => Effect.dieMessage("owner crashed")
      })
      const owner = yield* Actor.spawn(Owner, undefined)
      yield* Actor.cast(owner, "crash")
      const reason = yield* Process.await(child!)
      assert.strictEqual(reason._tag, "Failure")
      assert.deepStrictEqual(log, ["terminate:Failure"])
    })
  )

  it.effect("spawnLink links to the given process; spawn with link false does not link", () =>
    Effect.gen(function* () {
      const owner = yield* Actor.spawn(Idle, undefined)
      const linked = yield* Actor.spawnLink(Idle, undefined, { to: owner })
      const parent = yield* Actor.spawn(Parent, undefined)
      const free = yield* Actor.spawn(Idle, undefined, { link: false })
      yield* Process.link(parent, free).pipe(Effect.zipRight(Process.unlink(parent, free)))
      yield* Actor.cast(owner, "crash")
      assert.strictEqual((yield* Process.await(linked))._tag, "Failure")
      assert.strictEqual(yield* Actor.call(free, "ping"), "pong")
      yield* Process.stop(free)
      yield* Process.stop(parent)
    })
  )

  it.effect("a supervisor traps its children's exits: a crashing child is restarted, the supervisor lives", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.spawn({ children: [Supervisor.worker("idle", Actor.spawn(Idle, undefined))] })
      const first = (yield* Supervisor.whichChildren(sup))[0]!.process as Actor.ActorRef<"ping", string, "crash">
      yield* Actor.cast(first, "crash")
      yield* Process.await(first)
      const second = (yield* Supervisor.whichChildren(sup))[0]!.process as Actor.ActorRef<"ping", string>
      assert.notStrictEqual(second, first)
      assert.strictEqual(yield* Actor.call(second, "ping"), "pong")
      assert.isTrue(yield* Process.isAlive(sup))
      yield* Process.stop(sup)
    })
  )
})
