import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Program from "../primitives/Program.js"
import { ParallelMaxErrors, ParallelConfigError, ParallelTimeout } from "../CoreError.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ParallelMaxErrors, ParallelConfigError, ParallelTimeout }

/**
 * Options: `concurrency` (default 8), `maxErrors` (default 10: the run fails when this many calls failed),
 * and an optional per-call `timeout` (a timed-out call fails with {@link ParallelTimeout}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly concurrency?: number
  readonly maxErrors?: number
  readonly timeout?: Duration.DurationInput
}

const positive = (name: string, value: number | undefined): Option.Option<ParallelConfigError> =>
  value === undefined || (Number.isInteger(value) && value >= 1)
    ? Option.none()
    : Option.some(
        new ParallelConfigError({ option: name, message: `${name} must be a positive integer, got ${value}` })
      )

/**
 * Runs `f` over the items; returns one `Either` per item, in order (`Left` for a failed call).
 *
 * @since 0.1.0
 * @category running
 */
export const forEach = <X, A, E, R>(
  items: Iterable<X>,
  f: (item: X, index: number) => Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<ReadonlyArray<Either.Either<A, E | ParallelTimeout>>, ParallelMaxErrors | ParallelConfigError, R> =>
  Effect.suspend(
    (): Effect.Effect<
      ReadonlyArray<Either.Either<A, E | ParallelTimeout>>,
      ParallelMaxErrors | ParallelConfigError,
      R
    > => {
      const bad = Option.orElse(positive("concurrency", options.concurrency), () =>
        positive("maxErrors", options.maxErrors)
      )
      if (Option.isSome(bad)) return Effect.fail(bad.value)
      const list = Array.from(items)
      const maxErrors = options.maxErrors ?? 10
      const timeoutMs = options.timeout === undefined ? undefined : Duration.toMillis(options.timeout)
      const results = new Array<Either.Either<A, E | ParallelTimeout>>(list.length)
      let errors = 0
      const one = (item: X, index: number): Effect.Effect<void, ParallelMaxErrors, R> => {
        const call: Effect.Effect<A, E | ParallelTimeout, R> =
          timeoutMs === undefined
            ? f(item, index)
            : Effect.timeoutFail(f(item, index), {
                duration: timeoutMs,
                onTimeout: () =>
                  new ParallelTimeout({
                    index,
                    timeoutMs,
                    message: `Call ${index} did not finish within ${timeoutMs} ms; raise the timeout or check the call`
                  })
              })
        return Effect.flatMap(Effect.exit(call), (exit) => {
          if (Exit.isSuccess(exit)) {
            results[index] = Either.right(exit.value)
            return Effect.void
          }
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) return Effect.failCause(exit.cause as Cause.Cause<never>)
          results[index] = Either.left(failure.value)
          errors++
          return errors >= maxErrors
            ? Effect.fail(
                new ParallelMaxErrors({
                  errors,
                  maxErrors,
                  lastError: failure.value,
                  message: `Stopped after ${errors} failed calls (maxErrors = ${maxErrors}); fix the failing calls or raise maxErrors`
                })
              )
            : Effect.void
        })
      }
      return Effect.as(Effect.forEach(list, one, { concurrency: options.concurrency ?? 8, discard: true }), results)
    }
  )

/**
 * Runs `f` over the items and returns the successful results in order, failing with the first error when
 * any call failed (within the error budget the run still completes, so every call gets its chance).
 *
 * @since 0.1.0
 * @category running
 */
export const all = <X, A, E, R>(
  items: Iterable<X>,
  f: (item: X, index: number) => Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<ReadonlyArray<A>, E | ParallelTimeout | ParallelMaxErrors | ParallelConfigError, R> =>
  Effect.flatMap(forEach(items, f, options), (results) => {
    const out = new Array<A>(results.length)
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!
      if (Either.isLeft(r)) return Effect.fail(r.left)
      out[i] = r.right
    }
    return Effect.succeed(out)
  })

/**
 * Runs a program on many inputs (DSPy's `module.batch`): one `Either` per input, in order. The program is any
 * form `Program.call` takes (a module or a bare predictor). Unlike `Program.batch` it has an error budget
 * (`maxErrors`) and a per-call `timeout`.
 *
 * @since 0.1.0
 * @category running
 */
export const batch = <P extends Program.Any>(
  program: P,
  inputs: Iterable<Program.Input<P>>,
  options: Options = {}
): Effect.Effect<
  ReadonlyArray<Either.Either<Program.Output<P>, Program.Error<P> | ParallelTimeout>>,
  ParallelMaxErrors | ParallelConfigError,
  Program.Context<P>
> => forEach(inputs, (input) => Program.call(program, input), options)
