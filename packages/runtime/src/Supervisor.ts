/**
 * Supervisors with OTP semantics.
 *
 * - Strategies: `one_for_one` restarts the child that died; `one_for_all` stops the others (reverse order)
 *   and restarts all; `rest_for_one` restarts the dead child and those started after it.
 * - Restart types: `permanent` (default) always; `transient` unless it exited `Normal` / `Shutdown`;
 *   `temporary` never (and its spec is dropped).
 * - Intensity: more than `maxRestarts` (default 3) restarts within `maxSeconds` (default 5), a sliding window
 *   read through `Clock`, and the supervisor stops all its children and exits with `Shutdown`, which its own
 *   supervisor sees as a child exit (escalation).
 * - Start: children start in list order; if one fails, those started are stopped (reverse order) and the
 *   start fails with `ChildStartFailed` carrying the child's error.
 * - Shutdown: reverse start order, each child given its `shutdown` (default 5 s for workers, `"infinity"`
 *   for supervisors, or `"brutal_kill"`), then interrupted. A killed supervisor kills its children.
 *
 * ```ts
 * const tree = yield* Supervisor.start({
 *   strategy: "one_for_one",
 *   children: [
 *     Supervisor.worker("cache", Actor.spawn(Cache, undefined)),
 *     Supervisor.supervisor("workers", { strategy: "one_for_all", children: [...] })
 *   ]
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Actor from "./Actor.js"
import { ActorCore } from "./internal/actor.js"
import * as internal from "./internal/supervisor.js"
import * as S from "./internal/supervision.js"
import * as Process from "./Process.js"
import * as RuntimeError from "./RuntimeError.js"

/**
 * How a supervisor reacts to a child's exit.
 *
 * @since 0.1.0
 * @category models
 */
export type Strategy = S.Strategy

/**
 * When a child is restarted.
 *
 * @since 0.1.0
 * @category models
 */
export type RestartType = S.RestartType

/**
 * How long a child may take to stop: a duration, `"infinity"`, or `"brutal_kill"` (interrupt at once).
 *
 * @since 0.1.0
 * @category models
 */
export type ShutdownSpec = S.ShutdownSpec

/**
 * A child's status as its supervisor sees it.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildStatus = S.ChildStatus

/**
 * How to start and supervise one child. `start` must return the child process (an `Actor.spawn`, a
 * `Supervisor.spawn`, ...); it runs again for each restart, with the supervisor's context.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec<R = never> {
  readonly id: string
  readonly start: Effect.Effect<Process.Process, unknown, R>
  readonly restart?: RestartType
  readonly shutdown?: ShutdownSpec
  readonly kind?: Process.Kind
}

/**
 * A child as listed by `whichChildren`.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildInfo = S.ChildInfo

/**
 * Counts of a supervisor's children (OTP `count_children`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildCounts {
  readonly specs: number
  readonly active: number
  readonly supervisors: number
  readonly workers: number
}

/**
 * Supervisor options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /** A label for trees and pids. */
  readonly name?: string
  readonly strategy?: Strategy
  /** Restarts allowed within `maxSeconds` (default 3). */
  readonly maxRestarts?: number
  /** The intensity window, in seconds or as a duration (default 5 seconds). */
  readonly maxSeconds?: number | Duration.DurationInput
  readonly children: ReadonlyArray<ChildSpec<R>>
}

/**
 * A running supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorRef extends Process.Process {
  readonly _Supervisor: unique symbol
}

/**
 * A worker child spec (default restart `permanent`, shutdown 5 seconds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const worker = <E, R>(
  id: string,
  start: Effect.Effect<Process.Process, E, R>,
  options?: { readonly restart?: RestartType; readonly shutdown?: ShutdownSpec }
): ChildSpec<R> => ({ id, start, kind: "worker", ...options })

/**
 * A nested supervisor as a child spec (default restart `permanent`, shutdown `"infinity"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const supervisor = <R>(
  id: string,
  options: Options<R>,
  childOptions?: { readonly restart?: RestartType; readonly shutdown?: ShutdownSpec }
): ChildSpec<R> => ({
  id,
  start: spawn({ name: id, ...options }),
  kind: "supervisor",
  shutdown: "infinity",
  ...childOptions
})

const normalize = (spec: ChildSpec<unknown>): S.Spec => {
  const kind = spec.kind ?? "worker"
  return {
    id: spec.id,
    start: spec.start,
    restart: spec.restart ?? "permanent",
    shutdown: spec.shutdown ?? (kind === "supervisor" ? "infinity" : 5000),
    kind
  }
}

const validate = <R>(options: Options<R>): Effect.Effect<internal.Config, RuntimeError.InvalidOptions> =>
  Effect.gen(function* () {
    const intensity = yield* S.makeIntensity(options.maxRestarts, options.maxSeconds)
    const ids = new Set<string>()
    for (const child of options.children) {
      if (ids.has(child.id)) {
        return yield* new RuntimeError.InvalidOptions({
          message: `two children have the id "${child.id}"; child ids must be unique within a supervisor`,
          option: "children"
        })
      }
      ids.add(child.id)
    }
    const strategy = options.strategy ?? "one_for_one"
    if (strategy !== "one_for_one" && strategy !== "one_for_all" && strategy !== "rest_for_one") {
      return yield* new RuntimeError.InvalidOptions({
        message: `unknown strategy "${String(strategy)}"; use one_for_one, one_for_all or rest_for_one`,
        option: "strategy"
      })
    }
    return {
      name: options.name ?? "supervisor",
      strategy,
      intensity,
      specs: options.children.map((c) => normalize(c as ChildSpec<unknown>))
    }
  })

/**
 * Starts a supervisor and its children (in order), not tied to a scope: use it as a child's `start`, or stop
 * it with `Process.stop`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <R>(
  options: Options<R>
): Effect.Effect<SupervisorRef, RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions, R> =>
  Effect.flatMap(validate(options), (config) =>
    Actor.spawn({ ...internal.definition, name: config.name }, config, { kind: "supervisor" })
  ) as unknown as Effect.Effect<SupervisorRef, RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions, R>

/**
 * Starts a supervisor tied to the current scope: closing the scope shuts the tree down (reverse order).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <R>(
  options: Options<R>
): Effect.Effect<SupervisorRef, RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions, R | Scope.Scope> =>
  Effect.acquireRelease(spawn(options), (ref) => Process.stop(ref, { timeout: "infinity" }))

const core = (ref: SupervisorRef): ActorCore => ref as unknown as ActorCore

/**
 * The children, in start order (OTP `which_children`).
 *
 * @since 0.1.0
 * @category getters
 */
export const whichChildren = (ref: SupervisorRef): Effect.Effect<ReadonlyArray<ChildInfo>, RuntimeError.NoProc> =>
  S.snapshot(ref)

/**
 * Counts of the children (OTP `count_children`).
 *
 * @since 0.1.0
 * @category getters
 */
export const countChildren = (ref: SupervisorRef): Effect.Effect<ChildCounts, RuntimeError.NoProc> =>
  S.callCore<ChildCounts>(core(ref), { _tag: "CountChildren" })

/**
 * Stops a child by its shutdown spec and keeps its spec (a `temporary` child's spec is dropped). It is not
 * restarted until `restartChild`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const terminateChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<void, RuntimeError.ChildNotFound | RuntimeError.NoProc> =>
  S.callCore<void, RuntimeError.ChildNotFound>(core(ref), { _tag: "TerminateChild", id })

/**
 * Starts a stopped child again from its spec.
 *
 * @since 0.1.0
 * @category combinators
 */
export const restartChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<
  Process.Process,
  RuntimeError.ChildNotFound | RuntimeError.ChildRunning | RuntimeError.ChildStartFailed | RuntimeError.NoProc
> =>
  S.callCore<Process.Process, RuntimeError.ChildNotFound | RuntimeError.ChildRunning | RuntimeError.ChildStartFailed>(
    core(ref),
    { _tag: "RestartChild", id }
  )

/**
 * Adds a child at the end and starts it (OTP `start_child`); it runs with the supervisor's context.
 *
 * @since 0.1.0
 * @category combinators
 */
export const startChild = <R>(
  ref: SupervisorRef,
  spec: ChildSpec<R>
): Effect.Effect<Process.Process, RuntimeError.ChildRunning | RuntimeError.ChildStartFailed | RuntimeError.NoProc> =>
  S.callCore<Process.Process, RuntimeError.ChildRunning | RuntimeError.ChildStartFailed>(core(ref), {
    _tag: "StartChild",
    spec: normalize(spec as ChildSpec<unknown>)
  })

/**
 * Removes the spec of a stopped child (OTP `delete_child`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const deleteChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<void, RuntimeError.ChildNotFound | RuntimeError.ChildRunning | RuntimeError.NoProc> =>
  S.callCore<void, RuntimeError.ChildNotFound | RuntimeError.ChildRunning>(core(ref), { _tag: "DeleteChild", id })

/**
 * A node of the supervision tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tree {
  readonly id: string
  readonly kind: Process.Kind
  readonly pid: string | null
  readonly status: ChildStatus | "dead"
  readonly restarts: number
  readonly children: ReadonlyArray<Tree>
}

/**
 * The supervision tree below `process` (ids, kinds, pids, statuses, restart counts), reading each nested
 * supervisor in turn (static or dynamic).
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (process: Process.Process, id?: string): Effect.Effect<Tree> =>
  describeNode(
    id ?? process.label,
    process.kind,
    process,
    process.unsafeExitReason() === undefined ? "running" : "dead",
    0
  )

const describeNode = (
  id: string,
  kind: Process.Kind,
  process: Process.Process | undefined,
  status: Tree["status"],
  restarts: number
): Effect.Effect<Tree> => {
  const node = (children: ReadonlyArray<Tree>): Tree => ({
    id,
    kind,
    pid: process === undefined ? null : process.pid.toString(),
    status: process !== undefined && process.unsafeExitReason() !== undefined ? "dead" : status,
    restarts,
    children
  })
  if (process === undefined || kind !== "supervisor") return Effect.succeed(node([]))
  return S.snapshot(process).pipe(
    Effect.flatMap((children) =>
      Effect.forEach(children, (c) => describeNode(c.id, c.kind, c.process, c.status, c.restarts))
    ),
    Effect.map(node),
    Effect.catchAll(() => Effect.succeed(node([])))
  )
}

/**
 * Renders a tree as indented text, one process per line, for logs and the demo.
 *
 * @since 0.1.0
 * @category utils
 */
export const render = (tree: Tree): string => {
  const lines: Array<string> = []
  const walk = (node: Tree, depth: number) => {
    const restarts = node.restarts > 0 ? ` restarts=${node.restarts}` : ""
    lines.push(`${"  ".repeat(depth)}${node.id} (${node.kind}) ${node.pid ?? "-"} ${node.status}${restarts}`)
    for (const child of node.children) walk(child, depth + 1)
  }
  walk(tree, 0)
  return lines.join("\n")
}

/**
 * True for supervisor refs (static or dynamic).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSupervisor = (u: unknown): u is SupervisorRef => u instanceof ActorCore && u.kind === "supervisor"
