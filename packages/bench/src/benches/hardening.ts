/**
 * Parsing hostile input is linear: for each parser, the time on a 10 MB adversarial input over the time on a
 * 1 MB one of the same shape (`parse_10mb_over_1mb_<parser>`; linear is 10, quadratic would be 100; target
 * <= 12). Each input is the worst shape found for that parser (nested brackets, near-markers, text without
 * sentence punctuation, ...); inputs that a parser accepts are read to their end (the JSON adapter's tolerant
 * object with a long list, a completion body), so the ratio measures the whole parse.
 *
 * `provider_body` is a realistic large answer: one choice whose content is a 10 MB string full of escapes.
 * `provider_body_many_choices` is the shape-check's worst case, ~100,000 small choices (no real server sends
 * that; `maxResponseBytes` bounds it): `JSON.parse` builds that many objects and the Schema check walks them.
 *
 * Method: time is the CPU time of a child `node --single-threaded` (no V8 background threads, so the garbage
 * collector's work is counted on the one thread). Each sample parses 10 MB of input from a collected heap: ten
 * 1 MB runs, or one 10 MB run (times k for the fast parsers, so that a sample takes >= 150 ms), so the young-generation scavenges that a parse causes are counted at both sizes
 * (a "best of N" after a GC would pick 1 MB runs that ended before any scavenge, while every 10 MB run pays for
 * several: a ratio of 14 from collection, not from the parser). 1 MB and 10 MB samples alternate, so a
 * disturbance on the shared machine hits one pair; the figure is the mean +/- sd of the pairs' ratios.
 * `HARDENING_PAIRS=3 pnpm bench hardening` for a quick look (default 7).
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

/** A completion body parsed to its end; a bench input that does not parse is a bug in the bench. */
const completion = (name: string, text: string) => {
  const parsed = OpenAIProvider.parseCompletionBody(text, { provider: "p", model: "m" })
  if (Either.isLeft(parsed)) throw new Error(`${name}: the bench input did not parse: ${parsed.left.message}`)
  return parsed
}

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
  [
    "signature",
    // A `Literal[...]` with as many distinct values as fit: parsed to its end and turned into a Schema (a bench
    // input that is refused would time the refusal, not the parse).
    (bytes) => {
      const values: Array<string> = []
      for (let n = 0, length = 0; length < bytes; n++) {
        const value = `'v${n}'`
        values.push(value)
        length += value.length + 2
      }
      return values.join(", ")
    },
    (t) => {
      const parsed = Signature.parse(`q -> a: Literal[${t}]`)
      if (Either.isLeft(parsed)) throw new Error(`signature: the bench input did not parse: ${parsed.left.message}`)
      return parsed
    }
  ],
  [
    "provider_body",
    wrap(
      '{"id": "c", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "',
      '[[ ## a ## ]]\\n\\"5\\"\\u00e9 ',
      '"}, "finish_reason": "stop"}]}'
    ),
    (t) => completion("provider_body", t)
  ],
  [
    "provider_body_many_choices",
    wrap(
      '{"id": "c", "object": "chat.completion", "model": "m", "choices": [',
      '{"index": 0, "message": {"role": "assistant", "content": "[[ ## a ## ]]\\n\\"5\\"\\u00e9"}, "finish_reason": "stop"}, ',
      '{"index": 1, "message": {"role": "assistant", "content": "end"}, "finish_reason": "stop"}]}'
    ),
    (t) => completion("provider_body_many_choices", t)
  ],
  ["field_marker_sections", (bytes) => repeatTo("[[ ## q ## ]]\n[[ ## ", bytes), (t) => FieldMarker.sections(t)],
  ["sim_sentences", (bytes) => repeatTo("Ann has 3 apples and ", bytes), (t) => Arithmetic.parseProblem(t)]
]

/** 1 MB / 10 MB sample pairs per parser (`HARDENING_PAIRS` overrides). */
const pairs = Math.max(2, Number(process.env["HARDENING_PAIRS"] ?? 7))

/** Input parsed per sample, at least: ten 1 MB runs or one 10 MB run. */
const SAMPLE_BYTES = 10_000_000

/** A sample's least CPU time, in ms: a fast parser's sample parses 10 MB several times over. */
const MIN_SAMPLE_MS = 150

/**
 * The CPU time per run, in ms, of `runs` runs in a row, starting from a collected heap. The collections the
 * runs cause are counted (the process runs no background threads); garbage from before the sample is not.
 */
const perRun = (f: () => unknown, runs: number): number => {
  collectGarbage()
  const start = process.cpuUsage()
  for (let i = 0; i < runs; i++) f()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000 / runs
}

const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / xs.length

const sd = (xs: ReadonlyArray<number>): number => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1))
}

/** Measures every parser (in the child process) and prints its figures. */
const measure = (): void => {
  for (const [name, make, parse] of parsers) {
    const small = make(1_000_000)
    const large = make(10_000_000)
    // A sample parses 10 MB (ten 1 MB runs or one 10 MB run), repeated until it takes about MIN_SAMPLE_MS, so
    // the fast parsers' samples are not lost in the timer's and the machine's noise.
    perRun(() => parse(small), 10)
    const repeat = Math.max(1, Math.ceil(MIN_SAMPLE_MS / perRun(() => parse(large), 1)))
    const smallRuns = (repeat * SAMPLE_BYTES) / 1_000_000
    const largeRuns = (repeat * SAMPLE_BYTES) / 10_000_000
    const t1: Array<number> = []
    const ratios: Array<number> = []
    for (let i = 0; i < pairs; i++) {
      const one = perRun(() => parse(small), smallRuns)
      const ten = perRun(() => parse(large), largeRuns)
      t1.push(one)
      ratios.push(ten / one)
    }
    print({ bench: "hardening", metric: `parse_1mb_${name}`, value: mean(t1), unit: "ms", sd: sd(t1), n: pairs })
    print({
      bench: "hardening",
      metric: `parse_10mb_over_1mb_${name}`,
      value: mean(ratios),
      unit: "x",
      target: "<= 12",
      sd: sd(ratios),
      n: pairs
    })
  }
}

const self = url.fileURLToPath(import.meta.url)
const MEASURE = "--measure-hardening"

const bench: Bench = {
  name: "hardening",
  description:
    "parsers on 10 MB vs 1 MB adversarial inputs (linear = 10x), CPU time with GC, mean of interleaved pairs",
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
