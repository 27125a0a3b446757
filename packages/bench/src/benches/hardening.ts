/**
 * Parsing hostile input is linear: for each parser, the time on a 10 MB adversarial input over the time on a
 * 1 MB one of the same shape (`parse_10mb_over_1mb_<parser>`; linear is 10, quadratic would be 100; target
 * <= 12). Each input is the worst shape found for that parser (nested brackets, near-markers, text without
 * sentence punctuation, ...).
 */
import { ChatAdapter, FieldMarker, JSONAdapter, OpenAIProvider, Signature } from "@effect-dspy/core"
import { Arithmetic } from "@effect-dspy/sim"
import type { Bench } from "../Harness.js"

const sig = Signature.make("question, context: list[str] -> reasoning, answer: int, tags: list[str]")

const repeatTo = (unit: string, bytes: number): string => unit.repeat(Math.ceil(bytes / unit.length))

const parsers: ReadonlyArray<readonly [string, string, (text: string) => unknown]> = [
  ["chat_adapter", "[[ ## reasoning ## ]]\n\\[[ ## a\n[[ ## ", (t) => ChatAdapter.parse(sig, t)],
  ["json_adapter", '{"a": [{b: c, ', (t) => JSONAdapter.parse(sig, t)],
  ["json_adapter_brackets", "{", (t) => JSONAdapter.parse(sig, t)],
  ["signature", "list[str], ", (t) => Signature.parse(`q -> a: Literal[${t}1]`)],
  [
    "provider_body",
    '{"choices": [{"message": {"content": "',
    (t) => OpenAIProvider.parseCompletionBody(t, { provider: "p", model: "m" })
  ],
  ["field_marker_sections", "[[ ## q ## ]]\n[[ ## ", (t) => FieldMarker.sections(t)],
  ["sim_sentences", "Ann has 3 apples and ", (t) => Arithmetic.parseProblem(t)]
]

const time = (f: () => unknown): number => {
  const start = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/** The best of three runs, in ms. */
const best = (f: () => unknown): number => Math.min(time(f), time(f), time(f))

const bench: Bench = {
  name: "hardening",
  description: "parsers on 10 MB vs 1 MB adversarial inputs (linear = 10x)",
  run: async (report) => {
    for (const [name, unit, parse] of parsers) {
      const small = repeatTo(unit, 1_000_000)
      const large = repeatTo(unit, 10_000_000)
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
