/**
 * Reading an instruction for meaning: normalisation (case, contractions, hyphens), a small stemmer so that
 * "verify", "verified" and "verification" read alike, sentence and clause splitting, phrase patterns with
 * synonym classes, gaps and clause ends, the scope of negations and prohibitions ("do not", "never", "avoid", "without",
 * "skip", "... is unnecessary"), and the share of a text's words that are about the task (off-task words
 * dilute an instruction's credit).
 *
 * Patterns are written in a tiny language over words: `step by step`; `(check|verify) .. answer` (`..` allows
 * up to six words in between, `_` none, a plain space up to two); `@verify` (a synonym class of the lexicon given to
 * {@link compile}); `the?` (optional); `$` (the end of the clause); a leading `!` marks a pattern that
 * names its concept by negation ("! miss .. step": "never miss a step" asserts the concept, "miss steps"
 * negates it). Every word is stemmed before matching, on both sides.
 *
 * @since 0.1.0
 */

/**
 * A text read into stemmed tokens, grouped into sentences.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reading {
  /** Each sentence's stemmed words (punctuation kept as `,`). */
  readonly sentences: ReadonlyArray<ReadonlyArray<string>>
  /** The number of words. */
  readonly words: number
}

const CONTRACTIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bcan['’]t\b/g, "can not"],
  [/\bcannot\b/g, "can not"],
  [/\bwon['’]t\b/g, "will not"],
  [/\bshan['’]t\b/g, "shall not"],
  [/\b(\w+)n['’]t\b/g, "$1 not"],
  [/\b(\w+)['’](re|ve|ll|d|m)\b/g, "$1"],
  [/\b(\w+)['’]s\b/g, "$1"]
]

const IRREGULAR: Readonly<Record<string, string>> = {
  // "note" would stem to "not": it reads as its synonym "jot".
  note: "jot",
  notes: "jot",
  noted: "jot",
  noting: "jot",
  wrote: "write",
  written: "write",
  writing: "write",
  kept: "keep",
  thought: "think",
  made: "make",
  gave: "give",
  given: "give",
  took: "take",
  taken: "take",
  done: "do",
  did: "do",
  does: "do",
  doing: "do",
  went: "go",
  gone: "go",
  goes: "go",
  going: "go",
  shown: "show",
  found: "find",
  got: "get",
  gotten: "get",
  broke: "break",
  broken: "break",
  chose: "choose",
  chosen: "choose",
  ran: "run",
  running: "run",
  was: "be",
  were: "be",
  is: "be",
  are: "be",
  been: "be",
  being: "be",
  am: "be",
  has: "have",
  had: "have",
  having: "have",
  said: "say",
  saw: "see",
  seen: "see",
  left: "leave",
  meant: "mean",
  understood: "understand",
  precision: "precise",
  precisely: "precise",
  division: "divide",
  divisions: "divide",
  conversion: "convert",
  conversions: "convert",
  needless: "unnecessary",
  redo: "redo",
  sped: "speed",
  better: "good",
  best: "good",
  worse: "bad",
  worst: "bad",
  each: "each",
  this: "this",
  thus: "thus",
  units: "unit",
  always: "always",
  whole: "whole",
  only: "only",
  early: "early",
  apply: "apply",
  applies: "apply",
  applied: "apply",
  applying: "apply",
  multiply: "multiply",
  multiplies: "multiply",
  multiplied: "multiply",
  multiplying: "multiply",
  multiplication: "multiply",
  multiplications: "multiply",
  reply: "reply",
  less: "less",
  unless: "unless",
  process: "process",
  across: "across",
  across_: "across",
  miss: "miss",
  guess: "guess",
  guesses: "guess",
  guessed: "guess",
  guessing: "guess",
  status: "status",
  various: "various",
  previous: "previous",
  previously: "previous",
  thorough: "thorough",
  thoroughly: "thorough",
  carry: "carry",
  carries: "carry",
  carried: "carry",
  carrying: "carry",
  ones: "one",
  nothing: "nothing",
  something: "something",
  everything: "everything",
  anything: "anything",
  format: "format",
  formats: "format",
  formatted: "format",
  formatting: "format"
}

const VOWEL = /[aeiouy]/

/**
 * The stem of one lower-case word: irregular forms first, then common English suffixes (so that "verify",
 * "verifies", "verified", "verification" share a stem, as do "estimate", "estimating", "estimation").
 *
 * @since 0.1.0
 * @category text
 */
export const stem = (word: string): string => {
  const w = word.toLowerCase()
  if (w.length <= 3 || /^\d/.test(w)) return IRREGULAR[w] ?? w
  const irregular = IRREGULAR[w]
  let s = irregular ?? w
  const strip = (suffix: string, by = "", min = 3): boolean => {
    if (s.endsWith(suffix) && s.length - suffix.length >= min) {
      s = s.slice(0, s.length - suffix.length) + by
      return true
    }
    return false
  }
  const undouble = () => {
    if (/([bdfgkmnprt])\1$/.test(s)) s = s.slice(0, -1)
  }
  if (irregular !== undefined) {
    // already a base form
  } else if (strip("ically", "ic")) {
    // done
  } else if (strip("ications", "y") || strip("ication", "y")) {
    // verification -> verify
  } else if (strip("ational", "ate") || strip("ations") || strip("ation")) {
    // computation -> comput
  } else if (strip("ments") || strip("ment", "", 4) || strip("ness") || strip("ingly") || strip("edly")) {
    // requirement -> require
  } else if (strip("fully", "ful") || strip("ily", "y") || strip("ies", "y") || strip("ied", "y")) {
    // carefully -> careful
  } else if (!s.endsWith("ply") && strip("ly", "", 4)) {
    // exactly -> exact
  } else if (s.endsWith("ing") && VOWEL.test(s.slice(0, -3)) && strip("ing")) {
    undouble()
  } else if (s.endsWith("ed") && VOWEL.test(s.slice(0, -2)) && strip("ed")) {
    undouble()
  } else if (strip("sses", "ss") || /(x|z|ch|sh)es$/.test(s) ? strip("es") : false) {
    // boxes -> box
  } else if (s.endsWith("s") && !/(ss|us|is)$/.test(s)) {
    s = s.slice(0, -1)
  }
  if (s.endsWith("e") && s.length > 3) s = s.slice(0, -1)
  if (s.endsWith("at") && s.length >= 7) s = s.slice(0, -2)
  return s
}

/**
 * Lower-cases a text and spells out contractions ("don't" -> "do not") and hyphenated words
 * ("double-check" -> "double check").
 *
 * @since 0.1.0
 * @category text
 */
export const normalise = (text: string): string => {
  let t = text.toLowerCase().replace(/[‘’`]/g, "'")
  for (const [re, by] of CONTRACTIONS) t = t.replace(re, by)
  return t
    .replace(/\b(re|pre|co|non|un|sub|over)-(\w)/g, "$1$2")
    .replace(/(\w)-(\w)/g, "$1 $2")
    .replace(/(\w)\/(\w)/g, "$1 or $2")
}

const SENTENCE_END = /[.!?;:\n()[\]]/

/**
 * Reads a text into stemmed words by sentence (`,` is kept as a token; other punctuation ends a sentence).
 *
 * @since 0.1.0
 * @category text
 */
export const read = (text: string): Reading => {
  const sentences: Array<Array<string>> = []
  let current: Array<string> = []
  let words = 0
  for (const m of normalise(text).matchAll(/[a-z0-9]+(?:\.\d+)?|[.,!?;:\n()[\]]|-+/g)) {
    const tok = m[0]
    if (SENTENCE_END.test(tok) || /^-+$/.test(tok)) {
      if (current.length > 0) sentences.push(current)
      current = []
    } else if (tok === ",") {
      if (current.length > 0 && current[current.length - 1] !== ",") current.push(",")
    } else {
      current.push(stem(tok))
      words++
    }
  }
  if (current.length > 0) sentences.push(current)
  return { sentences, words }
}

/**
 * One slot of a compiled pattern: the stems it accepts, whether it may be absent, and how many words may
 * stand between it and the previous slot.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slot {
  readonly stems: ReadonlySet<string>
  /** `$`: the end of the clause (the sentence's end or a comma). */
  readonly end: boolean
  readonly optional: boolean
  readonly gap: number
}

/**
 * A compiled pattern.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pattern {
  readonly source: string
  /** `!` patterns name a concept by its negation ("miss .. step": "do not miss a step" asserts it). */
  readonly inverted: boolean
  readonly slots: ReadonlyArray<Slot>
}

/**
 * Synonym classes: a class name (used as `@name` in patterns) and its words.
 *
 * @since 0.1.0
 * @category models
 */
export type Lexicon = Readonly<Record<string, ReadonlyArray<string>>>

const SHORT_GAP = 2
const LONG_GAP = 6

/**
 * Compiles a pattern of the little pattern language (see the module header) against a lexicon.
 *
 * @since 0.1.0
 * @category patterns
 */
export const compile = (source: string, lexicon: Lexicon): Pattern => {
  const slots: Array<Slot> = []
  let gap: number | undefined
  const inverted = source.trim().startsWith("!")
  for (const part of source.trim().replace(/^!\s*/, "").split(/\s+/)) {
    if (part === "..") {
      gap = LONG_GAP
      continue
    }
    if (part === "_") {
      gap = 0
      continue
    }
    if (part === "$") {
      slots.push({ stems: new Set(), optional: false, end: true, gap: gap ?? SHORT_GAP })
      gap = undefined
      continue
    }
    const optional = part.endsWith("?")
    const body = optional ? part.slice(0, -1) : part
    const alternatives = body.replace(/^\(|\)$/g, "").split("|")
    const stems = new Set<string>()
    for (const alt of alternatives) {
      if (alt.startsWith("@")) {
        const words = lexicon[alt.slice(1)]
        if (words === undefined) throw new Error(`pattern "${source}": unknown class ${alt}`)
        for (const w of words) stems.add(stem(w))
      } else {
        stems.add(stem(alt))
      }
    }
    slots.push({ stems, optional, end: false, gap: slots.length === 0 ? 0 : (gap ?? SHORT_GAP) })
    gap = undefined
  }
  if (slots.length === 0) throw new Error(`empty pattern "${source}"`)
  if (slots[0]!.optional) throw new Error(`pattern "${source}": the first word may not be optional`)
  return { source, slots, inverted }
}

/**
 * A pattern found in a sentence: the positions of its first and last words.
 *
 * @since 0.1.0
 * @category models
 */
export interface Span {
  readonly start: number
  readonly end: number
  /** Positions of the words the pattern's own slots took. */
  readonly taken: ReadonlyArray<number>
}

const matchFrom = (
  slots: ReadonlyArray<Slot>,
  sentence: ReadonlyArray<string>,
  i: number,
  at: number,
  taken: ReadonlyArray<number>
): ReadonlyArray<number> | undefined => {
  if (i === slots.length) return taken
  const slot = slots[i]!
  if (i === 0) return slot.stems.has(sentence[at]!) ? matchFrom(slots, sentence, 1, at + 1, [at]) : undefined
  if (slot.end) {
    for (let j = at; j <= Math.min(sentence.length, at + slot.gap); j++) {
      if (j === sentence.length || sentence[j] === ",") return matchFrom(slots, sentence, i + 1, j, taken)
    }
    return undefined
  }
  const to = Math.min(sentence.length - 1, at + slot.gap)
  for (let j = at; j <= to; j++) {
    // A comma or a negation ends the reach of a gap: a pattern stays within its clause and its polarity.
    if (j > at && (sentence[j - 1] === "," || PREFIX_NEGATORS.has(sentence[j - 1]!))) break
    if (slot.stems.has(sentence[j]!)) {
      const r = matchFrom(slots, sentence, i + 1, j + 1, [...taken, j])
      if (r !== undefined) return r
    }
  }
  return slot.optional ? matchFrom(slots, sentence, i + 1, at, taken) : undefined
}

/**
 * Every place a pattern occurs in a sentence (leftmost first, not overlapping).
 *
 * @since 0.1.0
 * @category patterns
 */
export const find = (pattern: Pattern, sentence: ReadonlyArray<string>): Array<Span> => {
  const out: Array<Span> = []
  for (let s = 0; s < sentence.length; s++) {
    const hit = matchFrom(pattern.slots, sentence, 0, s, [])
    if (hit === undefined) continue
    out.push({ start: hit[0]!, end: hit[hit.length - 1]!, taken: hit })
    s = hit[hit.length - 1]!
  }
  return out
}

const stems = (words: ReadonlyArray<string>): Set<string> => new Set(words.map(stem))

/** Words that negate what follows them in their clause. */
const PREFIX_NEGATORS = stems([
  "not",
  "never",
  "no",
  "avoid",
  "without",
  "skip",
  "skipping",
  "stop",
  "refrain",
  "forget",
  "ignore",
  "omit",
  "neglect",
  "nor",
  "neither",
  "against",
  "forbid",
  "prohibit",
  "ban",
  "drop",
  "dispense",
  "forgo",
  "bypass",
  "eschew",
  "none",
  "nobody",
  "nothing",
  "quit",
  "cease"
])

/** Words that negate what precedes them in their clause ("checking is unnecessary"). */
const POSTFIX_NEGATORS = stems([
  "unnecessary",
  "needless",
  "pointless",
  "useless",
  "optional",
  "overrated",
  "waste",
  "forbidden",
  "prohibited",
  "discouraged",
  "counterproductive",
  "irrelevant",
  "unimportant",
  "unneeded",
  "superfluous",
  "banned",
  "disallowed"
])

/** After "not": words that make a postfix negation ("is not needed"). */
const NOT_NEEDED = stems([
  "need",
  "needed",
  "necessary",
  "required",
  "require",
  "important",
  "helpful",
  "useful",
  "worth",
  "allowed",
  "permitted",
  "matter",
  "recommended",
  "wanted",
  "essential"
])

/** Words that end a negation's scope (a new directive begins). */
const CONTRAST = stems([
  "but",
  "however",
  "instead",
  "yet",
  "though",
  "although",
  "rather",
  "except",
  "whereas",
  "otherwise"
])
const JOINERS = stems(["and", "then", "also", "so", "plus"])
const LISTERS = stems(["or", "nor"])
/** Words that may open a new directive before its verb ("and do not", "then you should"). */
const LEAD_INS = stems([
  "do",
  "please",
  "you",
  "also",
  "should",
  "must",
  "always",
  "just",
  "to",
  "we",
  "i",
  "will",
  "can"
])

/**
 * A negation in a sentence: the position of its word and the range of positions it covers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Negation {
  readonly at: number
  readonly from: number
  readonly to: number
}

/**
 * The negations of a sentence: a prefix negator ("not", "never", "avoid", "without", "skip", "instead of")
 * covers the rest of its clause; a postfix one ("unnecessary", "is not needed", "no point") covers its clause
 * before it. A clause ends at a contrast word ("but", "instead"), and at "and", "then" or a comma before one of
 * `directives` unless the clause goes on listing with "or" / "nor".
 *
 * @since 0.1.0
 * @category negation
 */
export const negations = (sentence: ReadonlyArray<string>, directives: ReadonlySet<string>): Array<Negation> => {
  const out: Array<Negation> = []
  const listsLater = (from: number) => {
    for (let k = from; k < sentence.length; k++) {
      if (CONTRAST.has(sentence[k]!)) return false
      if (LISTERS.has(sentence[k]!)) return true
    }
    return false
  }
  const scopeEnd = (from: number): number => {
    for (let k = from; k < sentence.length; k++) {
      const w = sentence[k]!
      if (CONTRAST.has(w) && !(w === "rather" && sentence[k + 1] === "than")) return k
      if ((w === "," || JOINERS.has(w)) && k + 1 < sentence.length) {
        let n = k + 1
        while (n < sentence.length && (JOINERS.has(sentence[n]!) || sentence[n] === "," || LEAD_INS.has(sentence[n]!)))
          n++
        if (n < sentence.length && PREFIX_NEGATORS.has(sentence[n]!)) return k
        if (n < sentence.length && directives.has(sentence[n]!) && !listsLater(n)) return k
      }
    }
    return sentence.length
  }
  const clauseStart = (to: number): number => {
    for (let k = to - 1; k >= 0; k--) {
      const w = sentence[k]!
      if (CONTRAST.has(w) || w === "," || JOINERS.has(w)) return k + 1
    }
    return 0
  }
  for (let i = 0; i < sentence.length; i++) {
    const w = sentence[i]!
    const next = sentence[i + 1]
    let prefix = PREFIX_NEGATORS.has(w)
    if (w === "stop" && (next === "and" || next === "to")) prefix = false
    if (w === "no" && next === "matter") prefix = false
    if ((w === "instead" && next === "of") || (w === "rather" && next === "than")) prefix = true
    const after = next === "be" ? sentence[i + 2] : next
    if (w === "not" && after !== undefined && NOT_NEEDED.has(after)) {
      // "X is not needed", "X will not be needed": negates the clause before it (and, as any "not", what
      // follows: "it is not necessary to verify").
      out.push({ at: i, from: clauseStart(i), to: i })
    }
    if (prefix) {
      out.push({ at: i, from: i + 1, to: scopeEnd(i + 1) })
      continue
    }
    if (POSTFIX_NEGATORS.has(w) || (w === "no" && next === "point")) {
      out.push({ at: i, from: clauseStart(i), to: i })
    }
  }
  return out
}

/**
 * Whether a pattern found in a sentence is negated: an odd number of negations (not among the pattern's own
 * words: "skip the steps" is a pattern of its own) cover one of its words.
 *
 * @since 0.1.0
 * @category negation
 */
export const isNegated = (span: Span, found: ReadonlyArray<Negation>): boolean => {
  let n = 0
  for (const neg of found) {
    if (span.taken.includes(neg.at)) continue
    if (span.taken.some((k) => k >= neg.from && k < neg.to)) n++
  }
  return n % 2 === 1
}

/**
 * Common words that carry no topic (articles, pronouns, auxiliaries, prepositions).
 *
 * @since 0.1.0
 * @category vocabulary
 */
export const stopwords: ReadonlySet<string> = stems(
  (
    "a an the and or but if then than so to of in on at by for from with into onto over under as is are be " +
    "was were been it its this that these those there here you your yours we our us i me my he she they them " +
    "their his her do does did not no never can could will would shall should must may might have has had " +
    "what which who whom whose when where why how all any some each every both either neither more most less " +
    "very just only also too again ever once up down out off about after before while until because please " +
    "one two three four five six seven eight nine ten first second third last next same other another such " +
    "own way thing things something anything everything nothing yes let lets ok okay always usually sure " +
    "like well even still really quite much many few lot"
  ).split(" ")
)

/**
 * Words of any instruction about answering a task (shared by every task's vocabulary).
 *
 * @since 0.1.0
 * @category vocabulary
 */
export const instructionWords: ReadonlyArray<string> = (
  "answer answers question questions problem problems task tasks input inputs output outputs field fields " +
  "format response respond reply final result results clear clearly concise concisely careful carefully " +
  "correct correctly accurate accurately accuracy exact exactly precise give provide write read use make " +
  "ensure solve solution produce return state given information detail details rule rules note notes " +
  "follow instruction instructions request user text value values number numbers consider focus attention " +
  "pay important importantly keep need needed necessary require required good bad wrong right mistake " +
  "mistakes error errors understand think reason reasoning logic logical explain explanation explicit " +
  "explicitly approach method process strategy goal attempt try check carefully thorough thoroughly " +
  "systematic systematically methodical methodically clean neat simple simply plain language word words " +
  "sentence sentences example examples case cases doubt unsure sure certain confident confidence quick " +
  "quickly fast slow slowly time moment short long brief briefly complete completely whole full fully " +
  "part parts piece pieces item items list order sequence begin start end finish finally done expert " +
  "assistant helpful model respond responding best possible carefully diligent diligently rigorous " +
  "rigorously truth true false avoid skip never instead rather without unnecessary optional needed " +
  "bother waste pointless ignore forget omit neglect refrain stop quit drop wise idea manner fashion " +
  "along way whenever every each whatever general specific specifically particular particularly fine " +
  "obvious unclear clear unsure pick choose select decide decision option options respect match matching " +
  "follow following apply applied handle handling complete completed completing finish include including " +
  "mention mentioned named name names earliest latest several multiple single together apart separate " +
  "tell telling go going come coming look looking see seeing find finding get getting keep keeping put " +
  "place run go ahead next previous prior later earlier now current new old small smaller large larger big " +
  "tiny huge simple simpler complex hard easy difficult tricky subtle key main core central basic basics " +
  "always often sometimes rarely usually typically generally normally mostly entire entirely whole overall " +
  "total totally actual actually real really truly quite fairly rather pretty most least more less enough " +
  "fine okay good great excellent perfect ideal proper properly appropriate appropriately relevant " +
  "irrelevant useful useless helpful unhelpful needed unneeded necessary unnecessary matter matters claim " +
  "claims statement statements fact facts ground grounded support supported base based rely relying " +
  "know known knowing knowledge own prior background memory recall remember forget forgetting mind minding " +
  "mindful aware awareness notice noticing attention attentive focus focused concentrate concentration " +
  "effort hard harder carefully slow slower speed pace rushed hurry hurried quick quicker faster fast " +
  "quickly immediately instantly directly straight straightforward obviously clearly plainly simply " +
  "sound sounds sounding seem seems likely unlikely plausible possible probably maybe perhaps " +
  "deep breath breathe relax calm mathematician tutor teacher student expert genius smart professional " +
  "accountant bookkeeper skilled experienced world class job role act pretend imagine"
).split(/\s+/)

/**
 * The count of a sentence's distinct content words (not stopwords), and of those that in `vocabulary`.
 *
 * @since 0.1.0
 * @category vocabulary
 */
export const onTaskShare = (
  sentence: ReadonlyArray<string>,
  vocabulary: ReadonlySet<string>
): { on: number; all: number } => {
  let on = 0
  let all = 0
  for (const w of new Set(sentence)) {
    if (w === "," || stopwords.has(w)) continue
    all++
    if (vocabulary.has(w) || /^\d/.test(w)) on++
  }
  return { on, all }
}

/**
 * How fluent a sentence reads (0 to 1): a long sentence with almost no function words, or one that repeats
 * its content words, is keyword salad ("step by step verify verify intermediate values intermediate").
 *
 * @since 0.1.0
 * @category vocabulary
 */
export const fluency = (sentence: ReadonlyArray<string>): number => {
  const words = sentence.filter((w) => w !== ",")
  let factor = 1
  if (words.length >= 6) {
    const functional = words.filter((w) => stopwords.has(w)).length / words.length
    factor *= Math.min(1, functional / 0.2) ** 2
  }
  const content = words.filter((w) => !stopwords.has(w) && w !== "step")
  if (content.length >= 4) {
    const repeated = content.length - new Set(content).size
    factor *= (1 - repeated / content.length) ** 2
  }
  return factor
}

/**
 * A set of stems from words (for vocabularies).
 *
 * @since 0.1.0
 * @category vocabulary
 */
export const stemSet = (words: Iterable<string>): Set<string> => {
  const out = new Set<string>()
  for (const w of words) for (const part of normalise(w).split(/[^a-z0-9]+/)) if (part !== "") out.add(stem(part))
  return out
}
