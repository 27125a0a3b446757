/**
 * Per-tenant limits (Config `tenants.*`): a tenant's request rate, LM calls and cost per budget window,
 * concurrent optimization jobs and stored modules. Exceeding one fails that tenant's request with
 * `TenantLimitExceeded`; other tenants are unaffected. The application checks them in its tenant-scoped services
 * (executions, module creation, optimization jobs) and the HTTP API checks the request rate. A tenant with no
 * limits configured costs one map look-up per check.
 *
 * @example
 * ```ts
 * import { Tenants } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const tenants = yield* Tenants.make({ limits: { acme: { lmCalls: 2 } } })
 *   tenants.charge("acme", 2, 0.01)
 *   return yield* Effect.flip(tenants.admitExecution("acme")) // TenantLimitExceeded (lm_calls)
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Config, type ConfigSchema, RateLimiter, Tenant } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as SharedCounter from "./cluster/SharedCounter.js"

/**
 * A tenant's limits (see `ConfigSchema.TenantLimits`).
 *
 * @since 0.1.0
 * @category models
 */
export type Limits = ConfigSchema.TenantLimits

/**
 * What a tenant used in its current budget window.
 *
 * @since 0.1.0
 * @category models
 */
export interface Usage {
  readonly lmCalls: number
  readonly costUsd: number
  readonly windowStart: number
}

/**
 * The per-tenant limits service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The limits of a tenant (its own over the defaults), or `undefined` when it has none. */
  readonly limitsOf: (tenant: string) => Limits | undefined
  /** Counts one request against the tenant's `requestsPerMinute`. */
  readonly admitRequest: (tenant: string) => Effect.Effect<void, Tenant.TenantLimitExceeded>
  /** Fails when the tenant's LM-call or cost budget of the window is spent. */
  readonly admitExecution: (tenant: string) => Effect.Effect<void, Tenant.TenantLimitExceeded>
  /** Records LM calls and cost spent by the tenant. */
  readonly charge: (tenant: string, lmCalls: number, costUsd: number) => void
  /** Fails when the tenant already runs `concurrentJobs` optimization jobs (`active` of them now). */
  readonly admitJob: (tenant: string, active: number) => Effect.Effect<void, Tenant.TenantLimitExceeded>
  /** Fails when the tenant already stores `maxModules` modules (`count` of them now). */
  readonly admitModule: (tenant: string, count: number) => Effect.Effect<void, Tenant.TenantLimitExceeded>
  /** What the tenant used in its current budget window. */
  readonly usage: (tenant: string) => Effect.Effect<Usage>
}

/**
 * The per-tenant limits tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Tenants extends Context.Tag("@effect-dspy/services/Tenants")<Tenants, Service>() {}

/**
 * Options: the `tenants` section of the config.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly defaults?: Limits | undefined
  readonly limits?: { readonly [tenant: string]: Limits } | undefined
}

/**
 * The cluster's shared counters (`cluster/SharedCounter`), when the application runs in cluster mode with shared
 * budgets or limits: every process's LM calls and cost of a tenant then count against one budget. `syncMs` (default
 * 1000) is how stale a process's view of the other processes' spend may be.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shared {
  readonly counter: SharedCounter.Service
  readonly syncMs?: number | undefined
}

/**
 * The shared counter keys of a tenant's budgets.
 *
 * @since 0.1.0
 * @category constants
 */
export const sharedKeys = {
  lmCalls: (tenant: string): string => `tenant:${tenant}:lm_calls`,
  costUsd: (tenant: string): string => `tenant:${tenant}:cost_usd`
} as const

interface Ledger {
  lmCalls: number
  costUsd: number
  windowStart: number
  /** Spent here and not yet added to the shared counters. */
  pendingCalls: number
  pendingCost: number
  syncedAt: number | undefined
}

const dayMs = 86_400_000

const exceeded = (
  tenant: string,
  limit: Tenant.TenantLimitExceeded["limit"],
  allowed: number,
  used: number,
  what: string,
  retryAfterMs?: number
) =>
  new Tenant.TenantLimitExceeded({
    message: `tenant "${tenant}" is over its ${what} (${used} of ${allowed}); raise tenants.limits.${tenant} or wait`,
    tenant,
    limit,
    allowed,
    used,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  })

const isEmpty = (limits: Limits) => Object.values(limits).every((v) => v === undefined)

/**
 * Makes the limits service; with `shared` (the cluster's counters), the LM-call and cost budgets count the spend
 * of every process (see {@link Shared}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}, shared?: Shared): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const defaults = options.defaults ?? {}
    const resolved = new Map<string, Limits | undefined>()
    const limitsOf = (tenant: string): Limits | undefined => {
      if (resolved.has(tenant)) return resolved.get(tenant)
      const merged = { ...defaults, ...options.limits?.[tenant] }
      const limits = isEmpty(merged) ? undefined : merged
      resolved.set(tenant, limits)
      return limits
    }
    const limiters = new Map<number, RateLimiter.RateLimiter>()
    const limiterFor = (perMinute: number) =>
      Effect.suspend(() => {
        const found = limiters.get(perMinute)
        if (found !== undefined) return Effect.succeed(found)
        return Effect.tap(
          RateLimiter.make(`tenants_${perMinute}`, {
            limit: perMinute,
            scaleMs: 60_000,
            algorithm: "token-bucket"
          }).pipe(Effect.orDie),
          (limiter) => Effect.sync(() => limiters.set(perMinute, limiter))
        )
      })
    const ledgers = new Map<string, Ledger>()
    const ledger = (tenant: string, now: number, windowMs: number) => {
      let entry = ledgers.get(tenant)
      if (entry === undefined || now - entry.windowStart >= windowMs) {
        entry = { lmCalls: 0, costUsd: 0, windowStart: now, pendingCalls: 0, pendingCost: 0, syncedAt: undefined }
        ledgers.set(tenant, entry)
      }
      return entry
    }
    // With the cluster's counters: what this process spent goes to the tenant's shared counters (at the next
    // admission), and the cluster-wide totals they answer replace the ledger's, so every process sees the budget
    // the others spent (at most `syncMs` late).
    const syncMs = shared?.syncMs ?? 1_000
    const sync = (tenant: string, entry: Ledger, now: number, windowMs: number): Effect.Effect<void> => {
      const counter = shared?.counter
      if (
        counter === undefined ||
        (entry.pendingCalls === 0 &&
          entry.pendingCost === 0 &&
          entry.syncedAt !== undefined &&
          now - entry.syncedAt < syncMs)
      )
        return Effect.void
      const calls = entry.pendingCalls
      const cost = entry.pendingCost
      entry.pendingCalls = 0
      entry.pendingCost = 0
      entry.syncedAt = now
      return Effect.matchEffect(
        Effect.all([
          counter.add(sharedKeys.lmCalls(tenant), calls, windowMs),
          counter.add(sharedKeys.costUsd(tenant), cost, windowMs)
        ]),
        {
          // The database is out of reach: the ledger goes on locally and hands the spend over at the next sync.
          onFailure: (error) =>
            Effect.zipRight(
              Effect.sync(() => {
                entry.pendingCalls += calls
                entry.pendingCost += cost
              }),
              Effect.logWarning(`tenant "${tenant}" budget not shared this time: ${error.message}`)
            ),
          onSuccess: ([callsGrant, costGrant]) =>
            Effect.sync(() => {
              // What was spent here meanwhile is pending again: the shared totals plus that.
              entry.lmCalls = callsGrant.used + entry.pendingCalls
              entry.costUsd = costGrant.used + entry.pendingCost
              entry.windowStart = now - (windowMs - callsGrant.windowLeftMs)
            })
        }
      )
    }
    const service: Service = {
      limitsOf,
      admitRequest: (tenant) => {
        const perMinute = limitsOf(tenant)?.requestsPerMinute
        if (perMinute === undefined) return Effect.void
        return Effect.flatMap(limiterFor(perMinute), (limiter) =>
          Effect.mapError(limiter.hit(tenant), (e) =>
            exceeded(tenant, "rate", perMinute, perMinute + 1, "requests a minute", Math.ceil(e.retryAfterMs))
          )
        )
      },
      admitExecution: (tenant) => {
        const limits = limitsOf(tenant)
        if (limits === undefined || (limits.lmCalls === undefined && limits.costUsd === undefined)) return Effect.void
        const windowMs = limits.budgetWindowMs ?? dayMs
        const check = (spent: Ledger) => {
          if (limits.lmCalls !== undefined && spent.lmCalls >= limits.lmCalls) {
            return Effect.fail(exceeded(tenant, "lm_calls", limits.lmCalls, spent.lmCalls, "LM-call budget"))
          }
          if (limits.costUsd !== undefined && spent.costUsd >= limits.costUsd) {
            return Effect.fail(exceeded(tenant, "cost", limits.costUsd, spent.costUsd, "cost budget (USD)"))
          }
          return Effect.void
        }
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const spent = ledger(tenant, now, windowMs)
          return shared === undefined
            ? check(spent)
            : Effect.zipRight(
                sync(tenant, spent, now, windowMs),
                Effect.suspend(() => check(spent))
              )
        })
      },
      charge: (tenant, lmCalls, costUsd) => {
        const limits = limitsOf(tenant)
        if (limits === undefined) return
        const entry = ledgers.get(tenant)
        const pending = shared === undefined ? 0 : 1
        if (entry === undefined) {
          ledgers.set(tenant, {
            lmCalls,
            costUsd,
            windowStart: Date.now(),
            pendingCalls: lmCalls * pending,
            pendingCost: costUsd * pending,
            syncedAt: undefined
          })
        } else {
          entry.lmCalls += lmCalls
          entry.costUsd += costUsd
          entry.pendingCalls += lmCalls * pending
          entry.pendingCost += costUsd * pending
        }
      },
      admitJob: (tenant, active) => {
        const allowed = limitsOf(tenant)?.concurrentJobs
        return allowed === undefined || active < allowed
          ? Effect.void
          : Effect.fail(exceeded(tenant, "jobs", allowed, active + 1, "concurrent optimization jobs"))
      },
      admitModule: (tenant, count) => {
        const allowed = limitsOf(tenant)?.maxModules
        return allowed === undefined || count < allowed
          ? Effect.void
          : Effect.fail(exceeded(tenant, "storage", allowed, count + 1, "stored modules"))
      },
      usage: (tenant) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const limits = limitsOf(tenant)
          const entry = ledger(tenant, now, limits?.budgetWindowMs ?? dayMs)
          return { lmCalls: entry.lmCalls, costUsd: entry.costUsd, windowStart: entry.windowStart }
        })
    }
    return service
  })

/**
 * The limits of Config `tenants` (read when the layer is built).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Tenants, never, Config.Config> = Layer.effect(
  Tenants,
  Effect.flatMap(Config.Config, (config) => Effect.flatMap(config.current, (c) => make(c.tenants)))
)

/**
 * The limits of the given options (tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (options: Options = {}): Layer.Layer<Tenants> => Layer.effect(Tenants, make(options))
