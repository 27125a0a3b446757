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
import * as childProcess from "node:child_process"
import * as path from "node:path"
import * as url from "node:url"
import { type Bench, collectGarbage, type Figure, print } from "../Harness.js"

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
 * The CPU time of one run, in ms, after a garbage collection (garbage left by the previous run is not this
 * run's). It is measured in a child process whose V8 runs no background threads (`--single-threaded`), so the
 * process's CPU time is the parse's own: wall time on a shared machine measures the other processes too, and
 * a process's CPU time otherwise counts the compiler's and the collector's threads.
 */
const time = (f: () => unknown): number => {
  collectGarbage()
  const start = process.cpuUsage()
  f()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

/** The best of `runs` runs, in ms (the least disturbed: a busy machine still slows a run through its caches). */
const best = (f: () => unknown, runs: number): number => Math.min(...Array.from({ length: runs }, () => time(f)))

/** Measures every parser (in the child process) and prints its figures. */
const measure = (): void => {
  for (const [name, make, parse] of parsers) {
    const small = make(1_000_000)
    const large = make(10_000_000)
    best(() => parse(small), 3)
    const t1 = best(() => parse(small), 15)
    const t10 = best(() => parse(large), 5)
    print({ bench: "hardening", metric: `parse_1mb_${name}`, value: t1, unit: "ms" })
    print({
      bench: "hardening",
      metric: `parse_10mb_over_1mb_${name}`,
      value: t10 / t1,
      unit: "x",
      target: "<= 12"
    })
  }
}

const self = url.fileURLToPath(import.meta.url)
const MEASURE = "--measure-hardening"

const bench: Bench = {
  name: "hardening",
  description: "parsers on 10 MB vs 1 MB adversarial inputs (linear = 10x), CPU time",
  run: async (report) => {
    const out = childProcess.execFileSync(
      process.execPath,
      ["--single-threaded", "--expose-gc", "--conditions=@effect-dspy/source", "--import", "tsx", self, MEASURE],
      { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] }
    )
    for (const line of out.split("\n")) if (line.startsWith("{")) report(JSON.parse(line) as Figure)
  }
}

export default bench

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === self && process.argv.includes(MEASURE)) measure()
