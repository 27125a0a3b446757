/**
 * The shared error model. Every error the system reports is a member of one branded family: a tagged class
 * carrying a stable `code`, a human `message` saying what to fix, an optional correlation id and context, and
 * whether a retry may help. Members are `Schema.TaggedError`s, so they serialise across boundaries (HTTP,
 * persistence, events), and they carry {@link TypeId}, so {@link isDSPyError} tells them from look-alikes.
 *
 * A package declares a member once, with its code and retry policy, through {@link TaggedError}:
 *
 * @example
 * ```ts
 * import { Errors } from "@effect-dspy/foundation"
 * import * as Schema from "effect/Schema"
 *
 * class StoreFull extends Errors.TaggedError<StoreFull>()(
 *   "StoreFull",
 *   { capacity: Schema.Number },
 *   { code: "store_full", retryable: true }
 * ) {}
 *
 * const error = new StoreFull({ message: "the store holds 10 items; prune it", capacity: 10 })
 * console.log(error.code, error.retryable, Errors.isDSPyError(error)) // "store_full" true true
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Correlation from "./Correlation.js"

/**
 * The brand every member of the family carries (on its prototype).
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/foundation/DSPyError")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * The fields every error carries. {@link TaggedError} adds them to each member's own fields.
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
 * The type of {@link fields}.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Fields = typeof fields

/**
 * What every error of the family exposes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DSPyError {
  readonly [TypeId]: TypeId
  readonly _tag: string
  readonly message: string
  /** A stable, machine-readable name of the failure (snake_case), for clients and dashboards. */
  readonly code: string
  /** Whether trying the same call again may succeed. */
  readonly retryable: boolean
  readonly correlationId?: string | undefined
  readonly context?: { readonly [key: string]: unknown } | undefined
}

/**
 * The former name of {@link DSPyError}.
 *
 * @since 0.1.0
 * @category models
 */
export type DSPyErrorLike = DSPyError

/**
 * The members a family class adds to its instances: the brand, `code` and `retryable`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Members {
  readonly [TypeId]: TypeId
  readonly code: string
  readonly retryable: boolean
}

/**
 * How a member declares its code and retry policy, once. Each is a constant, or a function of the instance's
 * fields for errors whose code or retryability depends on what happened (a store failure on bad input is not
 * retryable, one on I/O is).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A> {
  readonly code: string | ((self: A) => string)
  readonly retryable: boolean | ((self: A) => boolean)
}

/**
 * The class {@link TaggedError} returns: a `Schema.TaggedError` class whose instances are family members.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaggedErrorClass<Self, Tag extends string, F extends Schema.Struct.Fields>
  extends Schema.Class<
    Self,
    F,
    Schema.Struct.Encoded<F>,
    Schema.Struct.Context<F>,
    Schema.Struct.Constructor<Omit<F, "_tag">>,
    {},
    Cause.YieldableError & Members
  > {
  readonly _tag: Tag
}

/**
 * The fields of a member: its tag, the shared {@link fields} and its own.
 *
 * @since 0.1.0
 * @category models
 */
export type MemberFields<Tag extends string, Own extends Schema.Struct.Fields> = {
  readonly _tag: Schema.tag<Tag>
} & Fields &
  Own

/**
 * Declares a member of the family: a `Schema.TaggedError` with the shared {@link fields}, the {@link TypeId}
 * brand, and its `code` and `retryable` declared once. The identifier defaults to `@effect-dspy/<tag>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const TaggedError =
  <Self = never>(identifier?: string) =>
  <Tag extends string, Own extends Schema.Struct.Fields>(
    tag: Tag,
    own: Own,
    options: Options<Schema.Struct.Type<MemberFields<Tag, Own>>>
  ): [Self] extends [never]
    ? "Missing `Self` generic: use `class Self extends TaggedError<Self>()(...)`"
    : TaggedErrorClass<Self, Tag, MemberFields<Tag, Own>> => {
    // The typed surface is the declared return type; inside, the class is built from the untyped constructor.
    const Base = Schema.TaggedError<Self>(identifier ?? `@effect-dspy/${tag}`)(tag, {
      ...fields,
      ...own
    }) as unknown as new (
      props: unknown,
      options?: unknown
    ) => object
    const { code, retryable } = options
    class Member extends Base {}
    Object.defineProperties(Member.prototype, {
      [TypeId]: { value: TypeId, enumerable: false },
      code: {
        get(this: Schema.Struct.Type<MemberFields<Tag, Own>>) {
          return typeof code === "function" ? code(this) : code
        },
        enumerable: false
      },
      retryable: {
        get(this: Schema.Struct.Type<MemberFields<Tag, Own>>) {
          return typeof retryable === "function" ? retryable(this) : retryable
        },
        enumerable: false
      }
    })
    return Member as never
  }

/**
 * True for members of the family (values carrying {@link TypeId}); look-alikes with a `code` are not members.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDSPyError = (u: unknown): u is DSPyError => Predicate.hasProperty(u, TypeId)

/**
 * True when the error is a member of the family that says a retry may succeed.
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
export class UnexpectedError extends TaggedError<UnexpectedError>()(
  "UnexpectedError",
  { cause: Schema.optional(Schema.Unknown) },
  { code: "unexpected", retryable: false }
) {}

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
