import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Stream from "effect/Stream"
import type * as Completion from "../lm/Completion.js"
import type * as Example from "../primitives/Example.js"
import type * as Signature from "../signature/Signature.js"
import { AdapterParseError } from "../CoreError.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { AdapterParseError }

/**
 * Builds an {@link AdapterParseError} with a message that says what was wrong.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseError = (options: {
  readonly adapter: string
  readonly completion: string
  readonly outputFields: ReadonlyArray<string>
  readonly missing?: ReadonlyArray<string>
  readonly invalid?: ReadonlyArray<{ readonly field: string; readonly problem: string }>
  readonly reason?: string
}): AdapterParseError => {
  const missing = options.missing ?? []
  const invalid = options.invalid ?? []
  const parts: Array<string> = []
  if (options.reason !== undefined) parts.push(options.reason)
  if (missing.length > 0) parts.push(`missing ${missing.map((f) => `\`${f}\``).join(", ")}`)
  for (const i of invalid) parts.push(`\`${i.field}\`: ${i.problem}`)
  const expected = options.outputFields.map((f) => `\`${f}\``).join(", ")
  return new AdapterParseError({
    message: `${options.adapter} could not parse the LM response (expected the output fields ${expected}): ${parts.join("; ")}.`,
    adapter: options.adapter,
    completion: options.completion,
    outputFields: [...options.outputFields],
    missing: [...missing],
    invalid: invalid.map((i) => ({ field: i.field, problem: i.problem }))
  })
}

/**
 * A formatted request: the messages and, for the JSONAdapter, the `response_format` to ask for; `model` asks
 * another model than the predictor's (the TwoStepAdapter's extraction call).
 *
 * @since 0.1.0
 * @category models
 */
export interface Formatted {
  readonly messages: ReadonlyArray<Completion.Message>
  readonly responseFormat?: Completion.ResponseFormat
  readonly model?: string
}

/**
 * Formatting options.
 *
 * @since 0.1.0
 * @category models
 */
export interface FormatOptions {
  /** Whether the provider accepts `response_format: json_schema` (default true). */
  readonly structuredOutputs?: boolean
}

/**
 * A demo: an example or a plain record of field values (possibly incomplete).
 *
 * @since 0.1.0
 * @category models
 */
export type Demo = Example.Any | { readonly [key: string]: unknown }

/**
 * A field-level streaming event: text arriving for an output field, then its decoded value once the field
 * is complete.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldEvent =
  | { readonly _tag: "FieldDelta"; readonly field: string; readonly delta: string }
  | { readonly _tag: "FieldValue"; readonly field: string; readonly value: unknown }

/**
 * How to read a request's answer field by field while it streams: the adapter that formatted it and its
 * field-level parser bound to the request's signature (what `streamify` uses for field deltas).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamHint {
  readonly adapter: string
  readonly streamFields: <E, R>(
    chunks: Stream.Stream<string, E, R>
  ) => Stream.Stream<FieldEvent, E | AdapterParseError, R>
}

/**
 * Sends a formatted request to the LM and returns the text of each choice. Adapters pass a {@link StreamHint}
 * when they can read the answer as it streams.
 *
 * @since 0.1.0
 * @category models
 */
export type Complete<E, R> = (request: Formatted, stream?: StreamHint) => Effect.Effect<ReadonlyArray<string>, E, R>

/**
 * What {@link Adapter.call} returns: the parsed outputs of every choice, the adapter that parsed them and
 * the number of LM calls made.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallResult<O> {
  readonly outputs: ReadonlyArray<O>
  readonly adapter: string
  readonly calls: number
  /** The raw texts the outputs were parsed from. */
  readonly completions: ReadonlyArray<string>
}

/**
 * The adapter contract.
 *
 * @since 0.1.0
 * @category models
 */
export interface Adapter {
  readonly name: string
  /** The messages (system, demo turns, request) and request extras for one call. */
  readonly format: <I, O>(
    signature: Signature.Signature<I, O>,
    demos: ReadonlyArray<Demo>,
    inputs: I,
    options?: FormatOptions
  ) => Formatted
  /** An assistant message carrying the given outputs (used for demos; missing fields say so). */
  readonly formatAssistant: <I, O>(signature: Signature.Signature<I, O>, outputs: Partial<O>) => string
  /** Parses one completion into the outputs. */
  readonly parse: <I, O>(
    signature: Signature.Signature<I, O>,
    completion: string
  ) => Either.Either<O, AdapterParseError>
  /** Field-level streaming: completion text chunks in, field deltas and values out. */
  readonly streamFields: <I, O>(
    signature: Signature.Signature<I, O>
  ) => <E, R>(chunks: Stream.Stream<string, E, R>) => Stream.Stream<FieldEvent, E | AdapterParseError, R>
  /** Formats, asks the LM through `complete`, and parses every choice (falling back where the adapter does). */
  readonly call: <I, O, E, R>(
    signature: Signature.Signature<I, O>,
    demos: ReadonlyArray<Demo>,
    inputs: I,
    complete: Complete<E, R>,
    options?: FormatOptions
  ) => Effect.Effect<CallResult<O>, E | AdapterParseError, R>
}

/**
 * The `call` every plain adapter shares: format once, complete once, parse every choice.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCall =
  (
    self: Pick<Adapter, "name" | "format" | "parse"> & { readonly streamFields?: Adapter["streamFields"] }
  ): Adapter["call"] =>
  (signature, demos, inputs, complete, options) =>
    Effect.flatMap(
      complete(
        self.format(signature, demos, inputs, options),
        self.streamFields === undefined ? undefined : { adapter: self.name, streamFields: self.streamFields(signature) }
      ),
      (texts) => {
        if (texts.length === 0) {
          return Effect.fail(
            parseError({
              adapter: self.name,
              completion: "",
              outputFields: signature.outputFields.map((f) => f.name),
              missing: signature.outputFields.map((f) => f.name),
              reason: "the LM returned no choices"
            })
          )
        }
        return Effect.map(
          Effect.forEach(texts, (text) => self.parse(signature, text)),
          (outputs) => ({ outputs, adapter: self.name, calls: 1, completions: texts })
        )
      }
    )

/**
 * An adapter that runs `primary`, and when its answer does not parse, runs the whole call again through
 * `fallback` (DSPy's ChatAdapter -> JSONAdapter). LM failures are not retried. The surviving error is the
 * fallback's, with the primary's message in its `context`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withFallback = (primary: Adapter, fallback: Adapter): Adapter => ({
  name: primary.name,
  format: primary.format,
  formatAssistant: primary.formatAssistant,
  parse: primary.parse,
  streamFields: primary.streamFields,
  call: (signature, demos, inputs, complete, options) =>
    primary.call(signature, demos, inputs, complete, options).pipe(
      Effect.catchIf(
        (e): e is AdapterParseError => e instanceof AdapterParseError,
        (first) =>
          fallback.call(signature, demos, inputs, complete, options).pipe(
            Effect.map((r) => ({ ...r, calls: r.calls + 1 })),
            Effect.mapError((e) =>
              e instanceof AdapterParseError
                ? new AdapterParseError({
                    ...e,
                    message: `${e.message} (after ${primary.name} failed: ${first.message})`,
                    context: { ...(e.context ?? {}), primaryError: first.message, primaryCompletion: first.completion }
                  })
                : e
            )
          )
      )
    )
})

/**
 * Parses with an adapter and fails in Effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const parseEffect = <I, O>(
  adapter: Adapter,
  signature: Signature.Signature<I, O>,
  completion: string
): Effect.Effect<O, AdapterParseError> =>
  Either.match(adapter.parse(signature, completion), {
    onLeft: Effect.fail,
    onRight: Effect.succeed
  })
