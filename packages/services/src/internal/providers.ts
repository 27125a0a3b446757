/**
 * The provider table and the request path. A slot per configured provider holds what outlives its actor: the
 * worker pool, the circuit breaker, the rate limiter, the failover state and the counters, plus the provider
 * transport the actor installed last. Requests read the slot and run in the caller's fiber:
 *
 *   rate limiter -> circuit breaker -> pool worker -> provider call
 *
 * An open circuit sends the request to the slot's backup (`providers.<name>.backup`), and the first switch is
 * a `provider_failover` event; the first success of the primary after that (a half-open trial that closes
 * the circuit) is a `provider_recovered` event. Protection rejections become the matching LM errors.
 *
 * The one selection policy, in order: health and failover (an open circuit sends the request to the backup),
 * then hedging (config `latency.hedging`): a call still running at its adaptive deadline sends a second request
 * to the backup, the first answer wins and the other fiber is interrupted, which aborts its HTTP request. Each
 * successful call's latency feeds the provider's window (`AdaptiveTimeout`), which also gives the adaptive
 * timeouts (config `latency.timeouts`).
 */
import { type Completion, LMError, type Provider } from "@effect-dspy/core"
import {
  CircuitBreaker,
  type ConfigSchema,
  type Config,
  Events,
  type Pool,
  type Protection,
  type RateLimiter
} from "@effect-dspy/foundation"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AdaptiveTimeout from "../latency/AdaptiveTimeout.js"
import * as ServicesEvents from "../ServicesEvents.js"

/** Per-provider counters. */
export interface Counters {
  calls: number
  failures: number
  failovers: number
  recoveries: number
  /** Calls that sent a hedged second request to the backup, and those the backup answered first. */
  hedges: number
  hedgeWins: number
  promptTokens: number
  completionTokens: number
  costUsd: number
}

/** A worker of a provider's pool: a permit to run one request. */
export interface Worker {
  readonly provider: string
  readonly id: number
}

export interface Slot {
  readonly name: string
  readonly key: string
  settings: ConfigSchema.ProviderSettings
  /** Installed by the provider actor's `init`; replaced at each restart. */
  provider: Provider.Provider | undefined
  /** The scope of the installed transport (closed, gracefully, when a restart installs the next one). */
  transportScope: Scope.CloseableScope | undefined
  generation: number
  readonly pool: Pool.Pool<Worker>
  breaker: CircuitBreaker.CircuitBreaker
  /** True when the breaker came from `infrastructure.circuitBreakers.<key>` (the Protection service owns it). */
  breakerNamed: boolean
  limiter: RateLimiter.RateLimiter | undefined
  failedOver: boolean
  readonly counters: Counters
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

/** Tokens used through a provider, tagged `provider`. */
export const tokensMetric = Metric.counter("dspy.services.provider.tokens", {
  description: "Tokens used through each supervised provider",
  incremental: true
})

/** Cost in USD through a provider, tagged `provider`. */
export const costMetric = Metric.counter("dspy.services.provider.cost", {
  description: "Cost (USD) of the calls through each supervised provider",
  incremental: true
})

/** Requests through a provider, tagged `provider`. */
export const requestsMetric = Metric.counter("dspy.services.provider.requests", {
  description: "Requests served by each supervised provider",
  incremental: true
})

export const slotKey = (name: string): string => `lm_provider_${name}`

export const labelsOf = (name: string): ReadonlyArray<MetricLabel.MetricLabel> => [MetricLabel.make("provider", name)]

export const emptyCounters = (): Counters => ({
  calls: 0,
  failures: 0,
  failovers: 0,
  recoveries: 0,
  hedges: 0,
  hedgeWins: 0,
  promptTokens: 0,
  completionTokens: 0,
  costUsd: 0
})

/** The breaker and limiter of a slot from the current infrastructure settings. */
export const resolveProtections = (
  protection: Protection.Service,
  events: Events.Service,
  infrastructure: ConfigSchema.DSPyConfig["infrastructure"],
  key: string,
  previous: { readonly breaker: CircuitBreaker.CircuitBreaker; readonly breakerNamed: boolean } | undefined
): Effect.Effect<{
  breaker: CircuitBreaker.CircuitBreaker
  breakerNamed: boolean
  limiter: RateLimiter.RateLimiter | undefined
}> =>
  Effect.gen(function* () {
    const named = infrastructure.circuitBreakers[key] !== undefined
    const breaker = named
      ? yield* Effect.orDie(protection.breaker(key))
      : previous !== undefined && !previous.breakerNamed
        ? previous.breaker
        : yield* Effect.orDie(Effect.provideService(CircuitBreaker.make(key, {}), Events.Events, events))
    const limiter =
      infrastructure.rateLimiters[key] === undefined ? undefined : yield* Effect.orDie(protection.limiter(key))
    return { breaker, breakerNamed: named, limiter }
  })

export interface Router {
  readonly slots: ReadonlyMap<string, Slot>
  /** The providers' latency windows (keyed by provider name). */
  readonly latency: AdaptiveTimeout.AdaptiveTimeout
  readonly complete: (
    name: string,
    request: Completion.CompletionRequest
  ) => Effect.Effect<Completion.CompletionResponse, LMError.LMError>
  readonly stream: (
    name: string,
    request: Completion.CompletionRequest
  ) => Stream.Stream<Completion.CompletionChunk, LMError.LMError>
  readonly embed: (
    name: string,
    inputs: ReadonlyArray<string>,
    model?: string
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LMError.LMError>
}

const serverError = (provider: string, model: string | undefined, code: string, message: string) =>
  new LMError.LMServerError({
    provider,
    ...(model === undefined ? {} : { model }),
    status: 503,
    message,
    context: { code }
  })

const unknownProvider = (name: string, known: Iterable<string>) =>
  new LMError.LMBadRequest({
    provider: name,
    message: `No supervised provider "${name}"; the configured providers are: ${Array.from(known).join(", ")}.`
  })

/** A protection's rejection (or a missing transport) as an LM error. */
const rejection = (slot: Slot, model: string | undefined, error: unknown): LMError.LMError | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  const tagged = error as { readonly _tag: string; readonly message: string }
  switch (tagged._tag) {
    case "RateLimited":
      return new LMError.LMRateLimited({
        provider: slot.name,
        ...(model === undefined ? {} : { model }),
        retryAfterMs: (error as RateLimiter.RateLimited).retryAfterMs,
        message: tagged.message,
        context: { code: "rate_limited" }
      })
    case "PoolTimeout":
      return new LMError.LMTimeout({
        provider: slot.name,
        ...(model === undefined ? {} : { model }),
        timeoutMs: (error as Pool.PoolTimeout).timeoutMs,
        message: tagged.message,
        context: { code: "pool_timeout" }
      })
    case "CallTimeout":
      return new LMError.LMTimeout({
        provider: slot.name,
        ...(model === undefined ? {} : { model }),
        timeoutMs: (error as CircuitBreaker.CallTimeout).timeoutMs,
        message: tagged.message,
        context: { code: "call_timeout" }
      })
    case "CircuitOpen":
    case "BulkheadFull":
    case "ProtectionNotConfigured":
      return serverError(slot.name, model, tagged._tag, tagged.message)
    default:
      return undefined
  }
}

/** Builds the request path over the slots. */
export const makeRouter = (deps: {
  readonly slots: ReadonlyMap<string, Slot>
  readonly protection: Protection.Service
  readonly events: Events.Service
  readonly config: Config.Service
}): Router => {
  const { slots, protection, events } = deps
  let latencySettings: ConfigSchema.DSPyConfig["latency"] | undefined
  const latency = AdaptiveTimeout.make({ minSamples: 20, windowSize: 256, floorMs: 10, capMs: 30_000 })
  /** The current `latency` settings (the windows follow a change of theirs). */
  const latencyConfig = Effect.map(deps.config.current, (c) => {
    if (c.latency !== latencySettings) {
      latencySettings = c.latency
      latency.reconfigure(AdaptiveTimeout.settingsOf(c.latency))
    }
    return c.latency
  })

  const failover = (slot: Slot, backup: Slot, reason: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (slot.failedOver) return Effect.void
      slot.failedOver = true
      slot.counters.failovers++
      return Events.publishOrLog(
        ServicesEvents.ProviderFailover,
        { provider: slot.name, backup: backup.name, reason },
        { events }
      )
    })

  const recovered = (slot: Slot): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!slot.failedOver) return Effect.void
      slot.failedOver = false
      slot.counters.recoveries++
      return Events.publishOrLog(
        ServicesEvents.ProviderRecovered,
        { provider: slot.name, backup: slot.settings.backup ?? null },
        { events }
      )
    })

  /**
   * A success of a failed-over primary is a recovery only once its circuit is closed (its half-open trial
   * closed it): a call admitted before the circuit opened can still succeed while it is open, and the traffic
   * stays on the backup.
   */
  const recoveredIfClosed = (slot: Slot): Effect.Effect<void> =>
    Effect.flatMap(slot.breaker.state, (state) => (state === "closed" ? recovered(slot) : Effect.void))

  const record = (slot: Slot, response: Completion.CompletionResponse) => {
    const c = slot.counters
    c.calls++
    c.promptTokens += response.usage.promptTokens
    c.completionTokens += response.usage.completionTokens
    c.costUsd += response.costUsd
    requestsMetric.unsafeUpdate(1, slot.labels)
    if (response.usage.totalTokens > 0) tokensMetric.unsafeUpdate(response.usage.totalTokens, slot.labels)
    if (response.costUsd > 0) costMetric.unsafeUpdate(response.costUsd, slot.labels)
  }

  const transport = (slot: Slot, model: string | undefined): Effect.Effect<Provider.Provider, LMError.LMError> =>
    slot.provider === undefined
      ? Effect.fail(
          serverError(
            slot.name,
            model,
            "provider_not_started",
            `Provider "${slot.name}" has no transport: its actor has not started yet.`
          )
        )
      : Effect.succeed(slot.provider)

  /** The backup to use when `slot`'s circuit is open, if any (never one already tried). */
  const backupOf = (slot: Slot, tried: ReadonlyArray<string>): Slot | undefined => {
    const name = slot.settings.backup
    if (name === undefined || tried.includes(name)) return undefined
    return slots.get(name)
  }

  /** The request for `to` when failing over from `from`: the primary's default model becomes the backup's. */
  const retarget = (from: Slot, to: Slot, request: Completion.CompletionRequest): Completion.CompletionRequest =>
    request.model === from.settings.defaultModel ? { ...request, model: to.settings.defaultModel } : request

  /** The transport call, timed into the provider's window, under its adaptive timeout when enabled. */
  const call = (
    slot: Slot,
    request: Completion.CompletionRequest,
    settings: ConfigSchema.DSPyConfig["latency"]
  ): Effect.Effect<Completion.CompletionResponse, LMError.LMError> => {
    const run = Effect.flatMap(transport(slot, request.model), (p) => p.complete(request))
    if (!settings.timeouts.enabled) return AdaptiveTimeout.timed(latency, slot.name, run)
    return AdaptiveTimeout.timeout(latency, slot.name, settings.timeouts, run, {
      onTimeout: (deadlineMs) =>
        new LMError.LMTimeout({
          provider: slot.name,
          ...(request.model === undefined ? {} : { model: request.model }),
          timeoutMs: Math.round(deadlineMs),
          message: `Provider "${slot.name}" did not answer within its adaptive timeout of ${Math.round(deadlineMs)} ms (p${Math.round(settings.timeouts.quantile * 100)} of its recent latencies x ${settings.timeouts.multiplier}, within latency.floorMs..capMs); raise latency.timeouts.multiplier or latency.floorMs if calls this slow are expected.`,
          context: { code: "adaptive_timeout" }
        })
    })
  }

  const completeOn = (
    slot: Slot,
    request: Completion.CompletionRequest,
    tried: ReadonlyArray<string>
  ): Effect.Effect<Completion.CompletionResponse, LMError.LMError> =>
    Effect.flatMap(latencyConfig, (settings) => completeWith(slot, request, tried, settings))

  /**
   * The call on `slot`, hedged when `latency.hedging` is on, the slot has a backup not tried yet and its window
   * gives a deadline: past the deadline the backup gets the same request; the first success wins and the other
   * is interrupted (which aborts its HTTP request). A primary failing before the deadline fails as before.
   */
  const completeWith = (
    slot: Slot,
    request: Completion.CompletionRequest,
    tried: ReadonlyArray<string>,
    settings: ConfigSchema.DSPyConfig["latency"]
  ): Effect.Effect<Completion.CompletionResponse, LMError.LMError> => {
    const primary = completeUnhedged(slot, request, tried, settings)
    // A failed-over provider's traffic already goes to its backup: nothing to hedge.
    const backup = settings.hedging.enabled && !slot.failedOver ? backupOf(slot, tried) : undefined
    const deadline = backup === undefined ? undefined : latency.deadline(slot.name, settings.hedging)
    if (backup === undefined || deadline === undefined) return primary
    const second = completeUnhedged(backup, retarget(slot, backup, request), [...tried, slot.name], settings)
    const settled = (winner: string | null) =>
      Events.publishOrLog(
        ServicesEvents.ProviderHedgeSettled,
        { provider: slot.name, backup: backup.name, winner },
        { events }
      )
    return Effect.raceWith(primary, Effect.sleep(deadline), {
      onSelfDone: (exit, sleeper) => Effect.zipRight(Fiber.interrupt(sleeper), exit),
      onOtherDone: (_, running) =>
        Effect.gen(function* () {
          slot.counters.hedges++
          yield* Events.publishOrLog(
            ServicesEvents.ProviderHedged,
            { provider: slot.name, backup: backup.name, deadline_ms: deadline },
            { events }
          )
          const tagged = <A, E>(name: string, effect: Effect.Effect<A, E>) =>
            Effect.map(effect, (a) => [name, a] as const)
          const [winner, response] = yield* Effect.race(
            tagged(slot.name, Fiber.join(running)),
            tagged(backup.name, second)
          ).pipe(Effect.tapError(() => settled(null)))
          if (winner === backup.name) slot.counters.hedgeWins++
          yield* settled(winner)
          return response
        }).pipe(
          // The primary runs in its own fiber: whoever won (or if the caller gave up), it is interrupted.
          Effect.ensuring(Fiber.interruptFork(running))
        )
    })
  }

  const completeUnhedged = (
    slot: Slot,
    request: Completion.CompletionRequest,
    tried: ReadonlyArray<string>,
    settings: ConfigSchema.DSPyConfig["latency"]
  ): Effect.Effect<Completion.CompletionResponse, LMError.LMError> =>
    protection
      .executeProtected(
        slot.key,
        { breaker: slot.breaker, limiter: slot.limiter, pool: slot.pool },
        (_worker: Worker) => call(slot, request, settings)
      )
      .pipe(
        Effect.matchEffect({
          onSuccess: (response) => {
            record(slot, response)
            return slot.failedOver ? Effect.as(recoveredIfClosed(slot), response) : Effect.succeed(response)
          },
          onFailure: (error): Effect.Effect<Completion.CompletionResponse, LMError.LMError> => {
            const tag = (error as { readonly _tag: string })._tag
            if (tag === "CircuitOpen") {
              const backup = backupOf(slot, tried)
              if (backup !== undefined) {
                return Effect.zipRight(
                  failover(slot, backup, "circuit_open"),
                  completeOn(backup, retarget(slot, backup, request), [...tried, slot.name])
                )
              }
            }
            slot.counters.failures++
            const mapped = rejection(slot, request.model, error)
            return Effect.fail(mapped ?? (error as LMError.LMError))
          }
        })
      )

  const streamOn = (
    slot: Slot,
    request: Completion.CompletionRequest,
    tried: ReadonlyArray<string>
  ): Stream.Stream<Completion.CompletionChunk, LMError.LMError> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        if (slot.limiter !== undefined) {
          const limiter = slot.limiter
          yield* Effect.mapError(limiter.acquire(slot.key), (e) => rejection(slot, request.model, e)!)
        }
        // The stream's outcome is fed to the breaker through a call that lasts as long as the stream.
        const outcome = yield* Deferred.make<void, LMError.LMError>()
        const admitted = yield* Deferred.make<boolean>()
        const breakerCall = yield* slot.breaker
          .execute(Effect.zipRight(Deferred.succeed(admitted, true), Deferred.await(outcome)))
          .pipe(
            Effect.catchAll((e) => (e._tag === "CircuitOpen" ? Deferred.succeed(admitted, false) : Effect.void)),
            Effect.forkScoped
          )
        if (!(yield* Deferred.await(admitted))) {
          const backup = backupOf(slot, tried)
          if (backup === undefined) {
            slot.counters.failures++
            return Stream.fail(
              serverError(
                slot.name,
                request.model,
                "CircuitOpen",
                `Provider "${slot.name}" is failing (its circuit is open) and has no backup; the stream was not started.`
              )
            )
          }
          yield* failover(slot, backup, "circuit_open")
          return streamOn(backup, retarget(slot, backup, request), [...tried, slot.name])
        }
        yield* Effect.mapError(slot.pool.get, (e) => rejection(slot, request.model, e)!)
        const provider = yield* transport(slot, request.model)
        return provider.stream(request).pipe(
          Stream.tap((chunk) =>
            Effect.sync(() => {
              if (chunk.usage !== undefined) {
                slot.counters.promptTokens += chunk.usage.promptTokens
                slot.counters.completionTokens += chunk.usage.completionTokens
                if (chunk.usage.totalTokens > 0) tokensMetric.unsafeUpdate(chunk.usage.totalTokens, slot.labels)
              }
            })
          ),
          Stream.tapError((e) =>
            Effect.zipRight(
              Effect.sync(() => {
                slot.counters.failures++
              }),
              Deferred.fail(outcome, e)
            )
          ),
          Stream.onEnd(
            Effect.zipRight(
              Effect.sync(() => {
                slot.counters.calls++
                requestsMetric.unsafeUpdate(1, slot.labels)
              }),
              // the breaker records the outcome before the recovery is judged
              Effect.zipRight(
                Deferred.succeed(outcome, undefined),
                Effect.zipRight(Fiber.await(breakerCall), recoveredIfClosed(slot))
              )
            )
          )
        )
      })
    )

  const find = (name: string): Slot | LMError.LMError => slots.get(name) ?? unknownProvider(name, slots.keys())

  return {
    slots,
    latency,
    complete: (name, request) =>
      Effect.suspend(() => {
        const slot = find(name)
        return "key" in slot ? completeOn(slot, request, []) : Effect.fail(slot)
      }),
    stream: (name, request) =>
      Stream.suspend(() => {
        const slot = find(name)
        return "key" in slot ? streamOn(slot, request, []) : Stream.fail(slot)
      }),
    embed: (name, inputs, model) =>
      Effect.suspend(() => {
        const slot = find(name)
        if (!("key" in slot)) return Effect.fail(slot)
        return protection
          .executeProtected(slot.key, { breaker: slot.breaker, limiter: slot.limiter, pool: slot.pool }, (_w: Worker) =>
            Effect.flatMap(transport(slot, model), (p) => p.embed(inputs, model))
          )
          .pipe(Effect.mapError((e) => rejection(slot, model, e) ?? (e as LMError.LMError)))
      })
  }
}
