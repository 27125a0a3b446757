/**
 * Fault profiles for the simulated LM and its server: seeded rates per fault kind, off by default. Each
 * call draws at most one fault from a stream seeded by (fault seed, call number), so a retry of the same
 * prompt can succeed. Output faults (malformed, empty) change the answer text; transport faults fail the
 * call in-process with the matching typed LM error, and over HTTP with the matching status or socket
 * behaviour.
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"

/**
 * The fault kinds.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | "missing_marker"
  | "truncated_json"
  | "extra_prose"
  | "empty"
  | "rate_limit"
  | "server_error"
  | "unavailable"
  | "timeout"
  | "reset"
  | "slow_stream"
  | "truncated_stream"

/**
 * Every kind, in a fixed order.
 *
 * @since 0.1.0
 * @category constants
 */
export const kinds: ReadonlyArray<Kind> = [
  "missing_marker",
  "truncated_json",
  "extra_prose",
  "empty",
  "rate_limit",
  "server_error",
  "unavailable",
  "timeout",
  "reset",
  "slow_stream",
  "truncated_stream"
]

/**
 * The kinds that change the answer text (malformed or empty output).
 *
 * @since 0.1.0
 * @category constants
 */
export const outputKinds: ReadonlyArray<Kind> = ["missing_marker", "truncated_json", "extra_prose", "empty"]

/**
 * A fault profile: a rate in [0, 1] per kind (their sum at most 1), a seed, the Retry-After of rate limits,
 * how long a `timeout` fault holds the call, and the extra delay between chunks of a `slow_stream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Profile {
  readonly rates: { readonly [K in Kind]?: number }
  readonly seed?: number
  readonly retryAfterSeconds?: number
  readonly timeoutMs?: number
  readonly slowChunkMs?: number
}

/**
 * No faults.
 *
 * @since 0.1.0
 * @category constants
 */
export const none: Profile = { rates: {} }

/**
 * A profile spreading a total rate evenly over the given kinds (by default all of them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const uniform = (total: number, over: ReadonlyArray<Kind> = kinds, seed = 0): Profile => {
  const rates: { [K in Kind]?: number } = {}
  for (const k of over) rates[k] = total / Math.max(1, over.length)
  return { rates, seed }
}

/**
 * Checks a profile; returns a message saying what to fix, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (profile: Profile): string | undefined => {
  let sum = 0
  for (const [k, r] of Object.entries(profile.rates)) {
    if (!kinds.includes(k as Kind)) return `unknown fault kind "${k}"; known kinds: ${kinds.join(", ")}`
    if (typeof r !== "number" || !Number.isFinite(r) || r < 0 || r > 1)
      return `fault rate of ${k} must be in [0, 1], got ${r}`
    sum += r
  }
  if (sum > 1 + 1e-9) return `fault rates must sum to at most 1, got ${sum}`
  for (const key of ["retryAfterSeconds", "timeoutMs", "slowChunkMs"] as const) {
    const v = profile[key]
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) return `${key} must be a non-negative number, got ${v}`
  }
  return undefined
}

/**
 * The fault (if any) of call number `call`, restricted to the kinds in `allowed`.
 *
 * @since 0.1.0
 * @category drawing
 */
export const draw = (profile: Profile, call: number, allowed: ReadonlyArray<Kind> = kinds): Kind | undefined => {
  const u = Random.fromState(Random.hashParts("fault", profile.seed ?? 0, call)).next()
  let acc = 0
  for (const k of kinds) {
    const r = allowed.includes(k) ? (profile.rates[k] ?? 0) : 0
    acc += r
    if (u < acc) return k
  }
  return undefined
}

/**
 * The `[[ ## name ## ]]` headers of a text (each with the newline after it, if any), left to right: what
 * `/\[\[ ## [^\]]+? ## \]\]\n?/g` matched, in one pass (that regex backtracks quadratically on many `[[ ## ` with
 * no `]` after them). A name holds no `]`, so a header starting at `[[ ## ` can only end at the first `]` after it.
 */
const markerHeaders = (text: string): Array<{ readonly start: number; readonly end: number }> => {
  const out: Array<{ start: number; end: number }> = []
  let bracket = -1
  let from = 0
  for (;;) {
    const at = text.indexOf("[[ ## ", from)
    if (at < 0) return out
    const name = at + 6
    if (bracket < name) bracket = text.indexOf("]", name)
    if (bracket < 0) return out
    const close = bracket - 4
    if (close > name && text.startsWith(" ## ]]", close)) {
      const end = text[close + 6] === "\n" ? close + 7 : close + 6
      out.push({ start: at, end })
      from = end
    } else {
      from = at + 1
    }
  }
}

/**
 * Corrupts an answer text for an output fault kind: `missing_marker` drops the last `[[ ## ... ## ]]`
 * header (or the closing brace of JSON), `truncated_json` cuts the text in half, `extra_prose` wraps it in
 * chatter, `empty` empties it. Other kinds leave it unchanged.
 *
 * @since 0.1.0
 * @category drawing
 */
export const corrupt = (content: string, kind: Kind, rng: Random.Random): string => {
  switch (kind) {
    case "missing_marker": {
      const headers = markerHeaders(content)
      const victim = headers.length > 1 ? headers[headers.length - 2]! : headers[0]
      if (victim !== undefined) return content.slice(0, victim.start) + content.slice(victim.end)
      const brace = content.lastIndexOf("}")
      return brace >= 0 ? content.slice(0, brace) : `${content} [[ ## completed`
    }
    case "truncated_json":
      return content.slice(0, Math.max(1, Math.floor(content.length * (0.3 + 0.4 * rng.next()))))
    case "extra_prose":
      return `Sure! Here is what you asked for:\n${content}\nLet me know if you need anything else.`
    case "empty":
      return ""
    default:
      return content
  }
}
