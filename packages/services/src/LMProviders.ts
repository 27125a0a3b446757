/**
 * The supervised LM providers: one provider actor per configured provider (`providers.<name>` in Config),
 * under the `lm_providers` supervisor of the application's tree. Each provider has a worker pool (sized by
 * `providers.<name>.poolSize`), its own circuit breaker and rate limiter (`infrastructure.circuitBreakers` /
 * `.rateLimiters` under `lm_provider_<name>`, or a default breaker), cost and token telemetry, and a backup
 * (`providers.<name>.backup`) that takes its traffic while its circuit is open.
 *
 * Requests do not queue behind the actor: pools, breakers, limiters and counters live in a table owned by the
 * application's layer, and callers run requests in their own fibers. The actor owns the transport (it builds
 * the provider from its settings at each start) and applies live configuration: pool sizes, backups and
 * rate limits are re-read from Config whenever they change (the `foundation` config watcher forwards the
 * changes). Killing a provider actor does not stop its traffic: the last transport keeps serving until the
 * restarted actor installs a fresh one.
 *
 * Failover: a request whose provider's circuit is open goes to the backup; the first such switch publishes
 * `provider_failover`, and the first success of the primary afterwards (its half-open trial closing the
 * circuit) publishes `provider_recovered`.
 *
 * Latency control (config `latency`, see `docs/routing.md`): each provider's successful latencies give it an
 * adaptive deadline (`AdaptiveTimeout`), used as its timeout (`latency.timeouts`) and as the moment a call is
 * hedged to the backup (`latency.hedging`): the first answer wins, the other request is interrupted and aborted.
 *
 * The application provides all this as the core `LM` service, so every module call made under it uses the
 * supervised providers.
 *
 * @since 0.1.0
 */
import { Capabilities, type Completion, LM, type LMCache, LMError, type Provider } from "@effect-dspy/core"
import { type Config, type ConfigSchema, Events, Pool, type Protection } from "@effect-dspy/foundation"
import { Actor, Process, Registry } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Drain } from "./internal/drain.js"
import * as internal from "./internal/providers.js"
import type * as AdaptiveTimeout from "./latency/AdaptiveTimeout.js"
import * as ServicesEvents from "./ServicesEvents.js"

/**
 * Builds the transport of a provider from its settings (the default is `LM.providerFromSettings`: the
 * simulated LM, an OpenAI-compatible server or Anthropic's Messages API, by the settings' `kind`). Tests give their own (`TestRuntime` builds simulated LMs whose
 * faults they control).
 *
 * @since 0.1.0
 * @category models
 */
export type ProviderFactory = (
  name: string,
  settings: ConfigSchema.ProviderSettings
) => Effect.Effect<Provider.Provider, LM.LMConfigError, Scope.Scope>

/**
 * What `status` reports about one provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProviderStatus {
  readonly name: string
  readonly kind: ConfigSchema.ProviderSettings["kind"]
  readonly backup: string | undefined
  /** The circuit's state. */
  readonly circuit: "closed" | "open" | "half-open"
  /** True while its traffic goes to the backup. */
  readonly failedOver: boolean
  /** How many times its actor installed a transport (1 + restarts). */
  readonly generation: number
  readonly pool: Pool.Stats & { readonly size: number }
  /** The rate limit in force (`infrastructure.rateLimiters.lm_provider_<name>`), if any. */
  readonly rateLimit: { readonly limit: number; readonly scaleMs: number } | undefined
  readonly calls: number
  readonly failures: number
  readonly failovers: number
  readonly recoveries: number
  /** Calls that sent a hedged second request to the backup (config `latency.hedging`). */
  readonly hedges: number
  /** Hedged calls the backup answered first. */
  readonly hedgeWins: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly costUsd: number
}

/**
 * The LMProviders service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The provider used when none is named (`modules.defaultLmProvider`). */
  readonly defaultProvider: string
  /** The configured providers. */
  readonly names: ReadonlyArray<string>
  /** One completion through the named provider (default: the default one), with failover. */
  readonly complete: (
    request: Completion.CompletionRequest,
    options?: { readonly provider?: string }
  ) => Effect.Effect<Completion.CompletionResponse, LMError.LMError>
  /** A streamed completion through the named provider's pool, with failover at the start. */
  readonly stream: (
    request: Completion.CompletionRequest,
    options?: { readonly provider?: string }
  ) => Stream.Stream<Completion.CompletionChunk, LMError.LMError>
  /** The named provider (default: the default one) as a `Provider`, routed through its pool and breaker. */
  readonly provider: (name?: string) => Provider.Provider
  /** Every provider's state and counters. */
  readonly status: Effect.Effect<ReadonlyArray<ProviderStatus>>
  /** The providers' latency windows (keyed by provider name), which give their adaptive deadlines. */
  readonly latency: AdaptiveTimeout.AdaptiveTimeout
}

/**
 * The LMProviders service tag (provided by `Application.layer`).
 *
 * @since 0.1.0
 * @category tags
 */
export class LMProviders extends Context.Tag("@effect-dspy/services/LMProviders")<LMProviders, Service>() {}

/**
 * The registry name of a provider's actor.
 *
 * @since 0.1.0
 * @category constants
 */
export const actorName = (provider: string): string => `dspy/lm_provider/${provider}`

/**
 * The registry name of the config watcher (the `foundation` child of the tree).
 *
 * @since 0.1.0
 * @category constants
 */
export const watcherName = "dspy/foundation/config_watcher"

/**
 * Tokens used through each supervised provider (tagged `provider`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokens = internal.tokensMetric

/**
 * Cost in USD through each supervised provider (tagged `provider`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const cost = internal.costMetric

/**
 * Requests served by each supervised provider (tagged `provider`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const requests = internal.requestsMetric

// ---------------------------------------------------------------------------------------------------------
// Actors
// ---------------------------------------------------------------------------------------------------------

/**
 * What the provider actors and the config watcher work with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dependencies {
  readonly config: Config.Service
  readonly events: Events.Service
  readonly protection: Protection.Service
  readonly registry: Registry.Service
  readonly factory: ProviderFactory
  /** The application's scope: each transport lives in a scope forked from it. */
  readonly scope: Scope.Scope
}

interface ProviderArgs {
  readonly deps: Dependencies
  readonly slot: internal.Slot
}

type ProviderCast = { readonly _tag: "Reconfigure" }

/** Re-reads the slot's settings and protections from the current configuration and applies them. */
const reconfigure = (deps: Dependencies, slot: internal.Slot): Effect.Effect<void> =>
  Effect.gen(function* () {
    const current = yield* deps.config.current
    const settings = current.providers[slot.name]
    if (settings === undefined) return
    const previous = slot.settings
    slot.settings = settings
    if (settings.poolSize !== previous.poolSize || settings.timeoutMs !== previous.timeoutMs) {
      yield* Effect.orDie(
        slot.pool.resize({ size: settings.poolSize, overflow: 0, checkoutTimeoutMs: settings.timeoutMs })
      )
    }
    const resolved = yield* internal.resolveProtections(
      deps.protection,
      deps.events,
      current.infrastructure,
      slot.key,
      slot
    )
    slot.breaker = resolved.breaker
    slot.breakerNamed = resolved.breakerNamed
    slot.limiter = resolved.limiter
  })

/**
 * A provider's actor: builds its transport at start, applies configuration changes.
 *
 * @since 0.1.0
 * @category actors
 */
export const providerActor = Actor.make({
  name: "lm_provider",
  init: (args: ProviderArgs) =>
    Effect.gen(function* () {
      const { deps, slot } = args
      yield* reconfigure(deps, slot)
      const scope = yield* Scope.fork(deps.scope, ExecutionStrategy.sequential)
      const provider = yield* Scope.extend(deps.factory(slot.name, slot.settings), scope).pipe(
        Effect.tapError(() => Scope.close(scope, Exit.void))
      )
      const previous = slot.transportScope
      slot.provider = provider
      slot.transportScope = scope
      slot.generation++
      // The transport it replaces is closed in the background (an HTTP transport finishes its requests first).
      if (previous !== undefined) yield* Effect.forkIn(Scope.close(previous, Exit.void), deps.scope)
      yield* Events.publishOrLog(
        ServicesEvents.ServiceStarted,
        {
          service: "lm_provider",
          provider: slot.name,
          generation: slot.generation
        },
        { events: deps.events }
      )
      return args
    }),
  handleCast: (_msg: ProviderCast, args: ProviderArgs) => Effect.as(reconfigure(args.deps, args.slot), args)
})

interface WatcherState {
  readonly deps: Dependencies
  readonly providers: ReadonlyArray<string>
}

type WatcherInfo = { readonly _tag: "Changed"; readonly path: string }

/**
 * The config watcher: follows `providers` and `infrastructure` in Config and tells the provider actors to
 * re-read their settings whenever either changes. It watches with `Config.watch`, whose first element comes
 * once the subscription is live, so a (re)started watcher also catches up with changes made while it was
 * down. Its subscription dies with it.
 *
 * @since 0.1.0
 * @category actors
 */
export const configWatcher = Actor.make({
  name: "config_watcher",
  init: (state: WatcherState, self: Actor.ActorRef<never, never, never, WatcherInfo>) =>
    Effect.as(
      // Interruptible: `init` runs uninterruptibly and a fork inherits that, so without it the losing racer (the
      // watch) could never be interrupted and would keep the whole application reachable after it stopped.
      Effect.forkDaemon(
        Effect.interruptible(
          Effect.raceFirst(
            Stream.runForEach(
              Stream.merge(
                Stream.as(state.deps.config.watch("providers"), "providers"),
                Stream.as(state.deps.config.watch("infrastructure"), "infrastructure")
              ).pipe(Stream.orDie),
              (path) => Effect.orDie(Actor.send(self, { _tag: "Changed", path }))
            ),
            Process.await(self)
          )
        )
      ),
      state
    ),
  handleInfo: (_change: WatcherInfo, state: WatcherState) =>
    Effect.as(
      Effect.forEach(
        state.providers,
        (name) =>
          Effect.flatMap(
            state.deps.registry.whereis<Actor.ActorRef<never, never, ProviderCast>>(actorName(name)),
            (ref) => (ref._tag === "Some" ? Effect.orDie(Actor.cast(ref.value, { _tag: "Reconfigure" })) : Effect.void)
          ),
        { discard: true }
      ),
      state
    )
})

// ---------------------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------------------

/**
 * The providers as the application builds them: the service, the core `LM` service over the default
 * provider, and the child specs of the actors.
 *
 * @since 0.1.0
 * @category models
 */
export interface Built {
  readonly service: Service
  readonly lm: LM.Service
  readonly providerStarts: ReadonlyArray<{
    readonly name: string
    readonly start: Effect.Effect<Process.Process, unknown>
  }>
  readonly watcherStart: Effect.Effect<Process.Process, unknown>
}

/**
 * Builds the provider table (pools in the current scope), the request path, the `LM` service (over the
 * default provider; the `LMCache` in context is used when present) and the actors' starts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  deps: Dependencies & {
    readonly drain: Drain
    /** Calls made on a fiber this drain tracks (module executions) are covered by it. */
    readonly outerDrain?: Drain | undefined
    readonly cache?: LMCache.Service | undefined
  }
): Effect.Effect<Built, LM.LMConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const current = yield* deps.config.current
    const names = Object.keys(current.providers)
    const defaultProvider = current.modules.defaultLmProvider
    if (current.providers[defaultProvider] === undefined) {
      return yield* new LM.LMConfigError({
        provider: defaultProvider,
        message: `modules.defaultLmProvider is "${defaultProvider}" but providers.${defaultProvider} is not configured; configured providers: ${names.join(", ") || "none"}`
      })
    }
    for (const name of names) {
      const backup = current.providers[name]!.backup
      if (backup !== undefined && current.providers[backup] === undefined) {
        return yield* new LM.LMConfigError({
          provider: name,
          message: `providers.${name}.backup is "${backup}", which is not a configured provider; configured: ${names.join(", ")}`
        })
      }
    }
    const slots = new Map<string, internal.Slot>()
    for (const name of names) {
      const settings = current.providers[name]!
      const key = internal.slotKey(name)
      let workers = 0
      const pool = yield* Effect.orDie(
        Pool.make(
          key,
          { size: settings.poolSize, overflow: 0, checkoutTimeoutMs: settings.timeoutMs },
          Effect.sync((): internal.Worker => ({ provider: name, id: ++workers }))
        )
      )
      const protections = yield* internal.resolveProtections(
        deps.protection,
        deps.events,
        current.infrastructure,
        key,
        undefined
      )
      slots.set(name, {
        name,
        key,
        settings,
        provider: undefined,
        transportScope: undefined,
        generation: 0,
        pool,
        ...protections,
        failedOver: false,
        counters: internal.emptyCounters(),
        labels: internal.labelsOf(name)
      })
    }
    const router = internal.makeRouter({ slots, protection: deps.protection, events: deps.events, config: deps.config })

    const providerOf = (name: string): Provider.Provider => ({
      name,
      // What the installed transport knows of its models (with `providers.<name>.capabilities` over it).
      capabilities: (model) =>
        Effect.suspend(() => {
          const own = slots.get(name)?.provider?.capabilities
          return own === undefined ? Effect.succeed(Capabilities.unknown) : own(model)
        }),
      complete: (request) => router.complete(name, request),
      stream: (request) => router.stream(name, request),
      embed: (inputs, model) => router.embed(name, inputs, model)
    })

    const inner = yield* LM.make({
      provider: providerOf(defaultProvider),
      model: current.providers[defaultProvider]!.defaultModel,
      // Re-read at each call: `providers.<default>.maxRetries` / `.retryBaseDelayMs` / `.retryMaxDelayMs` apply at once.
      retry: Effect.map(deps.config.current, (c) =>
        LM.retryOptions(c.providers[defaultProvider] ?? current.providers[defaultProvider]!)
      ),
      ...(deps.cache === undefined ? {} : { cache: deps.cache })
    }).pipe(Effect.provideService(Events.Events, deps.events))

    const drain = deps.drain
    const outer = deps.outerDrain
    const asLMError = (error: { readonly _tag: string; readonly message: string }): LMError.LMError =>
      new LMError.LMServerError({
        provider: defaultProvider,
        status: 503,
        message: error.message,
        context: { code: error._tag }
      })
    const lm: LM.Service = {
      ...inner,
      complete: (request, options) =>
        Effect.catchTags(
          outer === undefined
            ? drain.track("an LM call", inner.complete(request, options))
            : drain.trackUnlessWithin(outer, "an LM call", inner.complete(request, options)),
          {
            ApplicationStopping: (e) => Effect.fail(asLMError(e)),
            ExecutionAborted: (e) => Effect.fail(asLMError(e))
          }
        ),
      stream: (request) =>
        drain.trackStream("an LM stream", inner.stream(request)).pipe(
          Stream.catchTags({
            ApplicationStopping: (e) => Stream.fail(asLMError(e)),
            ExecutionAborted: (e) => Stream.fail(asLMError(e))
          })
        )
    }

    const service: Service = {
      defaultProvider,
      names,
      complete: (request, options) => router.complete(options?.provider ?? defaultProvider, request),
      stream: (request, options) => router.stream(options?.provider ?? defaultProvider, request),
      provider: (name) => providerOf(name ?? defaultProvider),
      latency: router.latency,
      status: Effect.forEach(Array.from(slots.values()), (slot) =>
        Effect.gen(function* () {
          const circuit = yield* slot.breaker.state
          const pool = yield* slot.pool.stats
          const limit = slot.limiter === undefined ? undefined : yield* slot.limiter.settings
          const status: ProviderStatus = {
            name: slot.name,
            kind: slot.settings.kind,
            backup: slot.settings.backup,
            circuit,
            failedOver: slot.failedOver,
            generation: slot.generation,
            pool: { ...pool, size: slot.settings.poolSize },
            rateLimit: limit === undefined ? undefined : { limit: limit.limit, scaleMs: limit.scaleMs },
            ...slot.counters
          }
          return status
        })
      )
    }

    const withRegistry = <A, E>(effect: Effect.Effect<A, E, Registry.Registry>) =>
      Effect.provideService(effect, Registry.Registry, deps.registry)
    const providerStarts = names.map((name) => ({
      name,
      start: withRegistry(
        Registry.startNamed(actorName(name), Actor.spawn(providerActor, { deps, slot: slots.get(name)! }))
      ) as Effect.Effect<Process.Process, unknown>
    }))
    const watcherStart = withRegistry(
      Registry.startNamed(watcherName, Actor.spawn(configWatcher, { deps, providers: names }))
    ) as Effect.Effect<Process.Process, unknown>
    return { service, lm, providerStarts, watcherStart }
  })
