/**
 * DSPy's XMLAdapter: the ChatAdapter's messages with every field written as `<name>\nvalue\n</name>`
 * instead of a `[[ ## name ## ]]` section, and answers read tag by tag. Values are escaped so that no user text
 * can open or close a field ({@link XmlTag}). By default a call whose answer does not parse is run again
 * through the {@link JSONAdapter} (DSPy's fallback). The exact text is in `docs/prompt-format.md`.
 *
 * @example
 * ```ts
 * import { Predict, Signature, XMLAdapter } from "@effect-dspy/core"
 *
 * const qa = Predict.make(Signature.make("question -> answer: int"), { adapter: XMLAdapter.make() })
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as Signature from "../signature/Signature.js"
import * as Adapter from "./Adapter.js"
import * as Prompt from "./internal/prompt.js"
import * as Streaming from "./internal/streaming.js"
import { decodeText, missingOutputs } from "./internal/values.js"
import * as JSONAdapter from "./JSONAdapter.js"
import * as XmlTag from "./XmlTag.js"

const name = "XMLAdapter"

const elements = (entries: ReadonlyArray<readonly [string, string]>): string =>
  entries
    .map(([field, value]) => XmlTag.element(field, value))
    .join("\n\n")
    .trim()

/**
 * The system message: field lines, the structure as XML elements with type notes, the task description.
 *
 * @since 0.1.0
 * @category formatting
 */
export const systemMessage = (signature: Signature.Any): string => {
  const structure = [
    "All interactions will be structured in the following way, with the appropriate values filled in.",
    elements(signature.inputFields.map((f) => [f.name, Prompt.placeholder(f)] as const)),
    elements(signature.outputFields.map((f) => [f.name, Prompt.placeholder(f)] as const))
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
  `Respond with the corresponding output fields wrapped in XML tags ${signature.outputFields
    .map((f) => `\`<${f.name}>\`${Prompt.typeInfo(f)}`)
    .join(", then ")}.`

const assistantContent = (signature: Signature.Any, outputs: { readonly [k: string]: unknown }, missing?: string) =>
  elements(Prompt.outputEntries(signature, outputs, missing ?? "None").map(([f, v]) => [f.name, v] as const))

/**
 * An assistant message with the given outputs, one element per output field.
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
): Adapter.Formatted => ({
  messages: [
    { role: "system", content: systemMessage(signature) },
    ...Prompt.demoMessages(
      signature,
      demos,
      (outputs, missing) => assistantContent(signature, outputs, missing),
      XmlTag.element
    ),
    {
      role: "user",
      content: Prompt.userContent(signature, inputs as { readonly [k: string]: unknown }, {
        requirements: outputRequirements(signature),
        section: XmlTag.element
      })
    }
  ]
})

/**
 * Parses an answer: each output field's value is the trimmed, unescaped text of its first `<name>...</name>`
 * element ({@link XmlTag.elements}), decoded to the field's type; other elements and text outside elements
 * are ignored; a missing `Optional[...]` output reads as `null`.
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
  for (const { name: key, value } of XmlTag.elements(completion)) {
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

/** The length of the longest suffix of `text` that is a proper prefix of `target`. */
const heldSuffix = (text: string, target: string): number => {
  for (let n = Math.min(target.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(target.slice(0, n))) return n
  }
  return 0
}

/** Whether `text` from the `<` at `at` may still become a tag when more text arrives. */
const maybeTag = (text: string, at: number): boolean => {
  let i = at + 1
  if (text[i] === "/") i++
  while (i < text.length) {
    const c = text[i]!
    if (!((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "_")) return false
    i++
  }
  return true
}

const xmlParser = (
  signature: Signature.Any,
  finish: (field: Signature.Field, text: string) => Either.Either<Adapter.FieldEvent, Adapter.AdapterParseError>,
  missing: (seen: ReadonlySet<string>) => Either.Either<ReadonlyArray<Adapter.FieldEvent>, Adapter.AdapterParseError>
): Streaming.IncrementalParser => {
  const outputs = new Map(signature.outputFields.map((f) => [f.name, f]))
  const done = new Set<string>()
  let buf = ""
  // The character before `buf` (a backslash there makes a tag at buf[0] escaped).
  let prev = ""
  let current: Signature.Field | undefined
  let closing = ""
  let raw = ""
  let trimmer = new Streaming.DeltaTrimmer()
  let unescaper = XmlTag.makeUnescaper()

  const consume = (n: number) => {
    if (n === 0) return
    prev = buf[n - 1]!
    buf = buf.slice(n)
  }

  const content = (text: string, events: Array<Adapter.FieldEvent>) => {
    if (text.length === 0) return
    raw += text
    const delta = trimmer.push(unescaper.push(text))
    if (delta.length > 0) events.push({ _tag: "FieldDelta", field: current!.name, delta })
  }

  const step = (final: boolean): Either.Either<ReadonlyArray<Adapter.FieldEvent>, Adapter.AdapterParseError> => {
    const events: Array<Adapter.FieldEvent> = []
    for (;;) {
      if (current === undefined) {
        let next = -1
        let hold = -1
        for (let i = buf.indexOf("<"); i >= 0; i = buf.indexOf("<", i + 1)) {
          if ((i > 0 ? buf[i - 1] : prev) === "\\") continue
          const tag = XmlTag.tagAt(buf, i)
          if (tag === undefined) {
            if (!final && maybeTag(buf, i)) {
              hold = i
              break
            }
            continue
          }
          if (!tag.closing && outputs.has(tag.name) && !done.has(tag.name)) {
            next = i
            current = outputs.get(tag.name)!
            closing = XmlTag.close(tag.name)
            raw = ""
            trimmer = new Streaming.DeltaTrimmer()
            unescaper = XmlTag.makeUnescaper()
            consume(tag.end)
            break
          }
        }
        if (next >= 0) continue
        consume(hold >= 0 ? hold : buf.length)
        return Either.right(events)
      }
      let found = -1
      for (let i = buf.indexOf(closing); i >= 0; i = buf.indexOf(closing, i + 1)) {
        if ((i > 0 ? buf[i - 1] : prev) !== "\\") {
          found = i
          break
        }
      }
      if (found < 0) {
        const keep = final ? 0 : heldSuffix(buf, closing)
        content(buf.slice(0, buf.length - keep), events)
        consume(buf.length - keep)
        return Either.right(events)
      }
      content(buf.slice(0, found), events)
      const tail = trimmer.push(unescaper.end())
      if (tail.length > 0) events.push({ _tag: "FieldDelta", field: current.name, delta: tail })
      const field = current
      current = undefined
      done.add(field.name)
      consume(found + closing.length)
      const r = finish(field, XmlTag.unescapeValue(raw.trim()))
      if (Either.isLeft(r)) return Either.left(r.left)
      events.push(r.right)
    }
  }

  return {
    push: (chunk) => {
      buf += chunk
      return step(false)
    },
    end: () =>
      Either.flatMap(step(true), (events) => {
        // A field never closed is not read (as `parse` does).
        current = undefined
        return Either.map(missing(done), (rest) => [...events, ...rest])
      })
  }
}

/**
 * Field-level streaming of an XMLAdapter answer: `FieldDelta` events as an element's text arrives (their
 * concatenation is the field's trimmed, unescaped text), a `FieldValue` with the decoded value when the element
 * closes. A field that fails to decode, or a required field never closed, fails the stream with an
 * {@link Adapter.AdapterParseError}.
 *
 * @since 0.1.0
 * @category streaming
 */
export const streamFields = <I, O>(signature: Signature.Signature<I, O>) =>
  Streaming.fieldStream(name, signature, xmlParser)

/**
 * Options of the XMLAdapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Re-run a call through the JSONAdapter when the answer does not parse (default true, as DSPy). */
  readonly jsonFallback?: boolean
}

/**
 * The XMLAdapter without fallback.
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
 * An XMLAdapter; with the JSON fallback unless `jsonFallback: false`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Adapter.Adapter =>
  options?.jsonFallback === false ? plain : Adapter.withFallback(plain, JSONAdapter.make())
