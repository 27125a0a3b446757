/**
 * The shared error model. Every error the system reports is a tagged class carrying a stable `code`, a
 * human `message` saying what to fix, an optional correlation id and context, and whether a retry may help.
 * Errors that cross a boundary (HTTP, persistence, events) are `Schema.TaggedError`s so they serialise.
 *
 * Packages define their own errors with {@link fields} and {@link DSPyErrorLike}; this file holds the
 * vocabulary and the helpers that every package shares.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Correlation from "./Correlation.js"

/**
 * The fields every error carries. Spread them into a `Schema.TaggedError` definition.
 *
 * @since 0.1.0
 * @category schemas
 */
export const fields = {
  message: Schema.String,
  correlationId: Schema.optional(Schema.String),
  context: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}

/**
 * What every error of the family exposes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DSPyErrorLike {
  readonly _tag: string
  readonly message: string
  readonly code: string
  readonly retryable: boolean
  readonly correlationId?: string | undefined
  readonly context?: { readonly [key: string]: unknown } | undefined
}

/**
 * True for values of the error family.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDSPyError = (u: unknown): u is DSPyErrorLike =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  "code" in u &&
  typeof (u as DSPyErrorLike).code === "string" &&
  "retryable" in u

/**
 * True when the error says a retry may succeed.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryable = (u: unknown): boolean => isDSPyError(u) && u.retryable

/**
 * A generic failure from user code or an unexpected place, wrapped into the family.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedError extends Schema.TaggedError<UnexpectedError>("@effect-dspy/UnexpectedError")(
  "UnexpectedError",
  { ...fields, cause: Schema.optional(Schema.Unknown) }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "unexpected"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * Fills in the correlation id of a failure of the family from the current fiber, when it has none.
 *
 * @since 0.1.0
 * @category combinators
 */
export const annotate = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchAll(self, (error) =>
    Effect.flatMap(Correlation.current, (id) => {
      if (Option.isSome(id) && isDSPyError(error) && error.correlationId === undefined) {
        // Errors are immutable values: build a copy with the id filled in. Copy every own property with its
        // descriptor (an Error's `message` and `stack` are not enumerable, so a plain spread would lose them).
        const copy = Object.create(Object.getPrototypeOf(error), Object.getOwnPropertyDescriptors(error))
        Object.defineProperty(copy, "correlationId", {
          value: id.value,
          enumerable: true,
          writable: false,
          configurable: true
        })
        return Effect.fail(copy as E)
      }
      return Effect.fail(error)
    })
  )
