/**
 * The vision task: how many shapes does a small picture hold? Each example is a generated PNG (48x48, white, one
 * to seven filled squares and discs in colours, never touching), drawn with `pngjs`; the hidden solver decodes
 * the PNG it receives in the prompt (an `Image` field arrives as a data URI) and counts the connected regions of
 * non-white pixels: it solves from the pixels, not from any label. Many shapes, and shapes close together, are
 * harder; wrong answers merge two close shapes (one too few) or count one twice (one too many).
 *
 * @example
 * ```ts
 * import { Vision } from "@effect-dspy/sim"
 *
 * const [first] = Vision.dataset(1, 3)
 * console.log(first!.count, first!.image.mimeType) // e.g. 4 image/png
 * ```
 *
 * @since 0.1.0
 */
import { Media } from "@effect-dspy/core"
import { Random } from "@effect-dspy/foundation"
import { PNG } from "pngjs"
import type * as Concepts from "./Concepts.js"
import * as Task from "./Task.js"

/**
 * A vision example: the picture and the number of shapes in it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly [key: string]: unknown
  readonly image: Media.Image
  readonly count: number
}

/** The side of the generated pictures, in pixels. */
const SIDE = 48

const COLOURS: ReadonlyArray<readonly [number, number, number]> = [
  [220, 40, 40],
  [40, 140, 60],
  [40, 80, 220],
  [230, 160, 20],
  [140, 50, 170],
  [20, 20, 20]
]

/**
 * A shape to draw: its top-left corner, its side (or diameter) in pixels, a disc or a square.
 *
 * @since 0.1.0
 * @category drawing
 */
export interface Shape {
  readonly x: number
  readonly y: number
  readonly size: number
  readonly disc: boolean
}

/**
 * Draws a picture of shapes as PNG bytes: each shape a filled square or disc of its colour on white.
 *
 * @since 0.1.0
 * @category drawing
 */
export const draw = (
  shapes: ReadonlyArray<Shape & { readonly colour?: readonly [number, number, number] }>
): Uint8Array => {
  const png = new PNG({ width: SIDE, height: SIDE })
  png.data.fill(255)
  shapes.forEach((s, i) => {
    const [r, g, b] = s.colour ?? COLOURS[i % COLOURS.length]!
    const radius = s.size / 2
    for (let y = s.y; y < s.y + s.size; y++) {
      for (let x = s.x; x < s.x + s.size; x++) {
        if (s.disc) {
          const dx = x + 0.5 - (s.x + radius)
          const dy = y + 0.5 - (s.y + radius)
          if (dx * dx + dy * dy > radius * radius) continue
        }
        const at = (y * SIDE + x) * 4
        png.data[at] = r
        png.data[at + 1] = g
        png.data[at + 2] = b
        png.data[at + 3] = 255
      }
    }
  })
  return new Uint8Array(PNG.sync.write(png))
}

/** Shapes that do not touch (at least `gap` white pixels apart), or undefined when the draw did not fit them. */
const place = (rng: Random.Random, count: number, gap: number): Array<Shape> | undefined => {
  const shapes: Array<Shape> = []
  for (let tries = 0; shapes.length < count && tries < 400; tries++) {
    const size = rng.between(6, 9)
    const s: Shape = {
      x: rng.between(1, SIDE - size - 1),
      y: rng.between(1, SIDE - size - 1),
      size,
      disc: rng.chance(0.5)
    }
    const clear = shapes.every(
      (o) =>
        s.x + s.size + gap <= o.x || o.x + o.size + gap <= s.x || s.y + s.size + gap <= o.y || o.y + o.size + gap <= s.y
    )
    if (clear) shapes.push(s)
  }
  return shapes.length === count ? shapes : undefined
}

/**
 * What the solver reads from a picture: the regions' count, how many lie in the top half, the closest gap.
 *
 * @since 0.1.0
 * @category solver
 */
export interface Reading {
  readonly count: number
  readonly top: number
  readonly closest: number
}

/**
 * Counts the shapes of a PNG from its pixels: connected regions (4-neighbours) of non-white pixels; with the
 * regions whose centre lies in the top half and the smallest gap between two regions' boxes. Undefined when
 * the bytes are not a PNG.
 *
 * @since 0.1.0
 * @category solver
 */
export const read = (bytes: Uint8Array): Reading | undefined => {
  let png: PNG
  try {
    png = PNG.sync.read(Buffer.from(bytes))
  } catch {
    return undefined
  }
  const { width, height, data } = png
  const seen = new Uint8Array(width * height)
  const ink = (i: number) => data[i * 4]! < 250 || data[i * 4 + 1]! < 250 || data[i * 4 + 2]! < 250
  const boxes: Array<{ x0: number; y0: number; x1: number; y1: number }> = []
  for (let start = 0; start < width * height; start++) {
    if (seen[start] === 1 || !ink(start)) continue
    const box = { x0: width, y0: height, x1: -1, y1: -1 }
    const stack = [start]
    seen[start] = 1
    while (stack.length > 0) {
      const i = stack.pop()!
      const x = i % width
      const y = (i - x) / width
      box.x0 = Math.min(box.x0, x)
      box.y0 = Math.min(box.y0, y)
      box.x1 = Math.max(box.x1, x)
      box.y1 = Math.max(box.y1, y)
      const next = [
        x > 0 ? i - 1 : -1,
        x < width - 1 ? i + 1 : -1,
        y > 0 ? i - width : -1,
        y < height - 1 ? i + width : -1
      ]
      for (const n of next) {
        if (n >= 0 && seen[n] === 0 && ink(n)) {
          seen[n] = 1
          stack.push(n)
        }
      }
    }
    boxes.push(box)
  }
  let closest = Number.POSITIVE_INFINITY
  for (let a = 0; a < boxes.length; a++) {
    for (let b = a + 1; b < boxes.length; b++) {
      const p = boxes[a]!
      const q = boxes[b]!
      const dx = Math.max(0, q.x0 - p.x1 - 1, p.x0 - q.x1 - 1)
      const dy = Math.max(0, q.y0 - p.y1 - 1, p.y0 - q.y1 - 1)
      closest = Math.min(closest, Math.max(dx, dy))
    }
  }
  const top = boxes.filter((b) => b.y0 + b.y1 < height).length
  return { count: boxes.length, top, closest }
}

const PNG_URI = "data:image/png;base64,"

/** The index of the first character that is not whitespace. */
const leadingSpace = (v: string): number => {
  let i = 0
  while (i < v.length && (v[i] === " " || v[i] === "\n" || v[i] === "\r" || v[i] === "\t")) i++
  return i
}

const readings = new Map<string, Reading | null>()

/** The reading of a data URI, memoised (demos repeat the same pictures on every call). */
const readUri = (uri: string): Reading | undefined => {
  let r = readings.get(uri)
  if (r === undefined) {
    r = read(new Uint8Array(Buffer.from(uri.slice(PNG_URI.length), "base64"))) ?? null
    if (readings.size >= 2048) readings.delete(readings.keys().next().value!)
    readings.set(uri, r)
  }
  return r ?? undefined
}

const example = (rng: Random.Random): Example => {
  for (;;) {
    const count = rng.between(1, 7)
    const gap = rng.chance(0.35) ? 2 : 4
    const shapes = place(rng, count, gap)
    if (shapes === undefined) continue
    const bytes = draw(shapes)
    return { image: new Media.Image({ mimeType: "image/png", bytes }), count }
  }
}

/**
 * `count` examples for a seed (see `Task.generate`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const dataset = (seed: number, count: number): Array<Example> => Task.generate(task, seed, count)

/**
 * The vision task's concept inventory: scan the picture region by region, keep shapes that are close together
 * apart, count each shape once; harmful: estimate at a glance, count only the large shapes.
 *
 * @since 0.1.0
 * @category concepts
 */
export const inventory: Concepts.Inventory = {
  lexicon: {
    shape: ["shape", "shapes", "object", "objects", "item", "items", "figure", "figures", "blob", "blobs", "region"]
  },
  vocabulary: [
    "image images picture pictures photo count counting number total how many shape shapes object objects",
    "square squares disc discs circle circles colour colours color colors pixel pixels white background",
    "region regions row rows column columns half quadrant grid left right top bottom scan close adjacent",
    "separate distinct individual apart once twice exactly visible each every all"
  ],
  categories: {
    merged_shapes: "two shapes close together were counted as one (one too few)",
    overcount: "a shape was counted twice (one too many)"
  },
  canonical:
    "Count the shapes in the image. Scan the image systematically, region by region, treat shapes that are close together as separate objects, and count each shape exactly once.",
  cap: 1.6,
  concepts: [
    {
      id: "systematic_scan",
      polarity: "helpful",
      description: "scan the picture systematically, region by region",
      addresses: ["merged_shapes", "overcount"],
      weight: 0.15,
      specific: 0.3,
      patterns: [
        "(scan|sweep|go|look|search) .. (systematically|methodically|region|regions|row|rows|quadrant|quadrants|section|sections|grid)",
        "(row|region|section|quadrant|part) by (row|region|section|quadrant|part)",
        "(left|top) to (right|bottom)"
      ],
      phrasings: [
        "Scan the image systematically, region by region.",
        "Go through the picture row by row, from top to bottom."
      ],
      surfaceForms: ["Work through the image one quadrant at a time."]
    },
    {
      id: "separate_close",
      polarity: "helpful",
      description: "treat shapes that are close together as separate objects",
      addresses: ["merged_shapes"],
      weight: 0.1,
      specific: 0.4,
      patterns: [
        "(close|adjacent|near|nearby|neighbouring|neighboring) .. (separate|distinct|individual|apart|different)",
        "(separate|distinct|individual) @shape",
        "(tell|keep) .. @shape .. apart"
      ],
      phrasings: ["Treat shapes that are close together as separate objects."],
      surfaceForms: ["Shapes that nearly touch are still distinct items."]
    },
    {
      id: "count_once",
      polarity: "helpful",
      description: "count each shape exactly once",
      addresses: ["overcount"],
      weight: 0.08,
      specific: 0.35,
      patterns: ["(each|every) @shape .. (once|one time)", "exactly once", "(once|one time) (each|per) @shape"],
      phrasings: ["Count each shape exactly once."],
      surfaceForms: ["Every object gets counted one time only."]
    },
    {
      id: "estimate",
      polarity: "harmful",
      description: "estimate the count at a glance",
      addresses: ["merged_shapes", "overcount"],
      weight: 0.45,
      specific: 0.1,
      patterns: ["(estimate|estimating|approximate|approximately|roughly|glance|guess|guessing|eyeball)"],
      phrasings: ["Estimate the count at a glance."],
      surfaceForms: ["Give a rough number without counting."]
    },
    {
      id: "large_only",
      polarity: "harmful",
      description: "count only the large shapes",
      addresses: ["merged_shapes"],
      weight: 0.4,
      specific: 0.1,
      patterns: ["(only|just) .. (large|big|biggest|larger|obvious|prominent) @shape"],
      phrasings: ["Count only the large, obvious shapes."],
      surfaceForms: ["Just count the big objects."]
    }
  ]
}

const COUNT_FIELDS = ["count", "number", "total", "num_shapes", "shape_count", "n_shapes", "answer"]

/**
 * The vision task.
 *
 * @since 0.1.0
 * @category tasks
 */
export const task: Task.Task<Example> = {
  name: "vision",
  description: "counting the shapes in small pictures",
  inputKeys: ["image"],
  skill: { b0: 0.1, bReason: 0.5, bDemo: 0.45, bWrong: 0.4, demoCap: 4 },
  inventory,
  example,
  solve: (inputs) => {
    // Tried on every request: a scan for the data URI's start, no copy of the inputs.
    const value = Object.values(inputs).find((v) => v.startsWith(PNG_URI, leadingSpace(v)))
    if (value === undefined) return undefined
    const uri = value.trim()
    const r = readUri(uri)
    if (r === undefined) return undefined
    const close = r.closest <= 2
    const failures: Array<Task.Failure> = []
    if (r.count > 1) {
      failures.push({
        category: "merged_shapes",
        values: { count: r.count - 1 },
        detail: "two shapes close together were counted as one"
      })
    }
    failures.push({ category: "overcount", values: { count: r.count + 1 }, detail: "one shape was counted twice" })
    const bottom = r.count - r.top
    return {
      task: "vision",
      key: `vision:${Random.hashParts(uri)}`,
      difficulty: 0.9 - 0.3 * (r.count - 1) - (close ? 0.4 : 0),
      evidence: 0,
      gold: { count: r.count },
      risks: close || r.count > 1 ? ["merged_shapes", "overcount"] : ["overcount"],
      failures,
      intermediates: [r.top, bottom],
      family: { kind: "count", size: r.count, tags: close ? ["close"] : [] },
      reasoning: (failure) => {
        const total = failure === undefined ? r.count : Number(failure.values["count"])
        const note = failure === undefined ? "" : ` (${failure.detail})`
        return `Scanning the image region by region: ${r.top} shapes in the top half and ${bottom} in the bottom half, so ${total} shapes in all${note}.`
      }
    }
  },
  assign: (outputs, values) => {
    const f = Task.answerField(outputs, COUNT_FIELDS)
    return f === undefined ? {} : { [f.name]: values["count"] }
  },
  softFields: [],
  cues: (text) => ["shape", "count", "image", "picture"].filter((w) => text.toLowerCase().includes(w)).length
}
