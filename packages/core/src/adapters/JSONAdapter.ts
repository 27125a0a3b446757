/**
 * DSPy's JSONAdapter: the same field lines as the ChatAdapter, an output structure shown as a JSON object,
 * and a request for a JSON answer, with `response_format` `json_schema` built from the output fields (when
 * the provider supports structured outputs and every output type is closed) or `json_object`. Answers are
 * read tolerantly (see {@link JsonRepair}).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Completion from "../lm/Completion.js"
import * as FieldType from "../signature/FieldType.js"
import type * as Signature from "../signature/Signature.js"
import * as Adapter from "./Adapter.js"
import * as Prompt from "./internal/prompt.js"
import * as Streaming from "./internal/streaming.js"
import { decodeJson, decodeText, encode, jsonable, pyJson } from "./internal/values.js"
import * as JsonRepair from "./JsonRepair.js"

const name = "JSONAdapter"

/**
 * The system message: field lines, the input structure, the output JSON object with type notes, the task
 * description.
 *
 * @since 0.1.0
 * @category formatting
 */
export const systemMessage = (signature: Signature.Any): string => {
  const outputShape: Record<string, string> = {}
  for (const f of signature.outputFields) outputShape[f.name] = Prompt.placeholder(f)
  const structure = [
    "All interactions will be structured in the following way, with the appropriate values filled in.",
    "Inputs will have the following structure:",
    Prompt.sections(signature.inputFields.map((f) => [f.name, Prompt.placeholder(f)] as const)),
    "Outputs will be a JSON object with the following fields.",
    JSON.stringify(outputShape, null, 2)
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
  `Respond with a JSON object in the following order of fields: ${signature.outputFields
    .map((f) => `\`${f.name}\`${Prompt.typeInfo(f)}`)
    .join(", then ")}.`

const assistantContent = (signature: Signature.Any, outputs: { readonly [k: string]: unknown }, missing?: string) => {
  const obj: Record<string, unknown> = {}
  for (const f of signature.outputFields) {
    const v = outputs[f.name]
    obj[f.name] = v === undefined ? (missing ?? null) : jsonable(encode(f, v))
  }
  return JSON.stringify(obj, null, 2)
}

/**
 * An assistant message: the outputs as a JSON object, pretty-printed with 2 spaces.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatAssistant = <I, O>(signature: Signature.Signature<I, O>, outputs: Partial<O>): string =>
  assistantContent(signature, outputs as { readonly [k: string]: unknown })

/**
 * The `response_format` for a signature: `json_schema` (strict, every output required, no additional
 * properties) when `structuredOutputs` is not false and no output is open-ended (`dict`, `Any`), else
 * `json_object`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const responseFormat = (
  signature: Signature.Any,
  options?: Adapter.FormatOptions
): Completion.ResponseFormat => {
  const openEnded = signature.outputFields.some((f) => FieldType.isOpenEnded(f.type))
  if (options?.structuredOutputs === false || openEnded) return { type: "json_object" }
  const schema = FieldType.jsonSchema(
    FieldType.struct(signature.outputFields.map((f) => ({ name: f.name, type: f.type, optional: f.optional }))),
    { strict: true }
  )
  return { type: "json_schema", name: signature.name ?? "output", schema, strict: true }
}

/**
 * The messages and `response_format` for one call.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = <I, O>(
  signature: Signature.Signature<I, O>,
  demos: ReadonlyArray<Adapter.Demo>,
  inputs: I,
  options?: Adapter.FormatOptions
): Adapter.Formatted => ({
  messages: [
    { role: "system", content: systemMessage(signature) },
    ...Prompt.demoMessages(signature, demos, (outputs, missing) => assistantContent(signature, outputs, missing)),
    {
      role: "user",
      content: Prompt.userContent(signature, inputs as { readonly [k: string]: unknown }, {
        requirements: outputRequirements(signature)
      })
    }
  ],
  responseFormat: responseFormat(signature, options)
})

const decodeFields = (
  signature: Signature.Any,
  object: Record<string, unknown>,
  skip: ReadonlySet<string>
): { values: Record<string, unknown>; missing: Array<string>; invalid: Array<{ field: string; problem: string }> } => {
  const values: Record<string, unknown> = {}
  const missing: Array<string> = []
  const invalid: Array<{ field: string; problem: string }> = []
  for (const f of signature.outputFields) {
    if (skip.has(f.name)) continue
    const v = object[f.name]
    if (v === undefined || (v === null && f.optional)) {
      if (f.type._tag === "optional") values[f.name] = null
      else if (!f.optional) missing.push(f.name)
      continue
    }
    const r = decodeJson(f, v)
    if (Either.isRight(r)) values[f.name] = r.right
    else invalid.push({ field: f.name, problem: r.left })
  }
  return { values, missing, invalid }
}

/**
 * Parses an answer: the first JSON object in the text (repaired when needed), its output fields decoded to
 * their types, a missing `Optional[...]` output as `null`; other keys are ignored.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = <I, O>(
  signature: Signature.Signature<I, O>,
  completion: string
): Either.Either<O, Adapter.AdapterParseError> => {
  const outputFields = signature.outputFields.map((f) => f.name)
  const object = JsonRepair.parseObject(completion)
  if (Option.isNone(object)) {
    return Either.left(
      Adapter.parseError({
        adapter: name,
        completion,
        outputFields,
        missing: outputFields,
        reason: JsonRepair.isTooDeep(completion)
          ? `the response's JSON nests deeper than ${JsonRepair.maxDepth} levels`
          : "the response holds no JSON object"
      })
    )
  }
  const { values, missing, invalid } = decodeFields(signature, object.value, new Set())
  if (missing.length > 0 || invalid.length > 0) {
    return Either.left(Adapter.parseError({ adapter: name, completion, outputFields, missing, invalid }))
  }
  return Either.right(values as O)
}

/**
 * Field-level streaming of a JSON answer's top-level fields: string values stream as decoded text, other
 * values as their JSON text; each field's `FieldValue` comes when its value ends. Fields left incomplete
 * when the stream ends are read from the whole text tolerantly; a required field still missing fails.
 *
 * @since 0.1.0
 * @category streaming
 */
export const streamFields = <I, O>(signature: Signature.Signature<I, O>) => {
  const outputFields = signature.outputFields.map((f) => f.name)
  return Streaming.transform(() => {
    let all = ""
    const inner = Streaming.jsonParser(
      signature,
      (field, v) =>
        Either.mapBoth("text" in v ? decodeJson(field, v.text) : decodeRawJson(field, v.json), {
          onLeft: (problem) =>
            Adapter.parseError({
              adapter: name,
              completion: all,
              outputFields,
              invalid: [{ field: field.name, problem }]
            }),
          onRight: (value): Adapter.FieldEvent => ({ _tag: "FieldValue", field: field.name, value })
        }),
      (text, done) => {
        const object = Option.getOrElse(JsonRepair.parseObject(text), () => ({}))
        const { values, missing, invalid } = decodeFields(signature, object, done)
        if (missing.length > 0 || invalid.length > 0) {
          return Either.left(Adapter.parseError({ adapter: name, completion: text, outputFields, missing, invalid }))
        }
        return Either.right(
          signature.outputFields
            .filter((f) => Object.hasOwn(values, f.name))
            .map((f): Adapter.FieldEvent => ({ _tag: "FieldValue", field: f.name, value: values[f.name] }))
        )
      }
    )
    return {
      push: (chunk: string) => {
        all += chunk
        return inner.push(chunk)
      },
      end: inner.end
    }
  })
}

const decodeRawJson = (field: Signature.Field, json: string) => {
  const parsed = JsonRepair.parse(json)
  return Option.isSome(parsed) ? decodeJson(field, parsed.value) : decodeText(field, json)
}

/**
 * The JSONAdapter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Adapter.Adapter => ({
  name,
  format,
  formatAssistant,
  parse,
  streamFields,
  call: Adapter.makeCall({ name, format, parse, streamFields })
})

/**
 * JSON text of a value as the prompts write nested values (`[1, 2]`), for tools that build demos by hand.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toPromptJson = (value: unknown): string => pyJson(jsonable(value))
