/**
 * The extraction task: typed fields of an order (customer, product, quantity, total, express shipping) from
 * a short free-text note, for the JSON adapter and typed outputs. Outputs may be the separate fields or one
 * object-typed field holding them all. Wrong answers get one field slightly wrong.
 *
 * @since 0.1.0
 */
import type * as Concepts from "./Concepts.js"
import type { Random } from "@effect-dspy/foundation"
import * as Scan from "./internal/Scan.js"
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

/**
 * The end of an order note: `before$(\d+\.\d{2})between(alternative)after` closing the text. Read from the end,
 * where it is fixed (the total's digits run back to the `$`), so it has one possible start; undefined when the
 * text does not end so.
 */
const noteTail = (
  text: string,
  before: string,
  between: string,
  alternatives: ReadonlyArray<string>,
  after: string
): { readonly start: number; readonly total: string; readonly choice: string } | undefined => {
  if (!text.endsWith(after)) return undefined
  const end = text.length - after.length
  const choice = alternatives.find((a) => end >= a.length && text.startsWith(a, end - a.length))
  if (choice === undefined) return undefined
  const cents = end - choice.length - between.length
  if (cents < 0 || !text.startsWith(between, cents)) return undefined
  const point = cents - 3
  if (point < 0 || text.charCodeAt(point) !== 46) return undefined
  if (!Scan.isDigit(text.charCodeAt(cents - 2)) || !Scan.isDigit(text.charCodeAt(cents - 1))) return undefined
  let dollars = point
  while (dollars > 0 && Scan.isDigit(text.charCodeAt(dollars - 1))) dollars--
  if (dollars === point || text.charCodeAt(dollars - 1) !== 36) return undefined
  const start = dollars - 1 - before.length
  if (start < 0 || !text.startsWith(before, start)) return undefined
  return { start, total: text.slice(dollars, cents), choice }
}

/**
 * `(.+?)sep(\d+)mid(.+?)` filling `text` from `from` to `end`: the first `sep` (after one character at least)
 * followed by digits and `mid` with something left before `end`, as the regex's lazy captures take it.
 */
const lazyNumber = (
  text: string,
  from: number,
  end: number,
  sep: string,
  mid: string
): readonly [first: string, number: string, second: string] | undefined => {
  for (let at = text.indexOf(sep, from + 1); at >= 0 && at < end; at = text.indexOf(sep, at + 1)) {
    const digits = at + sep.length
    const digitsEnd = Scan.runEnd(text, digits, Scan.isDigit)
    if (digitsEnd === digits || !text.startsWith(mid, digitsEnd)) continue
    const second = digitsEnd + mid.length
    if (second >= end) continue
    return [text.slice(from, at), text.slice(digits, digitsEnd), text.slice(second, end)]
  }
  return undefined
}

/** `(.+?)sep(.+?)` filling `text` from `from` to `end` (the first `sep` after one character, before `end`). */
const lazyPair = (
  text: string,
  from: number,
  end: number,
  sep: string
): readonly [first: string, second: string] | undefined => {
  const at = text.indexOf(sep, from + 1)
  if (at < 0 || at + sep.length >= end) return undefined
  return [text.slice(from, at), text.slice(at + sep.length, end)]
}

type Fields = Readonly<Record<"customer" | "product" | "quantity" | "total" | "express", string>>

// Each template is read as its regex reads it (the regexes backtracked quadratically; recheck through
// `pnpm lint:regex`): `.` crosses no line break, so a note holding one is none of them.
const TEMPLATES: ReadonlyArray<{
  readonly write: (o: Order) => string
  /** `^(.+?) ordered (\d+) x (.+?) for a total of \$(\d+\.\d{2})\. (Express shipping was requested|...)\.$` and so on. */
  readonly read: (text: string) => Fields | undefined
  readonly difficulty: number
}> = [
  {
    write: (o) =>
      `${o.customer} ordered ${o.quantity} x ${o.product} for a total of $${o.total.toFixed(2)}. ${o.express ? "Express shipping was requested." : "Standard shipping was selected."}`,
    read: (text) => {
      const tail = noteTail(
        text,
        " for a total of ",
        ". ",
        ["Express shipping was requested", "Standard shipping was selected"],
        "."
      )
      if (tail === undefined) return undefined
      const head = lazyNumber(text, 0, tail.start, " ordered ", " x ")
      if (head === undefined) return undefined
      return { customer: head[0], quantity: head[1], product: head[2], total: tail.total, express: tail.choice }
    },
    difficulty: 0.5
  },
  {
    write: (o) =>
      `Order note: ${o.quantity} units of ${o.product} for ${o.customer}, total $${o.total.toFixed(2)}, ${o.express ? "express delivery" : "regular delivery"}.`,
    read: (text) => {
      const prefix = "Order note: "
      if (!text.startsWith(prefix)) return undefined
      const tail = noteTail(text, ", total ", ", ", ["express delivery", "regular delivery"], ".")
      if (tail === undefined) return undefined
      const digitsEnd = Scan.runEnd(text, prefix.length, Scan.isDigit)
      const units = " units of "
      if (digitsEnd === prefix.length || !text.startsWith(units, digitsEnd)) return undefined
      const rest = lazyPair(text, digitsEnd + units.length, tail.start, " for ")
      if (rest === undefined) return undefined
      const quantity = text.slice(prefix.length, digitsEnd)
      return { quantity, product: rest[0], customer: rest[1], total: tail.total, express: tail.choice }
    },
    difficulty: 0
  },
  {
    write: (o) =>
      `Hi, this is ${o.customer}. Please send me ${o.quantity} of the ${o.product}. I was charged $${o.total.toFixed(2)}. ${o.express ? "I need it fast, so express please." : "No rush on shipping."}`,
    read: (text) => {
      const prefix = "Hi, this is "
      if (!text.startsWith(prefix)) return undefined
      const tail = noteTail(
        text,
        ". I was charged ",
        ". ",
        ["I need it fast, so express please.", "No rush on shipping."],
        ""
      )
      if (tail === undefined) return undefined
      const head = lazyNumber(text, prefix.length, tail.start, ". Please send me ", " of the ")
      if (head === undefined) return undefined
      return { customer: head[0], quantity: head[1], product: head[2], total: tail.total, express: tail.choice }
    },
    difficulty: -0.5
  }
]

const example = (rng: Random.Random): Example => {
  const quantity = rng.between(1, 9)
  const unit = rng.between(5, 120) + rng.pick([0, 0.49, 0.99, 0.5, 0.25])!
  const order: Order = {
    customer: `${rng.pick(FIRST)!} ${rng.pick(LAST)!}`,
    product: rng.pick(PRODUCTS)!,
    quantity,
    total: Math.round(quantity * unit * 100) / 100,
    express: rng.chance(0.4)
  }
  return { text: rng.pick(TEMPLATES)!.write(order), ...order }
}

/**
 * Reads an order note of this task; undefined when the text is not one.
 *
 * @since 0.1.0
 * @category solver
 */
export const read = (text: string): { readonly order: Order; readonly difficulty: number } | undefined => {
  for (const t of TEMPLATES) {
    const trimmed = text.trim()
    const raw = Scan.hasLineBreak(trimmed) ? undefined : t.read(trimmed)
    if (raw === undefined) continue
    return {
      order: {
        customer: raw.customer,
        product: raw.product,
        quantity: Number(raw.quantity),
        total: Number(raw.total),
        express: /express/i.test(raw.express)
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

/**
 * The extraction task's concept inventory: copy names exactly, give fields their declared types, fill in
 * every field, keep amounts exact; harmful: approximate, guess.
 *
 * @since 0.1.0
 * @category concepts
 */
export const inventory: Concepts.Inventory = {
  lexicon: {
    field: [
      "field",
      "fields",
      "attribute",
      "attributes",
      "key",
      "keys",
      "detail",
      "details",
      "value",
      "values",
      "property",
      "properties",
      "entry",
      "entries",
      "slot",
      "slots",
      "flag",
      "flags"
    ]
  },
  vocabulary: [
    "extract extraction order orders note notes customer name names product item quantity total price amount",
    "cents dollar dollars shipping express delivery json object record type types boolean number string text",
    "field fields copy verbatim exactly parse structured data fill attribute attributes value values state states"
  ],
  categories: {
    missed_field: "a field stated in the text (the shipping option) was missed",
    truncated_name: "a name was shortened instead of copied in full",
    rounded_amount: "an amount was rounded",
    misread_number: "a number was misread"
  },
  canonical:
    "Extract the order from the note. Copy names exactly as they appear in the text. Give every field its declared type (numbers as numbers, booleans as true or false), fill in every field from the text, and keep amounts exact to the cent.",
  cap: 1.6,
  concepts: [
    {
      id: "exact_copy",
      polarity: "helpful",
      description: "copy names exactly as written",
      addresses: ["truncated_name"],
      weight: 0.1,
      specific: 0.35,
      patterns: [
        "(copy|reproduce|keep|use|write|give|extract) .. (name|names|text|wording|string|strings) .. (exact|exactly|verbatim|written|appear|appears|given|full|whole)",
        "(exactly|verbatim) as (written|given|stated|it|they)",
        "verbatim",
        "(full|complete|whole|entire) (name|names)",
        "! (shorten|abbreviate|truncate) .. (name|names)"
      ],
      phrasings: ["Copy names exactly as they appear in the text."],
      surfaceForms: ["Reproduce the customer's full name verbatim.", "Never shorten names."]
    },
    {
      id: "types",
      polarity: "helpful",
      description: "give every field its declared type",
      addresses: ["missed_field", "misread_number"],
      weight: 0.1,
      specific: 0.2,
      patterns: [
        "(correct|declared|proper|right|expected|specified|requested|schema) (type|types|data|format)",
        "data (type|types)",
        "(respect|follow|honor|honour|match|use|keep) .. (type|types)",
        "(number|numbers|numeric|quantity|quantities) as (number|numbers|numeric|integer|integers)",
        "(boolean|booleans)",
        "true or false"
      ],
      phrasings: ["Give every field its declared type (numbers as numbers, booleans as true or false)."],
      surfaceForms: ["Respect the data type of each attribute."]
    },
    {
      id: "every_field",
      polarity: "helpful",
      description: "fill in every field from the text",
      addresses: ["missed_field"],
      weight: 0.1,
      specific: 0.3,
      patterns: [
        "(every|each|all) .. @field",
        "! (miss|omit|skip|leave|drop|overlook|forget) .. @field",
        "(express|shipping|delivery) .. (option|mention|detail|flag|choice)"
      ],
      phrasings: ["Fill in every field from the text."],
      surfaceForms: ["Don't leave out any attribute the note states."]
    },
    {
      id: "exact_amounts",
      polarity: "helpful",
      description: "keep amounts exact",
      addresses: ["rounded_amount", "misread_number"],
      weight: 0.05,
      specific: 0.35,
      patterns: [
        "(exact|precise|full) (amount|amounts|total|totals|price|prices|number|numbers|figure|figures)",
        "(keep|include|preserve|copy) .. (cents|decimals|decimal|cent)",
        "(amount|amounts|total|totals|price|prices) .. (exact|exactly|precise|cent|cents)"
      ],
      phrasings: ["Keep amounts exact to the cent."],
      surfaceForms: ["Preserve the cents of every price."]
    },
    {
      id: "approximate",
      polarity: "harmful",
      description: "approximate the amounts",
      addresses: ["rounded_amount"],
      weight: 0.45,
      specific: 0.2,
      inverse: "exact_amounts",
      opposes: ["exact_amounts"],
      patterns: [
        "(approximate|approximately|approximation|roughly|round|rounding)",
        "(nearest|whole) (dollar|dollars|number)"
      ],
      phrasings: ["Approximate the amounts."],
      surfaceForms: ["Round prices to whole dollars."]
    },
    {
      id: "guess",
      polarity: "harmful",
      description: "guess fields that are not obvious",
      addresses: ["missed_field"],
      weight: 0.45,
      specific: 0.1,
      patterns: ["(guess|guessing|estimate)", "(make|made) up", "(invent|fabricate)"],
      phrasings: ["Guess any field that is not obvious."],
      surfaceForms: ["Invent a value if a field is unclear."]
    }
  ]
}

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
  skill: { b0: 0.3, bReason: 0.3, bDemo: 0.3, bWrong: 0.35, demoCap: 4 },
  inventory,
  example,
  solve: (inputs) => {
    const texts = [inputs["text"], ...Object.values(inputs)].filter((t): t is string => typeof t === "string")
    for (const t of texts) {
      const r = read(t)
      if (r === undefined) continue
      const gold = r.order
      const failures: Array<Task.Failure> = [
        {
          category: "missed_field",
          values: { ...gold, express: !gold.express },
          detail: "the shipping option was missed"
        },
        {
          category: "truncated_name",
          values: { ...gold, customer: gold.customer.split(" ")[0]! },
          detail: "the customer's last name was dropped"
        },
        {
          category: "misread_number",
          values: { ...gold, quantity: gold.quantity + 1 },
          detail: "the quantity was misread"
        }
      ]
      if (Math.round(gold.total) !== gold.total) {
        failures.push({
          category: "rounded_amount",
          values: { ...gold, total: Math.round(gold.total) },
          detail: "the total was rounded"
        })
      }
      return {
        task: "extraction",
        key: `extraction:${t.trim()}`,
        difficulty: r.difficulty,
        evidence: 0,
        gold,
        risks: failures.map((f) => f.category),
        failures,
        intermediates: [gold.customer, gold.quantity],
        family: { kind: "extraction", size: 1, tags: [String(r.difficulty)] },
        reasoning: (failure) => {
          const v = failure === undefined ? gold : failure.values
          return `The note names ${String(v["customer"])}, who wants ${String(v["quantity"])} of ${String(v["product"])} for $${String(v["total"])}.`
        }
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
