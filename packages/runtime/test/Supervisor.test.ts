import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Actor, Monitor, Process, RuntimeError, Supervisor } from "../src/index.js"

class Boom {
  readonly _tag = "Boom"
}

type Cmd = "crash" | "normal" | "shutdown"

/** A worker that logs its starts and stops, and crashes or stops on command. */
const makeWorker = (log: Array<string>, options?: { readonly failInit?: (id: string) => boolean }) =>
  Actor.make({
    name: "worker",
    init: (id: string): Effect.Effect<string, Boom> =>
      options?.failInit?.(id) === true
        ? Effect.fail(new Boom())
        : Effect.sync(() => {
            log.push(`start:${id}`)
            return id
          }),
    handleCall: (_: "id", id: string) => Effect.succeed(Actor.reply(id, id)),
    handleCast: (cmd: Cmd, id: string) =>
      cmd === "crash"
        ? Effect.fail(new Boom())
        : Effect.succeed(Actor.stop(id, cmd === "normal" ? Process.normal : Process.shutdown)),
    terminate: (reason, id) =>
      Effect.sync(() => {
        if (reason._tag !== "Failure") log.push(`stop:${id}`)
      })
  })

const spec = (
  log: Array<string>,
  id: string,
  options?: { readonly restart?: Supervisor.RestartType; readonly shutdown?: Supervisor.ShutdownSpec }
) => Supervisor.worker(id, Actor.spawn(makeWorker(log), id), options)

const child = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.gen(function* () {
    const children = yield* Supervisor.whichChildren(sup)
    const found = children.find((c) => c.id === id)
    assert.isDefined(found, `child ${id}`)
    return found!
  })

const pidOf = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.map(child(sup, id), (c) => c.process?.pid.toString() ?? null)

/** Sends `cmd` to a child and waits until it has exited (its supervisor has the exit queued by then). */
const hit = (sup: Supervisor.SupervisorRef, id: string, cmd: Cmd = "crash") =>
  Effect.gen(function* () {
    const c = yield* child(sup, id)
    assert.isDefined(c.process, `child ${id} is running`)
    const ref = c.process as Actor.ActorRef<"id", string, Cmd>
    yield* Actor.cast(ref, cmd)
    return yield* Process.await(ref)
  })

describe("Supervisor", () => {
  it.effect("starts children in list order and stops them in reverse order", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "a"), spec(log, "b"), spec(log, "c")] })
      assert.deepStrictEqual(log, ["start:a", "start:b", "start:c"])
      assert.deepStrictEqual(yield* Supervisor.countChildren(sup), {
        specs: 3,
        active: 3,
        supervisors: 0,
        workers: 3
      })
      assert.strictEqual((yield* Process.stop(sup))._tag, "Shutdown")
      assert.deepStrictEqual(log.slice(3), ["stop:c", "stop:b", "stop:a"])
    })
  )

  it.effect("one_for_one restarts only the crashed child", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        strategy: "one_for_one",
        children: [spec(log, "a"), spec(log, "b"), spec(log, "c")]
      })
      const before = [yield* pidOf(sup, "a"), yield* pidOf(sup, "b"), yield* pidOf(sup, "c")]
      log.length = 0
      assert.strictEqual((yield* hit(sup, "b"))._tag, "Failure")
      const after = [yield* pidOf(sup, "a"), yield* pidOf(sup, "b"), yield* pidOf(sup, "c")]
      assert.deepStrictEqual(log, ["start:b"])
      assert.strictEqual(after[0], before[0])
      assert.notStrictEqual(after[1], before[1])
      assert.strictEqual(after[2], before[2])
      assert.strictEqual((yield* child(sup, "b")).restarts, 1)
      yield* Process.stop(sup)
    })
  )

  it.effect("one_for_all stops the others in reverse order and restarts all in order", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        strategy: "one_for_all",
        children: [spec(log, "a"), spec(log, "b"), spec(log, "c")]
      })
      const a = yield* pidOf(sup, "a")
      log.length = 0
      yield* hit(sup, "b")
      yield* Supervisor.whichChildren(sup)
      assert.deepStrictEqual(log, ["stop:c", "stop:a", "start:a", "start:b", "start:c"])
      assert.notStrictEqual(yield* pidOf(sup, "a"), a)
      yield* Process.stop(sup)
    })
  )

  it.effect("rest_for_one restarts the crashed child and those started after it", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        strategy: "rest_for_one",
        children: [spec(log, "a"), spec(log, "b"), spec(log, "c"), spec(log, "d")]
      })
      const a = yield* pidOf(sup, "a")
      log.length = 0
      yield* hit(sup, "b")
      yield* Supervisor.whichChildren(sup)
      assert.deepStrictEqual(log, ["stop:d", "stop:c", "start:b", "start:c", "start:d"])
      assert.strictEqual(yield* pidOf(sup, "a"), a)
      yield* Process.stop(sup)
    })
  )

  it.effect("restart types: permanent always, transient only on abnormal exit, temporary never", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        maxRestarts: 10,
        children: [
          spec(log, "perm", { restart: "permanent" }),
          spec(log, "trans", { restart: "transient" }),
          spec(log, "temp", { restart: "temporary" })
        ]
      })
      log.length = 0
      yield* hit(sup, "perm", "normal")
      assert.strictEqual((yield* child(sup, "perm")).status, "running")
      yield* hit(sup, "trans", "shutdown")
      assert.strictEqual((yield* child(sup, "trans")).status, "stopped")
      assert.deepStrictEqual(log, ["stop:perm", "start:perm", "stop:trans"])
      yield* Supervisor.restartChild(sup, "trans")
      yield* hit(sup, "trans", "crash")
      assert.strictEqual((yield* child(sup, "trans")).status, "running")
      yield* hit(sup, "temp", "crash")
      const ids = (yield* Supervisor.whichChildren(sup)).map((c) => c.id)
      assert.deepStrictEqual(ids, ["perm", "trans"])
      yield* Process.stop(sup)
    })
  )

  it.effect("more than maxRestarts within maxSeconds stops every child and exits with Shutdown", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "a"), spec(log, "b")] })
      for (let i = 0; i < 3; i++) {
        yield* hit(sup, "b")
        yield* TestClock.adjust("1 second")
        assert.isTrue(yield* Process.isAlive(sup))
      }
      log.length = 0
      yield* hit(sup, "b") // the 4th restart within 5 seconds
      assert.strictEqual((yield* Process.await(sup))._tag, "Shutdown")
      assert.deepStrictEqual(log, ["stop:a"])
      assert.instanceOf(yield* Effect.flip(Supervisor.whichChildren(sup)), RuntimeError.NoProc)
    })
  )

  it.effect("the intensity window slides: old restarts fall out of it", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ maxRestarts: 3, maxSeconds: 5, children: [spec(log, "a")] })
      // restarts at t = 0, 2, 4, 5.5 s: the window (0.5 s .. 5.5 s] holds three, so the supervisor lives
      for (const gap of [2000, 2000, 1500]) {
        yield* hit(sup, "a")
        yield* TestClock.adjust(gap)
      }
      yield* hit(sup, "a")
      assert.isTrue(yield* Process.isAlive(sup))
      // one more at 6.1 s: 2, 4, 5.5, 6.1 are four within 5 seconds
      yield* TestClock.adjust(600)
      yield* hit(sup, "a")
      assert.strictEqual((yield* Process.await(sup))._tag, "Shutdown")
    })
  )

  it.effect("a nested supervisor past its intensity escalates: the parent restarts it, then gives up too", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const root = yield* Supervisor.spawn({
        name: "root",
        maxRestarts: 1,
        children: [
          spec(log, "sibling"),
          Supervisor.supervisor("inner", { maxRestarts: 1, children: [spec(log, "leaf")] })
        ]
      })
      const innerOf = Effect.map(child(root, "inner"), (c) => c.process as Supervisor.SupervisorRef)
      const inner1 = yield* innerOf
      yield* hit(inner1, "leaf")
      yield* hit(inner1, "leaf") // second restart within 5 s: inner gives up
      assert.strictEqual((yield* Process.await(inner1))._tag, "Shutdown")
      const rootView = yield* child(root, "inner")
      assert.strictEqual(rootView.restarts, 1)
      assert.isTrue(yield* Process.isAlive(root))
      const inner2 = yield* innerOf
      assert.notStrictEqual(inner2.pid.id, inner1.pid.id)
      // the restarted inner supervisor escalates again: root's second restart within 5 s -> root shuts down
      log.length = 0
      yield* hit(inner2, "leaf")
      yield* hit(inner2, "leaf")
      assert.strictEqual((yield* Process.await(root))._tag, "Shutdown")
      // leaf restarted once, then inner gave up (its crashed leaf had nothing left to stop), then root stopped
      assert.deepStrictEqual(log, ["start:leaf", "stop:sibling"])
    })
  )

  it.effect("a child failing to start stops those already started and fails the start with its error", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const worker = makeWorker(log, { failInit: (id) => id === "b" })
      const error = yield* Effect.flip(
        Supervisor.spawn({
          children: ["a", "b", "c"].map((id) => Supervisor.worker(id, Actor.spawn(worker, id)))
        })
      )
      assert.instanceOf(error, RuntimeError.ChildStartFailed)
      assert.strictEqual((error as RuntimeError.ChildStartFailed).childId, "b")
      assert.instanceOf((error as RuntimeError.ChildStartFailed).cause, Boom)
      assert.deepStrictEqual(log, ["start:a", "stop:a"])
    })
  )

  it.effect("invalid options are typed errors", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const negative = yield* Effect.flip(Supervisor.spawn<never>({ maxRestarts: -1, children: [] }))
      assert.strictEqual((negative as RuntimeError.InvalidOptions).option, "maxRestarts")
      const period = yield* Effect.flip(Supervisor.spawn<never>({ maxSeconds: 0, children: [] }))
      assert.strictEqual((period as RuntimeError.InvalidOptions).option, "maxSeconds")
      const dup = yield* Effect.flip(Supervisor.spawn({ children: [spec(log, "x"), spec(log, "x")] }))
      assert.strictEqual((dup as RuntimeError.InvalidOptions).option, "children")
      assert.deepStrictEqual(log, [])
    })
  )

  it.effect("shutdown gives each child its timeout, then kills it; brutal_kill skips terminate", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const stuck = Actor.make({
        name: "stuck",
        init: () => Effect.succeed(0),
        terminate: () =>
          Effect.zipRight(
            Effect.sync(() => log.push("stuck:terminating")),
            Effect.never
          )
      })
      const sup = yield* Supervisor.spawn({
        children: [
          spec(log, "first"),
          Supervisor.worker("stuck", Actor.spawn(stuck, undefined), { shutdown: "3 seconds" }),
          spec(log, "brutal", { shutdown: "brutal_kill" })
        ]
      })
      const stuckRef = (yield* child(sup, "stuck")).process!
      log.length = 0
      const stopping = yield* Effect.fork(Process.stop(sup, { timeout: "infinity" }))
      yield* TestClock.adjust("2999 millis")
      assert.deepStrictEqual(log, ["stuck:terminating"])
      assert.isTrue(yield* Process.isAlive(sup))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(stopping))._tag, "Shutdown")
      assert.strictEqual((yield* Process.await(stuckRef))._tag, "Killed")
      assert.deepStrictEqual(log, ["stuck:terminating", "stop:first"])
    })
  )

  it.effect("nested supervisors shut down depth first, in reverse order", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const root = yield* Supervisor.spawn({
        children: [
          spec(log, "a"),
          Supervisor.supervisor("mid", { children: [spec(log, "m1"), spec(log, "m2")] }),
          spec(log, "z")
        ]
      })
      assert.deepStrictEqual(log, ["start:a", "start:m1", "start:m2", "start:z"])
      log.length = 0
      yield* Process.stop(root, { timeout: "infinity" })
      assert.deepStrictEqual(log, ["stop:z", "stop:m2", "stop:m1", "stop:a"])
    })
  )

  it.effect("terminateChild / restartChild / deleteChild / startChild", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "a"), spec(log, "b")] })
      log.length = 0
      yield* Supervisor.terminateChild(sup, "a")
      assert.deepStrictEqual(log, ["stop:a"])
      assert.strictEqual((yield* child(sup, "a")).status, "stopped")
      assert.deepStrictEqual((yield* Supervisor.countChildren(sup)).active, 1)
      const running = yield* Effect.flip(Supervisor.restartChild(sup, "b"))
      assert.instanceOf(running, RuntimeError.ChildRunning)
      const missing = yield* Effect.flip(Supervisor.terminateChild(sup, "nope"))
      assert.instanceOf(missing, RuntimeError.ChildNotFound)
      const restarted = yield* Supervisor.restartChild(sup, "a")
      assert.isTrue(yield* Process.isAlive(restarted))
      assert.deepStrictEqual(log, ["stop:a", "start:a"])
      yield* Supervisor.startChild(sup, spec(log, "c"))
      assert.deepStrictEqual(
        (yield* Supervisor.whichChildren(sup)).map((c) => c.id),
        ["a", "b", "c"]
      )
      assert.instanceOf(yield* Effect.flip(Supervisor.startChild(sup, spec(log, "c"))), RuntimeError.ChildRunning)
      assert.instanceOf(yield* Effect.flip(Supervisor.deleteChild(sup, "c")), RuntimeError.ChildRunning)
      yield* Supervisor.terminateChild(sup, "c")
      yield* Supervisor.deleteChild(sup, "c")
      assert.deepStrictEqual(
        (yield* Supervisor.whichChildren(sup)).map((c) => c.id),
        ["a", "b"]
      )
      yield* Process.stop(sup)
    })
  )

  it.effect("killing a supervisor kills its children (they are linked)", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "a")] })
      const a = (yield* child(sup, "a")).process!
      const down = yield* Monitor.monitor(a)
      yield* Process.kill(sup)
      assert.strictEqual((yield* down.await).reason._tag, "Killed")
    })
  )

  it.effect("describe returns the tree with ids, kinds, statuses and restart counts", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const root = yield* Supervisor.spawn({
        name: "root",
        children: [
          spec(log, "a"),
          Supervisor.supervisor("inner", { children: [spec(log, "leaf")] }),
          spec(log, "t", { restart: "transient" })
        ]
      })
      yield* hit(root, "a")
      yield* hit(root, "t", "normal")
      const tree = yield* Supervisor.describe(root)
      assert.strictEqual(tree.id, "root")
      assert.strictEqual(tree.kind, "supervisor")
      assert.deepStrictEqual(
        tree.children.map((c) => [c.id, c.kind, c.status, c.restarts]),
        [
          ["a", "worker", "running", 1],
          ["inner", "supervisor", "running", 0],
          ["t", "worker", "stopped", 0]
        ]
      )
      assert.deepStrictEqual(
        tree.children[1]!.children.map((c) => c.id),
        ["leaf"]
      )
      const text = Supervisor.render(tree)
      assert.match(text, /^root \(supervisor\) <0\.\d+\.0> running\n {2}a \(worker\) <0\.\d+\.0> running restarts=1\n/)
      assert.include(text, "    leaf (worker)")
      yield* Process.stop(root)
    })
  )

  it.effect.prop(
    "random crash sequences: the supervisor survives exactly while the sliding window holds <= maxRestarts",
    [fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 4 })],
    ([gaps, maxRestarts]) =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const sup = yield* Supervisor.spawn({ maxRestarts, maxSeconds: 5, children: [spec(log, "a")] })
        const times: Array<number> = []
        let now = 0
        for (const gap of gaps) {
          yield* TestClock.adjust(gap)
          now += gap
          yield* hit(sup, "a")
          times.push(now)
          const inWindow = times.filter((t) => t >= now - 5000).length
          const expectedAlive = inWindow <= maxRestarts
          if (expectedAlive) {
            yield* Supervisor.whichChildren(sup) // the restart has been handled
            assert.isTrue(yield* Process.isAlive(sup), `alive after restarts at ${times}`)
          } else {
            assert.strictEqual((yield* Process.await(sup))._tag, "Shutdown")
            return
          }
        }
        yield* Process.stop(sup)
      }),
    { fastCheck: { numRuns: 25 } }
  )
})
