/**
 * Latency profiles: none, fixed, or lognormal with a given mean and 99th percentile. In-process the delay
 * goes through Effect's Clock (so `TestClock` drives it); the server waits in real time.
 *
 * @since 0.1.0
 */
import type { Random } from "@effect-dspy/foundation"

/**
 * A latency profile.
 *
 * @since 0.1.0
 * @category models
 */
export type Profile =
  | { readonly _tag: "none" }
  | { readonly _tag: "fixed"; readonly ms: number }
  | { readonly _tag: "lognormal"; readonly meanMs: number; readonly p99Ms: number }

/**
 * No latency.
 *
 * @since 0.1.0
 * @category constants
 */
export const none: Profile = { _tag: "none" }

/**
 * A fixed delay.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fixed = (ms: number): Profile => ({ _tag: "fixed", ms })

/**
 * A lognormal delay with the given mean and 99th percentile (the p99 must exceed the mean).
 *
 * @since 0.1.0
 * @category constructors
 */
export const lognormal = (meanMs: number, p99Ms: number): Profile => ({ _tag: "lognormal", meanMs, p99Ms })

const Z99 = 2.3263478740408408

/**
 * The (mu, sigma) of a lognormal with the given mean and p99: ln p99 - ln mean = z * sigma - sigma^2 / 2.
 * When the ratio is beyond what a lognormal can have, sigma is capped at z (the largest p99/mean ratio).
 *
 * @since 0.1.0
 * @category math
 */
export const lognormalParameters = (meanMs: number, p99Ms: number): { readonly mu: number; readonly sigma: number } => {
  const d = Math.log(p99Ms) - Math.log(meanMs)
  const disc = Z99 * Z99 - 2 * d
  const sigma = disc <= 0 ? Z99 : Z99 - Math.sqrt(disc)
  return { mu: Math.log(meanMs) - (sigma * sigma) / 2, sigma }
}

/**
 * Checks a profile; returns a message saying what to fix, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (profile: Profile): string | undefined => {
  switch (profile._tag) {
    case "none":
      return undefined
    case "fixed":
      return Number.isFinite(profile.ms) && profile.ms >= 0
        ? undefined
        : `fixed latency must be >= 0 ms, got ${profile.ms}`
    case "lognormal":
      if (!(profile.meanMs > 0)) return `lognormal mean must be > 0 ms, got ${profile.meanMs}`
      if (!(profile.p99Ms > profile.meanMs)) {
        return `lognormal p99 (${profile.p99Ms} ms) must be greater than the mean (${profile.meanMs} ms)`
      }
      return undefined
  }
}

/**
 * One delay in milliseconds.
 *
 * @since 0.1.0
 * @category sampling
 */
export const sample = (profile: Profile, rng: Random.Random): number => {
  switch (profile._tag) {
    case "none":
      return 0
    case "fixed":
      return profile.ms
    case "lognormal": {
      const { mu, sigma } = lognormalParameters(profile.meanMs, profile.p99Ms)
      return Math.exp(mu + sigma * rng.normal())
    }
  }
}

const duration = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim())
  if (m === null) return undefined
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1)
}

/**
 * Parses a profile from text: `none`, `50ms` or `fixed:50ms`, `lognormal:50ms:400ms` (mean and p99).
 * Returns a message for text it cannot read.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Profile | string => {
  const t = text.trim()
  if (t === "" || t === "none" || t === "0") return none
  const parts = t.split(":")
  if (parts[0] === "lognormal" && parts.length === 3) {
    const mean = duration(parts[1]!)
    const p99 = duration(parts[2]!)
    if (mean !== undefined && p99 !== undefined) {
      const p = lognormal(mean, p99)
      return validate(p) ?? p
    }
  }
  const single = duration(parts[0] === "fixed" && parts.length === 2 ? parts[1]! : t)
  if (single !== undefined) return fixed(single)
  return `cannot read latency "${text}": use none, 50ms, fixed:50ms or lognormal:<mean>:<p99> (e.g. lognormal:50ms:400ms)`
}
