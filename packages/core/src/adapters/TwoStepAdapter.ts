/**
 * DSPy's TwoStepAdapter: the main LM gets a plain prompt (a task description, `name: value` inputs) and answers
 * freely, which suits reasoning models that do poorly with structured formats; then a second call extracts the
 * output fields from that text with a simpler signature (`text -> <the outputs>`) through another adapter (the
 * ChatAdapter by default), optionally on a smaller model (`extractionModel`). The prediction's usage and
 * `lmCalls` count both calls.
 *
 * @example
 * ```ts
 * import { Predict, Signature, TwoStepAdapter } from "@effect-dspy/core"
 *
 * // the main model reasons freely; "gpt-4o-mini" pulls the typed answer out of its text
 * const qa = Predict.make(Signature.make("question -> answer: int"), {
 *   adapter: TwoStepAdapter.make({ extractionModel: "gpt-4o-mini" })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Example from "../primitives/Example.js"
import * as Signature from "../signature/Signature.js"
import * as Adapter from "./Adapter.js"
import * as ChatAdapter from "./ChatAdapter.js"
import * as Prompt from "./internal/prompt.js"
import { decodeText, formatValue } from "./internal/values.js"

const name = "TwoStepAdapter"

const fieldLines = (fields: ReadonlyArray<Signature.Field>): string =>
  fields
    .map((f, i) => `${i + 1}. \`${f.name}\` (${f.typeName})${f.description === undefined ? "" : `: ${f.description}`}`)
    .join("\n")

/**
 * The system message of the main call (DSPy's wording): what the inputs and outputs are, and the instructions.
 *
 * @since 0.1.0
 * @category formatting
 */
export const systemMessage = (signature: Signature.Any): string => {
  const parts = [
    "You are a helpful assistant that can solve tasks based on user input.",
    `As input, you will be provided with:\n${fieldLines(signature.inputFields)}`,
    `Your outputs must contain:\n${fieldLines(signature.outputFields)}`,
    "You should lay out your outputs in detail so that your answer can be understood by another agent"
  ]
  if (signature.instructions !== "") parts.push(`Specific instructions: ${signature.instructions}`)
  return parts.join("\n")
}

const lines = (fields: ReadonlyArray<Signature.Field>, values: Example.Fields, missing?: string): string =>
  fields
    .flatMap((f) =>
      Object.hasOwn(values, f.name) && values[f.name] !== undefined
        ? [`${f.name}: ${formatValue(f, values[f.name])}`]
        : missing === undefined
          ? []
          : [`${f.name}: ${missing}`]
    )
    .join("\n\n")
    .trim()

/**
 * An assistant message: `name: value` for each output given.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatAssistant = <I, O>(signature: Signature.Signature<I, O>, outputs: Partial<O>): string =>
  lines(signature.outputFields, outputs as Example.Fields)

/**
 * The messages of the main call: the system message, each demo as a user/assistant pair, the inputs as
 * `name: value` lines.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = <I, O>(
  signature: Signature.Signature<I, O>,
  demos: ReadonlyArray<Adapter.Demo>,
  inputs: I
): Adapter.Formatted => ({
  messages: [
    { role: "system", content: systemMessage(signature) },
    ...demos.flatMap((demo) => {
      const record = Example.toRecord(demo)
      return [
        { role: "user" as const, content: Prompt.toContent(lines(signature.inputFields, record), record) },
        { role: "assistant" as const, content: lines(signature.outputFields, record) }
      ]
    }),
    {
      role: "user",
      content: Prompt.toContent(lines(signature.inputFields, inputs as Example.Fields), inputs as Example.Fields)
    }
  ]
})

/**
 * The extraction signature: a `text` input and the signature's outputs, with DSPy's extraction instructions.
 *
 * @since 0.1.0
 * @category formatting
 */
export const extractionSignature = <I, O>(
  signature: Signature.Signature<I, O>
): Signature.Signature<{ readonly text: string }, O> => {
  const outputs = signature.outputFields.map((f) => `\`${f.name}\``).join(", ")
  let out: Signature.Any = Signature.prepend(signature, "text", Signature.input(Schema.String))
  for (const f of signature.inputFields) if (f.name !== "text") out = Signature.remove(out, f.name)
  return Signature.withInstructions(
    out,
    `The input is a text that should contain all the necessary information to produce the fields ${outputs}. Your job is to extract the fields from the text verbatim. Extract and return the fields ${outputs} from the text.`
  ) as unknown as Signature.Signature<{ readonly text: string }, O>
}

/**
 * Reads the `name: value` form the adapter's own demos use (a line starting with an output's name and `:` opens
 * it). Free text is read by {@link make}'s extraction call, not here.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = <I, O>(
  signature: Signature.Signature<I, O>,
  completion: string
): Either.Either<O, Adapter.AdapterParseError> => {
  const outputs = new Map(signature.outputFields.map((f) => [f.name, f]))
  const found = new Map<string, Array<string>>()
  let current: Array<string> | undefined
  for (const line of completion.split("\n")) {
    const colon = line.indexOf(":")
    const key = colon > 0 ? line.slice(0, colon).trim() : ""
    if (outputs.has(key) && !found.has(key)) {
      current = [line.slice(colon + 1)]
      found.set(key, current)
    } else current?.push(line)
  }
  const values: Record<string, unknown> = {}
  const missing: Array<string> = []
  const invalid: Array<{ field: string; problem: string }> = []
  for (const f of signature.outputFields) {
    const text = found.get(f.name)
    if (text === undefined) {
      if (f.type._tag === "optional") values[f.name] = null
      else if (!f.optional) missing.push(f.name)
      continue
    }
    const r = decodeText(f, text.join("\n").trim())
    if (Either.isRight(r)) values[f.name] = r.right
    else invalid.push({ field: f.name, problem: r.left })
  }
  if (missing.length > 0 || invalid.length > 0) {
    return Either.left(
      Adapter.parseError({
        adapter: name,
        completion,
        outputFields: signature.outputFields.map((f) => f.name),
        missing,
        invalid,
        reason:
          "the text is not in `name: value` form (a TwoStepAdapter call reads free text through its extraction call)"
      })
    )
  }
  return Either.right(values as O)
}

/**
 * Options of the TwoStepAdapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The model of the extraction call (default: the predictor's model). */
  readonly extractionModel?: string
  /** The adapter of the extraction call (default: the ChatAdapter with its JSON fallback). */
  readonly extractionAdapter?: Adapter.Adapter
}

/**
 * A TwoStepAdapter: a free-text main call, then one extraction call per choice.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Adapter.Adapter => {
  const extraction = options.extractionAdapter ?? ChatAdapter.make()
  const model = options.extractionModel
  return {
    name,
    format: (signature, demos, inputs) => format(signature, demos, inputs),
    formatAssistant,
    parse,
    // The main answer is free text: its fields are known once it is complete (read with `parse`).
    streamFields: (signature) => (chunks) =>
      Stream.unwrap(
        Effect.map(
          Stream.runFold(chunks, "", (text, chunk) => text + chunk),
          (text) =>
            Either.match(parse(signature, text), {
              onLeft: (error) => Stream.fail(error),
              onRight: (values) =>
                Stream.fromIterable(
                  signature.outputFields.map(
                    (f): Adapter.FieldEvent => ({
                      _tag: "FieldValue",
                      field: f.name,
                      value: (values as Record<string, unknown>)[f.name]
                    })
                  )
                )
            })
        )
      ),
    call: (signature, demos, inputs, complete, formatOptions) =>
      Effect.flatMap(complete(format(signature, demos, inputs)), (texts) => {
        if (texts.length === 0) {
          return Effect.fail(
            Adapter.parseError({
              adapter: name,
              completion: "",
              outputFields: signature.outputFields.map((f) => f.name),
              missing: signature.outputFields.map((f) => f.name),
              reason: "the LM returned no choices"
            })
          )
        }
        const target = extractionSignature(signature)
        const extract: typeof complete = model === undefined ? complete : (request) => complete({ ...request, model })
        return Effect.map(
          Effect.forEach(texts, (text) => extraction.call(target, [], { text }, extract, formatOptions)),
          (results) => ({
            outputs: results.map((r) => r.outputs[0]!),
            adapter: name,
            calls: 1 + results.reduce((n, r) => n + r.calls, 0),
            completions: texts
          })
        )
      })
  }
}
