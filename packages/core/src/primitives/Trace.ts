/**
 * Tracing of predictor calls. `traced(effect)` runs an effect and returns its value with the list of every
 * predictor call made inside it (`{ predictorPath, inputs, outputs }`), including calls made by fibers it
 * forks. This is DSPy's `dspy.settings.trace`, scoped by a fiber reference instead of a global: two traced
 * runs on different fibers never see each other's calls. Optimizers (BootstrapFewShot) turn the calls of a
 * successful run into demos.
 *
 * @since 0.1.0
 */
import { FiberLocal } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"

/**
 * One predictor call: the dotted path of the predictor in its program (`"self"` for a bare predictor), the
 * input fields it was given and the output fields of its first completion.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly predictorPath: string
  readonly inputs: { readonly [key: string]: unknown }
  readonly outputs: { readonly [key: string]: unknown }
}

/**
 * Where the entries of one traced run go. It is shared (by reference) with every fiber forked inside the
 * run, so calls made by child fibers land in the same list.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collector {
  readonly entries: Array<Entry>
}

/**
 * The fiber reference holding the current collector (none outside a traced run).
 *
 * @since 0.1.0
 * @category references
 */
export const currentCollector: FiberRef.FiberRef<Collector | undefined> = FiberRef.unsafeMake<Collector | undefined>(
  undefined
)

/**
 * The value of a traced run and its predictor calls, in the order they finished.
 *
 * @since 0.1.0
 * @category models
 */
export interface Traced<A> {
  readonly value: A
  readonly trace: ReadonlyArray<Entry>
}

/**
 * Runs an effect with a fresh trace and returns its value with the predictor calls made inside it. The
 * trace is isolated: calls are not added to an enclosing trace (use {@link record} to pass chosen entries
 * up, as BestOfN does with its best attempt).
 *
 * @since 0.1.0
 * @category combinators
 */
export const traced = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Traced<A>, E, R> =>
  Effect.suspend(() => {
    const collector: Collector = { entries: [] }
    return Effect.map(FiberLocal.locally(self, currentCollector, collector), (value) => ({
      value,
      trace: collector.entries.slice()
    }))
  })

/**
 * Runs an effect with a fresh trace and returns its exit (success or failure) with the calls made before it
 * ended. Useful when failed runs must be inspected too.
 *
 * @since 0.1.0
 * @category combinators
 */
export const tracedExit = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly trace: ReadonlyArray<Entry> }, never, R> =>
  Effect.suspend(() => {
    const collector: Collector = { entries: [] }
    return Effect.map(Effect.exit(FiberLocal.locally(self, currentCollector, collector)), (exit) => ({
      exit,
      trace: collector.entries.slice()
    }))
  })

/**
 * Runs an effect with tracing switched off (its calls are recorded nowhere).
 *
 * @since 0.1.0
 * @category combinators
 */
export const untraced = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  FiberLocal.locally(self, currentCollector, undefined)

/**
 * Appends entries to the current trace, if any (a no-op outside a traced run).
 *
 * @since 0.1.0
 * @category recording
 */
export const record = (...entries: ReadonlyArray<Entry>): Effect.Effect<void> =>
  FiberRef.getWith(currentCollector, (collector) => {
    if (collector !== undefined) for (const entry of entries) collector.entries.push(entry)
    return Effect.void
  })

/**
 * True inside a traced run.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isTracing: Effect.Effect<boolean> = FiberRef.getWith(currentCollector, (collector) =>
  Effect.succeed(collector !== undefined)
)
