/**
 * The arithmetic task: multi-step word problems (2 to 4 operations on a quantity) with an integer answer.
 * The hidden solver reads the problem back from its sentences; it also evaluates a bare expression such as
 * `What is 2 + 3?`. Wrong answers drop one operation (or slip an operand by one), as a hurried solver would.
 *
 * @since 0.1.0
 */
import type { Rng } from "./internal/Random.js"
import * as Task from "./Task.js"

/**
 * An arithmetic example.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly [key: string]: unknown
  readonly question: string
  readonly answer: number
}

type Op = "add" | "sub" | "mul" | "div"

interface Step {
  readonly op: Op
  readonly k: number
  readonly text: string
}

const PEOPLE: ReadonlyArray<readonly [string, "He" | "She"]> = [
  ["Mia", "She"],
  ["Liam", "He"],
  ["Ava", "She"],
  ["Noah", "He"],
  ["Zoe", "She"],
  ["Omar", "He"],
  ["Priya", "She"],
  ["Mateo", "He"],
  ["Hana", "She"],
  ["Kofi", "He"],
  ["Elena", "She"],
  ["Jonas", "He"],
  ["Sofia", "She"],
  ["Ravi", "He"],
  ["Lena", "She"],
  ["Tariq", "He"]
]
const ITEMS = ["apples", "marbles", "stickers", "books", "coins", "cookies", "pencils", "stamps", "shells", "cards"]

const TEMPLATES: Record<Op, ReadonlyArray<(p: string, o: string, k: number, items: string) => string>> = {
  add: [
    (p, _o, k, items) => `${p} buys ${k} more ${items}.`,
    (p, _o, k, items) => `${p} finds ${k} more ${items}.`,
    (_p, o, k, items) => `A friend gives ${o} ${k} more ${items}.`
  ],
  sub: [
    (p, _o, k, items) => `${p} gives away ${k} ${items}.`,
    (p, _o, k, items) => `${p} loses ${k} ${items}.`,
    (p, _o, k, items) => `${p} sells ${k} ${items}.`
  ],
  mul: [
    (_p, _o, k, items) => `Then the number of ${items} is multiplied by ${k}.`,
    (p, _o, k, items) => `${p} then ends up with ${k} times as many ${items}.`
  ],
  div: [
    (p, _o, k, items) => `${p} splits the ${items} equally into ${k} boxes and keeps one box.`,
    (p, _o, k, items) => `${p} shares the ${items} equally among ${k} people, keeping one share.`
  ]
}

const PATTERNS: ReadonlyArray<readonly [Op, RegExp]> = [
  ["add", /^(?:He|She) (?:buys|finds) (\d+) more \w+\.$/],
  ["add", /^A friend gives (?:him|her) (\d+) more \w+\.$/],
  ["sub", /^(?:He|She) (?:gives away|loses|sells) (\d+) \w+\.$/],
  ["mul", /^Then the number of \w+ is multiplied by (\d+)\.$/],
  ["mul", /^(?:He|She) then ends up with (\d+) times as many \w+\.$/],
  ["div", /^(?:He|She) splits the \w+ equally into (\d+) boxes and keeps one box\.$/],
  ["div", /^(?:He|She) shares the \w+ equally among (\d+) people, keeping one share\.$/]
]
const START = /^([A-Z][a-z]+) has (\d+) (\w+)\.$/
const QUESTION = /^How many (\w+) does ([A-Z][a-z]+) have now\?$/

const apply = (value: number, op: Op, k: number): number =>
  op === "add" ? value + k : op === "sub" ? value - k : op === "mul" ? value * k : value / k

const example = (rng: Rng): Example => {
  const [name, pronoun] = rng.pick(PEOPLE)
  const object = pronoun === "He" ? "him" : "her"
  const items = rng.pick(ITEMS)
  const count = rng.int(2, 4)
  let value = rng.int(6, 40)
  const start = value
  const sentences: Array<string> = []
  let last: Op | undefined
  while (sentences.length < count) {
    const options: Array<Op> = ["add", "sub"]
    if (value <= 40 && last !== "mul") options.push("mul")
    const divisors = [2, 3, 4, 5].filter((d) => value % d === 0 && value / d >= 2)
    if (divisors.length > 0 && last !== "div") options.push("div")
    const op = rng.pick(options)
    const k =
      op === "add"
        ? rng.int(2, 25)
        : op === "sub"
          ? rng.int(1, Math.max(1, value - 2))
          : op === "mul"
            ? rng.int(2, 4)
            : rng.pick(divisors)
    if (op === "sub" && value - k < 1) continue
    sentences.push(rng.pick(TEMPLATES[op])(pronoun, object, k, items))
    value = apply(value, op, k)
    last = op
  }
  return {
    question: `${name} has ${start} ${items}. ${sentences.join(" ")} How many ${items} does ${name} have now?`,
    answer: value
  }
}

/**
 * The sentences of a text: each run of other characters up to a `.`, `?` or `!` (included), trimmed; text after
 * the last one is left out. One pass (a regex such as `[^.?!]+[.?!]` backtracks quadratically on long text
 * without punctuation).
 */
const splitSentences = (text: string): Array<string> => {
  const out: Array<string> = []
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "." || c === "?" || c === "!") {
      if (start >= 0) out.push(text.slice(start, i + 1).trim())
      start = -1
    } else if (start < 0) start = i
  }
  return out
}

interface Problem {
  readonly start: number
  readonly items: string
  readonly steps: ReadonlyArray<Step>
}

/**
 * Reads a word problem of this task back into its start value and steps; undefined when the text is not one.
 *
 * @since 0.1.0
 * @category solver
 */
export const parseProblem = (text: string): Problem | undefined => {
  const sentences = splitSentences(text)
  if (sentences.length < 3) return undefined
  const first = START.exec(sentences[0]!)
  const q = QUESTION.exec(sentences[sentences.length - 1]!)
  if (first === null || q === null) return undefined
  const steps: Array<Step> = []
  for (const s of sentences.slice(1, -1)) {
    const hit = PATTERNS.map(([op, re]) => [op, re.exec(s)] as const).find(([, m]) => m !== null)
    if (hit === undefined) return undefined
    steps.push({ op: hit[0], k: Number(hit[1]![1]), text: s })
  }
  return { start: Number(first[2]), items: first[3]!, steps }
}

const run = (problem: Problem, skip = -1): number =>
  problem.steps.reduce((v, s, i) => (i === skip ? v : apply(v, s.op, s.k)), problem.start)

const SYMBOL: Record<Op, string> = { add: "+", sub: "-", mul: "*", div: "/" }

/**
 * Evaluates a bare arithmetic expression (`+ - * /`, parentheses) found in a question such as
 * `What is 12 * (3 + 4)?`; undefined when there is none or it does not evaluate to a finite number.
 *
 * @since 0.1.0
 * @category solver
 */
export const evaluateExpression = (text: string): number | undefined => {
  const m = /(?:^|[^\w.])(\(*-?\d+(?:\.\d+)?(?:\s*[-+*/x×÷]\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*)+)/.exec(text)
  if (m === null) return undefined
  const src = m[1]!.replace(/[x×]/g, "*").replace(/÷/g, "/")
  let i = 0
  const peek = () => {
    while (src[i] === " ") i++
    return src[i]
  }
  const num = (): number => {
    const c = peek()
    if (c === "(") {
      i++
      const v = expr()
      if (peek() === ")") i++
      return v
    }
    if (c === "-") {
      i++
      return -num()
    }
    const d = /^\d+(?:\.\d+)?/.exec(src.slice(i))
    if (d === null) return Number.NaN
    i += d[0].length
    return Number(d[0])
  }
  const term = (): number => {
    let v = num()
    for (let c = peek(); c === "*" || c === "/"; c = peek()) {
      i++
      v = c === "*" ? v * num() : v / num()
    }
    return v
  }
  const expr = (): number => {
    let v = term()
    for (let c = peek(); c === "+" || c === "-"; c = peek()) {
      i++
      v = c === "+" ? v + term() : v - term()
    }
    return v
  }
  const v = expr()
  return Number.isFinite(v) ? Math.round(v * 1e9) / 1e9 : undefined
}

const feature = (name: string, patterns: ReadonlyArray<RegExp>, phrasings: ReadonlyArray<string>): Task.Feature => ({
  name,
  patterns,
  phrasings
})

const solveProblem = (problem: Problem): Task.Solution => {
  const gold = run(problem)
  const n = problem.steps.length
  return {
    task: "arithmetic",
    difficulty: (3 - n) * 0.45,
    evidence: 0,
    gold: { answer: gold },
    wrong: (rng) => {
      const skip = rng.int(0, n - 1)
      const v = run(problem, skip)
      if (v === gold || !Number.isInteger(v) || v < 0)
        return { answer: gold + rng.pick([-2, -1, 1, 2, 10]), skipped: -1 }
      return { answer: v, skipped: skip }
    },
    reasoning: (values, correct) => {
      const lines = [`Start with ${problem.start} ${problem.items}.`]
      let v = problem.start
      const skipped = values["skipped"]
      const skip = correct || typeof skipped !== "number" ? -1 : skipped
      problem.steps.forEach((s, i) => {
        if (i === skip) return
        const next = apply(v, s.op, s.k)
        lines.push(`${s.text} So ${v} ${SYMBOL[s.op]} ${s.k} = ${next}.`)
        v = next
      })
      lines.push(
        v === values["answer"]
          ? `The answer is ${String(values["answer"])}.`
          : `So the answer is ${String(values["answer"])}.`
      )
      return lines.join(" ")
    }
  }
}

const solveExpression = (value: number): Task.Solution => ({
  task: "arithmetic",
  difficulty: 0.8,
  evidence: 0,
  gold: { answer: value },
  wrong: (rng) => ({ answer: value + rng.pick([-10, -1, 1, 2, 10]) }),
  reasoning: (values) => `Evaluating the expression gives ${String(values["answer"])}.`
})

/**
 * The arithmetic task.
 *
 * @since 0.1.0
 * @category tasks
 */
export const task: Task.Task<Example> = {
  name: "arithmetic",
  description: "multi-step arithmetic word problems with an integer answer",
  inputKeys: ["question"],
  skill: { b0: -0.4, bReason: 0.52, bDemo: 0.22, bWrong: 0.35, bInstr: 0.34, bBad: 0.6 },
  helpful: [
    feature("step_by_step", [/step[- ]by[- ]step/i], ["Think step by step.", "Work through the problem step by step."]),
    feature(
      "double_check",
      [/double[- ]check/i, /\bverify\b/i, /re-?check/i],
      ["Double-check each calculation before answering.", "Verify the result before giving the final answer."]
    ),
    feature(
      "intermediate",
      [/intermediate (values|results|steps)/i, /show (your|the) work/i],
      ["Write down the intermediate values after each operation.", "Show your work with intermediate results."]
    ),
    feature(
      "every_operation",
      [/(each|every) operation/i, /track (the|each) quantit/i],
      ["Apply every operation in the order it is described.", "Track the quantity after each operation."]
    )
  ],
  harmful: [
    feature("guess", [/\bguess/i, /estimate/i], ["If unsure, make a quick guess.", "Estimate the answer roughly."]),
    feature(
      "hurry",
      [/as fast as possible/i, /without (checking|thinking)/i, /skip (the )?(steps|work)/i],
      ["Answer as fast as possible without checking.", "Skip the steps and give only the number."]
    ),
    feature("round", [/round (the|your) (answer|result)/i], ["Round the answer to the nearest ten."])
  ],
  example,
  solve: (inputs) => {
    const texts = [inputs["question"], ...Object.values(inputs)].filter((t): t is string => typeof t === "string")
    for (const t of texts) {
      const p = parseProblem(t)
      if (p !== undefined) return solveProblem(p)
    }
    for (const t of texts) {
      if (!/\d\s*[-+*/x×÷]\s*\(?\s*-?\d/.test(t)) continue
      const v = evaluateExpression(t)
      if (v !== undefined) return solveExpression(v)
    }
    return undefined
  },
  assign: (outputs, values) => {
    const f = Task.answerField(outputs, ["answer", "final_answer", "result", "solution", "number"])
    return f === undefined ? {} : { [f.name]: values["answer"] }
  },
  softFields: [],
  cues: (text) =>
    (text.match(/How many \w+ does [A-Z][a-z]+ have now\?/g)?.length ?? 0) + (/arithmetic|math/i.test(text) ? 1 : 0)
}
