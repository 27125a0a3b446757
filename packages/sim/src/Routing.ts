/**
 * The routing task: a user query goes to the agent that should handle it. Hidden rules: an explicit action
 * wins (summarise > report > data > code), then the first media type mentioned (video, image, audio), else
 * text search. Ambiguous queries mix two cues. The solver also gives a confidence, lower for ambiguous
 * queries; wrong answers pick a confusable agent.
 *
 * @since 0.1.0
 */
import type { Rng } from "./internal/Random.js"
import * as Task from "./Task.js"

/**
 * The agents a query can be routed to.
 *
 * @since 0.1.0
 * @category constants
 */
export const agents = [
  "video_search",
  "text_search",
  "image_search",
  "audio_search",
  "document_summary",
  "detailed_report",
  "data_analysis",
  "code_search"
] as const

/**
 * An agent name.
 *
 * @since 0.1.0
 * @category models
 */
export type Agent = (typeof agents)[number]

/**
 * A routing example.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly [key: string]: unknown
  readonly query: string
  readonly agent: Agent
}

const ACTIONS: ReadonlyArray<readonly [Agent, RegExp]> = [
  ["document_summary", /\bsummari[sz]e|\bsummary\b|\btl;dr\b|\bkey points\b|\bbrief overview\b/],
  ["detailed_report", /\bdetailed report\b|\bin-depth\b|\bcomprehensive report\b|\bthorough analysis\b/],
  ["data_analysis", /\bstatistics\b|\bchart\b|\bspreadsheet\b|\btrend\b|\bnumbers on\b/],
  ["code_search", /\bcode\b|\bsnippet\b|\bfunction\b|\bscript\b/]
]
const MEDIA: ReadonlyArray<readonly [Agent, RegExp]> = [
  ["video_search", /\bvideos?\b|\bclips?\b|\bfootage\b|\bwatch\b|\btrailer\b/],
  ["image_search", /\bphotos?\b|\bpictures?\b|\bimages?\b|\bdiagrams?\b|\billustrations?\b/],
  ["audio_search", /\bpodcasts?\b|\brecordings?\b|\baudio\b|\bsongs?\b|\blisten\b/]
]

/**
 * The hidden routing rule: the agent for a query and whether the query is ambiguous (mixes cues).
 *
 * @since 0.1.0
 * @category solver
 */
export const route = (query: string): { readonly agent: Agent; readonly ambiguous: boolean } => {
  const q = query.toLowerCase()
  const actions = ACTIONS.filter(([, re]) => re.test(q)).map(([a]) => a)
  const media = MEDIA.map(([a, re]) => [a, q.search(re)] as const)
    .filter(([, at]) => at >= 0)
    .sort((x, y) => x[1] - y[1])
    .map(([a]) => a)
  const cues = actions.length + media.length
  const agent = actions[0] ?? media[0] ?? "text_search"
  return { agent, ambiguous: cues > 1 }
}

const TOPICS = [
  "the Apollo 11 landing",
  "sourdough baking",
  "electric cars",
  "the French Revolution",
  "coral reefs",
  "quantum computing",
  "jazz history",
  "marathon training",
  "volcano formation",
  "urban gardening",
  "the Silk Road",
  "solar panels",
  "honeybee colonies",
  "medieval castles",
  "deep sea creatures",
  "glacier melting",
  "ancient Rome",
  "vaccine development",
  "chess openings",
  "rainforest birds"
]

const PLAIN: Record<Agent, ReadonlyArray<(t: string) => string>> = {
  video_search: [
    (t) => `Find a video showing ${t}`,
    (t) => `Show me footage of ${t}`,
    (t) => `I want to watch something about ${t}`
  ],
  image_search: [(t) => `Find photos of ${t}`, (t) => `Show me a diagram of ${t}`, (t) => `I need a picture of ${t}`],
  audio_search: [
    (t) => `Find a podcast about ${t}`,
    (t) => `Play a recording about ${t}`,
    (t) => `I want to listen to something on ${t}`
  ],
  document_summary: [
    (t) => `Summarize the article on ${t}`,
    (t) => `Give me the key points of the paper on ${t}`,
    (t) => `tl;dr of the document about ${t}`
  ],
  detailed_report: [
    (t) => `Write a detailed report on ${t}`,
    (t) => `I need an in-depth analysis of ${t}`,
    (t) => `Prepare a comprehensive report about ${t}`
  ],
  data_analysis: [
    (t) => `Show statistics on ${t}`,
    (t) => `Make a chart of ${t} over time`,
    (t) => `What is the trend in ${t}?`
  ],
  code_search: [
    (t) => `Find code that simulates ${t}`,
    (t) => `Is there a snippet for modelling ${t}?`,
    (t) => `Look for a script about ${t}`
  ],
  text_search: [
    (t) => `Find articles about ${t}`,
    (t) => `What are the facts about ${t}?`,
    (t) => `Look up information on ${t}`
  ]
}

const AMBIGUOUS: ReadonlyArray<(t: string) => string> = [
  (t) => `Summarize the video about ${t}`,
  (t) => `Find photos and videos of ${t}`,
  (t) => `Write a detailed report with statistics on ${t}`,
  (t) => `Find a podcast or a video on ${t}`,
  (t) => `Give me the key points of the podcast on ${t}`,
  (t) => `Show me a chart and pictures of ${t}`,
  (t) => `I want to watch a clip, or see images, of ${t}`,
  (t) => `Find code and a diagram for ${t}`
]

const CONFUSABLE: Record<Agent, ReadonlyArray<Agent>> = {
  video_search: ["image_search", "audio_search"],
  image_search: ["video_search"],
  audio_search: ["video_search", "text_search"],
  document_summary: ["detailed_report", "text_search"],
  detailed_report: ["document_summary", "data_analysis"],
  data_analysis: ["detailed_report", "text_search"],
  code_search: ["text_search"],
  text_search: ["document_summary", "detailed_report"]
}

const example = (rng: Rng): Example => {
  const topic = rng.pick(TOPICS)
  const query = rng.chance(0.25) ? rng.pick(AMBIGUOUS)(topic) : rng.pick(PLAIN[rng.pick(agents)])(topic)
  return { query, agent: route(query).agent }
}

const feature = (name: string, patterns: ReadonlyArray<RegExp>, phrasings: ReadonlyArray<string>): Task.Feature => ({
  name,
  patterns,
  phrasings
})

const AGENT_FIELDS = ["agent", "route", "target_agent", "destination", "selected_agent", "tool", "category", "label"]
const CONFIDENCE_FIELDS = ["confidence", "score", "probability", "certainty"]

/**
 * The routing task.
 *
 * @since 0.1.0
 * @category tasks
 */
export const task: Task.Task<Example> = {
  name: "routing",
  description: "routing user queries to the agent that should handle them",
  inputKeys: ["query"],
  skill: { b0: 0.2, bReason: 0.4, bDemo: 0.25, bWrong: 0.35, bInstr: 0.4, bBad: 0.6 },
  helpful: [
    feature(
      "modality",
      [/media type|modality/i],
      [
        "Consider the media type the user wants (video, image, audio or text).",
        "Pay attention to the modality of the request."
      ]
    ),
    feature(
      "action_first",
      [/(requested|main|primary) action|what the user wants done/i],
      ["An explicit requested action such as summarising or reporting comes before the media type."]
    ),
    feature(
      "summary_vs_report",
      [/summar(y|ies) (from|vs\.?|versus) .*report/i, /distinguish/i],
      ["Distinguish short summaries from detailed reports."]
    ),
    feature(
      "first_mentioned",
      [/first (mentioned|media)/i],
      ["When several media are mentioned, the first mentioned wins."]
    )
  ],
  harmful: [
    feature("default_text", [/default to text|always (choose|pick) text/i], ["When in doubt, default to text_search."]),
    feature("ignore_media", [/ignore the (media|modality)/i], ["Ignore the media type and focus on the topic."]),
    feature("guess", [/\bguess/i], ["Guess quickly if the query is unclear."])
  ],
  example,
  solve: (inputs) => {
    const query = inputs["query"] ?? inputs["user_query"] ?? inputs["user_request"]
    if (query === undefined) return undefined
    const { agent, ambiguous } = route(query)
    return {
      task: "routing",
      difficulty: ambiguous ? -0.9 : 0.3,
      evidence: 0,
      gold: { agent, confidence: ambiguous ? 0.62 : 0.9 },
      wrong: (rng) => {
        const second = route(query.replace(/summari[sz]e|key points|detailed report|statistics|chart|code/gi, ""))
        const pick = ambiguous && second.agent !== agent ? second.agent : rng.pick(CONFUSABLE[agent])
        return { agent: pick, confidence: Math.round((0.45 + rng.next() * 0.25) * 100) / 100 }
      },
      reasoning: (values) =>
        `The query "${query}" ${ambiguous ? "mixes several cues" : "has a clear cue"}; the best agent is ${String(values["agent"])}.`
    }
  },
  assign: (outputs, values) => {
    const out: Record<string, unknown> = {}
    const literal = outputs.find(
      (o) => o.type._tag === "literal" && o.type.values.some((v) => (agents as ReadonlyArray<unknown>).includes(v))
    )
    const f = literal ?? Task.answerField(outputs, AGENT_FIELDS, CONFIDENCE_FIELDS)
    if (f !== undefined) out[f.name] = values["agent"]
    const c = outputs.find((o) => CONFIDENCE_FIELDS.includes(o.name.toLowerCase()))
    if (c !== undefined && c !== f) out[c.name] = values["confidence"]
    return out
  },
  softFields: CONFIDENCE_FIELDS,
  cues: (text) => agents.filter((a) => text.includes(a)).length
}
