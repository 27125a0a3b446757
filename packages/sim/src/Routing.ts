/**
 * The routing task: a user query goes to the agent that should handle it. Hidden rules: an explicit action
 * wins (summarise > report > data > code), then the first media type mentioned (video, image, audio), else
 * text search. Ambiguous queries mix two cues. The solver also gives a confidence, lower for ambiguous
 * queries; wrong answers pick a confusable agent.
 *
 * @since 0.1.0
 */
import type * as Concepts from "./Concepts.js"
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

/**
 * The routing task's concept inventory: consider the media type, the requested action comes first,
 * distinguish summaries from reports, the first mentioned medium wins; harmful: default to text search,
 * ignore the media type, guess.
 *
 * @since 0.1.0
 * @category concepts
 */
export const inventory: Concepts.Inventory = {
  lexicon: {
    media: [
      "media",
      "medium",
      "modality",
      "modalities",
      "format",
      "formats",
      "video",
      "videos",
      "image",
      "images",
      "audio",
      "picture",
      "pictures",
      "photo",
      "photos",
      "podcast",
      "podcasts",
      "clip",
      "clips"
    ],
    action: ["action", "actions", "task", "intent", "intention", "verb", "request", "goal", "operation"]
  },
  vocabulary: [
    "query queries user agent agents route routing handle search video image audio text document summary",
    "report detailed data analysis code snippet chart statistics podcast photo picture clip footage listen watch",
    "request intent action media modality type kind cue cues mention mentioned ambiguous mixed category label",
    "topic topics overview depth in-depth brief format formats win wins several want wants"
  ],
  categories: {
    confusable_intent: "a confusable agent was picked (a summary for a report, images for videos)",
    mixed_cues: "a query with two cues was routed by the cue that should not win"
  },
  canonical:
    "Route the query to the agent that should handle it. Consider the media type the user wants (video, image, audio or text). An explicit requested action such as summarising or reporting comes before the media type, and when several media are mentioned, the first mentioned wins. Distinguish short summaries from detailed reports.",
  cap: 1.8,
  concepts: [
    {
      id: "modality",
      polarity: "helpful",
      description: "consider the media type the user wants",
      addresses: ["confusable_intent"],
      weight: 0.15,
      specific: 0.3,
      patterns: [
        "(media|content|file|result|output) (type|types|kind|format)",
        "(modality|modalities)",
        "(kind|type|form|sort) of (media|content|result|results|file|material)",
        "(video|videos) .. (image|images|audio|text|picture|photo)",
        "(watch|look|listen|read) .. (watch|look|listen|read)"
      ],
      phrasings: [
        "Consider the media type the user wants (video, image, audio or text).",
        "Pay attention to the modality of the request."
      ],
      surfaceForms: ["Think about whether the user wants to watch, look at, listen to or read something."]
    },
    {
      id: "action_first",
      polarity: "helpful",
      description: "an explicit requested action comes before the media type",
      addresses: ["mixed_cues"],
      weight: 0.1,
      specific: 0.4,
      patterns: [
        "(requested|explicit|main|primary|stated|desired|asked) @action",
        "@action .. (first|before|precedence|priority|wins|win|over|outweigh|outweighs|trump|trumps|override|overrides|beat|beats|matter|matters|more)",
        "what .. user .. (wants|want) .. (done|do)"
      ],
      phrasings: ["An explicit requested action such as summarising or reporting comes before the media type."],
      surfaceForms: ["What the user wants done matters more than the format they mention."]
    },
    {
      id: "summary_vs_report",
      polarity: "helpful",
      description: "distinguish short summaries from detailed reports",
      addresses: ["confusable_intent"],
      weight: 0.08,
      specific: 0.3,
      patterns: [
        "(distinguish|differentiate|tell|separate|difference|contrast) .. (summary|summaries|summarise|summarize|summarising|summarizing) .. (report|reports|analysis)",
        "(short|brief|quick) (summary|summaries|overview) .. (detailed|long|depth|full|thorough|comprehensive) (report|reports|analysis)",
        "(summary|summaries) (vs|versus|from|or) .. (report|reports)"
      ],
      phrasings: ["Distinguish short summaries from detailed reports."],
      surfaceForms: ["Tell a brief overview apart from an in-depth report."]
    },
    {
      id: "first_mentioned",
      polarity: "helpful",
      description: "when several media are mentioned, the first one wins",
      addresses: ["mixed_cues"],
      weight: 0.05,
      specific: 0.35,
      patterns: [
        "(first|earliest) (mentioned|named|listed|medium|media|one|cue|mention)",
        "(mentioned|named|listed|appear|appears|comes) (first|earliest)",
        "(order|position) .. (mention|mentioned|appear|appearance|named)"
      ],
      phrasings: ["When several media are mentioned, the first mentioned wins."],
      surfaceForms: ["If a query names two formats, go with the one named earliest."]
    },
    {
      id: "default_text",
      polarity: "harmful",
      description: "default to text search",
      addresses: ["confusable_intent"],
      weight: 0.45,
      specific: 0.1,
      patterns: ["default .. text", "(always|just) (choose|pick|use|route) .. text", "doubt .. text"],
      phrasings: ["When in doubt, default to text_search."],
      surfaceForms: ["Just pick text search whenever unsure."]
    },
    {
      id: "ignore_media",
      polarity: "harmful",
      description: "ignore the media type",
      addresses: ["confusable_intent", "mixed_cues"],
      weight: 0.5,
      specific: 0.1,
      inverse: "modality",
      opposes: ["modality"],
      patterns: ["(ignore|disregard|overlook|neglect) .. @media", "@media .. (irrelevant|unimportant|matter)"],
      phrasings: ["Ignore the media type and focus on the topic."],
      surfaceForms: ["Disregard the format and route by topic."]
    },
    {
      id: "guess",
      polarity: "harmful",
      description: "guess quickly",
      addresses: ["confusable_intent", "mixed_cues"],
      weight: 0.45,
      specific: 0.1,
      patterns: ["(guess|guessing|estimate)", "(random|any) agent"],
      phrasings: ["Guess quickly if the query is unclear."],
      surfaceForms: ["Pick any agent if it is not obvious."]
    }
  ]
}

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
  skill: { b0: 0.2, bReason: 0.4, bDemo: 0.3, bWrong: 0.35, demoCap: 4 },
  inventory,
  example,
  solve: (inputs) => {
    const query = inputs["query"] ?? inputs["user_query"] ?? inputs["user_request"]
    if (query === undefined) return undefined
    const { agent, ambiguous } = route(query)
    const failures: Array<Task.Failure> = []
    const second = route(query.replace(/summari[sz]e|key points|detailed report|statistics|chart|code/gi, ""))
    if (ambiguous && second.agent !== agent) {
      failures.push({
        category: "mixed_cues",
        values: { agent: second.agent, confidence: 0.55 },
        detail: `the query mixes cues and ${second.agent} was picked over ${agent}`
      })
    }
    for (const other of CONFUSABLE[agent]) {
      if (failures.some((f) => f.values["agent"] === other)) continue
      failures.push({
        category: "confusable_intent",
        values: { agent: other, confidence: 0.55 },
        detail: `${other} was confused with ${agent}`
      })
    }
    return {
      task: "routing",
      key: `routing:${query.trim()}`,
      difficulty: ambiguous ? -0.9 : 0.3,
      evidence: 0,
      gold: { agent, confidence: ambiguous ? 0.62 : 0.9 },
      risks: ambiguous ? ["mixed_cues", "confusable_intent"] : ["confusable_intent"],
      failures,
      intermediates: [],
      family: { kind: "routing", size: ambiguous ? 2 : 1, tags: [agent] },
      reasoning: (failure) => {
        const picked = failure === undefined ? agent : String(failure.values["agent"])
        return `The query "${query}" ${ambiguous ? "mixes several cues" : "has a clear cue"}; the best agent is ${picked}.`
      }
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
