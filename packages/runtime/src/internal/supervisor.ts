/**
 * The static supervisor: an actor whose state is its children. Child exits arrive as info messages (posted by
 * exit listeners), so restarts, `terminateChild`, `restartChild` and shutdown are serialised by its mailbox.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Actor from "../Actor.js"
import * as Process from "../Process.js"
import * as RuntimeError from "../RuntimeError.js"
import type { ActorCore } from "./actor.js"
import * as S from "./supervision.js"

/** @internal */
export interface Child {
  readonly spec: S.Spec
  process: Process.Process | undefined
  status: S.ChildStatus
  restarts: number
  watcher: Process.ExitListener
}

/** @internal */
export interface Config {
  readonly name: string
  readonly strategy: S.Strategy
  readonly intensity: S.Intensity
  readonly specs: ReadonlyArray<S.Spec>
}

/** @internal */
export interface State {
  readonly config: Config
  readonly self: ActorCore
  readonly children: Array<Child>
  readonly context: Context.Context<unknown>
}

/** @internal */
export type Call =
  | typeof S.WhichChildren
  | { readonly _tag: "CountChildren" }
  | { readonly _tag: "TerminateChild"; readonly id: string }
  | { readonly _tag: "RestartChild"; readonly id: string }
  | { readonly _tag: "StartChild"; readonly spec: S.Spec }
  | { readonly _tag: "DeleteChild"; readonly id: string }

type Info = S.ChildExit<Child>

const info = (child: Child): S.ChildInfo => ({
  id: child.spec.id,
  process: child.process,
  kind: child.spec.kind,
  status: child.status,
  restart: child.spec.restart,
  restarts: child.restarts
})

/** Starts one child and watches it; fails with `ChildStartFailed`. */
const startOne = (state: State, child: Child): Effect.Effect<Process.Process, RuntimeError.ChildStartFailed> =>
  Effect.matchCauseEffect(Effect.provide(child.spec.start, state.context), {
    onFailure: (cause) => {
      child.status = "restarting"
      return Effect.fail(S.startFailed(child.spec.id, Cause.squash(cause)))
    },
    onSuccess: (process) =>
      Effect.sync(() => {
        child.process = process
        child.status = "running"
        child.watcher = S.watch(state.self, child, process)
        return process
      })
  })

/** Stops one child (if running) by its shutdown spec, without reporting its exit as a crash. */
const stopOne = (child: Child, status: S.ChildStatus): Effect.Effect<void> =>
  Effect.suspend(() => {
    const process = child.process
    child.status = status
    if (process === undefined) return Effect.void
    process.unsafeRemoveExitListener(child.watcher)
    child.process = undefined
    return Effect.asVoid(S.stopChild(process, child.spec.shutdown))
  })

/** Stops children in reverse order. */
const stopAll = (children: ReadonlyArray<Child>, status: S.ChildStatus): Effect.Effect<void> =>
  Effect.forEach(children.slice().reverse(), (child) => stopOne(child, status), { discard: true })

const removeTemporary = (state: State, child: Child): void => {
  const index = state.children.indexOf(child)
  if (index >= 0) state.children.splice(index, 1)
}

/**
 * Restarts `group` (in order) after counting one restart; a child that fails to start counts as another
 * restart and the rest of the group is tried again, until the intensity is exceeded.
 */
const restartGroup = (state: State, group: ReadonlyArray<Child>): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    let pending = group
    while (pending.length > 0) {
      if (!(yield* S.addRestart(state.config.intensity))) return false
      let failedAt = -1
      for (let i = 0; i < pending.length; i++) {
        const child = pending[i]!
        const started = yield* Effect.either(startOne(state, child))
        if (started._tag === "Left") {
          failedAt = i
          break
        }
      }
      pending = failedAt < 0 ? [] : pending.slice(failedAt)
    }
    return true
  })

const onChildExit = (state: State, exit: Info): Effect.Effect<Actor.CastResult<State>> =>
  Effect.gen(function* () {
    const child = exit.child
    if (child.process !== exit.process) return state // stale: already stopped or replaced
    child.process = undefined
    if (!S.shouldRestart(child.spec.restart, exit.reason)) {
      child.status = "stopped"
      if (child.spec.restart === "temporary") removeTemporary(state, child)
      return state
    }
    child.status = "restarting"
    child.restarts++
    const index = state.children.indexOf(child)
    let group: Array<Child>
    switch (state.config.strategy) {
      case "one_for_one":
        group = [child]
        break
      case "one_for_all": {
        const others = state.children.filter((c) => c !== child)
        yield* stopAll(others, "restarting")
        for (const other of others) {
          if (other.spec.restart === "temporary") removeTemporary(state, other)
          else other.restarts++
        }
        group = state.children.slice()
        break
      }
      case "rest_for_one": {
        const after = state.children.slice(index + 1)
        yield* stopAll(after, "restarting")
        for (const other of after) {
          if (other.spec.restart === "temporary") removeTemporary(state, other)
          else other.restarts++
        }
        group = state.children.slice(index)
        break
      }
    }
    const ok = yield* restartGroup(state, group)
    // Past the intensity: stop everything (terminate does it, in reverse order) and exit with shutdown.
    return ok ? state : Actor.stop(state, Process.shutdown)
  })

const find = (state: State, id: string): Child | undefined => state.children.find((c) => c.spec.id === id)

const notFound = (state: State, id: string) =>
  new RuntimeError.ChildNotFound({
    message: `supervisor ${state.config.name} has no child "${id}"`,
    childId: id
  })

const handleCall = (msg: Call, state: State): Effect.Effect<Actor.CallResult<S.SupervisorReply, State>> =>
  Effect.gen(function* () {
    switch (msg._tag) {
      case "WhichChildren":
        return Actor.reply(S.ok(state.children.map(info)), state)
      case "CountChildren": {
        let active = 0
        let supervisors = 0
        for (const child of state.children) {
          if (child.process !== undefined) active++
          if (child.spec.kind === "supervisor") supervisors++
        }
        return Actor.reply(
          S.ok({ specs: state.children.length, active, supervisors, workers: state.children.length - supervisors }),
          state
        )
      }
      case "TerminateChild": {
        const child = find(state, msg.id)
        if (child === undefined) return Actor.reply(S.err(notFound(state, msg.id)), state)
        yield* stopOne(child, "stopped")
        if (child.spec.restart === "temporary") removeTemporary(state, child)
        return Actor.reply(S.ok(undefined), state)
      }
      case "DeleteChild": {
        const child = find(state, msg.id)
        if (child === undefined) return Actor.reply(S.err(notFound(state, msg.id)), state)
        if (child.process !== undefined) {
          return Actor.reply(
            S.err(
              new RuntimeError.ChildRunning({
                message: `child "${msg.id}" is running; terminate it before deleting it`,
                childId: msg.id
              })
            ),
            state
          )
        }
        removeTemporary(state, child)
        return Actor.reply(S.ok(undefined), state)
      }
      case "RestartChild": {
        const child = find(state, msg.id)
        if (child === undefined) return Actor.reply(S.err(notFound(state, msg.id)), state)
        if (child.process !== undefined) {
          return Actor.reply(
            S.err(
              new RuntimeError.ChildRunning({
                message: `child "${msg.id}" is already running; terminate it first`,
                childId: msg.id
              })
            ),
            state
          )
        }
        const started = yield* Effect.either(startOne(state, child))
        if (started._tag === "Left") child.status = "stopped"
        return Actor.reply(started._tag === "Right" ? S.ok(started.right) : S.err(started.left), state)
      }
      case "StartChild": {
        if (find(state, msg.spec.id) !== undefined) {
          return Actor.reply(
            S.err(
              new RuntimeError.ChildRunning({
                message: `supervisor ${state.config.name} already has a child "${msg.spec.id}"; use another id`,
                childId: msg.spec.id
              })
            ),
            state
          )
        }
        const child: Child = { spec: msg.spec, process: undefined, status: "stopped", restarts: 0, watcher: noop }
        const started = yield* Effect.either(startOne(state, child))
        if (started._tag === "Left") return Actor.reply(S.err(started.left), state)
        state.children.push(child)
        return Actor.reply(S.ok(started.right), state)
      }
    }
  })

const noop = () => {}

/** The supervisor's behaviour. @internal */
export const definition = Actor.make({
  name: "supervisor",
  trapExit: true,
  init: (config: Config, self: Actor.ActorRef<Call, S.SupervisorReply, never, Info>) =>
    Effect.gen(function* () {
      const core = self as unknown as ActorCore
      const context = yield* Effect.context<never>()
      const state: State = { config, self: core, children: [], context: context as Context.Context<unknown> }
      // Linked children: whatever way the supervisor exits, nothing it started outlives it.
      core.unsafeAddExitListener(() => {
        for (const child of state.children) child.process?.unsafeKill()
      })
      for (const spec of config.specs) {
        const child: Child = { spec, process: undefined, status: "stopped", restarts: 0, watcher: noop }
        const started = yield* Effect.either(startOne(state, child))
        if (started._tag === "Left") {
          child.status = "stopped"
          yield* stopAll(state.children, "stopped")
          return yield* Effect.fail(started.left)
        }
        state.children.push(child)
      }
      return state
    }),
  handleCall: (msg: Call, state: State) => handleCall(msg, state),
  handleInfo: (msg: Info, state: State) => onChildExit(state, msg),
  terminate: (_reason, state: State) => stopAll(state.children, "stopped")
})
