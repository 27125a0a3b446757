import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Module from "../primitives/Module.js"
import type * as Program from "../primitives/Program.js"
import * as Trace from "../primitives/Trace.js"
import * as Predict from "./Predict.js"
import { BestOfNFailed } from "../CoreError.js"

/**
 * A reward: scores the prediction for the inputs (higher is better). It may be an Effect.
 *
 * @since 0.1.0
 * @category models
 */
export type Reward<I, O, R = never> = (inputs: I, prediction: O) => number | Effect.Effect<number, unknown, R>

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<I, O, RR> {
  /** How many attempts at most. */
  readonly n: number
  readonly reward: Reward<I, O, RR>
  /** Stop at the first attempt whose reward is at least this. */
  readonly threshold: number
  /** Failed attempts tolerated before the error is raised (default N). */
  readonly failCount?: number
}

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { BestOfNFailed }

/**
 * The outcome of one attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt<O> {
  readonly index: number
  readonly rolloutId: number
  readonly prediction: O
  readonly reward: number
  readonly trace: ReadonlyArray<Trace.Entry>
}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/**
 * Runs the attempts and returns the best. `between(attempt)` runs after each attempt whose reward is below
 * the threshold (except the last) and returns the hints for the next one (Refine uses it).
 *
 * @since 0.1.0
 * @category running
 */
export const runAttempts = <I, O, E, R, RR, EB, RB>(options: {
  readonly run: (inputs: I) => Effect.Effect<O, E, R>
  readonly inputs: I
  readonly n: number
  readonly reward: Reward<I, O, RR>
  readonly threshold: number
  readonly failCount?: number
  readonly between?: (attempt: Attempt<O>) => Effect.Effect<ReadonlyMap<string, string> | undefined, EB, RB>
}): Effect.Effect<O, BestOfNFailed | EB, R | RR | RB> =>
  Effect.gen(function* () {
    const start = (yield* FiberRef.get(Predict.currentOverrides))?.rolloutId ?? 0
    const failCount = options.failCount ?? options.n
    let best: Attempt<O> | undefined
    let failures = 0
    let lastError: unknown
    let hints: ReadonlyMap<string, string> | undefined
    for (let index = 0; index < options.n; index++) {
      const rolloutId = start + index
      let attempt = Effect.flatMap(options.run(options.inputs), (prediction) => {
        const value = options.reward(options.inputs, prediction)
        return Effect.map(Effect.isEffect(value) ? value : Effect.succeed(value), (reward) => ({ prediction, reward }))
      }).pipe(Predict.withOverrides({ rolloutId, temperature: 1 }))
      if (hints !== undefined) attempt = Predict.withHints(hints)(attempt)
      const { exit, trace } = yield* Trace.tracedExit(attempt)
      if (Exit.isFailure(exit)) {
        if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        failures++
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : exit.cause
        lastError = failure
        yield* Effect.logWarning(
          `BestOfN: attempt ${index + 1} failed with rollout id ${rolloutId}: ${describe(failure)}`
        )
        if (failures > failCount) {
          return yield* Effect.fail(
            new BestOfNFailed({
              attempts: index + 1,
              failures,
              lastError: failure,
              message: `BestOfN: ${failures} attempts failed (failCount = ${failCount}); last error: ${describe(failure)}`
            })
          )
        }
        continue
      }
      const current: Attempt<O> = {
        index,
        rolloutId,
        prediction: exit.value.prediction,
        reward: exit.value.reward,
        trace
      }
      if (best === undefined || current.reward > best.reward) best = current
      if (current.reward >= options.threshold) break
      if (options.between !== undefined && index < options.n - 1) hints = yield* options.between(current)
    }
    if (best === undefined) {
      return yield* Effect.fail(
        new BestOfNFailed({
          attempts: options.n,
          failures,
          lastError,
          message: `BestOfN: all ${options.n} attempts failed; last error: ${describe(lastError)}`
        })
      )
    }
    yield* Trace.record(...best.trace)
    return best.prediction
  })

/**
 * Wraps a program (a module or a bare predictor, as `Program.call` takes): its predictors sit under `module`
 * (paths `"module.<path>"`, or `"module"` for a bare predictor).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <P extends Program.Any, RR = never>(
  module: P,
  options: Options<Program.Input<P>, Program.Output<P>, RR>
): Module.Module<
  { readonly module: P },
  Program.Input<P>,
  Program.Output<P>,
  Program.Error<P> | BestOfNFailed,
  Program.Context<P> | RR
> => {
  if (!(Number.isInteger(options.n) && options.n >= 1)) {
    throw new Predict.PredictConfigError({
      option: "n",
      message: `BestOfN n must be a positive integer, got ${options.n}`
    })
  }
  return Module.make({
    name: "BestOfN",
    parameters: { module },
    forward: (p, inputs: Program.Input<P>) =>
      runAttempts({
        run: p.module as unknown as (
          inputs: Program.Input<P>
        ) => Effect.Effect<Program.Output<P>, Program.Error<P>, Program.Context<P>>,
        inputs,
        n: options.n,
        reward: options.reward,
        threshold: options.threshold,
        ...(options.failCount === undefined ? {} : { failCount: options.failCount })
      })
  })
}
