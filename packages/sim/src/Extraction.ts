/**
 * The extraction task: typed fields of an order (customer, product, quantity, total, express shipping) from
 * a short free-text note, for the JSON adapter and typed outputs. Outputs may be the separate fields or one
 * object-typed field holding them all. Wrong answers get one field slightly wrong.
 *
 * @since 0.1.0
 */
import type { Rng } from "./internal/Random.js"
import type * as Task from "./Task.js"

/**
 * The extracted record.
 *
 * @since 0.1.0
 * @category models
 */
export interface Order {
  readonly [key: string]: unknown
  readonly customer: string
  readonly product: string
  readonly quantity: number
  readonly total: number
  readonly express: boolean
}

/**
 * An extraction example: the text and the gold fields.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example extends Order {
  readonly text: string
}

const FIRST = [
  "Dana",
  "Marcus",
  "Ingrid",
  "Kenji",
  "Lucia",
  "Tobias",
  "Amara",
  "Felix",
  "Noor",
  "Oskar",
  "Priya",
  "Rhea"
]
const LAST = ["Whitfield", "Osei", "Halvorsen", "Mori", "Bianchi", "Krause", "Ndiaye", "Larsen", "Qureshi", "Ellison"]
const PRODUCTS = [
  "Aero blender",
  "Nimbus desk lamp",
  "Trail backpack",
  "Granite skillet",
  "Echo headphones",
  "Willow armchair",
  "Pixel drawing tablet",
  "Summit water bottle",
  "Harbor raincoat",
  "Lumen reading light"
]

const TEMPLATES: ReadonlyArray<{
  readonly write: (o: Order) => string
  readonly read: RegExp
  readonly order: ReadonlyArray<"customer" | "product" | "quantity" | "total" | "express">
  readonly difficulty: number
}> = [
  {
    write: (o) =>
      `${o.customer} ordered ${o.quantity} x ${o.product} for a total of $${o.total.toFixed(2)}. ${o.express ? "Express shipping was requested." : "Standard shipping was selected."}`,
    read: /^(.+?) ordered (\d+) x (.+?) for a total of \$(\d+\.\d{2})\. (Express shipping was requested|Standard shipping was selected)\.$/,
    order: ["customer", "quantity", "product", "total", "express"],
    difficulty: 0.5
  },
  {
    write: (o) =>
      `Order note: ${o.quantity} units of ${o.product} for ${o.customer}, total $${o.total.toFixed(2)}, ${o.express ? "express delivery" : "regular delivery"}.`,
    read: /^Order note: (\d+) units of (.+?) for (.+?), total \$(\d+\.\d{2}), (express delivery|regular delivery)\.$/,
    order: ["quantity", "product", "customer", "total", "express"],
    difficulty: 0
  },
  {
    write: (o) =>
      `Hi, this is ${o.customer}. Please send me ${o.quantity} of the ${o.product}. I was charged $${o.total.toFixed(2)}. ${o.express ? "I need it fast, so express please." : "No rush on shipping."}`,
    read: /^Hi, this is (.+?)\. Please send me (\d+) of the (.+?)\. I was charged \$(\d+\.\d{2})\. (I need it fast, so express please\.|No rush on shipping\.)$/,
    order: ["customer", "quantity", "product", "total", "express"],
    difficulty: -0.5
  }
]

const example = (rng: Rng): Example => {
  const quantity = rng.int(1, 9)
  const unit = rng.int(5, 120) + rng.pick([0, 0.49, 0.99, 0.5, 0.25])
  const order: Order = {
    customer: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
    product: rng.pick(PRODUCTS),
    quantity,
    total: Math.round(quantity * unit * 100) / 100,
    express: rng.chance(0.4)
  }
  return { text: rng.pick(TEMPLATES).write(order), ...order }
}

/**
 * Reads an order note of this task; undefined when the text is not one.
 *
 * @since 0.1.0
 * @category solver
 */
export const read = (text: string): { readonly order: Order; readonly difficulty: number } | undefined => {
  for (const t of TEMPLATES) {
    const m = t.read.exec(text.trim())
    if (m === null) continue
    const raw: Record<string, string> = {}
    t.order.forEach((k, i) => {
      raw[k] = m[i + 1]!
    })
    return {
      order: {
        customer: raw["customer"]!,
        product: raw["product"]!,
        quantity: Number(raw["quantity"]),
        total: Number(raw["total"]),
        express: /express/i.test(raw["express"]!)
      },
      difficulty: t.difficulty
    }
  }
  return undefined
}

const SYNONYMS: Record<keyof Order & string, ReadonlyArray<string>> = {
  customer: ["customer", "customer_name", "name", "buyer", "client"],
  product: ["product", "product_name", "item", "item_name"],
  quantity: ["quantity", "qty", "count", "units", "amount_ordered"],
  total: ["total", "total_usd", "total_price", "price", "amount", "cost"],
  express: ["express", "express_shipping", "is_express", "rush", "expedited"]
}
const KEYS = Object.keys(SYNONYMS) as Array<keyof Order & string>

const keyOf = (name: string): (keyof Order & string) | undefined => {
  const n = name.toLowerCase()
  return KEYS.find((k) => SYNONYMS[k].includes(n))
}

const feature = (name: string, patterns: ReadonlyArray<RegExp>, phrasings: ReadonlyArray<string>): Task.Feature => ({
  name,
  patterns,
  phrasings
})

/**
 * The extraction task.
 *
 * @since 0.1.0
 * @category tasks
 */
export const task: Task.Task<Example> = {
  name: "extraction",
  description: "extracting typed order fields from short free-text notes",
  inputKeys: ["text"],
  skill: { b0: 0.3, bReason: 0.3, bDemo: 0.3, bWrong: 0.35, bInstr: 0.4, bBad: 0.6 },
  helpful: [
    feature(
      "exact_copy",
      [/exact(ly)? as (written|it appears)|copy .*exactly/i],
      ["Copy names exactly as they appear in the text."]
    ),
    feature(
      "types",
      [/(correct|declared|proper) types?/i],
      ["Give every field its declared type (numbers as numbers, booleans as true or false)."]
    ),
    feature("every_field", [/every field|all (the )?fields/i], ["Fill in every field from the text."])
  ],
  harmful: [
    feature("approximate", [/approximat|round/i], ["Approximate the amounts."]),
    feature("guess", [/\bguess|make up/i], ["Guess any field that is not obvious."])
  ],
  example,
  solve: (inputs) => {
    const texts = [inputs["text"], ...Object.values(inputs)].filter((t): t is string => typeof t === "string")
    for (const t of texts) {
      const r = read(t)
      if (r === undefined) continue
      const gold = r.order
      return {
        task: "extraction",
        difficulty: r.difficulty,
        evidence: 0,
        gold,
        wrong: (rng) => {
          const slip = rng.int(0, 3)
          if (slip === 0) return { ...gold, quantity: gold.quantity + 1 }
          if (slip === 1) return { ...gold, express: !gold.express }
          if (slip === 2)
            return { ...gold, total: Math.round(gold.total) === gold.total ? gold.total + 1 : Math.round(gold.total) }
          return { ...gold, customer: gold.customer.split(" ")[0]! }
        },
        reasoning: (values) =>
          `The note names ${String(values["customer"])}, who wants ${String(values["quantity"])} of ${String(values["product"])} for $${String(values["total"])}.`
      }
    }
    return undefined
  },
  assign: (outputs, values) => {
    const out: Record<string, unknown> = {}
    const named = outputs.filter((o) => keyOf(o.name) !== undefined)
    for (const o of named) out[o.name] = values[keyOf(o.name)!]
    if (named.length === 0) {
      const objectField = outputs.find((o) => o.type._tag === "object" || o.type._tag === "dict")
      if (objectField !== undefined) {
        const props = objectField.type._tag === "object" ? objectField.type.schema?.properties : undefined
        const record: Record<string, unknown> = {}
        if (props !== undefined) {
          for (const p of Object.keys(props)) {
            const k = keyOf(p)
            if (k !== undefined) record[p] = values[k]
          }
        } else {
          for (const k of KEYS) record[k] = values[k]
        }
        out[objectField.name] = record
      }
    }
    return out
  },
  softFields: [],
  cues: (text) =>
    (/Order note:|ordered \d+ x |Please send me \d+ of the/.test(text) ? 2 : 0) + (/extract/i.test(text) ? 1 : 0)
}
