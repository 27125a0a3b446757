/**
 * Dynamic supervisors (OTP `DynamicSupervisor`): no children at start; children are started on demand with
 * `startChild` and identified by pid. The strategy is one_for_one with the usual restart types and
 * intensity (`maxRestarts` within `maxSeconds`, default 3 in 5 s; past it every child is stopped and the
 * supervisor exits with `Shutdown`). `maxChildren` caps the number of children (`MaxChildren` past it).
 * On shutdown, children are stopped concurrently, in no particular order.
 *
 * `startChild` runs the child's start on the calling fiber (linked to the supervisor, as if the supervisor
 * ran it) so starting many children does not queue behind the supervisor's mailbox; restarts and
 * terminations are serialised by the supervisor. Admission is one synchronous step that reserves a slot,
 * and a crashed child keeps its slot until its restart settles, so `maxChildren` holds under any
 * interleaving of starts, crashes and restarts.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Actor from "./Actor.js"
import { ActorCore, SystemMessage } from "./internal/actor.js"
import { endRun, runAs } from "./internal/process.js"
import * as S from "./internal/supervision.js"
import * as Process from "./Process.js"
import * as RuntimeError from "./RuntimeError.js"

/**
 * How to start and supervise a dynamic child; `P` is the process type `startChild` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec<P extends Process.Process, E = never, R = never> {
  readonly start: Effect.Effect<P, E, R>
  /** Default `permanent`. */
  readonly restart?: S.RestartType
  /** Default 5 seconds for workers, `"infinity"` for supervisors. */
  readonly shutdown?: S.ShutdownSpec
  readonly kind?: Process.Kind
  /** The child's id in trees and `whichChildren` (default its pid). */
  readonly id?: string
}

/**
 * Options of a dynamic supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly name?: string
  /** Default 3. */
  readonly maxRestarts?: number
  /** In seconds or as a duration; default 5 seconds. */
  readonly maxSeconds?: number | Duration.DurationInput
  /** Default unlimited. */
  readonly maxChildren?: number
}

/**
 * A running dynamic supervisor whose children's starts need `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisorRef<in R = never> extends Process.Process {
  readonly _R?: (_: R) => void
}

/** A running child; it is its own exit observer (no closure per child). */
class Child implements Process.ExitObserver {
  constructor(
    readonly spec: ChildSpec<Process.Process, unknown, unknown>,
    readonly process: Process.Process,
    readonly restarts: number,
    readonly supervisor: ActorCore
  ) {}
  onExit(reason: Process.ExitReason): void {
    this.supervisor.pushSystem(new SystemMessage(true, new S.ChildExit(this, this.process, reason)))
  }
}

const restartOf = (spec: ChildSpec<Process.Process, unknown, unknown>): S.RestartType => spec.restart ?? "permanent"

const shutdownOf = (spec: ChildSpec<Process.Process, unknown, unknown>): S.ShutdownSpec =>
  spec.shutdown ?? (spec.kind === "supervisor" ? "infinity" : 5000)

interface State {
  readonly name: string
  readonly self: ActorCore
  readonly intensity: S.Intensity
  readonly maxChildren: number
  readonly children: Map<Process.Process, Child>
  readonly context: Context.Context<unknown>
  starting: number
  /** Children being restarted: removed from `children`, their slots still taken. */
  restarting: number
  stopping: boolean
}

type Call =
  | typeof S.WhichChildren
  | { readonly _tag: "CountChildren" }
  | { readonly _tag: "TerminateChild"; readonly process: Process.Process }

type Info = S.ChildExit<Child>

const register = (
  state: State,
  spec: ChildSpec<Process.Process, unknown, unknown>,
  process: Process.Process,
  restarts: number
): Child => {
  const child = new Child(spec, process, restarts, state.self)
  state.children.set(process, child)
  process.unsafeAddExitListener(child)
  return child
}

const stopOne = (state: State, child: Child): Effect.Effect<void> =>
  Effect.suspend(() => {
    child.process.unsafeRemoveExitListener(child)
    state.children.delete(child.process)
    return Effect.asVoid(S.stopChild(child.process, shutdownOf(child.spec)))
  })

const onChildExit = (state: State, exit: Info): Effect.Effect<Actor.CastResult<State>> =>
  Effect.gen(function* () {
    const child = exit.child
    if (state.children.get(exit.process) !== child) return state // stale: terminated on purpose
    state.children.delete(exit.process)
    if (!S.shouldRestart(restartOf(child.spec), exit.reason)) return state
    let restarts = child.restarts
    state.restarting++
    try {
      for (;;) {
        if (!(yield* S.addRestart(state.intensity))) return Actor.stop(state, Process.shutdown)
        const started = yield* Effect.exit(Effect.provide(child.spec.start, state.context))
        if (started._tag === "Success") {
          register(state, child.spec, started.value, restarts + 1)
          return state
        }
        restarts++
      }
    } finally {
      state.restarting--
    }
  })

const info = (child: Child): S.ChildInfo => ({
  id: child.spec.id ?? child.process.pid.toString(),
  process: child.process,
  kind: child.spec.kind ?? "worker",
  status: "running",
  restart: restartOf(child.spec),
  restarts: child.restarts
})

const definition = Actor.make({
  name: "dynamic_supervisor",
  trapExit: true,
  init: (
    config: { readonly name: string; readonly intensity: S.Intensity; readonly maxChildren: number },
    self: Actor.ActorRef<Call, S.SupervisorReply, never, Info>
  ) =>
    Effect.map(Effect.context<never>(), (context) => {
      const core = self as unknown as ActorCore
      const state: State = {
        ...config,
        self: core,
        children: new Map(),
        context: context as Context.Context<unknown>,
        starting: 0,
        restarting: 0,
        stopping: false
      }
      core.unsafeAddExitListener(() => {
        state.stopping = true
        for (const child of state.children.values()) child.process.unsafeKill()
      })
      return state
    }),
  handleCall: (msg: Call, state: State) => {
    switch (msg._tag) {
      case "WhichChildren":
        return Effect.succeed(Actor.reply(S.ok(Array.from(state.children.values(), info)), state))
      case "CountChildren": {
        let supervisors = 0
        for (const child of state.children.values()) if (child.spec.kind === "supervisor") supervisors++
        const active = state.children.size
        return Effect.succeed(
          Actor.reply(S.ok({ specs: active, active, supervisors, workers: active - supervisors }), state)
        )
      }
      case "TerminateChild": {
        const child = state.children.get(msg.process)
        if (child === undefined) {
          return Effect.succeed(
            Actor.reply(
              S.err(
                new RuntimeError.ChildNotFound({
                  message: `${msg.process.toString()} is not a child of ${state.name}`,
                  childId: msg.process.pid.toString()
                })
              ),
              state
            )
          )
        }
        return Effect.as(stopOne(state, child), Actor.reply(S.ok(undefined), state))
      }
    }
  },
  handleInfo: (msg: Info, state: State) => onChildExit(state, msg),
  terminate: (_reason, state: State) =>
    Effect.suspend(() => {
      state.stopping = true
      return Effect.forEach(Array.from(state.children.values()), (child) => stopOne(state, child), {
        concurrency: "unbounded",
        discard: true
      })
    })
})

/**
 * Starts a dynamic supervisor not tied to a scope (use it as a child spec's start, or stop it yourself).
 * Children started later run with the context captured here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <R = never>(
  options?: Options
): Effect.Effect<DynamicSupervisorRef<R>, RuntimeError.InvalidOptions, R> =>
  Effect.gen(function* () {
    const intensity = yield* S.makeIntensity(options?.maxRestarts, options?.maxSeconds)
    const maxChildren = options?.maxChildren ?? Number.POSITIVE_INFINITY
    if (!(maxChildren >= 0) || (Number.isFinite(maxChildren) && !Number.isInteger(maxChildren))) {
      return yield* new RuntimeError.InvalidOptions({
        message: `maxChildren must be a non-negative integer, got ${maxChildren}`,
        option: "maxChildren"
      })
    }
    const name = options?.name ?? "dynamic_supervisor"
    const ref = yield* Actor.spawn({ ...definition, name }, { name, intensity, maxChildren }, { kind: "supervisor" })
    return ref as unknown as DynamicSupervisorRef<R>
  })

/**
 * Starts a dynamic supervisor tied to the current scope; closing it stops every child concurrently.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <R = never>(
  options?: Options
): Effect.Effect<DynamicSupervisorRef<R>, RuntimeError.InvalidOptions, R | Scope.Scope> =>
  Effect.acquireRelease(spawn<R>(options), (ref) => Process.stop(ref, { timeout: "infinity" }))

/**
 * A child spec for a dynamic supervisor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const child = <P extends Process.Process, E, R>(
  start: Effect.Effect<P, E, R>,
  options?: {
    readonly restart?: S.RestartType
    readonly shutdown?: S.ShutdownSpec
    readonly kind?: Process.Kind
    readonly id?: string
  }
): ChildSpec<P, E, R> => ({ start, ...options })

const stateOf = (ref: DynamicSupervisorRef<never>): State | undefined => {
  const core = ref as unknown as ActorCore
  return core instanceof ActorCore && !core.closed ? (core.state as State | undefined) : undefined
}

/**
 * Starts a child under the supervisor and returns it. The first start runs on the calling fiber with its
 * context (no hand-off, no context switch); restarts run with the supervisor's context, which therefore
 * provides `R` too. Fails with the child's start error, with `MaxChildren` when the supervisor is full, or
 * `NoProc` when it is not running.
 *
 * @since 0.1.0
 * @category combinators
 */
export const startChild = <P extends Process.Process, E, R>(
  ref: DynamicSupervisorRef<R>,
  spec: ChildSpec<P, E, R>
): Effect.Effect<P, E | RuntimeError.MaxChildren | RuntimeError.NoProc, R> =>
  Effect.uninterruptibleMask((restore): Effect.Effect<P, E | RuntimeError.MaxChildren | RuntimeError.NoProc, R> => {
    const state = stateOf(ref as DynamicSupervisorRef<never>)
    if (state === undefined || state.stopping) {
      return Effect.fail(
        new RuntimeError.NoProc({ message: `${ref.toString()} is not running`, target: ref.toString() })
      )
    }
    if (state.children.size + state.starting + state.restarting >= state.maxChildren) {
      return Effect.fail(
        new RuntimeError.MaxChildren({
          message: `${state.name} already runs its maximum of ${state.maxChildren} children; stop some or raise maxChildren`,
          maxChildren: state.maxChildren
        })
      )
    }
    state.starting++
    // The start runs as the supervisor: the child (and what its start spawns) is linked to it.
    return Effect.withFiberRuntime((fiber) => {
      const running = runAs(fiber, state.self)
      return Effect.matchCauseEffect(restore(spec.start), {
        onFailure: (cause) => {
          endRun(running)
          state.starting--
          return Effect.failCause(cause as Cause.Cause<E>)
        },
        onSuccess: (process) => {
          endRun(running)
          state.starting--
          if (state.stopping || state.self.closed) {
            process.unsafeKill()
            return Effect.fail(
              new RuntimeError.NoProc({
                message: `${ref.toString()} stopped while the child was starting`,
                target: ref.toString()
              })
            )
          }
          register(state, spec as ChildSpec<Process.Process, unknown, unknown>, process, 0)
          return Effect.succeed(process)
        }
      })
    })
  })

/**
 * Stops a child by its shutdown spec; it is not restarted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const terminateChild = <R>(
  ref: DynamicSupervisorRef<R>,
  process: Process.Process
): Effect.Effect<void, RuntimeError.ChildNotFound | RuntimeError.NoProc> =>
  S.callCore<void, RuntimeError.ChildNotFound>(ref as unknown as ActorCore, { _tag: "TerminateChild", process })

/**
 * The running children (ids are their pids).
 *
 * @since 0.1.0
 * @category getters
 */
export const whichChildren = <R>(
  ref: DynamicSupervisorRef<R>
): Effect.Effect<ReadonlyArray<S.ChildInfo>, RuntimeError.NoProc> => S.snapshot(ref)

/**
 * Counts of the children.
 *
 * @since 0.1.0
 * @category getters
 */
export const countChildren = <R>(
  ref: DynamicSupervisorRef<R>
): Effect.Effect<
  { readonly specs: number; readonly active: number; readonly supervisors: number; readonly workers: number },
  RuntimeError.NoProc
> => S.callCore(ref as unknown as ActorCore, { _tag: "CountChildren" })

/**
 * The number of children right now, without a round trip through the supervisor's mailbox.
 *
 * @since 0.1.0
 * @category getters
 */
export const size = <R>(ref: DynamicSupervisorRef<R>): Effect.Effect<number> =>
  Effect.sync(() => stateOf(ref as DynamicSupervisorRef<never>)?.children.size ?? 0)

/**
 * As a child spec of a static supervisor (shutdown `"infinity"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const childSpec = <R = never>(
  id: string,
  options?: Options,
  childOptions?: { readonly restart?: S.RestartType; readonly shutdown?: S.ShutdownSpec }
): {
  readonly id: string
  readonly start: Effect.Effect<Process.Process, RuntimeError.InvalidOptions, R>
  readonly kind: Process.Kind
  readonly shutdown: S.ShutdownSpec
  readonly restart?: S.RestartType
} => ({
  id,
  start: spawn<R>({ name: id, ...options }),
  kind: "supervisor",
  shutdown: "infinity",
  ...childOptions
})
