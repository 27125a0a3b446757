/**
 * Incremental field parsers for streamed completions, and the Stream transformer around them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type * as Signature from "../../signature/Signature.js"
import { type AdapterParseError, type FieldEvent, parseError } from "../Adapter.js"
import * as FieldMarker from "../FieldMarker.js"
import { decodeText, missingOutputs } from "./values.js"

/** A stateful parser: feed chunks, then end. */
export interface IncrementalParser {
  readonly push: (chunk: string) => Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError>
  readonly end: () => Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError>
}

/** Runs a fresh parser over each run of the chunk stream. */
export const transform =
  (make: () => IncrementalParser) =>
  <E, R>(chunks: Stream.Stream<string, E, R>): Stream.Stream<FieldEvent, E | AdapterParseError, R> =>
    Stream.suspend(() => {
      const parser = make()
      return chunks.pipe(
        Stream.mapConcatEffect((chunk) => parser.push(chunk)),
        Stream.concat(Stream.fromIterableEffect(Effect.suspend(() => parser.end())))
      )
    })

const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c)

/**
 * Emits field text as deltas whose concatenation is the field's trimmed text: leading whitespace is
 * dropped, trailing whitespace is held back until more text follows. Each push costs the length of its text.
 */
export class DeltaTrimmer {
  private pending = ""
  private started = false
  push(text: string): string {
    let end = text.length
    while (end > 0 && isSpace(text[end - 1])) end--
    if (end === 0) {
      if (this.started) this.pending += text
      return ""
    }
    let start = 0
    if (!this.started) {
      while (isSpace(text[start])) start++
      this.started = true
    }
    const body = this.pending + text.slice(start, end)
    this.pending = text.slice(end)
    return body
  }
}

const header = /^\[\[ ## (\w+) ## \]\]/
const headerPrefix = /^\[(\[( (#(#( (\w+( (#(#( (\](\])?)?)?)?)?)?)?)?)?)?)?)?$/

/**
 * The ChatAdapter's incremental parser: `[[ ## field ## ]]` sections, values unescaped as
 * `FieldMarker.unescapeValue` does. Lines end at `\n` (a `\r` before it is dropped), as `ChatAdapter.parse` reads
 * them; each character is looked at a bounded number of times, however the text is cut into chunks.
 */
export const chatParser = (
  signature: Signature.Any,
  finish: (field: Signature.Field, text: string) => Either.Either<FieldEvent, AdapterParseError>,
  missing: (seen: ReadonlySet<string>) => Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError>
): IncrementalParser => {
  const outputs = new Map(signature.outputFields.map((f) => [f.name, f]))
  const seen = new Set<string>()
  // `buf` holds the current line from its start; `consumed` of it are handled; no "\n" before `scanned`.
  let buf = ""
  let consumed = 0
  let scanned = 0
  let decided = false
  let current: Signature.Field | undefined
  let raw = ""
  let trimmer = new DeltaTrimmer()
  let unescaper = FieldMarker.makeUnescaper()
  let completed = false

  const emit = (text: string, events: Array<FieldEvent>) => {
    if (text.length === 0) return
    raw += text
    const delta = trimmer.push(text)
    if (delta.length > 0) events.push({ _tag: "FieldDelta", field: current!.name, delta })
  }

  const content = (text: string, events: Array<FieldEvent>) => {
    if (current === undefined || completed || text.length === 0) return
    emit(unescaper.push(text), events)
  }

  const close = (events: Array<FieldEvent>): AdapterParseError | undefined => {
    if (current === undefined) return undefined
    emit(unescaper.end(), events)
    const field = current
    current = undefined
    const r = finish(field, raw.trim())
    if (Either.isLeft(r)) return r.left
    events.push(r.right)
    return undefined
  }

  const startHeader = (name: string, events: Array<FieldEvent>): AdapterParseError | undefined => {
    const err = close(events)
    if (err !== undefined) return err
    if (name === "completed") completed = true
    else if (!completed && outputs.has(name) && !seen.has(name)) {
      seen.add(name)
      current = outputs.get(name)!
      raw = ""
      trimmer = new DeltaTrimmer()
      unescaper = FieldMarker.makeUnescaper()
    }
    return undefined
  }

  const step = (final: boolean): Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError> => {
    const events: Array<FieldEvent> = []
    for (;;) {
      const nl = buf.indexOf("\n", scanned)
      scanned = nl >= 0 ? nl : buf.length
      // The line's end: before "\r\n"; an unterminated line holds back a last "\r" (a "\n" may follow).
      let end = nl >= 0 ? nl : buf.length
      if (end > consumed && buf[end - 1] === "\r" && (nl >= 0 || !final)) end--
      if (!decided) {
        // Leading whitespace goes to the open section now: when a header follows, trimming drops it there.
        let lead = consumed
        while (lead < end && isSpace(buf[lead])) lead++
        content(buf.slice(consumed, lead), events)
        consumed = lead
        const t = buf.slice(consumed, end)
        const m = header.exec(t)
        if (m !== null) {
          const err = startHeader(m[1]!, events)
          if (err !== undefined) return Either.left(err)
          decided = true
          // DSPy keeps text after a header on the same line, trimmed (leading whitespace goes here).
          consumed += m[0].length
          while (consumed < end && isSpace(buf[consumed])) consumed++
        } else if (nl >= 0 || final) decided = true
        else if (t.length === 0 || headerPrefix.test(t)) return Either.right(events)
        else decided = true
      }
      content(buf.slice(consumed, end) + (nl >= 0 ? "\n" : ""), events)
      consumed = end
      if (nl < 0) return Either.right(events)
      buf = buf.slice(nl + 1)
      consumed = 0
      scanned = 0
      decided = false
    }
  }

  return {
    push: (chunk) => {
      buf += chunk
      return step(false)
    },
    end: () =>
      Either.flatMap(step(true), (events) => {
        const all = [...events]
        const err = close(all)
        if (err !== undefined) return Either.left(err)
        return Either.map(missing(seen), (rest) => [...all, ...rest])
      })
  }
}

type JsonState =
  | "seek"
  | "key_or_end"
  | "key"
  | "colon"
  | "value_start"
  | "string_value"
  | "raw_value"
  | "after_value"
  | "done"

/**
 * The JSONAdapter's incremental parser: the top-level fields of the first JSON object. String values
 * stream as decoded text; other values stream as their raw JSON text. Each value is decoded when it ends.
 * At the end of the stream, `rest` reads the whole text tolerantly for any field not yet complete.
 */
export const jsonParser = (
  signature: Signature.Any,
  finish: (
    field: Signature.Field,
    value: { readonly text: string } | { readonly json: string }
  ) => Either.Either<FieldEvent, AdapterParseError>,
  rest: (text: string, done: ReadonlySet<string>) => Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError>
): IncrementalParser => {
  const outputs = new Map(signature.outputFields.map((f) => [f.name, f]))
  const done = new Set<string>()
  let all = ""
  let state: JsonState = "seek"
  let key = ""
  let keyEscape = false
  let field: Signature.Field | undefined
  let value = ""
  let esc = ""
  let depth = 0
  let inString = false
  let stringEscape = false
  let trimmer = new DeltaTrimmer()

  const startValue = () => {
    field = outputs.get(key)
    if (field !== undefined && done.has(field.name)) field = undefined
    value = ""
    trimmer = new DeltaTrimmer()
  }

  const feed = (chunk: string): Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError> => {
    const events: Array<FieldEvent> = []
    let delta = ""
    const flushDelta = () => {
      if (field !== undefined && delta.length > 0) {
        const d = state === "raw_value" ? trimmer.push(delta) : delta
        if (d.length > 0) events.push({ _tag: "FieldDelta", field: field.name, delta: d })
      }
      delta = ""
    }
    const complete = (v: { readonly text: string } | { readonly json: string }): AdapterParseError | undefined => {
      flushDelta()
      if (field === undefined) return undefined
      done.add(field.name)
      const r = finish(field, v)
      field = undefined
      if (Either.isLeft(r)) return r.left
      events.push(r.right)
      return undefined
    }
    for (const c of chunk) {
      switch (state) {
        case "seek":
          if (c === "{") state = "key_or_end"
          break
        case "key_or_end":
          if (c === '"') {
            state = "key"
            key = ""
          } else if (c === "}") state = "done"
          break
        case "key":
          if (keyEscape) {
            key += c
            keyEscape = false
          } else if (c === "\\") keyEscape = true
          else if (c === '"') state = "colon"
          else key += c
          break
        case "colon":
          if (c === ":") state = "value_start"
          break
        case "value_start":
          if (/\s/.test(c)) break
          startValue()
          if (c === '"') {
            state = "string_value"
            esc = ""
          } else {
            state = "raw_value"
            depth = c === "{" || c === "[" ? 1 : 0
            inString = false
            stringEscape = false
            value = c
            delta += c
          }
          break
        case "string_value":
          if (esc !== "") {
            esc += c
            const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" }
            if (esc[1] === "u") {
              if (esc.length < 6) break
              const ch = String.fromCharCode(Number.parseInt(esc.slice(2), 16))
              value += ch
              delta += ch
            } else {
              const ch = simple[esc[1]!] ?? esc[1]!
              value += ch
              delta += ch
            }
            esc = ""
          } else if (c === "\\") esc = "\\"
          else if (c === '"') {
            const err = complete({ text: value })
            if (err !== undefined) return Either.left(err)
            state = "after_value"
          } else {
            value += c
            delta += c
          }
          break
        case "raw_value": {
          if (inString) {
            if (stringEscape) stringEscape = false
            else if (c === "\\") stringEscape = true
            else if (c === '"') inString = false
          } else if (c === '"') inString = true
          else if (c === "{" || c === "[") depth++
          else if (c === "}" || c === "]") {
            if (depth === 0) {
              const err = complete({ json: value })
              if (err !== undefined) return Either.left(err)
              state = "done"
              break
            }
            depth--
          } else if (c === "," && depth === 0) {
            const err = complete({ json: value })
            if (err !== undefined) return Either.left(err)
            state = "key_or_end"
            break
          }
          value += c
          delta += c
          break
        }
        case "after_value":
          if (c === ",") state = "key_or_end"
          else if (c === "}") state = "done"
          break
        case "done":
          break
      }
    }
    flushDelta()
    return Either.right(events)
  }

  return {
    push: (chunk) => {
      all += chunk
      return feed(chunk)
    },
    end: () => {
      const events: Array<FieldEvent> = []
      if (state === "raw_value" && field !== undefined && value.trim() !== "") {
        const f = field
        field = undefined
        done.add(f.name)
        const r = finish(f, { json: value })
        if (Either.isLeft(r)) return Either.left(r.left)
        events.push(r.right)
      }
      return Either.map(rest(all, done), (more) => [...events, ...more])
    }
  }
}

/** An adapter's incremental reader of sections: told how to finish a field and what is missing at the end. */
export type SectionParser = (
  signature: Signature.Any,
  finish: (field: Signature.Field, text: string) => Either.Either<FieldEvent, AdapterParseError>,
  missing: (seen: ReadonlySet<string>) => Either.Either<ReadonlyArray<FieldEvent>, AdapterParseError>
) => IncrementalParser

/**
 * Field-level streaming of a text adapter's answer through its section reader: each field's text decodes to its
 * type when the section closes; a field that fails to decode, or a required field never read, fails the stream
 * with the adapter's parse error (quoting the text so far); an `Optional[...]` field never read is `null`.
 */
export const fieldStream = (adapter: string, signature: Signature.Any, sections: SectionParser) => {
  const outputNames = signature.outputFields.map((f) => f.name)
  return transform(() => {
    let text = ""
    const inner = sections(
      signature,
      (field, raw) =>
        Either.mapBoth(decodeText(field, raw), {
          onLeft: (problem) =>
            parseError({
              adapter,
              completion: text,
              outputFields: outputNames,
              invalid: [{ field: field.name, problem }]
            }),
          onRight: (value): FieldEvent => ({ _tag: "FieldValue", field: field.name, value })
        }),
      (seen) => {
        const values: Record<string, unknown> = {}
        for (const s of seen) values[s] = true
        const missing = missingOutputs(signature, values)
        if (missing.length > 0) {
          return Either.left(parseError({ adapter, completion: text, outputFields: outputNames, missing }))
        }
        return Either.right(
          signature.outputFields
            .filter((f) => !seen.has(f.name) && values[f.name] === null)
            .map((f): FieldEvent => ({ _tag: "FieldValue", field: f.name, value: null }))
        )
      }
    )
    return {
      push: (chunk: string) => {
        text += chunk
        return inner.push(chunk)
      },
      end: inner.end
    }
  })
}
