import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as CanonicalJson from "../src/CanonicalJson.js"

/** The same value with every object's keys inserted in a shuffled order. */
const reordered = (value: unknown, order: (keys: Array<string>) => Array<string>): unknown => {
  if (Array.isArray(value)) return value.map((v) => reordered(v, order))
  if (typeof value !== "object" || value === null) return value
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  // defineProperty, not `out[k] =`: a `__proto__` key (legal JSON) must stay an own member, not set the prototype.
  for (const k of order(Object.keys(record))) {
    Object.defineProperty(out, k, {
      value: reordered(record[k], order),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

const shuffler = (seed: number) => (keys: Array<string>) =>
  keys
    .map((k, i) => [k, (i * 2654435761 + seed) % 97] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([k]) => k)

describe("CanonicalJson", () => {
  it("is independent of key order, for any JSON value (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        const a = CanonicalJson.stringify(value)
        const b = CanonicalJson.stringify(reordered(value, shuffler(seed)))
        const c = CanonicalJson.stringify(reordered(value, (keys) => [...keys].reverse()))
        return (
          a === b && a === c && CanonicalJson.sha256(value) === CanonicalJson.sha256(reordered(value, shuffler(seed)))
        )
      })
    )
  })

  it("is valid JSON that parses back to the same value, keys sorted (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = CanonicalJson.stringify(value)
        const back = JSON.parse(text)
        // Re-canonicalising the parsed value gives the same text: the form is a fixed point.
        return CanonicalJson.stringify(back) === text && JSON.stringify(back) === text
      })
    )
  })

  it("distinguishes values JSON would not, and gives stable text across runs", () => {
    assert.strictEqual(CanonicalJson.stringify({ b: 1, a: [true, undefined, () => 1] }), '{"a":[true,null,null],"b":1}')
    assert.strictEqual(CanonicalJson.stringify({ a: 1, b: undefined, f: () => 2 }), CanonicalJson.stringify({ a: 1 }))
    assert.notStrictEqual(CanonicalJson.stringify({ x: Number.NaN }), CanonicalJson.stringify({ x: null }))
    assert.strictEqual(CanonicalJson.stringify([Number.NaN, Infinity, -Infinity]), '["NaN","Infinity","-Infinity"]')
    assert.strictEqual(CanonicalJson.stringify({ n: 10n }), '{"n":"10"}')
    assert.strictEqual(CanonicalJson.stringify(new Date(0)), '"1970-01-01T00:00:00.000Z"')
    assert.strictEqual(CanonicalJson.stringify({ toJSON: () => ({ z: 1, a: 2 }) }), '{"a":2,"z":1}')
    assert.strictEqual(CanonicalJson.stringify(undefined), "null")
    // A golden value: the text (and so every key built on it) must not change between runs or releases.
    assert.strictEqual(
      CanonicalJson.sha256({ model: "gpt", messages: [{ role: "user", content: "hi" }], temperature: 0 }),
      CanonicalJson.sha256Hex('{"messages":[{"content":"hi","role":"user"}],"model":"gpt","temperature":0}')
    )
    assert.strictEqual(
      CanonicalJson.sha256Hex("{}"),
      "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
  })

  it("keeps a __proto__ member (legal JSON) as data, distinct from its absence", () => {
    const parsed = JSON.parse('{"b":1,"__proto__":{"x":2}}') as unknown
    assert.strictEqual(CanonicalJson.stringify(parsed), '{"__proto__":{"x":2},"b":1}')
    assert.notStrictEqual(CanonicalJson.stringify(parsed), CanonicalJson.stringify({ b: 1 }))
    assert.strictEqual(CanonicalJson.stringifyWithout(parsed as object, new Set(["b"])), '{"__proto__":{"x":2}}')
    assert.isUndefined(({} as Record<string, unknown>).x)
  })

  it("stringifyWithout leaves the excluded top-level keys out", () => {
    const excluded = new Set(["apiKey"])
    assert.strictEqual(
      CanonicalJson.stringifyWithout({ b: 1, apiKey: "sk", a: { apiKey: 2 } }, excluded),
      '{"a":{"apiKey":2},"b":1}'
    )
  })

  it("throws a TypeError naming the path for a cyclic value, and accepts shared (acyclic) references", () => {
    const cyclic: Record<string, unknown> = { a: { b: [1] } }
    ;(cyclic.a as Record<string, unknown>).self = cyclic
    assert.throws(() => CanonicalJson.stringify(cyclic), TypeError, "$.a.self")
    const shared = { x: 1 }
    assert.strictEqual(CanonicalJson.stringify({ p: shared, q: [shared] }), '{"p":{"x":1},"q":[{"x":1}]}')
  })
})
