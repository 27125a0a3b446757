/**
 * The arithmetic task: multi-step word problems (2 to 4 operations on a quantity) with an integer answer.
 * Some problems hold traps: quantities in dozens, packs of several items, a halving that leaves a fraction.
 * The hidden solver reads the problem back from its sentences (it also evaluates a bare expression such as
 * `What is 2 + 3?`). Every wrong answer is a plausible slip with a failure category: a dropped operation, a
 * skipped unit conversion, groups added before being multiplied (precedence), an intermediate rounded too
 * early. The file also holds the task's instruction concepts and its canonical best instruction.
 *
 * @since 0.1.0
 */
import type * as Concepts from "./Concepts.js"
import type { Random } from "@effect-dspy/foundation"
import * as ExpressionSpan from "./internal/ExpressionSpan.js"
import type * as Meaning from "./Meaning.js"
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

type Op = "add" | "sub" | "mul" | "div" | "add_dozen" | "sub_dozen" | "add_groups" | "sub_groups"

interface Step {
  readonly op: Op
  /** The operand (for groups: the size of a group). */
  readonly k: number
  /** For dozens: how many dozens; for groups: how many groups. */
  readonly g: number
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

type Template = (p: string, o: string, k: number, items: string, g: number) => string

const TEMPLATES: Record<Op, ReadonlyArray<Template>> = {
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
  ],
  add_dozen: [
    (p, _o, _k, items, g) => `${p} buys ${g} dozen more ${items}.`,
    (_p, o, _k, items, g) => `A friend gives ${o} ${g} dozen more ${items}.`
  ],
  sub_dozen: [(p, _o, _k, items, g) => `${p} sells ${g} dozen ${items}.`],
  add_groups: [
    (p, _o, k, items, g) => `${p} buys ${g} packs of ${k} ${items}.`,
    (p, _o, k, items, g) => `${p} finds ${g} bags with ${k} ${items} each.`
  ],
  sub_groups: [(p, _o, k, items, g) => `${p} gives away ${g} bags of ${k} ${items}.`]
}

/** Readers of step sentences: the operation and which captures hold `g` and `k`. */
const PATTERNS: ReadonlyArray<readonly [Op, RegExp, "k" | "gk" | "g"]> = [
  ["add", /^(?:He|She) (?:buys|finds) (\d+) more \w+\.$/, "k"],
  ["add", /^A friend gives (?:him|her) (\d+) more \w+\.$/, "k"],
  ["sub", /^(?:He|She) (?:gives away|loses|sells) (\d+) \w+\.$/, "k"],
  ["mul", /^Then the number of \w+ is multiplied by (\d+)\.$/, "k"],
  ["mul", /^(?:He|She) then ends up with (\d+) times as many \w+\.$/, "k"],
  ["div", /^(?:He|She) splits the \w+ equally into (\d+) boxes and keeps one box\.$/, "k"],
  ["div", /^(?:He|She) shares the \w+ equally among (\d+) people, keeping one share\.$/, "k"],
  ["add_dozen", /^(?:He|She) buys (\d+) dozen more \w+\.$/, "g"],
  ["add_dozen", /^A friend gives (?:him|her) (\d+) dozen more \w+\.$/, "g"],
  ["sub_dozen", /^(?:He|She) sells (\d+) dozen \w+\.$/, "g"],
  ["add_groups", /^(?:He|She) buys (\d+) packs of (\d+) \w+\.$/, "gk"],
  ["add_groups", /^(?:He|She) finds (\d+) bags with (\d+) \w+ each\.$/, "gk"],
  ["sub_groups", /^(?:He|She) gives away (\d+) bags of (\d+) \w+\.$/, "gk"]
]
const START = /^([A-Z][a-z]+) has (\d+) (\w+)\.$/
const QUESTION = /^How many (\w+) does ([A-Z][a-z]+) have now\?$/

/** How a step is carried out: correctly, or with one of the failure categories' slips. */
type Slip = "none" | "skip" | "unit" | "precedence" | "round"

const apply = (value: number, step: Pick<Step, "op" | "k" | "g">, slip: Slip = "none"): number => {
  const v = slip === "round" ? Math.round(value) : value
  switch (step.op) {
    case "add":
      return v + step.k
    case "sub":
      return v - step.k
    case "mul":
      return v * step.k
    case "div":
      return v / step.k
    case "add_dozen":
      return v + (slip === "unit" ? step.g : 12 * step.g)
    case "sub_dozen":
      return v - (slip === "unit" ? step.g : 12 * step.g)
    case "add_groups":
      return slip === "precedence" ? (v + step.g) * step.k : v + step.g * step.k
    case "sub_groups":
      return slip === "precedence" ? (v - step.g) * step.k : v - step.g * step.k
  }
}

const example = (rng: Random.Random): Example => {
  const [name, pronoun] = rng.pick(PEOPLE)!
  const object = pronoun === "He" ? "him" : "her"
  const items = rng.pick(ITEMS)!
  const count = rng.between(2, 4)
  let value = rng.between(6, 40)
  const start = value
  const want = { unit: rng.chance(0.35), groups: rng.chance(0.35), half: rng.chance(0.3) }
  const used = { unit: false, groups: false, half: false }
  const sentences: Array<string> = []
  let last: Op | undefined
  let pendingMul = false
  for (let guard = 0; sentences.length < count && guard < 200; guard++) {
    const remaining = count - sentences.length
    let op: Op
    let k = 0
    let g = 0
    if (pendingMul) {
      // A fractional value (after halving) is made whole again by the next step.
      op = "mul"
      k = rng.pick([2, 4])!
      pendingMul = false
    } else if (want.half && !used.half && remaining >= 2 && !Number.isInteger(value / 2) && value >= 5) {
      op = "div"
      k = 2
      used.half = true
      pendingMul = true
    } else if (want.unit && !used.unit && rng.chance(0.6)) {
      g = rng.between(1, 3)
      op = value > 12 * g + 2 && rng.chance(0.35) ? "sub_dozen" : "add_dozen"
      used.unit = true
    } else if (want.groups && !used.groups && rng.chance(0.6)) {
      k = rng.between(2, 6)
      g = rng.between(2, 5)
      op = value > g * k + 2 && rng.chance(0.35) ? "sub_groups" : "add_groups"
      used.groups = true
    } else {
      const options: Array<Op> = ["add", "sub"]
      if (value <= 40 && last !== "mul") options.push("mul")
      const divisors = [2, 3, 4, 5].filter((d) => value % d === 0 && value / d >= 2)
      if (divisors.length > 0 && last !== "div") options.push("div")
      op = rng.pick(options)!
      k =
        op === "add"
          ? rng.between(2, 25)
          : op === "sub"
            ? rng.between(1, Math.max(1, value - 2))
            : op === "mul"
              ? rng.between(2, 4)
              : rng.pick(divisors)!
      if (op === "sub" && value - k < 1) continue
    }
    sentences.push(rng.pick(TEMPLATES[op])!(pronoun, object, k, items, g))
    value = apply(value, { op, k, g })
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
    let step: Step | undefined
    for (const [op, re, shape] of PATTERNS) {
      const m = re.exec(s)
      if (m === null) continue
      const a = Number(m[1])
      const b = Number(m[2])
      step =
        shape === "k"
          ? { op, k: a, g: 0, text: s }
          : shape === "g"
            ? { op, k: 12, g: a, text: s }
            : { op, k: b, g: a, text: s }
      break
    }
    if (step === undefined) return undefined
    steps.push(step)
  }
  return { start: Number(first[2]), items: first[3]!, steps }
}

interface Trace {
  readonly values: ReadonlyArray<number>
  readonly lines: ReadonlyArray<string>
}

const SYMBOL: Record<Op, string> = {
  add: "+",
  sub: "-",
  mul: "*",
  div: "/",
  add_dozen: "+",
  sub_dozen: "-",
  add_groups: "+",
  sub_groups: "-"
}

const fmt = (n: number): string => String(Math.round(n * 1e6) / 1e6)

/** Works a problem through, with at most one slip (at step `at`), writing each step as a reader would. */
const trace = (problem: Problem, slip: Slip = "none", at = -1): Trace => {
  const values: Array<number> = []
  const lines = [`Start with ${problem.start} ${problem.items}.`]
  let v = problem.start
  problem.steps.forEach((s, i) => {
    const mine: Slip = i === at ? slip : "none"
    if (mine === "skip") return
    const next = apply(v, s, mine)
    const shown = mine === "round" ? Math.round(v) : v
    let line: string
    if (s.op === "add_dozen" || s.op === "sub_dozen") {
      const amount = mine === "unit" ? s.g : 12 * s.g
      line =
        mine === "unit"
          ? `${s.text} So ${fmt(v)} ${SYMBOL[s.op]} ${s.g} = ${fmt(next)}.`
          : `${s.text} ${s.g} dozen is ${amount}, so ${fmt(v)} ${SYMBOL[s.op]} ${amount} = ${fmt(next)}.`
    } else if (s.op === "add_groups" || s.op === "sub_groups") {
      line =
        mine === "precedence"
          ? `${s.text} So (${fmt(v)} ${SYMBOL[s.op]} ${s.g}) * ${s.k} = ${fmt(next)}.`
          : `${s.text} ${s.g} * ${s.k} = ${s.g * s.k}, so ${fmt(v)} ${SYMBOL[s.op]} ${s.g * s.k} = ${fmt(next)}.`
    } else if (mine === "round") {
      line = `${s.text} Rounding ${fmt(v)} to ${shown} first, ${shown} ${SYMBOL[s.op]} ${s.k} = ${fmt(next)}.`
    } else {
      line = `${s.text} So ${fmt(v)} ${SYMBOL[s.op]} ${s.k} = ${fmt(next)}.`
    }
    if (s.op === "add_groups" || s.op === "sub_groups") {
      if (mine !== "precedence") values.push(s.g * s.k)
    }
    if ((s.op === "add_dozen" || s.op === "sub_dozen") && mine !== "unit") values.push(12 * s.g)
    values.push(next)
    lines.push(line)
    v = next
  })
  return { values, lines }
}

/** The answer reached with at most one slip (the numbers of {@link trace}, without its text). */
const result = (problem: Problem, slip: Slip = "none", at = -1): number => {
  let v = problem.start
  for (let i = 0; i < problem.steps.length; i++) {
    if (i === at && slip === "skip") continue
    v = apply(v, problem.steps[i]!, i === at ? slip : "none")
  }
  return v
}

const MAX_NESTING = 256

/**
 * Evaluates a bare arithmetic expression (`+ - * /`, parentheses) found in a question such as
 * `What is 12 * (3 + 4)?`; undefined when there is none, it nests parentheses deeper than 256, or it does not
 * evaluate to a finite number.
 *
 * @since 0.1.0
 * @category solver
 */
export const evaluateExpression = (text: string): number | undefined => {
  const found = ExpressionSpan.find(text)
  if (found === undefined) return undefined
  const src = found.replace(/[x×]/g, "*").replace(/÷/g, "/")
  let i = 0
  let depth = 0
  const peek = () => {
    while (src[i] === " ") i++
    return src[i]
  }
  const num = (): number => {
    const c = peek()
    if (c === "(") {
      // Deeper nesting than any question holds is no expression (and would overflow the stack).
      if (depth >= MAX_NESTING) return Number.NaN
      i++
      depth++
      const v = expr()
      depth--
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

const ARITHMETIC_LEXICON: Meaning.Lexicon = {
  think: [
    "think",
    "reason",
    "work",
    "go",
    "proceed",
    "solve",
    "tackle",
    "approach",
    "handle",
    "walk",
    "move",
    "compute",
    "calculate",
    "process",
    "do",
    "progress",
    "advance",
    "trace",
    "follow",
    "run"
  ],
  steps: [
    "step",
    "stage",
    "part",
    "piece",
    "operation",
    "sentence",
    "phase",
    "bit",
    "chunk",
    "action",
    "change",
    "event",
    "transaction",
    "move"
  ],
  sequential: [
    "sequentially",
    "sequential",
    "methodically",
    "methodical",
    "systematically",
    "systematic",
    "incrementally",
    "incremental",
    "gradually",
    "consecutively",
    "successively",
    "linearly"
  ],
  verify: [
    "verify",
    "check",
    "confirm",
    "validate",
    "recheck",
    "recompute",
    "recalculate",
    "review",
    "reexamine",
    "inspect",
    "audit",
    "test",
    "ascertain",
    "crosscheck",
    "proofread",
    "reread",
    "revisit",
    "scrutinize",
    "scrutinise",
    "retrace",
    "rework",
    "redo",
    "reverify",
    "rerun"
  ],
  object: [
    "answer",
    "result",
    "solution",
    "calculation",
    "computation",
    "arithmetic",
    "math",
    "maths",
    "work",
    "total",
    "number",
    "figure",
    "value",
    "sum",
    "output",
    "step",
    "operation",
    "it",
    "everything",
    "response",
    "final",
    "reasoning",
    "logic",
    "conversion",
    "count",
    "addition",
    "subtraction",
    "multiplication",
    "division",
    "each",
    "all",
    "every",
    "them",
    "numbers",
    "this",
    "that",
    "result"
  ],
  intermediate: [
    "intermediate",
    "partial",
    "running",
    "interim",
    "midway",
    "inbetween",
    "temporary",
    "current",
    "new",
    "updated",
    "resulting"
  ],
  record: [
    "write",
    "note",
    "record",
    "list",
    "show",
    "keep",
    "track",
    "log",
    "jot",
    "state",
    "display",
    "report",
    "tally",
    "mention",
    "include",
    "spell",
    "lay",
    "print",
    "give",
    "put",
    "document",
    "maintain",
    "update",
    "store",
    "remember",
    "hold"
  ],
  quantity: [
    "value",
    "result",
    "total",
    "number",
    "amount",
    "quantity",
    "count",
    "sum",
    "figure",
    "tally",
    "balance",
    "subtotal",
    "outcome",
    "how"
  ],
  unit: [
    "unit",
    "dozen",
    "measurement",
    "measure",
    "denomination",
    "pack",
    "packs",
    "bag",
    "box",
    "group",
    "twelve",
    "12"
  ],
  convert: [
    "convert",
    "translate",
    "change",
    "turn",
    "express",
    "rewrite",
    "normalise",
    "normalize",
    "transform",
    "restate",
    "expand",
    "unpack",
    "resolve",
    "multiply"
  ],
  exact: ["exact", "precise", "full", "unrounded", "accurate", "complete", "original", "true", "raw"],
  keep: ["keep", "use", "carry", "retain", "maintain", "preserve", "work", "leave", "hold", "stick", "stay"],
  fraction: ["fraction", "fractional", "decimal", "half", "halves", "remainder", "point"],
  groups: ["group", "pack", "bag", "box", "batch", "set", "bundle", "lot", "crate", "package", "collection"],
  estimate: [
    "estimate",
    "guess",
    "approximate",
    "ballpark",
    "eyeball",
    "roughly",
    "rough",
    "approximation",
    "gut",
    "hunch",
    "intuition",
    "instinct"
  ],
  fast: [
    "fast",
    "quick",
    "quickly",
    "hurry",
    "hurried",
    "rush",
    "rushed",
    "rapid",
    "rapidly",
    "immediately",
    "speed",
    "hastily",
    "hasty",
    "instantly",
    "briefly",
    "snap",
    "asap"
  ],
  round: ["round", "rounding", "truncate", "truncating", "floor", "ceil"],
  early: [
    "intermediate",
    "each",
    "every",
    "partial",
    "early",
    "along",
    "midway",
    "interim",
    "step",
    "first",
    "before",
    "halfway",
    "running",
    "immediately",
    "always"
  ]
}

const concept = (c: Concepts.Concept): Concepts.Concept => c

/**
 * The arithmetic task's concept inventory: its helpful strategies (work step by step, account for every
 * operation, keep a running total, convert units, multiply groups before adding, keep exact values, verify),
 * its harmful ones (guess or estimate, hurry, round early), the failure categories of its wrong answers and
 * its canonical best instruction.
 *
 * @since 0.1.0
 * @category concepts
 */
export const inventory: Concepts.Inventory = {
  lexicon: ARITHMETIC_LEXICON,
  vocabulary: [
    "arithmetic math maths mathematics word problem calculation compute computation calculate number numbers",
    "add addition plus subtract subtraction minus multiply multiplication times divide division quotient product",
    "sum difference total quantity amount count unit units dozen dozens twelve pack packs bag bags box boxes",
    "group groups each item items apples marbles operation operations equation expression value integer whole",
    "digit figure figures decimal fraction half remainder round rounding exact precise estimate guess order",
    "sequence step steps stage running tally subtotal result intermediate arithmetic sentence story share",
    "split buys sells gives loses finds friend people person statement end beginning start final unit conversion",
    "marbles stickers books coins cookies pencils stamps shells cards story event events thing happens"
  ],
  categories: {
    dropped_operation: "an operation of the problem was left out",
    unit_conversion: "a quantity given in dozens was used without converting it to single items",
    precedence: "a number of groups was added before being multiplied by the group size",
    early_rounding: "a fractional intermediate value was rounded before the next operation",
    arithmetic_slip: "a calculation slipped by a small amount"
  },
  canonical:
    "Solve the word problem step by step. Apply every operation in the order it is described and write down the running total after each one. Convert dozens into single items, multiply the number of groups by the group size before adding, and keep exact values without rounding until the end. Double-check the result before answering.",
  cap: 1.4,
  concepts: [
    concept({
      id: "step_by_step",
      polarity: "helpful",
      description: "work through the problem one step at a time",
      addresses: ["dropped_operation"],
      weight: 0.224,
      specific: 0.196,
      patterns: [
        "step by step",
        "stage by stage",
        "piece by piece",
        "line by line",
        "bit by bit",
        "@steps at a time",
        "one @steps after another",
        "one @steps then the next",
        "break .. (into|down) .. @steps",
        "break .. (problem|question|task|it) down",
        "split .. (problem|question|task|it) into",
        "decompose",
        "@think .. through .. @steps",
        "@think .. through .. (problem|question|task|it|story|calculation)",
        "walk .. through",
        "@sequential",
        "in (order|sequence|turn|stages|steps)",
        "chain of (thought|reasoning)",
        "think (aloud|out)",
        "(reason|think) .. (before|prior) .. (answer|respond|reply|give|writing|commit)",
        "(lay|spell|set) out .. (reasoning|thinking|logic|steps|step|solution)",
        "show .. (reasoning|thinking|logic|steps)",
        "(explain|describe) .. (reasoning|thinking|logic|each|every|steps)",
        "take .. apart",
        "(small|smaller|individual|separate|discrete|manageable) @steps",
        "(careful|carefully|slow|slowly) .. (reason|reasoning|think|thinking|work|working|go|proceed)",
        "take .. time"
      ],
      phrasings: ["Think step by step.", "Work through the problem step by step."],
      surfaceForms: [
        "Go through the problem one operation at a time.",
        "Break the problem down into smaller steps.",
        "Reason it out sequentially before you give the answer.",
        "Lay out your reasoning before committing to a number.",
        "Take your time and work through it methodically."
      ]
    }),
    concept({
      id: "every_operation",
      polarity: "helpful",
      description: "account for every operation, in the order described",
      addresses: ["dropped_operation"],
      weight: 0.07,
      specific: 0.308,
      patterns: [
        "(apply|use|include|perform|process|handle|carry|execute|follow|do|account|consider|read|count) .. (each|every|all) .. (@steps|change|event|number|quantity|detail|transaction|statement)",
        "(each|every|all) .. (@steps|change|event|transaction|statement) .. (order|sequence|turn|describe|given|written|listed|happen|occur|appear|mention)",
        "! (miss|drop|forget|overlook|leave|lose|skip|ignore|omit|neglect) .. (@steps|change|event|number|quantity|transaction|statement)",
        "(in|same) (order|sequence) .. (describe|given|written|listed|happen|occur|appear|mention|presented|told)",
        "(chronological|original|stated|given|described|story) order",
        "(nothing|none) .. (miss|left|leave|skip|omit|overlook)",
        "! (@steps|change|event|number|quantity|transaction|statement) .. (left|missed|skipped|dropped|omitted|forgotten|overlooked|ignored|lost)",
        "(read|reread) .. (each|every|all) .. (sentence|line|word|statement)",
        "@steps .. (order|sequence) .. (describe|given|written|listed|happen|occur|appear|mention)"
      ],
      phrasings: [
        "Apply every operation in the order it is described.",
        "Make sure no operation in the problem is left out."
      ],
      surfaceForms: [
        "Don't skip any of the changes described in the story.",
        "Account for each transaction in the order it happens.",
        "Read every sentence and use each quantity mentioned.",
        "Handle the operations in the same sequence as the text gives them."
      ]
    }),
    concept({
      id: "track_intermediate",
      polarity: "helpful",
      description: "write down the running total after each operation",
      addresses: ["dropped_operation", "early_rounding"],
      weight: 0.168,
      specific: 0.196,
      patterns: [
        "@record .. @intermediate .. @quantity",
        "running (total|sum|tally|count|balance)",
        "subtotal",
        "(keep|stay) .. (track|tab|tabs|count|record|note|log) .. (of|on)",
        "track .. (@quantity|items|many|much|each|every|changes|progress)",
        "@record .. @quantity .. (after|at|following|with) .. (each|every|all|step|operation|stage|change)",
        "@record .. (after|at|following) .. (each|every) .. @steps",
        "(after|at|following) (each|every) @steps .. @record",
        "show .. (work|working|calculation|calculations|computation|arithmetic|math|maths|intermediate)",
        "(update|updating) .. (total|count|tally|number|value)",
        "@record .. how (many|much)",
        "(keep|keeping|maintain|maintaining|hold) .. (tally|running|count|record|log|ledger)",
        "(how|what) .. (many|much|total) .. (after|at|following) .. (each|every)"
      ],
      phrasings: [
        "Write down the intermediate values after each operation.",
        "Show your work with intermediate results."
      ],
      surfaceForms: [
        "Keep a running total and note it after every change.",
        "Record how many items there are after each step.",
        "Keep track of the count as the story goes on.",
        "Jot down the partial results as you go."
      ]
    }),
    concept({
      id: "convert_units",
      polarity: "helpful",
      description: "convert quantities in dozens into single items",
      addresses: ["unit_conversion"],
      weight: 0.042,
      specific: 0.7,
      patterns: [
        "@convert .. (unit|units|dozen|dozens|measurement|measurements)",
        "(unit|units|dozen|dozens) .. (convert|conversion|converted|translate|translated|into|to|as|mean|means|equal|equals|represent|worth|stand|be)",
        "dozen .. (12|twelve)",
        "(12|twelve) .. (in|per|make|makes) .. dozen",
        "(same|consistent|common|single|one|matching|individual|base) (unit|units|measure|measurement)",
        "(pay|attend|watch|mind|careful|notice|note|aware|alert|look|heed) .. (unit|units|dozen|dozens|measurement|measurements)",
        "(unit|units|dozen|dozens) .. (careful|carefully|attention|watch|notice|matter)",
        "(count|counting|express|expressed|number) .. (individual|single|separate) (item|items|thing|things|piece|pieces|unit|units|object|objects)",
        "(individual|single|separate) (item|items|piece|pieces|object|objects) .. (not|rather|instead) .. dozen",
        "(quantity|quantities|amount|amounts|number|numbers) .. (dozen|dozens) .. (into|to|as) .. (item|items|unit|units|individual|single)"
      ],
      phrasings: [
        "Convert quantities given in dozens into single items before using them.",
        "Convert all units to the same unit first."
      ],
      surfaceForms: [
        "Remember that a dozen means twelve.",
        "Express every quantity in the same unit.",
        "Watch out for the units.",
        "Count individual items rather than dozens."
      ]
    }),
    concept({
      id: "precedence",
      polarity: "helpful",
      description: "multiply the number of groups by the group size before adding",
      addresses: ["precedence"],
      weight: 0.042,
      specific: 0.7,
      patterns: [
        "order of (operation|operations|arithmetic|precedence|evaluation)",
        "(pemdas|bodmas|bidmas|precedence)",
        "(multiply|multiplication|product|products|times) .. (before|prior|first|ahead) .. (add|addition|adding|sum|subtract|subtraction|subtracting|combine|combining|plus|minus|total)",
        "(add|addition|adding|subtract|subtraction|subtracting) .. (after|only) .. (multiply|multiplication|product|multiplying)",
        "@groups .. (size|sizes|content|contents|each|per|times|multiply|multiplied|first|before|total|totals)",
        "(total|size|content|contents|number|many|much) .. (in|of|per|inside) (each|every|a|the) @groups",
        "(multiply|multiplying) .. (number|count|how) .. @groups",
        "(multiply|multiplying) .. (by|with) .. (size|per|each)",
        "(parenthesis|parentheses|bracket|brackets)",
        "(per|each) (pack|bag|box|group|batch|set|bundle)"
      ],
      phrasings: [
        "Multiply the number of groups by the group size before adding.",
        "Respect the order of operations: multiplication before addition."
      ],
      surfaceForms: [
        "Work out how many items are in all the packs first, then add them.",
        "Follow PEMDAS.",
        "Compute the product before you add or subtract.",
        "Find the total of each bag before combining."
      ]
    }),
    concept({
      id: "exact_values",
      polarity: "helpful",
      description: "keep exact values and round only at the end",
      addresses: ["early_rounding"],
      weight: 0.042,
      specific: 0.7,
      patterns: [
        "@keep .. @exact .. (value|values|number|numbers|fraction|fractions|decimal|decimals|result|results|figure|figures|amount|amounts|precision|form|quantity|quantities)",
        "@exact (value|values|number|numbers|arithmetic|precision|fraction|fractions|result|results|figure|figures|amount|amounts|math|calculation|calculations|computation)",
        "round .. (only)? .. (end|final|last|finish|finished|complete|completion|done)",
        "(only|last|final) .. round",
        "(without|no|not|never|avoid) .. round .. (until|till|before) .. (end|final|last|finish|done|complete|finished)",
        "@fraction .. (keep|kept|exact|intact|precise|as is|unchanged|preserved|retained|carry|carried|stay)",
        "@keep .. @fraction",
        "(be|stay|remain) (exact|precise)",
        "(until|till) .. (end|final|last|finish) .. round",
        "(unrounded|non rounded)",
        "(full|complete|maximum) precision"
      ],
      phrasings: ["Keep exact values and only round at the end.", "Carry fractions exactly through every step."],
      surfaceForms: [
        "Work with the precise numbers, halves included.",
        "Leave decimals as they are until you have the final answer.",
        "Only round the final answer.",
        "Use full precision throughout."
      ]
    }),
    concept({
      id: "verify",
      polarity: "helpful",
      description: "check the result before answering",
      addresses: ["dropped_operation", "unit_conversion", "precedence", "early_rounding", "arithmetic_slip"],
      weight: 0.224,
      specific: 0.084,
      patterns: [
        "@verify .. @object",
        "@verify $",
        "(verify|recheck|crosscheck|validate|proofread|recompute|recalculate)",
        "@verify (before|prior|again|twice|once)",
        "double (check|checking|check)",
        "(make|be) sure .. (correct|right|add|adds|consistent|accurate|true|valid|sense|match|matches|error|mistake|mistakes|nothing)",
        "(ensure|confirm) .. (correct|right|add|adds|consistent|accurate|true|valid|sense|match|matches|no)",
        "(sanity|plausibility|consistency|reasonableness) (check|checking|test)",
        "(go|look) (back|again|over) .. (answer|work|step|steps|calculation|calculations|problem|question|result|it)",
        "(does|do|would|make|makes) .. (answer|result|it|number) .. (make|makes) sense",
        "(plug|substitute|put) .. (back|answer|result)",
        "(catch|spot|find|look) .. (error|errors|mistake|mistakes|slip|slips)",
        "(second|another|final) (look|pass|check|glance|review)"
      ],
      phrasings: [
        "Double-check each calculation before answering.",
        "Verify the result before giving the final answer."
      ],
      surfaceForms: [
        "Before you reply, confirm that the arithmetic is right.",
        "Go back over your work and look for mistakes.",
        "Make sure the final number makes sense.",
        "Recompute the total once more at the end."
      ]
    }),
    concept({
      id: "guess",
      polarity: "harmful",
      description: "guess or estimate instead of computing",
      addresses: ["dropped_operation", "arithmetic_slip"],
      weight: 0.55,
      specific: 0.1,
      opposes: ["verify", "exact_values"],
      patterns: [
        "@estimate",
        "(go|trust) .. (gut|instinct|instincts|intuition|feeling)",
        "(first|whatever) .. (number|answer|thing) .. (come|comes|mind|feel|feels|seem|seems)",
        "(close|near) enough",
        "(pick|choose|give) .. (random|plausible|likely|any) .. (number|answer|value)",
        "(do|does) not .. (need|have) .. (exact|precise|correct)"
      ],
      phrasings: ["If unsure, make a quick guess.", "Estimate the answer roughly."],
      surfaceForms: [
        "Ballpark it.",
        "Just go with your gut.",
        "Give whatever number comes to mind first.",
        "Close enough is fine."
      ]
    }),
    concept({
      id: "hurry",
      polarity: "harmful",
      description: "answer at once, skipping the work",
      addresses: ["dropped_operation"],
      weight: 0.45,
      specific: 0.15,
      inverse: "step_by_step",
      opposes: ["step_by_step", "track_intermediate", "verify"],
      patterns: [
        "as (fast|quickly|quick|soon|briefly) as possible",
        "@fast",
        "skip .. (@steps|step|work|working|reasoning|thinking|explanation|detail|details|calculation|calculations|math|arithmetic|intermediate)",
        "(just|only) (give|state|write|output|return|provide|report|say|answer) .. (number|answer|result|value|final)",
        "(give|state|write|output|return|provide|report|say) (just|only) .. (number|answer|result|value|final)",
        "(number|answer|result|value) _ only",
        "(no|without) (explanation|explanations|reasoning|working|work|steps|thinking|justification|detail|details|deliberation)",
        "! (overthink|deliberate|dwell|dawdle|hesitate)",
        "(first|immediate|instant) (impression|reaction|answer|response)",
        "(one|single) (word|number) (answer|reply|response)"
      ],
      phrasings: ["Answer as fast as possible without checking.", "Skip the steps and give only the number."],
      surfaceForms: [
        "Be quick about it.",
        "Just state the number, no working.",
        "Respond immediately.",
        "Don't deliberate."
      ]
    }),
    concept({
      id: "round_early",
      polarity: "harmful",
      description: "round intermediate values",
      addresses: ["early_rounding"],
      weight: 0.2,
      specific: 0.5,
      inverse: "exact_values",
      opposes: ["exact_values"],
      patterns: [
        "@round .. @early",
        "@round .. (value|values|number|numbers|result|results|figure|figures|answer|fraction|fractions|decimal|decimals|it|everything|them|half|halves|amount|amounts) .. (nearest|whole|integer|integers|ten|tens|hundred)",
        "(nearest|closest) (ten|tens|hundred|whole|integer|five|dozen)",
        "(truncate|drop|discard|ignore|chop|remove|lose) .. (decimal|decimals|fraction|fractions|remainder|remainders|half|halves|fractional)",
        "(whole|round) (number|numbers) (only|throughout|always|at every step|each step)",
        "(avoid|no) (fraction|fractions|decimal|decimals)"
      ],
      phrasings: ["Round the answer to the nearest ten.", "Round each intermediate value to a whole number."],
      surfaceForms: [
        "Drop any fractions as you go.",
        "Keep every number a whole number by rounding each step.",
        "Round partial results off immediately."
      ]
    })
  ]
}

const solveProblem = (problem: Problem): Task.Solution => {
  const gold = result(problem)
  const n = problem.steps.length
  const slips = new Map<Task.Failure, readonly [Slip, number]>()
  const failures: Array<Task.Failure> = []
  const risks: Array<string> = ["dropped_operation"]
  const push = (category: string, slip: Slip, at: number, detail: string) => {
    const answer = result(problem, slip, at)
    if (answer === gold || !Number.isInteger(answer) || answer < 0) return
    if (failures.some((f) => f.values["answer"] === answer)) return
    const f: Task.Failure = { category, values: { answer }, detail }
    slips.set(f, [slip, at])
    failures.push(f)
  }
  let before = problem.start
  problem.steps.forEach((s, i) => {
    if (s.op === "add_dozen" || s.op === "sub_dozen") {
      if (!risks.includes("unit_conversion")) risks.push("unit_conversion")
      push("unit_conversion", "unit", i, `${s.g} dozen was used as ${s.g} instead of ${12 * s.g}`)
    }
    if (s.op === "add_groups" || s.op === "sub_groups") {
      if (!risks.includes("precedence")) risks.push("precedence")
      push("precedence", "precedence", i, `${s.g} was combined before multiplying by ${s.k}`)
    }
    if (!Number.isInteger(before)) {
      if (!risks.includes("early_rounding")) risks.push("early_rounding")
      push("early_rounding", "round", i, `${fmt(before)} was rounded to ${Math.round(before)} too early`)
    }
    before = apply(before, s)
  })
  problem.steps.forEach((s, i) => {
    push("dropped_operation", "skip", i, `the step "${s.text}" was left out`)
  })
  if (failures.length === 0) {
    for (const d of [1, -1, 2, 10]) {
      if (gold + d < 0) continue
      const f: Task.Failure = {
        category: "arithmetic_slip",
        values: { answer: gold + d },
        detail: `a calculation slipped by ${d}`
      }
      failures.push(f)
      break
    }
  }
  let correct: Trace | undefined
  const worked = () => {
    correct ??= trace(problem)
    return correct
  }
  return {
    task: "arithmetic",
    key: `arithmetic:${problem.start}:${problem.items}:${problem.steps.map((s) => s.text).join(" ")}`,
    difficulty: (3 - n) * 0.45 - 0.25 * (risks.length - 1),
    evidence: 0,
    gold: { answer: gold },
    risks,
    failures,
    get intermediates() {
      return worked().values.slice(0, -1)
    },
    family: { kind: "word_problem", size: n, tags: [...risks].sort() },
    reasoning: (failure) => {
      const slip = failure === undefined ? undefined : slips.get(failure)
      const t = slip === undefined ? worked() : trace(problem, slip[0], slip[1])
      const answer = failure === undefined ? gold : failure.values["answer"]
      return [...t.lines, `The answer is ${String(answer)}.`].join(" ")
    }
  }
}

const solveExpression = (text: string, value: number): Task.Solution => {
  const mixed = /[*/x×÷]/.test(text) && /\d\s*[-+]\s*\d/.test(text)
  const leftToRight = mixed ? evaluateLeftToRight(text) : undefined
  const failures: Array<Task.Failure> =
    leftToRight !== undefined && leftToRight !== value
      ? [
          {
            category: "precedence",
            values: { answer: leftToRight },
            detail: "the expression was evaluated left to right"
          }
        ]
      : [{ category: "arithmetic_slip", values: { answer: value + 1 }, detail: "a calculation slipped by 1" }]
  return {
    task: "arithmetic",
    key: `arithmetic-expression:${text.replace(/\s+/g, "")}`,
    difficulty: 0.8,
    evidence: 0,
    gold: { answer: value },
    risks: mixed ? ["precedence"] : ["arithmetic_slip"],
    failures,
    intermediates: [],
    family: { kind: "expression", size: 1, tags: [] },
    reasoning: (failure) =>
      `Evaluating the expression gives ${String(failure === undefined ? value : failure.values["answer"])}.`
  }
}

const evaluateLeftToRight = (text: string): number | undefined => {
  // Not after a digit: a start inside a run of digits reads the same operators as the run's start, and
  // trying each one made the regex quadratic on a long run (recheck).
  const m = /(?<!\d)(-?\d+(?:\.\d+)?(?:\s*[-+*/x×÷]\s*-?\d+(?:\.\d+)?)+)/.exec(text)
  if (m === null) return undefined
  const tokens = m[1]!.match(/-?\d+(?:\.\d+)?|[-+*/x×÷]/g) ?? []
  let v = Number(tokens[0])
  for (let i = 1; i + 1 < tokens.length; i += 2) {
    const b = Number(tokens[i + 1])
    const op = tokens[i]!
    v = op === "+" ? v + b : op === "-" ? v - b : op === "/" || op === "÷" ? v / b : v * b
  }
  return Number.isFinite(v) ? v : undefined
}

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
  skill: { b0: -0.3, bReason: 0.52, bDemo: 0.36, bWrong: 0.35, demoCap: 4 },
  inventory,
  example,
  solve: (inputs) => {
    const texts = [inputs["question"], ...Object.values(inputs)].filter((t): t is string => typeof t === "string")
    for (const t of texts) {
      const p = parseProblem(t)
      if (p !== undefined) return solveProblem(p)
    }
    for (const t of texts) {
      if (!/\d\s*[-+*/x×÷]\s*(?:\(\s*)?-?\d/.test(t)) continue
      const v = evaluateExpression(t)
      if (v !== undefined) return solveExpression(t, v)
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
