/**
 * DSPy's ChatAdapter: the system message lists the fields and shows the `[[ ## field ## ]]` structure;
 * demos are user/assistant turns; the answer is read section by section up to `[[ ## completed ## ]]`.
 * By default a call whose answer does not parse is run again through the {@link JSONAdapter} (DSPy's
 * fallback). The exact text is specified in `docs/prompt-format.md`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as Effect from "effect/Effect"
import * as MessageTexts from "../cache/internal/messageTexts.js"
import type * as Completion from "../lm/Completion.js"
import type * as Signature from "../signature/Signature.js"
import * as Adapter from "./Adapter.js"
import * as Prompt from "./internal/prompt.js"
import * as Streaming from "./internal/streaming.js"
import { decodeText, missingOutputs } from "./internal/values.js"
import * as FieldMarker from "./FieldMarker.js"
import * as JSONAdapter from "./JSONAdapter.js"

const name = "ChatAdapter"

/**
 * The system message: field lines, the section structure with type notes, the task description.
 *
 * @since 0.1.0
 * @category formatting
 */
export const systemMessage = (signature: Signature.Any): string => {
  const structure = [
    "All interactions will be structured in the following way, with the appropriate values filled in.",
    Prompt.sections(signature.inputFields.map((f) => [f.name, Prompt.placeholder(f)] as const)),
    Prompt.sections(signature.outputFields.map((f) => [f.name, Prompt.placeholder(f)] as const)),
    `${FieldMarker.completed}\n`
  ]
    .join("\n\n")
    .trim()
  return `${Prompt.fieldDescription(signature)}\n${structure}\n${Prompt.taskDescription(signature)}`
}

/**
 * The sentence that ends the request's user message.
 *
 * @since 0.1.0
 * @category formatting
 */
export const outputRequirements = (signature: Signature.Any): string =>
  `Respond with the corresponding output fields, starting with the field ${signature.outputFields
    .map((f) => `\`[[ ## ${f.name} ## ]]\`${Prompt.typeInfo(f)}`)
    .join(", then ")}, and then ending with the marker for \`[[ ## completed ## ]]\`.`

const assistantContent = (signature: Signature.Any, outputs: { readonly [k: string]: unknown }, missing?: string) =>
  `${Prompt.sections(
    Prompt.outputEntries(signature, outputs, missing ?? "None").map(([f, v]) => [f.name, v] as const)
  )}\n\n${FieldMarker.completed}\n`

/**
 * An assistant message with the given outputs, `[[ ## completed ## ]]` last.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatAssistant = <I, O>(signature: Signature.Signature<I, O>, outputs: Partial<O>): string =>
  assistantContent(signature, outputs as { readonly [k: string]: unknown })

/**
 * The messages for one call.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = <I, O>(
  signature: Signature.Signature<I, O>,
  demos: ReadonlyArray<Adapter.Demo>,
  inputs: I
): Adapter.Formatted => {
  const prefix = prefixOf(signature, demos)
  const messages: Array<Completion.Message> = prefix.messages.slice()
  messages.push({
    role: "user",
    content: Prompt.userContent(signature, inputs as { readonly [k: string]: unknown }, {
      requirements: prefix.requirements
    })
  })
  return { messages }
}

/**
 * What a call's messages share with every other call of the same signature and demos: the system message, the
 * demo turns and the output requirements. Built once per signature and demos array (signatures are immutable;
 * demos are compared by length and element identity, so demos changed in place are formatted afresh) and
 * shared between calls: the message objects are never changed, and the same objects let the cache key reuse
 * their canonical JSON (see CacheKey).
 */
interface Prefix {
  readonly items: ReadonlyArray<Adapter.Demo>
  readonly messages: ReadonlyArray<Completion.Message>
  readonly requirements: string
}

const prefixes = new WeakMap<Signature.Any, Prefix>()

const sameItems = (a: ReadonlyArray<Adapter.Demo>, b: ReadonlyArray<Adapter.Demo>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const prefixOf = (signature: Signature.Any, demos: ReadonlyArray<Adapter.Demo>): Prefix => {
  const cached = prefixes.get(signature)
  if (cached !== undefined && sameItems(cached.items, demos)) return cached
  const prefix: Prefix = {
    items: demos.slice(),
    messages: [
      { role: "system" as const, content: systemMessage(signature) },
      ...Prompt.demoMessages(signature, demos, (outputs, missing) => assistantContent(signature, outputs, missing))
    ].map(MessageTexts.share),
    requirements: outputRequirements(signature)
  }
  // One entry per signature (the last demos it was called with): a predictor's demos rarely change.
  prefixes.set(signature, prefix)
  return prefix
}

/**
 * Parses an answer: text before the first header is ignored, each output field's value is the trimmed text
 * up to the next header (the first section of a field wins), unescaped ({@link FieldMarker.unescapeValue}),
 * values decode to the field types, a missing `Optional[...]` output reads as `null`. A missing
 * `[[ ## completed ## ]]` marker is tolerated (DSPy).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = <I, O>(
  signature: Signature.Signature<I, O>,
  completion: string
): Either.Either<O, Adapter.AdapterParseError> => {
  const outputs = new Map(signature.outputFields.map((f) => [f.name, f]))
  const values: Record<string, unknown> = {}
  const invalid: Array<{ field: string; problem: string }> = []
  const seen = new Set<string>()
  for (const { name: key, value } of FieldMarker.sections(completion)) {
    const field = outputs.get(key)
    if (field === undefined || seen.has(key)) continue
    seen.add(key)
    const r = decodeText(field, value)
    if (Either.isRight(r)) values[key] = r.right
    else invalid.push({ field: key, problem: r.left })
  }
  const missing = missingOutputs(signature, values).filter((f) => !seen.has(f))
  if (missing.length > 0 || invalid.length > 0) {
    return Either.left(
      Adapter.parseError({
        adapter: name,
        completion,
        outputFields: signature.outputFields.map((f) => f.name),
        missing,
        invalid
      })
    )
  }
  return Either.right(values as O)
}

/**
 * Field-level streaming of a ChatAdapter answer: `FieldDelta` events as a section's text arrives (their
 * concatenation is the field's trimmed text), a `FieldValue` with the decoded value when the next header
 * (or the end) closes it. A field that fails to decode, or a required field never seen, fails the stream
 * with an {@link Adapter.AdapterParseError}.
 *
 * @since 0.1.0
 * @category streaming
 */
export const streamFields = <I, O>(signature: Signature.Signature<I, O>) =>
  Streaming.fieldStream(name, signature, Streaming.chatParser)

/**
 * Options of the ChatAdapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Re-run a call through the JSONAdapter when the answer does not parse (default true, as DSPy). */
  readonly jsonFallback?: boolean
}

/**
 * The ChatAdapter without fallback.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plain: Adapter.Adapter = {
  name,
  format: (signature, demos, inputs) => format(signature, demos, inputs),
  formatAssistant,
  parse,
  streamFields,
  call: Adapter.makeCall({
    name,
    format: (signature, demos, inputs) => format(signature, demos, inputs),
    parse,
    streamFields
  })
}

/**
 * A ChatAdapter; with the JSON fallback unless `jsonFallback: false`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Adapter.Adapter =>
  options?.jsonFallback === false ? plain : Adapter.withFallback(plain, JSONAdapter.make())

/**
 * One call through the ChatAdapter with the JSON fallback: format, complete, parse; on a parse failure,
 * the same call through the JSONAdapter.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withJSONFallback = <I, O, E, R>(
  signature: Signature.Signature<I, O>,
  demos: ReadonlyArray<Adapter.Demo>,
  inputs: I,
  complete: Adapter.Complete<E, R>,
  options?: Adapter.FormatOptions
): Effect.Effect<Adapter.CallResult<O>, E | Adapter.AdapterParseError, R> =>
  make().call(signature, demos, inputs, complete, options)
