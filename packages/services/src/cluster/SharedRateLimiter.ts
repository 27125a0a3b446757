/**
 * Rate limits that hold across processes: a `RateLimiter` (foundation's interface) whose calls are counted in the
 * cluster's `SharedCounter`, at most `limit` per `scaleMs` window across every process sharing the database. To keep
 * a call's cost low, a process takes a lease of up to `lease` calls at a time and admits from it locally until it
 * is spent or its window ends (a lease left unused at the window's end counts as used: the limit is never passed,
 * and a quiet process wastes at most `lease - 1` calls per window).
 *
 * While the database is unreachable, calls are rejected with `RateLimited` (`onOutage: "reject"`, the default: the
 * limit holds) or counted by the process's own limiter (`"local"`: each process allows the full limit).
 *
 * {@link protection} gives the application's `Protection` with its named rate limiters (the providers',
 * `infrastructure.rateLimiters.<name>`) shared this way; `Application.layer` uses it with `storage.backend:
 * postgres` and `cluster.limits.shared` (the default).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-dspy/foundation"
 * import { SharedCounter, SharedRateLimiter } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const limiter = Effect.gen(function* () {
 *   const counter = yield* SharedCounter.SharedCounter
 *   const local = yield* RateLimiter.make("openai", { limit: 100, scaleMs: 60_000 })
 *   return SharedRateLimiter.make(local, counter, { lease: 5, onOutage: "reject" })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { type Protection, RateLimiter } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as SharedCounter from "./SharedCounter.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The calls a process takes at a time (capped at the limit). */
  readonly lease: number
  /** While the database is unreachable: reject the calls, or count them with the process's own limiter. */
  readonly onOutage: "reject" | "local"
}

interface Lease {
  tokens: number
  /** When the lease's window ends, by this process's clock. */
  endsAt: number
}

/**
 * A rate limiter counted in the shared counter, with the settings (and, under `onOutage: "local"`, the counting
 * during an outage) of `local`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  local: RateLimiter.RateLimiter,
  counter: SharedCounter.Service,
  options: Options
): RateLimiter.RateLimiter => {
  const leases = new Map<string, Lease>()
  // One lease request at a time per key: the fibers waiting then admit from the lease it brought.
  const fetching = new Map<string, Effect.Semaphore>()
  const fetchingOf = (key: string) => {
    let semaphore = fetching.get(key)
    if (semaphore === undefined) {
      semaphore = Effect.unsafeMakeSemaphore(1)
      fetching.set(key, semaphore)
    }
    return semaphore
  }

  const limited = (key: string, limit: number, scaleMs: number, retryAfterMs: number, why: string) =>
    new RateLimiter.RateLimited({
      limiter: local.name,
      key,
      retryAfterMs,
      message: `Rate limiter "${local.name}" allows ${limit} calls per ${scaleMs} ms for "${key}" across the cluster ${why}; the call was not made. Retry in ${retryAfterMs} ms.`
    })

  /** Admits from the lease, or takes a new one from the database; the hits left in the lease. */
  const hit = (key: string): Effect.Effect<RateLimiter.Admission, RateLimiter.RateLimited> =>
    Effect.gen(function* () {
      const settings = yield* local.settings
      const now = yield* Clock.currentTimeMillis
      const take = (lease: Lease | undefined) =>
        lease !== undefined && lease.tokens > 0 && now < lease.endsAt ? --lease.tokens : undefined
      const left = take(leases.get(key))
      if (left !== undefined) return { remaining: left }
      return yield* fetchingOf(key).withPermits(1)(
        Effect.gen(function* () {
          // Another fiber may have taken a lease while this one waited.
          const again = take(leases.get(key))
          if (again !== undefined) return { remaining: again }
          const want = Math.max(1, Math.min(options.lease, settings.limit))
          const grant = yield* Effect.either(
            counter.take(`limiter:${local.name}:${key}`, want, settings.limit, settings.scaleMs)
          )
          if (grant._tag === "Left") {
            if (options.onOutage === "local") return yield* local.hit(key)
            return yield* limited(
              key,
              settings.limit,
              settings.scaleMs,
              1_000,
              `and its shared counter is unreachable (${grant.left.reason})`
            )
          }
          const at = yield* Clock.currentTimeMillis
          if (grant.right.granted < 1) {
            leases.delete(key)
            return yield* limited(
              key,
              settings.limit,
              settings.scaleMs,
              Math.ceil(grant.right.windowLeftMs),
              "and that limit is reached"
            )
          }
          const lease: Lease = { tokens: Math.floor(grant.right.granted) - 1, endsAt: at + grant.right.windowLeftMs }
          leases.set(key, lease)
          return { remaining: lease.tokens }
        })
      )
    })

  const waitFor = (
    key: string,
    waitOptions?: RateLimiter.WaitOptions
  ): Effect.Effect<void, RateLimiter.RateLimited> => {
    const maxWaitMs =
      waitOptions?.maxWait === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(waitOptions.maxWait)
    const loop = (waited: number): Effect.Effect<void, RateLimiter.RateLimited> =>
      Effect.catchAll(Effect.asVoid(hit(key)), (rejected) =>
        waited + rejected.retryAfterMs > maxWaitMs
          ? Effect.fail(rejected)
          : Effect.zipRight(Effect.sleep(rejected.retryAfterMs), loop(waited + rejected.retryAfterMs))
      )
    return loop(0)
  }

  return {
    name: local.name,
    hit,
    acquire: (key) => Effect.asVoid(hit(key)),
    waitFor,
    settings: local.settings,
    reconfigure: (settings) =>
      // The next lease is taken under the new settings; the leases held run out as they are.
      local.reconfigure(settings),
    size: Effect.sync(() => leases.size)
  }
}

/**
 * The `Protection` service with its named rate limiters counted in the shared counter (one shared limiter per
 * name); breakers, bulkheads and pools stay the process's own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const protection = (
  service: Protection.Service,
  counter: SharedCounter.Service,
  options: Options
): Protection.Service => {
  const shared = new Map<RateLimiter.RateLimiter, RateLimiter.RateLimiter>()
  return {
    ...service,
    limiter: (name) =>
      Effect.map(service.limiter(name), (local) => {
        let limiter = shared.get(local)
        if (limiter === undefined) {
          limiter = make(local, counter, options)
          shared.set(local, limiter)
        }
        return limiter
      })
  }
}
