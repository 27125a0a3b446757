import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Actor, DynamicSupervisor, Process, RuntimeError, Supervisor } from "../src/index.js"

class Boom {
  readonly _tag = "Boom"
}

class Log extends Context.Tag("test/Log")<Log, Array<string>>() {}

type Cmd = "crash" | "normal"

/** A worker that reads its log from the context (so restarts prove the supervisor's context is used). */
const Worker = Actor.make({
  name: "dyn-worker",
  init: (id: string) =>
    Effect.map(Log, (log) => {
      log.push(`start:${id}`)
      return { id, log }
    }),
  handleCall: (_: "id", s: { id: string; log: Array<string> }) => Effect.succeed(Actor.reply(s.id, s)),
  handleCast: (cmd: Cmd, s: { id: string; log: Array<string> }) =>
    cmd === "crash" ? Effect.fail(new Boom()) : Effect.succeed(Actor.stop(s)),
  terminate: (reason, s) =>
    Effect.sync(() => {
      if (reason._tag !== "Failure") s.log.push(`stop:${s.id}`)
    })
})

const spawnWorker = (id: string) => Actor.spawn(Worker, id)

describe("DynamicSupervisor", () => {
  it.effect("starts children on demand, restarts crashed permanent ones with the supervisor's context", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn<Log>().pipe(Effect.provideService(Log, log))
      const a = yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("a")))
      yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("b"), { restart: "temporary" }))
      assert.strictEqual(yield* Actor.call(a, "id"), "a")
      assert.deepStrictEqual(log, ["start:a", "start:b"])
      assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 2)
      yield* Actor.cast(a, "crash")
      yield* Process.await(a)
      const children = yield* DynamicSupervisor.whichChildren(sup)
      assert.strictEqual(children.length, 2)
      assert.deepStrictEqual(log, ["start:a", "start:b", "start:a"])
      const restarted = children.find((c) => c.restarts === 1)
      assert.isDefined(restarted)
      assert.notStrictEqual(restarted!.id, a.pid.toString())
      yield* Process.stop(sup)
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("a child started with an id is listed and described under it; without one, under its pid", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn<Log>()
      const named = yield* DynamicSupervisor.startChild(
        sup,
        DynamicSupervisor.child(spawnWorker("a"), { id: "job:42" })
      )
      const plain = yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("b")))
      const ids = (yield* DynamicSupervisor.whichChildren(sup)).map((c) => c.id).sort()
      assert.deepStrictEqual(ids, ["job:42", plain.pid.toString()].sort())
      const tree = Supervisor.render(yield* Supervisor.describe(sup, "workers"))
      assert.include(tree, `job:42 (worker) ${named.pid.toString()} running`)
      yield* Process.stop(sup)
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("temporary children are not restarted; transient ones only after a crash", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn<Log>({ maxRestarts: 10 }).pipe(Effect.provideService(Log, log))
      const temp = yield* DynamicSupervisor.startChild(
        sup,
        DynamicSupervisor.child(spawnWorker("temp"), { restart: "temporary" })
      )
      const trans = yield* DynamicSupervisor.startChild(
        sup,
        DynamicSupervisor.child(spawnWorker("trans"), { restart: "transient" })
      )
      yield* Actor.cast(temp, "crash")
      yield* Process.await(temp)
      yield* Actor.cast(trans, "normal")
      yield* Process.await(trans)
      assert.strictEqual(yield* DynamicSupervisor.size(sup), 0)
      const trans2 = yield* DynamicSupervisor.startChild(
        sup,
        DynamicSupervisor.child(spawnWorker("trans2"), { restart: "transient" })
      )
      yield* Actor.cast(trans2, "crash")
      yield* Process.await(trans2)
      assert.strictEqual((yield* DynamicSupervisor.whichChildren(sup)).length, 1)
      yield* Process.stop(sup)
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("maxChildren is enforced with a typed MaxChildren; room frees up when a child stops", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn<Log>({ maxChildren: 2 }).pipe(Effect.provideService(Log, log))
      const a = yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("a")))
      yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("b")))
      const error = yield* Effect.flip(DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("c"))))
      assert.instanceOf(error, RuntimeError.MaxChildren)
      assert.strictEqual((error as RuntimeError.MaxChildren).maxChildren, 2)
      assert.deepStrictEqual(log, ["start:a", "start:b"])
      yield* DynamicSupervisor.terminateChild(sup, a)
      assert.strictEqual((yield* Process.await(a))._tag, "Shutdown")
      yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("c")))
      const missing = yield* Effect.flip(DynamicSupervisor.terminateChild(sup, a))
      assert.instanceOf(missing, RuntimeError.ChildNotFound)
      yield* Process.stop(sup)
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("a failing child start fails startChild with the child's error and takes no slot", () =>
    Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn({ maxChildren: 1 })
      const failing = Actor.make({ init: () => Effect.fail(new Boom()) })
      const error = yield* Effect.flip(
        DynamicSupervisor.startChild(sup, DynamicSupervisor.child(Actor.spawn(failing, undefined)))
      )
      assert.instanceOf(error, Boom)
      assert.strictEqual(yield* DynamicSupervisor.size(sup), 0)
      yield* Process.stop(sup)
      const late = yield* Effect.flip(
        DynamicSupervisor.startChild(sup, DynamicSupervisor.child(Actor.spawn(failing, undefined)))
      )
      assert.instanceOf(late, RuntimeError.NoProc)
    })
  )

  it.effect("past its intensity it stops every child and exits with Shutdown", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const sup = yield* DynamicSupervisor.spawn<Log>({ maxRestarts: 2, maxSeconds: 10 }).pipe(
        Effect.provideService(Log, log)
      )
      yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("bystander")))
      const crasher = yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(spawnWorker("x")))
      let current: Process.Process = crasher
      for (let i = 0; i < 3; i++) {
        yield* Actor.cast(current as typeof crasher, "crash")
        yield* Process.await(current)
        yield* TestClock.adjust("1 second")
        const children = yield* Effect.either(DynamicSupervisor.whichChildren(sup))
        if (children._tag === "Left") break
        current = children.right.find((c) => c.restarts > 0)!.process!
      }
      assert.strictEqual((yield* Process.await(sup))._tag, "Shutdown")
      assert.include(log, "stop:bystander")
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("shutdown stops children concurrently, each with its timeout", () =>
    Effect.gen(function* () {
      const stopped: Array<string> = []
      const Slow = Actor.make({
        init: (id: string) => Effect.succeed(id),
        terminate: (_r, id: string) =>
          Effect.zipRight(
            Effect.sleep("2 seconds"),
            Effect.sync(() => stopped.push(id))
          )
      })
      const sup = yield* DynamicSupervisor.spawn()
      for (const id of ["a", "b", "c"]) {
        yield* DynamicSupervisor.startChild(sup, DynamicSupervisor.child(Actor.spawn(Slow, id)))
      }
      const stopping = yield* Effect.fork(Process.stop(sup, { timeout: "infinity" }))
      // sequential shutdown would need 6 seconds; concurrent needs 2
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(stopping))._tag, "Shutdown")
      assert.sameMembers(stopped, ["a", "b", "c"])
    })
  )

  it.effect("can be nested under a static supervisor and shows in describe", () => {
    const log: Array<string> = []
    return Effect.gen(function* () {
      const root = yield* Supervisor.spawn({
        name: "app",
        children: [DynamicSupervisor.childSpec<Log>("pool", { maxChildren: 10 })]
      }).pipe(Effect.provideService(Log, log))
      const pool = (yield* Supervisor.whichChildren(root))[0]!.process as DynamicSupervisor.DynamicSupervisorRef<Log>
      yield* DynamicSupervisor.startChild(pool, DynamicSupervisor.child(spawnWorker("w1")))
      yield* DynamicSupervisor.startChild(pool, DynamicSupervisor.child(spawnWorker("w2")))
      const tree = yield* Supervisor.describe(root)
      assert.strictEqual(tree.children[0]!.id, "pool")
      assert.strictEqual(tree.children[0]!.kind, "supervisor")
      assert.strictEqual(tree.children[0]!.children.length, 2)
      yield* Process.stop(root)
      assert.sameMembers(log, ["start:w1", "start:w2", "stop:w1", "stop:w2"])
    }).pipe(Effect.provideService(Log, log))
  })

  it.effect("invalid maxChildren is a typed error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(DynamicSupervisor.spawn({ maxChildren: -1 }))
      assert.strictEqual((error as RuntimeError.InvalidOptions).option, "maxChildren")
    })
  )
})
