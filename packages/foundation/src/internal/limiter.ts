/**
 * The rate limiter's algorithms over per-key state. Every decision is a synchronous function of the state,
 * the settings and `now` (epoch ms read from Effect's Clock by the caller), so one decision is atomic.
 *
 * - **Token bucket**: a bucket of `limit` tokens refilled continuously at `limit` per `scaleMs`; a hit takes
 *   one token. Tokens are kept in integer units of 1/`scaleMs` token, so refills are exact (no float drift).
 *   Its window invariant: in any closed interval of length `d`, at most `limit + floor(d * limit / scaleMs)`
 *   hits are admitted (a full bucket plus what refills during `d`).
 * - **Sliding window**: a true sliding log. A hit at `t` is admitted when fewer than `limit` hits were
 *   admitted in `(t - scaleMs, t]`. The log keeps only the last `limit` admission times (a ring), which is
 *   all the decision needs. Its invariant: every half-open window of `scaleMs` holds at most `limit` admissions.
 *
 * @internal
 */
import type { RateLimiterSettings } from "../ConfigSchema.js"

/** One key's state. */
export interface Entry {
  /** The last time this key was hit. */
  lastSeen: number
  /** Token bucket: tokens in units of 1/scaleMs token; the time of the last refill. */
  units: number
  refilledAt: number
  /** Sliding log: a ring of the last admission times (oldest at `head`), `size` of them in use. */
  times: Array<number>
  head: number
  size: number
}

/** A fresh key: a full bucket, an empty log. */
export const fresh = (settings: RateLimiterSettings, now: number): Entry => ({
  lastSeen: now,
  units: settings.limit * settings.scaleMs,
  refilledAt: now,
  times: [],
  head: 0,
  size: 0
})

/**
 * Decides one hit and updates the entry: returns the hits left (>= 0) when admitted, or minus the milliseconds
 * until a hit could be admitted (< 0) when rejected.
 */
export const hit = (settings: RateLimiterSettings, entry: Entry, now: number): number => {
  entry.lastSeen = now
  return settings.algorithm === "token-bucket" ? tokenBucket(settings, entry, now) : slidingLog(settings, entry, now)
}

const tokenBucket = (settings: RateLimiterSettings, entry: Entry, now: number): number => {
  const { limit, scaleMs } = settings
  const capacity = limit * scaleMs
  if (now > entry.refilledAt) {
    entry.units = Math.min(capacity, entry.units + (now - entry.refilledAt) * limit)
    entry.refilledAt = now
  }
  if (entry.units >= scaleMs) {
    entry.units -= scaleMs
    return Math.floor(entry.units / scaleMs)
  }
  return -Math.ceil((scaleMs - entry.units) / limit)
}

const slidingLog = (settings: RateLimiterSettings, entry: Entry, now: number): number => {
  const { limit, scaleMs } = settings
  const times = entry.times
  if (entry.size < limit) {
    times[(entry.head + entry.size) % limit] = now
    entry.size++
    return remainingInLog(settings, entry, now)
  }
  const oldest = times[entry.head]!
  if (oldest <= now - scaleMs) {
    times[entry.head] = now
    entry.head = (entry.head + 1) % limit
    return remainingInLog(settings, entry, now)
  }
  return -(oldest + scaleMs - now)
}

/** Admissions still possible now: `limit` minus the log's times inside `(now - scaleMs, now]`. */
const remainingInLog = (settings: RateLimiterSettings, entry: Entry, now: number): number => {
  let inWindow = 0
  for (let i = entry.size - 1; i >= 0; i--) {
    if (entry.times[(entry.head + i) % settings.limit]! > now - settings.scaleMs) inWindow++
    else break
  }
  return settings.limit - inWindow
}

/**
 * True when the key's state equals a fresh key's: its last hit is at least `scaleMs` old, so its bucket has
 * refilled and its log holds nothing inside the window. Dropping such a key changes no decision.
 */
export const isIdle = (settings: RateLimiterSettings, entry: Entry, now: number): boolean =>
  now - entry.lastSeen >= settings.scaleMs

/**
 * Carries an entry over to new settings: tokens are rescaled (and capped at the new capacity); the log keeps
 * its most recent `limit` times. A change of algorithm starts the key afresh.
 */
export const adapt = (previous: RateLimiterSettings, next: RateLimiterSettings, entry: Entry, now: number): Entry => {
  if (previous.algorithm !== next.algorithm) return fresh(next, now)
  if (next.algorithm === "token-bucket") {
    const tokens = entry.units / previous.scaleMs
    return {
      ...entry,
      times: [],
      head: 0,
      size: 0,
      units: Math.min(next.limit * next.scaleMs, Math.floor(tokens * next.scaleMs))
    }
  }
  const kept: Array<number> = []
  for (let i = Math.max(0, entry.size - next.limit); i < entry.size; i++) {
    kept.push(entry.times[(entry.head + i) % previous.limit]!)
  }
  return { ...entry, times: kept, head: 0, size: kept.length }
}
