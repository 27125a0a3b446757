/**
 * Protected execution: `executeProtected(key, { limiter, breaker, bulkhead, pool, timeout, retry }, effect)`
 * runs an effect under any combination of the protections, and the Protection service holds the named ones,
 * configured from the Config service (`infrastructure.circuitBreakers.<name>`, `.rateLimiters.<name>`,
 * `.bulkheads.<name>`, `.pools.<name>`) and re-configured live whenever that configuration changes.
 *
 * The order, from the outside in, and why:
 *
 * 1. **retry** (outermost): each attempt is a whole protected call, so every attempt spends a rate-limit
 *    token and is seen by the breaker; an open circuit stops the retries at once. Only errors that say
 *    `retryable: true` and that the call itself produced (including timeouts) are retried, never a
 *    protection's own rejection (an open circuit, a rate limit, a full bulkhead, a pool timeout).
 * 2. **rate limiter**: first inside each attempt, so a rejected call costs one map lookup: it takes no
 *    slot, no resource and never reaches the breaker. A token is spent per attempt because each attempt
 *    reaches the dependency.
 * 3. **circuit breaker**: an open circuit rejects before the call queues for a slot or a resource.
 * 4. **bulkhead**: bounds concurrency; its rejections count neither for nor against the breaker.
 * 5. **pool**: checks a resource out for the call (with its own checkout timeout).
 * 6. **timeout** (innermost, inside the breaker): a timed-out call fails with `CallTimeout`, which the
 *    breaker counts as a failure; it measures the call alone, not the time spent queueing before it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Deferred from "effect/Deferred"
import * as Bulkhead from "./Bulkhead.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Config from "./Config.js"
import type * as ConfigSchema from "./ConfigSchema.js"
import * as Errors from "./Errors.js"
import * as Events from "./Events.js"
import { isRejection } from "./internal/protection.js"
import * as Pool from "./Pool.js"
import * as RateLimiter from "./RateLimiter.js"
import { ProtectionNotConfigured } from "./FoundationError.js"

export {
  /**
   * Settings given to a protection do not match its schema.
   *
   * @since 0.1.0
   * @category errors
   */
  ProtectionSettingsInvalid
} from "./internal/protection.js"

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ProtectionNotConfigured }

/**
 * Every error the protections themselves may add to a call.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtectionError =
  | CircuitBreaker.CircuitOpen
  | CircuitBreaker.CallTimeout
  | RateLimiter.RateLimited
  | Bulkhead.BulkheadFull
  | Pool.PoolTimeout
  | ProtectionNotConfigured

/**
 * Which protections a call runs under. Each may be given by name (configured under `infrastructure.*`) or as
 * an instance. The rate limiter counts hits under the call's key unless another `key` is given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly breaker?: string | CircuitBreaker.CircuitBreaker | undefined
  readonly limiter?:
    | string
    | RateLimiter.RateLimiter
    | { readonly limiter: string | RateLimiter.RateLimiter; readonly key: string }
    | undefined
  readonly bulkhead?: string | Bulkhead.Bulkhead | undefined
  /** The longest the call itself may run (inside the breaker: a timeout counts as a failure). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Retries retryable failures of the call by this schedule (each attempt fully protected). */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  readonly pool?: undefined
}

/**
 * {@link Options} with a pool: the call is a function of the resource checked out for it.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions<Res, PE> extends Omit<Options, "pool"> {
  readonly pool: Pool.Pool<Res, PE>
}

/**
 * `executeProtected`: an effect, or (with a pool) a function of the pooled resource, run under protections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteProtected {
  <A, E, R>(key: string, options: Options, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionError, R>
  <Res, PE, A, E, R>(
    key: string,
    options: PoolOptions<Res, PE>,
    use: (resource: Res) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | PE | ProtectionError, R>
}

/**
 * The Protection service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Runs a call under the given protections (see the module documentation for the order). */
  readonly executeProtected: ExecuteProtected
  /** The named circuit breaker (made on first use from `infrastructure.circuitBreakers.<name>`). */
  readonly breaker: (name: string) => Effect.Effect<CircuitBreaker.CircuitBreaker, ProtectionNotConfigured>
  /** The named rate limiter (`infrastructure.rateLimiters.<name>`). */
  readonly limiter: (name: string) => Effect.Effect<RateLimiter.RateLimiter, ProtectionNotConfigured>
  /** The named bulkhead (`infrastructure.bulkheads.<name>`). */
  readonly bulkhead: (name: string) => Effect.Effect<Bulkhead.Bulkhead, ProtectionNotConfigured>
  /**
   * Makes a pool sized by `infrastructure.pools.<name>` and kept resized as that changes; it lives as long as
   * the current scope.
   */
  readonly pool: <A, E, R>(
    name: string,
    acquire: Effect.Effect<A, E, R>
  ) => Effect.Effect<Pool.Pool<A, E>, ProtectionNotConfigured, Scope.Scope | Exclude<R, Scope.Scope>>
}

/**
 * The Protection service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Protection extends Context.Tag("@effect-dspy/foundation/Protection")<Protection, Service>() {}

interface Resolved {
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  readonly limiter: RateLimiter.RateLimiter | undefined
  readonly limiterKey: string
  readonly bulkhead: Bulkhead.Bulkhead | undefined
  readonly pool: Pool.Pool<unknown, unknown> | undefined
  readonly timeoutMs: number | undefined
  readonly retry: Schedule.Schedule<unknown, unknown> | undefined
}

const shouldRetry = (error: unknown): boolean => Errors.isRetryable(error) && !isRejection(error)

/** The innermost layer: the call's own timeout, failing with `CallTimeout`. */
const withTimeout = (
  key: string,
  timeoutMs: number | undefined,
  effect: Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> =>
  timeoutMs === undefined
    ? effect
    : Effect.timeoutFail(effect, {
        duration: timeoutMs,
        onTimeout: () =>
          new CircuitBreaker.CallTimeout({
            key,
            timeoutMs,
            message: `The protected call "${key}" took longer than its ${timeoutMs} ms timeout and was interrupted; raise the timeout or make the call faster.`
          })
      })

/** An instance from an option: `undefined` when not asked for, `null` when the name is not made yet. */
const pickInstance = <T>(ref: string | T | undefined, registry: Map<string, { instance: T }>): T | undefined | null => {
  if (ref === undefined) return undefined
  if (typeof ref !== "string") return ref
  const entry = registry.get(ref)
  return entry === undefined ? null : entry.instance
}

/** Composes resolved protections around a call, in the documented order. */
const compose = (
  key: string,
  resolved: Resolved,
  call: Effect.Effect<unknown, unknown, unknown> | ((resource: unknown) => Effect.Effect<unknown, unknown, unknown>)
): Effect.Effect<unknown, unknown, unknown> => {
  // No closures are made here: this runs on every call.
  let attempt: Effect.Effect<unknown, unknown, unknown>
  if (resolved.pool !== undefined) {
    const use = call as (resource: unknown) => Effect.Effect<unknown, unknown, unknown>
    attempt = resolved.pool.use((resource) => withTimeout(key, resolved.timeoutMs, use(resource)))
  } else {
    attempt = withTimeout(key, resolved.timeoutMs, call as Effect.Effect<unknown, unknown, unknown>)
  }
  if (resolved.bulkhead !== undefined) attempt = resolved.bulkhead.run(attempt)
  if (resolved.breaker !== undefined) attempt = resolved.breaker.execute(attempt)
  if (resolved.limiter !== undefined) attempt = Effect.zipRight(resolved.limiter.acquire(resolved.limiterKey), attempt)
  if (resolved.retry !== undefined) attempt = Effect.retry(attempt, { schedule: resolved.retry, while: shouldRetry })
  return attempt
}

const isLimiter = (u: unknown): u is RateLimiter.RateLimiter => typeof u === "object" && u !== null && "hit" in u

type AnyOptions = Omit<Options, "pool"> & { readonly pool?: Pool.Pool<unknown, unknown> | undefined }

/** The rate limiter of the options (a name or an instance) and the key it counts under. */
const limiterOf = (
  key: string,
  options: AnyOptions
): { readonly ref: string | RateLimiter.RateLimiter | undefined; readonly key: string } => {
  const option = options.limiter
  if (option === undefined || typeof option === "string" || isLimiter(option)) return { ref: option, key }
  return { ref: option.limiter, key: option.key }
}

/** An instance from an option, looking a name up with `byName`. */
const get = <T>(
  ref: string | T | undefined,
  byName: (name: string) => Effect.Effect<T, ProtectionNotConfigured>
): Effect.Effect<T | undefined, ProtectionNotConfigured> =>
  ref === undefined ? Effect.succeed(undefined) : typeof ref === "string" ? byName(ref) : Effect.succeed(ref)

/** Resolves names to instances with the given lookups. */
const resolve = (
  key: string,
  options: AnyOptions,
  lookup: {
    readonly breaker: (name: string) => Effect.Effect<CircuitBreaker.CircuitBreaker, ProtectionNotConfigured>
    readonly limiter: (name: string) => Effect.Effect<RateLimiter.RateLimiter, ProtectionNotConfigured>
    readonly bulkhead: (name: string) => Effect.Effect<Bulkhead.Bulkhead, ProtectionNotConfigured>
  }
): Effect.Effect<Resolved, ProtectionNotConfigured> => {
  const { breaker, bulkhead } = options
  const { ref: limiterRef, key: limiterKey } = limiterOf(key, options)
  return Effect.flatMap(get(breaker, lookup.breaker), (breakerInstance) =>
    Effect.flatMap(get(limiterRef, lookup.limiter), (limiterInstance) =>
      Effect.map(get(bulkhead, lookup.bulkhead), (bulkheadInstance) => ({
        breaker: breakerInstance,
        limiter: limiterInstance,
        limiterKey,
        bulkhead: bulkheadInstance,
        pool: options.pool,
        timeoutMs: options.timeout === undefined ? undefined : Duration.toMillis(options.timeout),
        retry: options.retry
      }))
    )
  )
}

const notConfigured = (kind: ProtectionNotConfigured["kind"], name: string) =>
  new ProtectionNotConfigured({
    kind,
    name,
    message: `No settings for "${name}" at infrastructure.${kind}.${name}; add them to the configuration, or pass an instance instead of a name.`
  })

const unnamed = (kind: ProtectionNotConfigured["kind"]) => (name: string) =>
  Effect.fail(
    new ProtectionNotConfigured({
      kind,
      name,
      message: `"${name}" names a protection, but protect() resolves no names; pass an instance, or use the Protection service (Protection.executeProtected), which reads infrastructure.${kind}.`
    })
  )

/**
 * Runs a call under protections given as instances, without the service (names fail with
 * {@link ProtectionNotConfigured}). The order is the module's.
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: ExecuteProtected = ((key: string, options: AnyOptions, call: unknown) =>
  Effect.flatMap(
    resolve(key, options, {
      breaker: unnamed("circuitBreakers"),
      limiter: unnamed("rateLimiters"),
      bulkhead: unnamed("bulkheads")
    }),
    (resolved) => compose(key, resolved, call as Effect.Effect<unknown, unknown, unknown>)
  )) as ExecuteProtected

type Infrastructure = ConfigSchema.DSPyConfig["infrastructure"]

/**
 * Builds the Protection service on the Config service: named protections are made on first use from the
 * configuration, and a watcher of `infrastructure` re-configures them whenever it changes (a protection
 * whose settings were removed is forgotten, so its name fails with {@link ProtectionNotConfigured} again).
 * Circuit breakers publish their transitions to `Events` when it is in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, Config.Config | Scope.Scope> = Effect.gen(function* () {
  const config = yield* Config.Config
  const events = yield* Effect.serviceOption(Events.Events)
  let infrastructure: Infrastructure = (yield* config.current).infrastructure
  const breakers = new Map<string, { instance: CircuitBreaker.CircuitBreaker; applied: string }>()
  const limiters = new Map<string, { instance: RateLimiter.RateLimiter; applied: string }>()
  const bulkheads = new Map<string, { instance: Bulkhead.Bulkhead; applied: string }>()
  const pools = new Map<string, { instance: Pool.Pool<unknown, unknown>; applied: string }>()

  /** Looks a name up, making the instance from the current settings on first use. */
  const named =
    <T, S>(
      kind: ProtectionNotConfigured["kind"],
      registry: Map<string, { instance: T; applied: string }>,
      build: (name: string, settings: S) => Effect.Effect<T, CircuitBreaker.ProtectionSettingsInvalid>
    ) =>
    (name: string): Effect.Effect<T, ProtectionNotConfigured> =>
      Effect.suspend(() => {
        const found = registry.get(name)
        if (found !== undefined) return Effect.succeed(found.instance)
        const settings = (infrastructure[kind] as { readonly [name: string]: S })[name]
        if (settings === undefined) return Effect.fail(notConfigured(kind, name))
        return build(name, settings).pipe(
          // Settings in the configuration were validated by its schema, so this cannot fail; say so if it does.
          Effect.orDie,
          Effect.map((instance) => {
            const raced = registry.get(name)
            if (raced !== undefined) return raced.instance
            registry.set(name, { instance, applied: JSON.stringify(settings) })
            return instance
          })
        )
      })

  const withEvents = <A, E>(effect: Effect.Effect<A, E>) =>
    Option.isSome(events) ? Effect.provideService(effect, Events.Events, events.value) : effect

  const breaker = named("circuitBreakers", breakers, (name, settings: ConfigSchema.CircuitBreakerSettings) =>
    withEvents(CircuitBreaker.make(name, settings))
  )
  const limiter = named("rateLimiters", limiters, (name, settings: ConfigSchema.RateLimiterSettings) =>
    RateLimiter.make(name, settings)
  )
  const bulkhead = named("bulkheads", bulkheads, (name, settings: ConfigSchema.BulkheadSettings) =>
    Bulkhead.make(name, settings)
  )

  /** Applies new infrastructure settings to every instance made so far. */
  const reconcile = (next: Infrastructure): Effect.Effect<void> =>
    Effect.suspend(() => {
      infrastructure = next
      const work: Array<Effect.Effect<void, CircuitBreaker.ProtectionSettingsInvalid>> = []
      const sync = <T, S>(
        kind: ProtectionNotConfigured["kind"],
        registry: Map<string, { instance: T; applied: string }>,
        apply: (instance: T, settings: S) => Effect.Effect<void, CircuitBreaker.ProtectionSettingsInvalid>,
        forget: boolean
      ) => {
        const section = next[kind] as { readonly [name: string]: S }
        for (const [name, entry] of registry) {
          const settings = section[name]
          if (settings === undefined) {
            if (forget) registry.delete(name)
            else work.push(Effect.logWarning(`infrastructure.${kind}.${name} was removed; the pool keeps its size`))
            continue
          }
          const applied = JSON.stringify(settings)
          if (applied === entry.applied) continue
          entry.applied = applied
          work.push(apply(entry.instance, settings))
        }
      }
      sync("circuitBreakers", breakers, (b, s: ConfigSchema.CircuitBreakerSettings) => b.reconfigure(s), true)
      sync("rateLimiters", limiters, (l, s: ConfigSchema.RateLimiterSettings) => l.reconfigure(s), true)
      sync("bulkheads", bulkheads, (b, s: ConfigSchema.BulkheadSettings) => b.reconfigure(s), true)
      sync("pools", pools, (p, s: ConfigSchema.PoolSettings) => p.resize(s), false)
      return Effect.forEach(work, (effect) => Effect.catchAll(effect, (error) => Effect.logError(error.message)), {
        discard: true
      })
    })

  // Watch the infrastructure section; its first element is the value at subscription, so once it has been
  // seen no later change can be missed.
  const watching = yield* Deferred.make<void>()
  yield* config.watch("infrastructure").pipe(
    Stream.runForEach((value) =>
      Effect.zipRight(reconcile(value as Infrastructure), Deferred.succeed(watching, undefined))
    ),
    Effect.catchAll((error) =>
      Effect.zipRight(
        Effect.logError(`Protection cannot watch the configuration, so changes will not apply: ${error.message}`),
        Deferred.succeed(watching, undefined)
      )
    ),
    Effect.forkScoped
  )
  yield* Deferred.await(watching)

  const pool = <A, E, R>(name: string, acquire: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const settings = infrastructure.pools[name]
      if (settings === undefined) return Effect.fail(notConfigured("pools", name))
      return Effect.gen(function* () {
        const instance = yield* Effect.orDie(Pool.make(name, settings, acquire))
        const entry = { instance: instance as Pool.Pool<unknown, unknown>, applied: JSON.stringify(settings) }
        pools.set(name, entry)
        yield* Effect.addFinalizer(() => Effect.sync(() => pools.get(name) === entry && pools.delete(name)))
        return instance
      })
    })

  const lookup = { breaker, limiter, bulkhead }

  /** Resolves without an effect when every name is already made (the common case), else `undefined`. */
  const resolveNow = (key: string, options: AnyOptions): Resolved | undefined => {
    const { ref: limiterRef, key: limiterKey } = limiterOf(key, options)
    const breakerInstance = pickInstance(options.breaker, breakers)
    const limiterInstance = pickInstance(limiterRef, limiters)
    const bulkheadInstance = pickInstance(options.bulkhead, bulkheads)
    if (breakerInstance === null || limiterInstance === null || bulkheadInstance === null) return undefined
    return {
      breaker: breakerInstance,
      limiter: limiterInstance,
      limiterKey,
      bulkhead: bulkheadInstance,
      pool: options.pool,
      timeoutMs: options.timeout === undefined ? undefined : Duration.toMillis(options.timeout),
      retry: options.retry
    }
  }

  const executeProtected = ((key: string, options: AnyOptions, call: unknown) =>
    Effect.suspend(() => {
      const effect = call as Effect.Effect<unknown, unknown, unknown>
      const resolved = resolveNow(key, options)
      return resolved !== undefined
        ? compose(key, resolved, effect)
        : Effect.flatMap(resolve(key, options, lookup), (slow) => compose(key, slow, effect))
    })) as ExecuteProtected

  return { executeProtected, breaker, limiter, bulkhead, pool } satisfies Service
})

/**
 * The Protection service, configured from (and following) the Config service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Protection, never, Config.Config> = Layer.scoped(Protection, make)

/**
 * Runs a call under protections through the Protection service (see the module documentation).
 *
 * @since 0.1.0
 * @category accessors
 */
export const executeProtected: {
  <A, E, R>(
    key: string,
    options: Options,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ProtectionError, R | Protection>
  <Res, PE, A, E, R>(
    key: string,
    options: PoolOptions<Res, PE>,
    use: (resource: Res) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | PE | ProtectionError, R | Protection>
} = ((key: string, options: Options, call: Effect.Effect<unknown, unknown, unknown>) =>
  Effect.flatMap(Protection, (protection) => protection.executeProtected(key, options, call))) as never
