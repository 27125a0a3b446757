/**
 * Instruction concepts: what an instruction *means* to the simulated LM. Each task has an inventory of
 * helpful and harmful strategies ("work step by step", "convert units"; "estimate", "round early"), each a
 * concept with many surface forms (phrase patterns over stemmed words, see {@link Meaning}), the failure
 * categories it addresses, and its weight in the skill model. {@link read} finds the concepts an instruction
 * asserts or negates: a negated or prohibited strategy does not count (a negated helpful one hurts a little;
 * a negated harmful one may express its helpful inverse, "never round early" = "keep exact values"), a
 * strategy both asserted and negated, or asserted with its opposite, cancels, off-task words dilute the
 * credit of the sentence they are in and of the whole instruction, keyword salad (few function words,
 * repeated keywords) and one-word fragments earn little, and very long instructions cost.
 *
 * @since 0.1.0
 */
import * as Meaning from "./Meaning.js"

/**
 * A strategy an instruction can carry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Concept {
  readonly id: string
  readonly polarity: "helpful" | "harmful"
  /** What the strategy is, in a few words. */
  readonly description: string
  /** The failure categories it addresses (helpful) or provokes (harmful). */
  readonly addresses: ReadonlyArray<string>
  /** Phrase patterns (see {@link Meaning}) of its surface forms. */
  readonly patterns: ReadonlyArray<string>
  /** Sentences the instruction proposer writes for it. */
  readonly phrasings: ReadonlyArray<string>
  /** More wordings it is recognised in, which the proposer never writes (checked by the tests). */
  readonly surfaceForms: ReadonlyArray<string>
  /** Logit credit (helpful) or cost (harmful) on every example. */
  readonly weight: number
  /** Extra logit on the examples at risk of a failure category it addresses. */
  readonly specific: number
  /** For a harmful concept: the helpful concept its negation expresses ("never round early"). */
  readonly inverse?: string
  /** Concepts it contradicts: asserting both cancels both. */
  readonly opposes?: ReadonlyArray<string>
}

/**
 * A task's concept inventory.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inventory {
  readonly concepts: ReadonlyArray<Concept>
  /** Synonym classes used by the patterns (`@name`). */
  readonly lexicon: Meaning.Lexicon
  /** On-task words besides those of the patterns and {@link Meaning.instructionWords}. */
  readonly vocabulary: ReadonlyArray<string>
  /** The failure categories of the task's wrong answers, with a description each. */
  readonly categories: Readonly<Record<string, string>>
  /** The task's canonical best instruction. */
  readonly canonical: string
  /** Saturation of the helpful credit (logit). */
  readonly cap: number
}

interface Compiled {
  readonly inventory: Inventory
  readonly patterns: ReadonlyArray<readonly [Concept, ReadonlyArray<Meaning.Pattern>]>
  readonly vocabulary: ReadonlySet<string>
  readonly directives: ReadonlySet<string>
  readonly byId: ReadonlyMap<string, Concept>
}

const compiledCache = new WeakMap<Inventory, Compiled>()

const DIRECTIVES = [
  "check",
  "verify",
  "confirm",
  "think",
  "work",
  "write",
  "show",
  "convert",
  "keep",
  "use",
  "track",
  "make",
  "ensure",
  "compute",
  "calculate",
  "solve",
  "read",
  "note",
  "record",
  "list",
  "break",
  "go",
  "apply",
  "follow",
  "give",
  "answer",
  "state",
  "consider",
  "pay",
  "be",
  "take",
  "double",
  "round",
  "estimate",
  "guess",
  "start",
  "begin",
  "identify",
  "find",
  "copy",
  "fill",
  "extract",
  "choose",
  "pick",
  "route",
  "look",
  "treat",
  "focus",
  "respond",
  "return",
  "carry",
  "handle",
  "multiply",
  "add",
  "subtract",
  "divide",
  "review",
  "explain",
  "reason",
  "prefer",
  "rely",
  "cite",
  "connect",
  "distinguish",
  "recheck",
  "recompute",
  "recalculate",
  "review",
  "redo",
  "update",
  "tally",
  "jot",
  "convert",
  "express",
  "watch",
  "mind",
  "remember",
  "count",
  "evaluate",
  "determine",
  "work"
]

const compiled = (inventory: Inventory): Compiled => {
  const hit = compiledCache.get(inventory)
  if (hit !== undefined) return hit
  const patterns = inventory.concepts.map(
    (c) => [c, c.patterns.map((p) => Meaning.compile(p, inventory.lexicon))] as const
  )
  const vocabulary = Meaning.stemSet([...Meaning.instructionWords, ...inventory.vocabulary])
  for (const [, ps] of patterns) for (const p of ps) for (const s of p.slots) for (const w of s.stems) vocabulary.add(w)
  for (const words of Object.values(inventory.lexicon)) for (const w of Meaning.stemSet(words)) vocabulary.add(w)
  const out: Compiled = {
    inventory,
    patterns,
    vocabulary,
    directives: Meaning.stemSet(DIRECTIVES),
    byId: new Map(inventory.concepts.map((k) => [k.id, k]))
  }
  compiledCache.set(inventory, out)
  return out
}

/**
 * One place an instruction mentions a concept.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mention {
  readonly concept: string
  readonly negated: boolean
  /** The sentence's weight after dilution by off-task words (0 to 1). */
  readonly strength: number
}

/**
 * What an instruction means for a task: the concepts it effectively asks for, with their strengths.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reading {
  /** Helpful concepts in force (after negations and contradictions), id -> strength. */
  readonly helpful: ReadonlyMap<string, number>
  /** Harmful concepts in force, id -> strength. */
  readonly harmful: ReadonlyMap<string, number>
  /** Helpful concepts the instruction prohibits, id -> strength. */
  readonly prohibited: ReadonlyMap<string, number>
  /** Concepts cancelled by a contradiction. */
  readonly cancelled: ReadonlyArray<string>
  /** Every mention found. */
  readonly mentions: ReadonlyArray<Mention>
  /** The share of the instruction's content words that are about the task. */
  readonly onTask: number
  /** Logit cost of the instruction's length. */
  readonly lengthCost: number
}

/** Instructions longer than this many words cost (logit per extra word, capped). */
const LENGTH_FREE = 70
const LENGTH_RATE = 0.01
const LENGTH_CAP = 1.5
/** Dilution: a sentence with at least this share of on-task words keeps its full weight. */
const SENTENCE_CLEAN = 0.85
const SENTENCE_POWER = 4
const TEXT_CLEAN = 0.85
const TEXT_POWER = 3
/** The factor on the credit of an instruction that repeats an off-task word. */
const RECURRING_OFF_TASK = 0.3
/** A negated helpful concept costs this share of its weight. */
const PROHIBITION_COST = 0.4
/** A negated harmful concept expresses its inverse at this strength. */
const INVERSE_STRENGTH = 0.8

const dilution = (on: number, all: number, clean: number, power: number): number =>
  all === 0 ? 1 : Math.min(1, on / all / clean) ** power

const readings = new WeakMap<Inventory, Map<string, Reading>>()

/**
 * Reads an instruction for a task's concepts (cached per inventory and text).
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (inventory: Inventory, text: string): Reading => {
  let cache = readings.get(inventory)
  if (cache === undefined) {
    cache = new Map()
    readings.set(inventory, cache)
  }
  const hit = cache.get(text)
  if (hit !== undefined) return hit
  const r = readUncached(compiled(inventory), text)
  if (cache.size >= 2048) cache.delete(cache.keys().next().value!)
  cache.set(text, r)
  return r
}

const readUncached = (c: Compiled, text: string): Reading => {
  const reading = Meaning.read(text)
  const mentions: Array<Mention> = []
  let on = 0
  let all = 0
  const sentenceShares = reading.sentences.map((s) => {
    const share = Meaning.onTaskShare(s, c.vocabulary)
    // A one-word fragment that is neither a strategy nor a directive ("Intermediate.", "Banana.") is noise.
    const words = s.filter((w) => w !== "," && !Meaning.stopwords.has(w))
    const fragment =
      words.length === 1 &&
      !/^\d/.test(words[0]!) &&
      !c.directives.has(words[0]!) &&
      !c.patterns.some(([, ps]) => ps.some((p) => Meaning.find(p, s).length > 0))
    return fragment ? { on: 0, all: share.all } : share
  })
  for (const s of sentenceShares) {
    on += s.on
    all += s.all
  }
  // An instruction that keeps coming back to an off-task word is about something else ("... the tacos").
  const offTask = new Map<string, number>()
  for (const sentence of reading.sentences) {
    for (const w of sentence) {
      if (w === "," || Meaning.stopwords.has(w) || c.vocabulary.has(w) || /^\d/.test(w)) continue
      offTask.set(w, (offTask.get(w) ?? 0) + 1)
    }
  }
  const recurring = [...offTask.values()].some((n) => n >= 2)
  const global = dilution(on, all, TEXT_CLEAN, TEXT_POWER) * (recurring ? RECURRING_OFF_TASK : 1)
  reading.sentences.forEach((sentence, si) => {
    const share = sentenceShares[si]!
    const strength = dilution(share.on, share.all, SENTENCE_CLEAN, SENTENCE_POWER) * global * Meaning.fluency(sentence)
    const negation = Meaning.negations(sentence, c.directives)
    const found: Array<{ concept: Concept; span: Meaning.Span; inverted: boolean }> = []
    for (const [concept, patterns] of c.patterns) {
      for (const p of patterns) {
        for (const span of Meaning.find(p, sentence)) found.push({ concept, span, inverted: p.inverted })
      }
    }
    // A mention whose words all belong to a longer mention is the longer one's ("never round .. until the end").
    const kept = found.filter(
      (f) =>
        !found.some(
          (g) =>
            g !== f && g.span.taken.length > f.span.taken.length && f.span.taken.every((k) => g.span.taken.includes(k))
        )
    )
    for (const { concept, inverted, span } of kept) {
      mentions.push({ concept: concept.id, negated: Meaning.isNegated(span, negation) !== inverted, strength })
    }
  })
  const byId = c.byId
  const asserted = new Map<string, number>()
  const negated = new Map<string, number>()
  for (const m of mentions) {
    const into = m.negated ? negated : asserted
    into.set(m.concept, Math.max(into.get(m.concept) ?? 0, m.strength))
  }
  const cancelled = new Set<string>()
  for (const id of asserted.keys()) if (negated.has(id)) cancelled.add(id)
  for (const id of asserted.keys()) {
    for (const other of byId.get(id)?.opposes ?? []) {
      if (asserted.has(other) && !cancelled.has(other)) {
        cancelled.add(id)
        cancelled.add(other)
      }
    }
  }
  const helpful = new Map<string, number>()
  const harmful = new Map<string, number>()
  const prohibited = new Map<string, number>()
  for (const [id, q] of asserted) {
    if (cancelled.has(id)) continue
    const concept = byId.get(id)!
    ;(concept.polarity === "helpful" ? helpful : harmful).set(id, q)
  }
  for (const [id, q] of negated) {
    if (cancelled.has(id)) continue
    const concept = byId.get(id)!
    if (concept.polarity === "helpful") prohibited.set(id, q)
    else if (concept.inverse !== undefined && !cancelled.has(concept.inverse) && !prohibited.has(concept.inverse)) {
      helpful.set(concept.inverse, Math.max(helpful.get(concept.inverse) ?? 0, q * INVERSE_STRENGTH))
    }
  }
  for (const id of prohibited.keys()) helpful.delete(id)
  const lengthCost = Math.min(LENGTH_CAP, Math.max(0, reading.words - LENGTH_FREE) * LENGTH_RATE)
  return {
    helpful,
    harmful,
    prohibited,
    cancelled: [...cancelled],
    mentions,
    onTask: all === 0 ? 1 : on / all,
    lengthCost
  }
}

/**
 * The logit an instruction adds for an example at risk of the given failure categories: helpful concepts
 * (weight, plus their specific weight when they address one of the risks) saturating at the inventory's
 * cap, minus harmful ones, minus a share of prohibited helpful ones, minus the length cost.
 *
 * @since 0.1.0
 * @category model
 */
export const credit = (inventory: Inventory, reading: Reading, risks: ReadonlyArray<string>): number => {
  if (reading.helpful.size + reading.harmful.size + reading.prohibited.size === 0) return -reading.lengthCost
  const byId = compiled(inventory).byId
  const value = (concept: Concept, q: number) =>
    q * (concept.weight + (concept.addresses.some((a) => risks.includes(a)) ? concept.specific : 0))
  let good = 0
  for (const [id, q] of reading.helpful) good += value(byId.get(id)!, q)
  let bad = 0
  for (const [id, q] of reading.harmful) bad += value(byId.get(id)!, q)
  for (const [id, q] of reading.prohibited) bad += PROHIBITION_COST * value(byId.get(id)!, q)
  return inventory.cap * (1 - Math.exp(-good / inventory.cap)) - bad - reading.lengthCost
}

/**
 * How much a failure category's risk remains under an instruction (1 = unaddressed, lower when helpful
 * concepts address it, higher when harmful ones provoke it): used to pick the category of a wrong answer.
 *
 * @since 0.1.0
 * @category model
 */
export const residualRisk = (inventory: Inventory, reading: Reading, category: string): number => {
  let r = 1
  for (const c of inventory.concepts) {
    if (!c.addresses.includes(category)) continue
    const q = (c.polarity === "helpful" ? reading.helpful : reading.harmful).get(c.id) ?? 0
    r *= c.polarity === "helpful" ? 1 - 0.8 * q : 1 + 2 * q
  }
  return r
}

/**
 * True when an instruction asserts a concept (in force after negations and contradictions).
 *
 * @since 0.1.0
 * @category reading
 */
export const asserts = (inventory: Inventory, text: string, id: string): boolean => {
  const r = read(inventory, text)
  return r.helpful.has(id) || r.harmful.has(id)
}
