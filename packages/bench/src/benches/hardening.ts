/**
 * Parsing hostile input is linear: for each parser, the time on a 10 MB adversarial input over the time on a
 * 1 MB one of the same shape (`parse_10mb_over_1mb_<parser>`; linear is 10, quadratic would be 100; target
 * <= 12). Each input is the worst shape found for that parser (nested brackets, near-markers, text without
 * sentence punctuation, ...); inputs that a parser accepts are read to their end (the JSON adapter's tolerant
 * object with a long list, a completion body with many choices), so the ratio measures the whole parse.
 */
import { ChatAdapter, FieldMarker, JSONAdapter, OpenAIProvider, Signature } from "@effect-dspy/core"
import { Arithmetic } from "@effect-dspy/sim"
import * as Either from "effect/Either"
import { type Bench, collectGarbage } from "../Harness.js"

const sig = Signature.make("question, context: list[str] -> reasoning, answer: int, tags: list[str]")

const repeatTo = (unit: string, bytes: number): string => unit.repeat(Math.ceil(bytes / unit.length))

/** `head`, then `unit` repeated, then `tail`: about `bytes` long in all. */
const wrap = (head: string, unit: string, tail: string) => (bytes: number) =>
  `${head}${repeatTo(unit, bytes - head.length - tail.length)}${tail}`

// Each input is read to its end: the JSON adapter's and the provider's inputs are whole answers that parse (a
// tolerant object with a long list; a completion body with many choices), not text rejected at its start.
const parsers: ReadonlyArray<readonly [string, (bytes: number) => string, (text: string) => unknown]> = [
  [
    "chat_adapter",
    (bytes) => repeatTo("[[ ## reasoning ## ]]\n\\[[ ## a\n[[ ## ", bytes),
    (t) => ChatAdapter.parse(sig, t)
  ],
  [
    "json_adapter",
    wrap("{reasoning: 'because', answer: 5, tags: [", "'a\\'b {c}', \"[[ ## d ## ]]\", ", "],}"),
    (t) => {
      const parsed = JSONAdapter.parse(sig, t)
      if (Either.isLeft(parsed)) throw new Error(`json_adapter: the bench input did not parse: ${parsed.left.message}`)
      return parsed
    }
  ],
  ["json_adapter_brackets", (bytes) => repeatTo("{", bytes), (t) => JSONAdapter.parse(sig, t)],
  ["signature", (bytes) => repeatTo("list[str], ", bytes), (t) => Signature.parse(`q -> a: Literal[${t}1]`)],
  [
    "provider_body",
    wrap(
      '{"id": "c", "object": "chat.completion", "model": "m", "choices": [',
      '{"index": 0, "message": {"role": "assistant", "content": "[[ ## a ## ]]\\n\\"5\\"\\u00e9"}, "finish_reason": "stop"}, ',
      '{"index": 1, "message": {"role": "assistant", "content": "end"}, "finish_reason": "stop"}]}'
    ),
    (t) => {
      const parsed = OpenAIProvider.parseCompletionBody(t, { provider: "p", model: "m" })
      if (Either.isLeft(parsed)) throw new Error(`provider_body: the bench input did not parse: ${parsed.left.message}`)
      return parsed
    }
  ],
  ["field_marker_sections", (bytes) => repeatTo("[[ ## q ## ]]\n[[ ## ", bytes), (t) => FieldMarker.sections(t)],
  ["sim_sentences", (bytes) => repeatTo("Ann has 3 apples and ", bytes), (t) => Arithmetic.parseProblem(t)]
]

/**
 * The wall time of one run, in ms, after a garbage collection (garbage left by the previous run is not this
 * run's). Not the process's CPU time: that counts the compiler's and the collector's background threads.
 */
const time = (f: () => unknown): number => {
  collectGarbage()
  const start = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/** The best of five runs, in ms (on a shared machine the best run is the one least disturbed). */
const best = (f: () => unknown): number => Math.min(time(f), time(f), time(f), time(f), time(f))

const bench: Bench = {
  name: "hardening",
  description: "parsers on 10 MB vs 1 MB adversarial inputs (linear = 10x)",
  run: async (report) => {
    for (const [name, make, parse] of parsers) {
      const small = make(1_000_000)
      const large = make(10_000_000)
      best(() => parse(small))
      const t1 = best(() => parse(small))
      const t10 = best(() => parse(large))
      report({ bench: "hardening", metric: `parse_1mb_${name}`, value: t1, unit: "ms" })
      report({
        bench: "hardening",
        metric: `parse_10mb_over_1mb_${name}`,
        value: t10 / t1,
        unit: "x",
        target: "<= 12"
      })
    }
  }
}

export default bench
