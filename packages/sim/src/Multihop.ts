/**
 * The multi-hop task: a generated knowledge base of people, organisations, cities and countries, with one
 * short document per fact, and questions that need two facts. {@link search} ranks the documents for a
 * query (a ReAct tool or a RAG retriever). The simulated LM "knows" the world of its `world` seed; supporting
 * documents found in the prompt (retrieved context, tool observations) raise its accuracy.
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Between from "./internal/Between.js"
import type * as Concepts from "./Concepts.js"
import * as Task from "./Task.js"

/**
 * A multi-hop example.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly [key: string]: unknown
  readonly question: string
  readonly answer: string
}

/**
 * A generated world: entities, relations, and one document per fact.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnowledgeBase {
  readonly world: number
  readonly people: ReadonlyArray<string>
  readonly organizations: ReadonlyArray<string>
  readonly cities: ReadonlyArray<string>
  readonly countries: ReadonlyArray<string>
  readonly worksAt: ReadonlyMap<string, string>
  readonly bornIn: ReadonlyMap<string, string>
  readonly headquarters: ReadonlyMap<string, string>
  readonly founder: ReadonlyMap<string, string>
  readonly country: ReadonlyMap<string, string>
  readonly documents: ReadonlyArray<string>
}

const FIRST = [
  "Alice",
  "Bruno",
  "Chiara",
  "Dmitri",
  "Esme",
  "Farid",
  "Greta",
  "Hugo",
  "Ines",
  "Jasper",
  "Kaia",
  "Leon",
  "Mira",
  "Nils",
  "Odette",
  "Pavel",
  "Quinn",
  "Rosa",
  "Soren",
  "Talia",
  "Umar",
  "Vera",
  "Wendel",
  "Yara"
]
const LAST = [
  "Varga",
  "Okafor",
  "Lindqvist",
  "Moreau",
  "Tanaka",
  "Castell",
  "Dubois",
  "Haddad",
  "Kowal",
  "Brennan",
  "Santos",
  "Achterberg",
  "Ferreira",
  "Novak",
  "Rahimi",
  "Sutherland"
]
const ORG_A = [
  "Norwind",
  "Cobalt Ridge",
  "Silverline",
  "Arden",
  "Bluefern",
  "Halcyon",
  "Ironbridge",
  "Lumen",
  "Oakhurst",
  "Quillon",
  "Redwater",
  "Starling"
]
const ORG_B = ["Labs", "Bank", "Studios", "Robotics", "Press", "Foods", "Energy", "Logistics"]
const CITIES = [
  "Port Elan",
  "Vessaly",
  "Brightwater",
  "Kolmar",
  "Dunmere",
  "Saltreach",
  "Ambergate",
  "Thornwick",
  "Lisvale",
  "Corrin Bay",
  "Marrowdale",
  "Eastfold"
]
const COUNTRIES = ["Norvania", "Estmark", "Calderra", "Vintoria", "Pellago"]

const worlds = new Map<number, KnowledgeBase>()

/**
 * The knowledge base of a world seed (built once per process and kept).
 *
 * @since 0.1.0
 * @category constructors
 */
export const knowledgeBase = (world = 0): KnowledgeBase => {
  const cached = worlds.get(world)
  if (cached !== undefined) return cached
  const rng = Random.fromState(Random.hashParts("multihop-world", world))
  const people: Array<string> = []
  const seenPeople = new Set<string>()
  while (people.length < 40) {
    const p = `${rng.pick(FIRST)!} ${rng.pick(LAST)!}`
    if (!seenPeople.has(p)) {
      seenPeople.add(p)
      people.push(p)
    }
  }
  const organizations: Array<string> = rng.shuffle(ORG_A).map((a) => `${a} ${rng.pick(ORG_B)!}`)
  const cities = rng.shuffle(CITIES)
  const countries = COUNTRIES
  const country = new Map<string, string>()
  cities.forEach((c, i) => {
    country.set(c, countries[i % countries.length]!)
  })
  const headquarters = new Map<string, string>()
  for (const o of organizations) headquarters.set(o, rng.pick(cities)!)
  const founders = rng.shuffle(people).slice(0, organizations.length)
  const founder = new Map<string, string>()
  organizations.forEach((o, i) => {
    founder.set(o, founders[i]!)
  })
  const worksAt = new Map<string, string>()
  const bornIn = new Map<string, string>()
  for (const p of people) {
    worksAt.set(p, rng.pick(organizations)!)
    bornIn.set(p, rng.pick(cities)!)
  }
  const documents: Array<string> = []
  for (const p of people) documents.push(`${p} works at ${worksAt.get(p)}.`, `${p} was born in ${bornIn.get(p)}.`)
  for (const o of organizations)
    documents.push(`${o} is headquartered in ${headquarters.get(o)}.`, `${o} was founded by ${founder.get(o)}.`)
  for (const c of cities) documents.push(`${c} is a city located in the country of ${country.get(c)}.`)
  const kb: KnowledgeBase = {
    world,
    people,
    organizations,
    cities,
    countries,
    worksAt,
    bornIn,
    headquarters,
    founder,
    country,
    documents
  }
  worlds.set(world, kb)
  return kb
}

const STOP = new Set([
  "the",
  "a",
  "an",
  "of",
  "in",
  "at",
  "is",
  "was",
  "by",
  "who",
  "which",
  "where",
  "what",
  "does",
  "did",
  "for",
  "to",
  "and",
  "city",
  "organization",
  "that"
])
const stem = (w: string): string =>
  w.length > 4 && w.endsWith("ed") ? w.slice(0, -2) : w.length > 3 && w.endsWith("s") ? w.slice(0, -1) : w
const tokens = (text: string): Array<string> =>
  (text.toLowerCase().match(/[a-z0-9&]+/g) ?? []).filter((w) => !STOP.has(w)).map(stem)

interface Index {
  readonly docs: ReadonlyArray<ReadonlySet<string>>
  readonly idf: ReadonlyMap<string, number>
}
const indexes = new WeakMap<KnowledgeBase, Index>()
const indexOf = (kb: KnowledgeBase): Index => {
  const cached = indexes.get(kb)
  if (cached !== undefined) return cached
  const docs = kb.documents.map((d) => new Set(tokens(d)))
  const df = new Map<string, number>()
  for (const d of docs) for (const t of d) df.set(t, (df.get(t) ?? 0) + 1)
  const idf = new Map<string, number>()
  for (const [t, n] of df) idf.set(t, Math.log(1 + docs.length / n))
  const index = { docs, idf }
  indexes.set(kb, index)
  return index
}

/**
 * The `k` documents of a world that best match a query (idf-weighted term overlap; ties keep document
 * order). Usable as a ReAct tool or a RAG retriever.
 *
 * @since 0.1.0
 * @category search
 */
export const search = (query: string, k = 3, world = 0): ReadonlyArray<string> => {
  const kb = knowledgeBase(world)
  const index = indexOf(kb)
  const q = new Set(tokens(query))
  const scored: Array<readonly [number, number]> = []
  index.docs.forEach((d, i) => {
    let s = 0
    for (const t of q) if (d.has(t)) s += index.idf.get(t) ?? 0
    if (s > 0) scored.push([s, i])
  })
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1])
  return scored.slice(0, Math.max(0, k)).map(([, i]) => kb.documents[i]!)
}

type Kind = "employer_city" | "employer_founder" | "birth_country" | "founder_birthplace" | "hq_country"

interface Question {
  readonly kind: Kind
  readonly subject: string
  readonly text: string
}

const ASK: Record<Kind, (s: string) => string> = {
  employer_city: (s) => `In which city is the organization where ${s} works headquartered?`,
  employer_founder: (s) => `Who founded the organization where ${s} works?`,
  birth_country: (s) => `In which country was ${s} born?`,
  founder_birthplace: (s) => `In which city was the founder of ${s} born?`,
  hq_country: (s) => `In which country is ${s} headquartered?`
}
// Each reader is `prefix (.+?) suffix` read by a linear scan (`Between.find`): as regexes these backtracked
// quadratically on text repeating the prefix without the suffix.
const READ: ReadonlyArray<readonly [Kind, Between.Pattern]> = [
  ["employer_city", ["In which city is the organization where ", " works headquartered?"]],
  ["employer_founder", ["Who founded the organization where ", " works?"]],
  ["birth_country", ["In which country was ", " born?"]],
  ["founder_birthplace", ["In which city was the founder of ", " born?"]],
  ["hq_country", ["In which country is ", " headquartered?"]]
]

/** The first hop of each kind as a question of its own (what a decomposition asks first). */
const FIRST_ASK: Record<Kind, (s: string) => string> = {
  employer_city: (s) => `Where does ${s} work?`,
  employer_founder: (s) => `Where does ${s} work?`,
  birth_country: (s) => `In which city was ${s} born?`,
  founder_birthplace: (s) => `Who founded ${s}?`,
  hq_country: (s) => `In which city is ${s} headquartered?`
}
/** Readers of first-hop questions (tried after the two-hop readers, which are more specific). */
const FIRST_READ: ReadonlyArray<readonly [Kind, Between.Pattern]> = [
  ["employer_city", ["Where does ", " work?"]],
  ["birth_country", ["In which city was ", " born?"]],
  ["founder_birthplace", ["Who founded ", "?"]],
  ["hq_country", ["In which city is ", " headquartered?"]]
]

/** Output fields that ask for a decomposition into sub-questions. */
const SUB_QUESTIONS = /^(sub_?questions|sub_?queries|questions|queries)$/i

interface Hops {
  readonly first: string
  readonly bridge: string
  readonly second: string
  readonly answer: string
  readonly answerKind: "city" | "country" | "person"
}

const hops = (kb: KnowledgeBase, q: Question): Hops | undefined => {
  const s = q.subject
  switch (q.kind) {
    case "employer_city": {
      const o = kb.worksAt.get(s)
      const c = o === undefined ? undefined : kb.headquarters.get(o)
      return o === undefined || c === undefined
        ? undefined
        : {
            first: `${s} works at ${o}.`,
            bridge: o,
            second: `${o} is headquartered in ${c}.`,
            answer: c,
            answerKind: "city"
          }
    }
    case "employer_founder": {
      const o = kb.worksAt.get(s)
      const f = o === undefined ? undefined : kb.founder.get(o)
      return o === undefined || f === undefined
        ? undefined
        : {
            first: `${s} works at ${o}.`,
            bridge: o,
            second: `${o} was founded by ${f}.`,
            answer: f,
            answerKind: "person"
          }
    }
    case "birth_country": {
      const c = kb.bornIn.get(s)
      const k = c === undefined ? undefined : kb.country.get(c)
      return c === undefined || k === undefined
        ? undefined
        : {
            first: `${s} was born in ${c}.`,
            bridge: c,
            second: `${c} is a city located in the country of ${k}.`,
            answer: k,
            answerKind: "country"
          }
    }
    case "founder_birthplace": {
      const f = kb.founder.get(s)
      const c = f === undefined ? undefined : kb.bornIn.get(f)
      return f === undefined || c === undefined
        ? undefined
        : {
            first: `${s} was founded by ${f}.`,
            bridge: f,
            second: `${f} was born in ${c}.`,
            answer: c,
            answerKind: "city"
          }
    }
    case "hq_country": {
      const c = kb.headquarters.get(s)
      const k = c === undefined ? undefined : kb.country.get(c)
      return c === undefined || k === undefined
        ? undefined
        : {
            first: `${s} is headquartered in ${c}.`,
            bridge: c,
            second: `${c} is a city located in the country of ${k}.`,
            answer: k,
            answerKind: "country"
          }
    }
  }
}

const readQuestion = (text: string): Question | undefined => {
  for (const [kind, pattern] of READ) {
    const m = Between.find(text, pattern)
    if (m !== null) return { kind, subject: m[1]!.trim(), text: m[0] }
  }
  return undefined
}

const FIRST_QUERY: Record<Kind, (s: string) => string> = {
  employer_city: (s) => `${s} works at`,
  employer_founder: (s) => `${s} works at`,
  birth_country: (s) => `${s} born in`,
  founder_birthplace: (s) => `${s} founded by`,
  hq_country: (s) => `${s} headquartered in`
}
const SECOND_QUERY: Record<Kind, (b: string) => string> = {
  employer_city: (b) => `${b} headquartered in`,
  employer_founder: (b) => `${b} founded by`,
  birth_country: (b) => `${b} located in country`,
  founder_birthplace: (b) => `${b} born in`,
  hq_country: (b) => `${b} located in country`
}

/**
 * The next search a careful agent would run for a question, given the text gathered so far (observations,
 * retrieved passages): a query for the first fact, then one for the second; undefined when both are
 * already present (or the text is not a question of this task).
 *
 * @since 0.1.0
 * @category solver
 */
export const nextQuery = (question: string, gathered: string, world = 0): string | undefined => {
  const q = readQuestion(question)
  if (q === undefined) return undefined
  const h = hops(knowledgeBase(world), q)
  if (h === undefined) return undefined
  if (!gathered.includes(h.first)) return FIRST_QUERY[q.kind](q.subject)
  if (!gathered.includes(h.second)) return SECOND_QUERY[q.kind](h.bridge)
  return undefined
}

/** A first-hop question ("Who founded X?"): its answer is the bridge entity, found in the fact's document. */
const solveFirstHop = (kb: KnowledgeBase, text: string, context: string): Task.Solution | undefined => {
  for (const [kind, pattern] of FIRST_READ) {
    const m = Between.find(text, pattern)
    if (m === null) continue
    const subject = m[1]!.trim()
    const h =
      hops(kb, { kind, subject, text: m[0] }) ??
      (kind === "employer_city" ? hops(kb, { kind: "employer_founder", subject, text: m[0] }) : undefined)
    if (h === undefined) continue
    const pool = kind === "employer_city" ? kb.organizations : kind === "founder_birthplace" ? kb.people : kb.cities
    const failures = distractors(pool, h.bridge, m[0]).map(
      (answer): Task.Failure => ({
        category: "wrong_entity",
        values: { answer },
        detail: `${answer} was recalled instead`
      })
    )
    return {
      task: "multihop",
      key: `multihop:${kb.world}:${m[0]}`,
      // One fact is easier than two.
      difficulty: 1,
      evidence: context.includes(h.first) ? 1.15 : 0,
      gold: { answer: h.bridge },
      risks: ["wrong_entity"],
      failures,
      intermediates: [h.bridge],
      family: { kind: "multihop", size: 1, tags: [kind] },
      reasoning: (failure) =>
        failure === undefined
          ? `${h.first} So the answer is ${h.bridge}.`
          : `So the answer is probably ${String(failure.values["answer"])}.`
    }
  }
  return undefined
}

const example =
  (world: number) =>
  (rng: Random.Random): Example => {
    const kb = knowledgeBase(world)
    for (;;) {
      const kind = rng.pick(Object.keys(ASK) as Array<Kind>)!
      const subject =
        kind === "founder_birthplace" || kind === "hq_country" ? rng.pick(kb.organizations)! : rng.pick(kb.people)!
      const q: Question = { kind, subject, text: ASK[kind](subject) }
      const h = hops(kb, q)
      if (h !== undefined && h.answer !== subject) return { question: q.text, answer: h.answer }
    }
  }

/** Two plausible wrong entities for a question, fixed by the question's text. */
const distractors = (pool: ReadonlyArray<string>, answer: string, question: string): Array<string> => {
  const rng = Random.fromState(Random.hashParts("multihop-distractors", question))
  return rng.shuffle(pool.filter((p) => p !== answer)).slice(0, 2)
}

/**
 * The multi-hop task's concept inventory: find the bridge entity first, connect both facts, use the
 * context as evidence; harmful: answer from memory, guess.
 *
 * @since 0.1.0
 * @category concepts
 */
export const inventory: Concepts.Inventory = {
  lexicon: {
    evidence: [
      "context",
      "passage",
      "passages",
      "document",
      "documents",
      "evidence",
      "source",
      "sources",
      "retrieved",
      "text",
      "observation",
      "observations",
      "search",
      "results",
      "fact",
      "facts"
    ]
  },
  vocabulary: [
    "question person people organisation organization company city country entity entities fact facts",
    "document documents passage passages works work born founded founder headquartered located who where which",
    "hop hops relation relations link chain knowledge base search retrieve evidence context answer name place",
    "together claim claims ground grounded complete second"
  ],
  categories: {
    bridge_answer: "the answer stopped at the first hop and gave the bridge entity",
    wrong_entity: "another entity of the right kind was recalled instead of the fact"
  },
  canonical:
    "First find the bridge entity that the question is about, then answer the second question about it. Connect both facts before answering, and use the context passages as evidence.",
  cap: 1.6,
  concepts: [
    {
      id: "bridge",
      polarity: "helpful",
      description: "find the bridge entity first",
      addresses: ["bridge_answer"],
      weight: 0.12,
      specific: 0.35,
      patterns: [
        "(bridge|intermediate|linking|connecting|middle) (entity|person|organisation|organization|company|city|fact)",
        "(first|initial) (hop|fact|step|find|identify|look)",
        "(find|identify|determine|work out|resolve) .. (first|initially) .. (then|before)",
        "(decompose|break) .. (question|it) .. (sub|two|parts|questions)"
      ],
      phrasings: ["First find the intermediate entity, then answer about it."],
      surfaceForms: [
        "Identify the linking person or company before answering.",
        "Resolve the first hop, then the second."
      ]
    },
    {
      id: "two_facts",
      polarity: "helpful",
      description: "connect both facts",
      addresses: ["bridge_answer"],
      weight: 0.1,
      specific: 0.3,
      patterns: [
        "(both|two|each|all) (facts|hops|steps|links|relations|parts)",
        "(connect|combine|chain|link|join) .. (facts|hops|evidence|information|relations|pieces)",
        "(second|final|last) hop",
        "(multi|multiple|two) (hop|step)"
      ],
      phrasings: ["Connect both facts before answering."],
      surfaceForms: ["Chain the two relations together.", "Make sure you complete the second hop."]
    },
    {
      id: "use_context",
      polarity: "helpful",
      description: "use the context passages as evidence",
      addresses: ["wrong_entity"],
      weight: 0.15,
      specific: 0.25,
      patterns: [
        "(use|rely|cite|ground|base|consult|read|check|draw|quote) .. @evidence",
        "(support|supported|backed|grounded|according) .. @evidence",
        "! (invent|fabricate|hallucinate) .. (name|names|fact|facts|entity|entities|answer)"
      ],
      phrasings: ["Use the context passages as evidence."],
      surfaceForms: ["Base the answer on the retrieved documents.", "Ground every claim in the passages."]
    },
    {
      id: "memory",
      polarity: "harmful",
      description: "answer from memory, ignoring the passages",
      addresses: ["wrong_entity"],
      weight: 0.5,
      specific: 0.1,
      inverse: "use_context",
      opposes: ["use_context"],
      patterns: [
        "(from|by) memory",
        "(ignore|disregard|overlook|skip|bypass) .. @evidence",
        "(invent|fabricate|hallucinate)",
        "(make|made) up",
        "what you (know|remember|recall)",
        "(own|prior|general|background|world) knowledge"
      ],
      phrasings: ["Answer from memory and ignore the passages."],
      surfaceForms: ["Disregard the documents and rely on what you know."]
    },
    {
      id: "guess",
      polarity: "harmful",
      description: "guess a plausible name",
      addresses: ["wrong_entity"],
      weight: 0.5,
      specific: 0.1,
      patterns: ["(guess|guesses|guessing|estimate)", "(plausible|likely|random) (name|answer|entity)"],
      phrasings: ["Guess a plausible name if unsure."],
      surfaceForms: ["Pick any likely-sounding name."]
    }
  ]
}

/**
 * The multi-hop task over the world of a seed.
 *
 * @since 0.1.0
 * @category tasks
 */
export const taskFor = (world: number): Task.Task<Example> => ({
  name: "multihop",
  description: "two-hop questions over a knowledge base of people, organisations and places",
  inputKeys: ["question"],
  skill: { b0: -1.0, bReason: 0.45, bDemo: 0.25, bWrong: 0.35, demoCap: 4 },
  inventory,
  example: example(world),
  solve: (inputs, context) => {
    const text = inputs["question"] ?? Object.values(inputs).find((v) => readQuestion(v) !== undefined)
    const q = text === undefined ? undefined : readQuestion(text)
    const kb = knowledgeBase(world)
    if (q === undefined) return text === undefined ? undefined : solveFirstHop(kb, text, context)
    const h = hops(kb, q)
    if (h === undefined) return undefined
    const found = (context.includes(h.first) ? 1 : 0) + (context.includes(h.second) ? 1 : 0)
    const pool = h.answerKind === "city" ? kb.cities : h.answerKind === "country" ? kb.countries : kb.people
    const failures: Array<Task.Failure> = distractors(pool, h.answer, q.text).map((answer) => ({
      category: "wrong_entity",
      values: { answer, sub_questions: [FIRST_ASK[q.kind](q.subject), q.text] },
      detail: `${answer} was recalled instead of the fact`
    }))
    if (h.bridge !== h.answer) {
      failures.unshift({
        category: "bridge_answer",
        values: { answer: h.bridge, sub_questions: [FIRST_ASK[q.kind](q.subject), q.text] },
        detail: `the answer stopped at the first hop (${h.bridge})`
      })
    }
    // Asked to decompose, the model asks for the first hop, then the question itself (answered with what the
    // first hop found).
    const subQuestions = [FIRST_ASK[q.kind](q.subject), q.text]
    return {
      task: "multihop",
      key: `multihop:${kb.world}:${q.text}`,
      difficulty: 0,
      evidence: 1.15 * found,
      gold: { answer: h.answer, sub_questions: subQuestions },
      risks: h.bridge !== h.answer ? ["bridge_answer", "wrong_entity"] : ["wrong_entity"],
      failures,
      intermediates: [h.bridge],
      family: { kind: "multihop", size: 2, tags: [q.kind] },
      reasoning: (failure) =>
        failure === undefined
          ? `${h.first} ${h.second} So the answer is ${h.answer}.`
          : failure.category === "bridge_answer"
            ? `${h.first} So the answer is ${h.bridge}.`
            : `${h.first} So the answer is probably ${String(failure.values["answer"])}.`
    }
  },
  assign: (outputs, values) => {
    const sub = outputs.find((o) => SUB_QUESTIONS.test(o.name))
    const f = Task.answerField(outputs, ["answer", "final_answer", "response"], sub === undefined ? [] : [sub.name])
    return {
      ...(sub !== undefined && values["sub_questions"] !== undefined ? { [sub.name]: values["sub_questions"] } : {}),
      ...(f !== undefined && f !== sub ? { [f.name]: values["answer"] } : {})
    }
  },
  softFields: [],
  cues: (text) =>
    READ.filter(([, pattern]) => Between.find(text, pattern) !== null).length +
    (/headquartered|founded by/.test(text) ? 1 : 0)
})

/**
 * The multi-hop task over world 0.
 *
 * @since 0.1.0
 * @category tasks
 */
export const task: Task.Task<Example> = taskFor(0)
