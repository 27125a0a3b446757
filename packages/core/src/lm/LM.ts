/**
 * The LM service: what programs call to use a language model. It puts, in front of a {@link Provider}:
 * the cache (lookup first; answers from the provider are stored), retries with backoff for retryable errors,
 * and the record of every call (history for `inspectHistory`, per-call usage and cost, totals per program run
 * with {@link trackUsage}, a `lm.request` span, the `dspy.lm.*` metrics and an `lm_request` event).
 *
 * @since 0.1.0
 */
import { Config, type ConfigSchema, Correlation, Errors, Events, Metrics } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as LMCache from "../cache/LMCache.js"
import * as Media from "../media/Media.js"
import * as CoreEvents from "../CoreEvents.js"
import * as AnthropicProvider from "./AnthropicProvider.js"
import * as Capabilities from "./Capabilities.js"
import * as Completion from "./Completion.js"
import type * as History from "./History.js"
import { redactRequest, render, sizeOf } from "./History.js"
import * as Tracing from "../internal/tracing.js"
import * as LMError from "./LMError.js"
import * as OpenAIProvider from "./OpenAIProvider.js"
import * as Pricing from "./Pricing.js"
import * as ProviderKind from "./ProviderKind.js"
import type * as Provider from "./Provider.js"
import * as Retry from "./Retry.js"
import { LMConfigError } from "../CoreError.js"
import * as Privacy from "../privacy/Privacy.js"
import * as PrivacyGuard from "../privacy/internal/lmGuard.js"

/**
 * A request to the LM service: a completion request whose `model` may be left out (the LM's default model).
 *
 * @since 0.1.0
 * @category models
 */
export type Request = Omit<Completion.CompletionRequest, "model"> & { readonly model?: string }

/**
 * Per-call options. `cache: false` neither reads nor writes the cache for this call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly cache?: boolean
}

/**
 * Usage totals over several calls. `calls` counts every call (cache hits included); `cacheHits` those served
 * from the cache (they add no tokens and no cost).
 *
 * @since 0.1.0
 * @category models
 */
export interface UsageTotals {
  readonly calls: number
  readonly cacheHits: number
  readonly failures: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
  readonly costUsd: number
}

/**
 * The LM service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The provider's name (`"openai"`, `"simulated"`, ...). */
  readonly provider: string
  /** The model used when a request names none. */
  readonly model: string
  /**
   * What a model of the provider can do (default: the default model), as the service uses it: to choose the
   * JSON mode and to fail early a request that cannot fit.
   */
  readonly capabilities: (model?: string) => Effect.Effect<Capabilities.Capabilities>
  /** One completion (with `n` choices): from the cache when it has it, else from the provider with retries. */
  readonly complete: (
    request: Request,
    options?: CallOptions
  ) => Effect.Effect<Completion.CompletionResponse, LMError.LMError>
  /**
   * A streamed completion. Streams bypass the cache and are not retried (a retry would replay text already
   * delivered); the call is recorded (history, usage, telemetry) when the stream ends.
   */
  readonly stream: (request: Request) => Stream.Stream<Completion.CompletionChunk, LMError.LMError>
  /** Embeddings of the inputs (retried like completions). */
  readonly embed: (
    inputs: ReadonlyArray<string>,
    model?: string
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LMError.LMError>
  /** The recorded calls, oldest first (the most recent `historySize`). */
  readonly history: Effect.Effect<ReadonlyArray<History.Entry>>
  /** A readable rendering of the last `n` calls (default 1): messages and answers. */
  readonly inspectHistory: (n?: number) => Effect.Effect<string>
  /** Totals over every call made through this service. */
  readonly usage: Effect.Effect<UsageTotals>
}

/**
 * The LM service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class LM extends Context.Tag("@effect-dspy/core/LM")<LM, Service>() {}

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { LMConfigError }

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly provider: Provider.Provider
  /** The model for requests that name none; default `"default"`. */
  readonly model?: string
  /** The model for `embed` calls that name none; by default the provider chooses. */
  readonly embeddingModel?: string
  /**
   * The capabilities of a model; default: the provider's own (`Provider.capabilities`), else none assumed. With
   * either, each request's JSON mode is chosen for the model and a request that cannot fit fails before it is
   * sent (see {@link Capabilities.check}).
   */
  readonly capabilities?: (model: string) => Effect.Effect<Capabilities.Capabilities>
  /** The cache; without one every call goes to the provider. */
  readonly cache?: LMCache.Service
  /**
   * The retry policy, or an effect that reads it at each call (how {@link layer} follows run-time updates of
   * `providers.*.maxRetries`).
   */
  readonly retry?: Retry.Options | Effect.Effect<Retry.Options>
  /** How many calls the history keeps; default 1,000. */
  readonly historySize?: number
  /**
   * The most memory the history holds, in bytes as {@link History.sizeOf} counts them (two per character of
   * prompts and answers); default 32 MiB. The oldest calls go first; the newest call is always kept.
   */
  readonly historyMaxBytes?: number
  /**
   * The privacy policy applied to every request before the cache, the provider, the history and telemetry see
   * it (see `Privacy`); default: the `Privacy` service of the context at construction, else none.
   */
  readonly privacy?: Privacy.Service
  /** The provider's configured name, which `privacy.providers` is keyed by; default: the provider's name. */
  readonly privacyName?: string
}

// ---------------------------------------------------------------------------------------------------------
// Usage tracking per program run
// ---------------------------------------------------------------------------------------------------------

/** What a finished call contributes to usage, history and telemetry. */
interface Outcome {
  readonly usage: Completion.Usage
  readonly costUsd: number
  readonly cacheHit: boolean
  readonly response?: Completion.CompletionResponse
}

interface Accumulator {
  calls: number
  cacheHits: number
  failures: number
  promptTokens: number
  completionTokens: number
  totalTokens: number
  costUsd: number
}

const emptyAccumulator = (): Accumulator => ({
  calls: 0,
  cacheHits: 0,
  failures: 0,
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  costUsd: 0
})

const snapshot = (a: Accumulator): UsageTotals => ({ ...a })

/**
 * The accumulators of the enclosing metered runs on one fiber: a mutable list the fiber that owns the frame pushes
 * to and truncates in place (a metered run costs no FiberRef write). A forked fiber gets a fresh, claimable copy
 * (calls made in it count toward the runs that enclosed the fork, even after they ended); the first metered run on
 * a fiber claims its frame, or, when the frame is another fiber's or the shared root, installs a copy once.
 */
interface Frame {
  owner: unknown
  readonly claimable: boolean
  readonly list: Array<Accumulator>
}

const rootFrame: Frame = { owner: undefined, claimable: false, list: [] }

const currentFrame: FiberRef.FiberRef<Frame> = FiberRef.unsafeMake<Frame>(rootFrame, {
  fork: (parent) => ({ owner: undefined, claimable: true, list: parent.list.slice() }),
  // The parent keeps its own frame when it joins a child (the child's copy is the parent's list at the fork).
  join: (parent) => parent
})

const add = (a: Accumulator, usage: Completion.Usage, costUsd: number, cacheHit: boolean, failed: boolean) => {
  a.calls++
  if (cacheHit) a.cacheHits++
  if (failed) a.failures++
  a.promptTokens += usage.promptTokens
  a.completionTokens += usage.completionTokens
  a.totalTokens += usage.totalTokens
  a.costUsd += costUsd
}

/**
 * Runs an effect and returns its result with the usage totals of every LM call made inside it, including in
 * fibers it forks. Nested runs each count their own calls (an inner call counts toward both).
 *
 * @since 0.1.0
 * @category usage
 */
export const trackUsage = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly result: A; readonly usage: UsageTotals }, E, R> =>
  Effect.suspend(() => {
    let totals: UsageTotals | undefined
    return Effect.map(
      meterUsage(self, (_exit, usage) => {
        totals = usage
      }),
      (result) => ({ result, usage: snapshot(totals as Accumulator) })
    )
  })

/**
 * Runs an effect and, when it ends, hands `onDone` its exit and the usage totals of the LM calls made inside it
 * (forked fibers included, nested runs each counting their own calls, as {@link trackUsage}). The cheap form of
 * {@link trackUsage} for a per-request hot path: one counter object pushed on the fiber's own accumulator list and
 * taken off at the end (no `Effect.locally`, no FiberRef write once the fiber owns its list, no Scope, no snapshot
 * copy, no result wrapper); `onDone` is called synchronously on the same fiber (it must not throw). The totals are
 * those at the run's end: `onDone` may keep the object, but calls of fibers the run forked and left running still
 * add to it.
 *
 * @since 0.1.0
 * @category usage
 */
export const meterUsage = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  onDone: (exit: Exit.Exit<A, E>, usage: UsageTotals) => void
): Effect.Effect<A, E, R> =>
  // No interruption mask: an interruption landing between the push and the handler below can only leave an entry
  // on an interrupted fiber's list, which an enclosing run's truncation (by depth) removes.
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const metered = (list: Array<Accumulator>): Effect.Effect<A, E, R> => {
      const depth = list.length
      const accumulator = emptyAccumulator()
      list.push(accumulator)
      return Effect.matchCauseEffect(self, {
        onFailure: (cause) => {
          list.length = depth
          onDone(Exit.failCause(cause), accumulator)
          return Effect.failCause(cause)
        },
        onSuccess: (value) => {
          list.length = depth
          onDone(Exit.succeed(value), accumulator)
          return Effect.succeed(value)
        }
      })
    }
    const frame = fiber.getFiberRef(currentFrame)
    if (frame.owner === fiber) return metered(frame.list)
    if (frame.claimable && frame.owner === undefined) {
      frame.owner = fiber
      return metered(frame.list)
    }
    // The shared root frame or another fiber's: this fiber installs its own copy (once).
    const own: Frame = { owner: fiber, claimable: false, list: frame.list.slice() }
    return Effect.flatMap(FiberRef.set(currentFrame, own), () => metered(own.list))
  })

/**
 * A layer that gives the fibers of a runtime built with it their own accumulator list from the start (each root
 * fiber gets a claimable copy), so the first {@link meterUsage} on a request's fiber writes no FiberRef either.
 * Optional: without it, that first run installs the list once per fiber.
 *
 * @since 0.1.0
 * @category usage
 */
export const layerUsageFrames: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.locallyScopedWith(currentFrame, (f): Frame => ({ owner: undefined, claimable: true, list: f.list.slice() }))
)

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

const badRequest = (provider: string, model: string, message: string) =>
  new LMError.LMBadRequest({ provider, model, message })

const validate = (provider: string, r: Completion.CompletionRequest): Option.Option<LMError.LMBadRequest> => {
  if (r.model.length === 0) return Option.some(badRequest(provider, r.model, "request.model is empty: name a model"))
  if (r.messages.length === 0)
    return Option.some(badRequest(provider, r.model, "request.messages is empty: give at least one message"))
  if (r.n !== undefined && (!Number.isInteger(r.n) || r.n < 1))
    return Option.some(badRequest(provider, r.model, `request.n must be a positive integer, got ${r.n}`))
  if (r.temperature !== undefined && !(r.temperature >= 0))
    return Option.some(badRequest(provider, r.model, `request.temperature must be >= 0, got ${r.temperature}`))
  if (r.maxTokens !== undefined && (!Number.isInteger(r.maxTokens) || r.maxTokens < 1))
    return Option.some(
      badRequest(provider, r.model, `request.maxTokens must be a positive integer, got ${r.maxTokens}`)
    )
  return Option.none()
}

/** The retry wrapper for fixed options, or one that reads the options at each call (memoised per value). */
const retryPolicy = (
  options: Retry.Options | Effect.Effect<Retry.Options> | undefined
): (<A, R>(self: Effect.Effect<A, LMError.LMError, R>) => Effect.Effect<A, LMError.LMError, R>) => {
  if (!Effect.isEffect(options)) return Retry.retry(options)
  const byKey = new Map<string, ReturnType<typeof Retry.retry>>()
  return (self) =>
    Effect.flatMap(options, (current) => {
      const key = `${current.maxRetries}/${current.baseDelayMs}/${current.maxDelayMs}/${current.jitter}`
      let wrap = byKey.get(key)
      if (wrap === undefined) {
        wrap = Retry.retry(current)
        byKey.set(key, wrap)
      }
      return wrap(self)
    })
}

/**
 * Builds the LM service over a provider. The `Events` service is used when present (at construction or in the
 * caller's context).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const { provider, cache } = options
    const providerName = provider.name
    const defaultModel = options.model ?? "default"
    const historySize = options.historySize ?? 1000
    if (!Number.isInteger(historySize) || historySize < 1) {
      return yield* Effect.dieMessage(`LM.make: historySize must be a positive integer, got ${historySize}`)
    }
    const retry = retryPolicy(options.retry)
    const eventsAtMake = yield* Effect.serviceOption(Events.Events)
    const privacy = options.privacy ?? Option.getOrUndefined(yield* Effect.serviceOption(Privacy.Privacy))
    const privacyTarget: PrivacyGuard.Target = {
      policyName: options.privacyName ?? providerName,
      provider: providerName,
      events: eventsAtMake
    }
    const historyMaxBytes = options.historyMaxBytes ?? 32 * 1024 * 1024
    if (!(historyMaxBytes > 0)) {
      return yield* Effect.dieMessage(`LM.make: historyMaxBytes must be positive, got ${historyMaxBytes}`)
    }
    // A queue: entries from `head` on, oldest first, with their sizes; a dropped entry is released at once
    // (its slot cleared) and the array compacted as it drains.
    let entries: Array<History.Entry | undefined> = []
    let sizes: Array<number> = []
    let head = 0
    let bytes = 0
    const pushHistory = (entry: History.Entry) => {
      const size = sizeOf(entry)
      entries.push(entry)
      sizes.push(size)
      bytes += size
      while (entries.length - head > historySize || (bytes > historyMaxBytes && entries.length - head > 1)) {
        bytes -= sizes[head]!
        entries[head] = undefined
        head++
      }
      if (head > 1024 && head * 2 > entries.length) {
        entries = entries.slice(head)
        sizes = sizes.slice(head)
        head = 0
      }
    }
    const historyInOrder = (): Array<History.Entry> => entries.slice(head) as Array<History.Entry>
    const totals = emptyAccumulator()
    // One stable label array per model: Effect caches a metric's hook per label-array identity, whereas
    // `Metric.tagged` builds a fresh metric key (and formats its description) on every update.
    const labelsByModel = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
    const labelsFor = (model: string): ReadonlyArray<MetricLabel.MetricLabel> => {
      let labels = labelsByModel.get(model)
      if (labels === undefined) {
        labels = [MetricLabel.make("provider", providerName), MetricLabel.make("model", model)]
        labelsByModel.set(model, labels)
      }
      return labels
    }

    /**
     * Records a finished call everywhere: totals, run accumulators, history, span, metrics, event. It runs
     * synchronously on the calling fiber (only publishing the event is an effect): this is on every call's path.
     */
    const record = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      request: Completion.CompletionRequest,
      started: number,
      exit: Exit.Exit<Outcome, LMError.LMError>,
      correlationId: Option.Option<string>
    ): Effect.Effect<void> => {
      const durationMs = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis() - started
      const ok = Exit.isSuccess(exit)
      const usage = ok ? exit.value.usage : Completion.emptyUsage
      const costUsd = ok ? exit.value.costUsd : 0
      const cacheHit = ok && exit.value.cacheHit
      const failure = ok ? undefined : Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap(failureOf)))
      add(totals, usage, costUsd, cacheHit, !ok)
      for (const a of fiber.getFiberRef(currentFrame).list) add(a, usage, costUsd, cacheHit, !ok)
      const entry: { -readonly [K in keyof History.Entry]: History.Entry[K] } = {
        timestamp: started,
        provider: providerName,
        model: request.model,
        request: redactRequest(request),
        usage,
        costUsd,
        cacheHit,
        durationMs
      }
      if (ok && exit.value.response !== undefined) entry.response = exit.value.response
      if (failure !== undefined) entry.error = { code: failure.code, message: failure.message }
      if (Option.isSome(correlationId)) entry.correlationId = correlationId.value
      pushHistory(entry)

      const span = fiber.currentSpan
      if (span !== undefined && span._tag === "Span") {
        span.attribute("lm.tokens.input", usage.promptTokens)
        span.attribute("lm.tokens.output", usage.completionTokens)
        span.attribute("lm.cost_usd", costUsd)
        span.attribute("lm.cache_hit", cacheHit)
        if (Option.isSome(correlationId)) span.attribute("correlation_id", correlationId.value)
        if (failure !== undefined) span.attribute("lm.error", failure.code)
      }

      const labels = labelsFor(request.model)
      Metrics.lmRequestDuration.unsafeUpdate(durationMs, labels)
      if (usage.totalTokens > 0) Metrics.lmRequestTokens.unsafeUpdate(usage.totalTokens, labels)
      if (costUsd > 0) Metrics.lmRequestCost.unsafeUpdate(costUsd, labels)

      const events = Option.isSome(eventsAtMake) ? eventsAtMake : Context.getOption(fiber.currentContext, Events.Events)
      if (Option.isNone(events)) return Effect.void
      return Effect.asVoid(
        Events.publishOrLog(
          CoreEvents.LMRequest,
          {
            provider: providerName,
            model: request.model,
            input_tokens: usage.promptTokens,
            output_tokens: usage.completionTokens,
            cost_usd: costUsd,
            duration_ms: durationMs,
            cache_hit: cacheHit,
            ...(failure === undefined ? {} : { error: failure.code }),
            ...mediaSummary(request)
          },
          { events }
        )
      )
    }

    const withModel = (request: Request): Completion.CompletionRequest =>
      request.model === undefined ? { ...request, model: defaultModel } : (request as Completion.CompletionRequest)

    /** Runs a call inside the `lm.request` span and records it whatever its outcome. */
    const instrumented = <A>(
      spanName: string,
      request: Completion.CompletionRequest,
      run: Effect.Effect<A, LMError.LMError>,
      describe: (a: A) => Outcome
    ): Effect.Effect<A, LMError.LMError> =>
      Effect.withFiberRuntime<A, LMError.LMError>((fiber) => {
        const started = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const correlationId = fiber.getFiberRef(Correlation.currentCorrelationId)
        return Effect.onExit(run, (exit) => record(fiber, request, started, Exit.map(exit, describe), correlationId))
      }).pipe(Errors.annotate, Tracing.span(spanName, { "lm.provider": providerName, "lm.model": request.model }))

    const describeResponse = (r: Completion.CompletionResponse) => ({
      usage: r.usage,
      costUsd: r.costUsd,
      cacheHit: r.cacheHit,
      response: r
    })

    const capabilitiesOf = options.capabilities ?? provider.capabilities
    const capabilitiesByModel = new Map<string, Capabilities.Capabilities>()
    const capabilities = (model: string): Effect.Effect<Capabilities.Capabilities> => {
      const known = capabilitiesByModel.get(model)
      if (known !== undefined) return Effect.succeed(known)
      if (capabilitiesOf === undefined) return Effect.succeed(Capabilities.unknown)
      return Effect.tap(capabilitiesOf(model), (c) => Effect.sync(() => capabilitiesByModel.set(model, c)))
    }
    /** The request as the model takes it (its JSON mode), or the reason it cannot be sent. */
    const prepare = (
      request: Completion.CompletionRequest
    ): Effect.Effect<
      Completion.CompletionRequest,
      LMError.LMBadRequest | LMError.LMContextWindowExceeded | LMError.LMCapabilityError
    > =>
      Effect.flatMap(capabilities(request.model), (c) => {
        const adapted = Capabilities.adapt(c, request)
        return Effect.as(Capabilities.check(c, providerName, adapted), adapted)
      })

    const guarded = (engine: Privacy.Engine, input: Request, callOptions: CallOptions | undefined) =>
      engine.inactive
        ? completeValid(input, callOptions)
        : PrivacyGuard.guard(engine, privacyTarget, withModel(input), (r) => completeValid(r, callOptions))
    // The policy's engine read synchronously when it can be (no runtime step per call for an inactive policy).
    const currentEngine = privacy?.current
    const complete: Service["complete"] = (input, callOptions) =>
      privacy === undefined
        ? completeValid(input, callOptions)
        : currentEngine !== undefined
          ? Effect.suspend(() => guarded(currentEngine(), input, callOptions))
          : Effect.flatMap(privacy.engine, (engine) => guarded(engine, input, callOptions))

    const completeValid: Service["complete"] = (input, callOptions) => {
      const request = withModel(input)
      const invalid = validate(providerName, request)
      if (Option.isSome(invalid)) return Errors.annotate(Effect.fail(invalid.value))
      if (capabilitiesOf === undefined) return completeChecked(request, callOptions)
      const known = capabilitiesByModel.get(request.model)
      if (known !== undefined) {
        // The common case, without a step of its own: capabilities known, and a check that passes at once
        // (`Capabilities.check` answers `Effect.void` itself when it needs no count).
        const adapted = Capabilities.adapt(known, request)
        const verdict = Capabilities.check(known, providerName, adapted)
        return verdict === Effect.void
          ? completeChecked(adapted, callOptions)
          : Effect.zipRight(Errors.annotate(verdict), completeChecked(adapted, callOptions))
      }
      return Effect.flatMap(Errors.annotate(prepare(request)), (r) => completeChecked(r, callOptions))
    }

    const completeChecked = (
      request: Completion.CompletionRequest,
      callOptions: CallOptions | undefined
    ): Effect.Effect<Completion.CompletionResponse, LMError.LMError> => {
      const useCache = cache !== undefined && callOptions?.cache !== false
      const fromProvider = retry(provider.complete(request))
      const run: Effect.Effect<Completion.CompletionResponse, LMError.LMError> = useCache
        ? Effect.suspend(() => {
            const key = cache.key(request)
            return Effect.flatMap(
              cache.get(key),
              Option.match({
                onSome: Effect.succeed,
                onNone: () => Effect.tap(fromProvider, (response) => cache.set(key, response))
              })
            )
          })
        : fromProvider
      return instrumented("lm.request", request, run, describeResponse)
    }

    const stream: Service["stream"] = (input) =>
      privacy === undefined
        ? streamValid(input)
        : Stream.unwrap(
            Effect.map(privacy.engine, (engine) =>
              engine.inactive
                ? streamValid(input)
                : PrivacyGuard.guardStream(engine, privacyTarget, withModel(input), streamValid)
            )
          )

    const streamValid: Service["stream"] = (input) => {
      const request = withModel(input)
      const invalid = validate(providerName, request)
      if (Option.isSome(invalid)) return Stream.fail(invalid.value)
      if (capabilitiesOf === undefined) return streamChecked(request)
      return Stream.unwrap(Effect.map(prepare(request), streamChecked))
    }

    const streamChecked = (
      request: Completion.CompletionRequest
    ): Stream.Stream<Completion.CompletionChunk, LMError.LMError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          const correlationId = yield* Correlation.current
          const contents = new Map<number, string>()
          const finish = new Map<number, Completion.FinishReason>()
          let usage: Completion.Usage = Completion.emptyUsage
          yield* Effect.addFinalizer((exit) => {
            const choices = [...contents.keys()]
              .sort((a, b) => a - b)
              .map(
                (index): Completion.Choice => ({
                  index,
                  content: contents.get(index)!,
                  finishReason: finish.get(index) ?? "stop"
                })
              )
            const costUsd = Pricing.cost(request.model, usage)
            const response: Completion.CompletionResponse = {
              id: "stream",
              model: request.model,
              choices,
              usage,
              costUsd,
              cacheHit: false
            }
            const outcome =
              Exit.isFailure(exit) && !Exit.isInterrupted(exit)
                ? (exit as Exit.Exit<never, LMError.LMError>)
                : Exit.succeed({ usage, costUsd, cacheHit: false, response })
            return Effect.withFiberRuntime<void>((fiber) => record(fiber, request, started, outcome, correlationId))
          })
          return provider.stream(request).pipe(
            Stream.tap((chunk) =>
              Effect.sync(() => {
                contents.set(chunk.index, (contents.get(chunk.index) ?? "") + chunk.delta)
                if (chunk.finishReason !== undefined) finish.set(chunk.index, chunk.finishReason)
                if (chunk.usage !== undefined) usage = chunk.usage
              })
            )
          )
        })
      ).pipe(Stream.withSpan("lm.stream", { attributes: { "lm.provider": providerName, "lm.model": request.model } }))

    const embed: Service["embed"] = (inputs, model) => {
      if (inputs.length === 0) return Effect.succeed([])
      if (privacy === undefined) return embedAllowed(inputs, model)
      return Effect.flatMap(privacy.engine, (engine) =>
        engine.inactive
          ? embedAllowed(inputs, model)
          : Effect.flatMap(
              PrivacyGuard.guardEmbed(engine, privacyTarget, model ?? options.embeddingModel ?? defaultModel, inputs),
              (texts) => embedAllowed(texts, model)
            )
      )
    }

    const embedAllowed: Service["embed"] = (inputs, model) => {
      const embedModel = model ?? options.embeddingModel
      const request: Completion.CompletionRequest = {
        model: embedModel ?? defaultModel,
        messages: inputs.map((content) => ({ role: "user", content }))
      }
      return instrumented("lm.embed", request, retry(provider.embed(inputs, embedModel)), () => ({
        usage: Completion.emptyUsage,
        costUsd: 0,
        cacheHit: false
      }))
    }

    const service: Service = {
      provider: providerName,
      model: defaultModel,
      capabilities: (model) => capabilities(model ?? defaultModel),
      complete,
      stream,
      embed,
      history: Effect.sync(historyInOrder),
      inspectHistory: (n = 1) =>
        Effect.sync(() => {
          const all = historyInOrder()
          return render(all.slice(Math.max(0, all.length - n)))
        }),
      usage: Effect.sync(() => snapshot(totals))
    }
    return service
  })

/** The digests of a request's media parts, for the `lm_request` event (no field when there are none). */
const mediaSummary = (
  request: Completion.CompletionRequest
): { readonly media?: Array<{ kind: "image" | "audio"; mime_type: string; size: number; sha256: string }> } => {
  const parts = Completion.mediaParts(request.messages)
  if (parts.length === 0) return {}
  return {
    media: parts.flatMap((p) => {
      const d = Media.partDigest(p)
      return d === undefined ? [] : [{ kind: d.kind, mime_type: d.mimeType, size: d.size, sha256: d.sha256 }]
    })
  }
}

const failureOf = (cause: import("effect/Cause").Cause<LMError.LMError>): Option.Option<LMError.LMError> =>
  Option.fromNullable(
    (cause._tag === "Fail" ? cause.error : undefined) ??
      (function find(c: import("effect/Cause").Cause<LMError.LMError>): LMError.LMError | undefined {
        if (c._tag === "Fail") return c.error
        if (c._tag === "Sequential" || c._tag === "Parallel") return find(c.left) ?? find(c.right)
        return undefined
      })(cause)
  )

// ---------------------------------------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------------------------------------

/**
 * Calls `complete` on the LM in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const complete = (
  request: Request,
  options?: CallOptions
): Effect.Effect<Completion.CompletionResponse, LMError.LMError, LM> =>
  Effect.flatMap(LM, (lm) => lm.complete(request, options))

/**
 * Calls `stream` on the LM in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (request: Request): Stream.Stream<Completion.CompletionChunk, LMError.LMError, LM> =>
  Stream.unwrap(Effect.map(LM, (lm) => lm.stream(request)))

/**
 * Calls `embed` on the LM in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const embed = (
  inputs: ReadonlyArray<string>,
  model?: string
): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LMError.LMError, LM> =>
  Effect.flatMap(LM, (lm) => lm.embed(inputs, model))

/**
 * The rendering of the last `n` calls of the LM in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const inspectHistory = (n = 1): Effect.Effect<string, never, LM> =>
  Effect.flatMap(LM, (lm) => lm.inspectHistory(n))

// ---------------------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------------------

/**
 * An LM layer over the given provider (for tests and embedding). The `LMCache` in the context is used when
 * present and `options.cache` is not given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerProvider = (provider: Provider.Provider, options: Omit<Options, "provider"> = {}): Layer.Layer<LM> =>
  Layer.effect(
    LM,
    Effect.gen(function* () {
      const fromContext = yield* Effect.serviceOption(LMCache.LMCache)
      const cache = options.cache ?? Option.getOrUndefined(fromContext)
      return yield* make({ ...options, provider, ...(cache === undefined ? {} : { cache }) })
    })
  )

/**
 * The built-in `openai` kind: any OpenAI-compatible server through the official SDK. It needs an `apiKey`
 * (e.g. from `OPENAI_API_KEY`) or a `baseUrl` (a local server).
 *
 * @since 0.1.0
 * @category constructors
 */
export const openaiProvider: ProviderKind.Factory = (name, settings, live) => {
  if (settings.apiKey === undefined && settings.baseUrl === undefined) {
    return Effect.fail(
      new LMConfigError({
        provider: name,
        message: `providers.${name} is an openai provider without apiKey or baseUrl: set OPENAI_API_KEY (or providers.${name}.apiKey), or a baseUrl for a local server`
      })
    )
  }
  return OpenAIProvider.make({
    settingsName: name,
    timeoutMs: live?.timeoutMs ?? settings.timeoutMs,
    maxResponseBytes: live?.maxResponseBytes ?? settings.maxResponseBytes,
    streamDeadlineMs: live?.streamDeadlineMs ?? settings.streamDeadlineMs,
    ...(settings.baseUrl === undefined ? {} : { baseURL: settings.baseUrl }),
    ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey })
  })
}

/**
 * The built-in `anthropic` kind: Claude through the Messages API and the official `@anthropic-ai/sdk`. It needs
 * an `apiKey` (e.g. from `ANTHROPIC_API_KEY`) or a `baseUrl` (a local server that speaks the Messages API).
 *
 * @since 0.1.0
 * @category constructors
 */
export const anthropicProvider: ProviderKind.Factory = (name, settings, live) => {
  if (settings.apiKey === undefined && settings.baseUrl === undefined) {
    return Effect.fail(
      new LMConfigError({
        provider: name,
        message: `providers.${name} is an anthropic provider without apiKey or baseUrl: set ANTHROPIC_API_KEY (or providers.${name}.apiKey), or a baseUrl for a local server`
      })
    )
  }
  return AnthropicProvider.make({
    timeoutMs: live?.timeoutMs ?? settings.timeoutMs,
    maxResponseBytes: live?.maxResponseBytes ?? settings.maxResponseBytes,
    streamDeadlineMs: live?.streamDeadlineMs ?? settings.streamDeadlineMs,
    ...(settings.baseUrl === undefined ? {} : { baseURL: settings.baseUrl }),
    ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey })
  })
}

/** The provider with `providers.<name>.capabilities` over its own capabilities (or over none known). */
const withCapabilityOverrides = (
  provider: Provider.Provider,
  settings: ConfigSchema.ProviderSettings
): Provider.Provider => {
  const overrides = settings.capabilities
  if (overrides === undefined) return provider
  const own = provider.capabilities
  return {
    ...provider,
    capabilities: (model) =>
      own === undefined
        ? Effect.succeed(Capabilities.override(Capabilities.unknown, overrides))
        : Effect.map(own(model), (c) => Capabilities.override(c, overrides))
  }
}

/**
 * The provider described by a `providers.<name>` config entry, built by the factory of its `kind`: the kinds
 * given in the context ({@link ProviderKind.ProviderKinds}, e.g. `simulated` from `SimLM.layerKind` of
 * `@effect-dspy/sim`), else the built-in `openai` and `anthropic`. A kind nothing provides is an `LMConfigError`
 * naming the layer to add. Providers are named by kind in telemetry. `providers.<name>.capabilities` is applied
 * over what the provider knows of its models.
 *
 * @since 0.1.0
 * @category constructors
 */
export const providerFromSettings = (
  name: string,
  settings: ConfigSchema.ProviderSettings,
  live?: ProviderKind.Live
): Effect.Effect<Provider.Provider, LMConfigError, Scope.Scope> =>
  Effect.flatMap(Effect.serviceOption(ProviderKind.ProviderKinds), (kinds) => {
    const factory = Option.isSome(kinds) ? kinds.value.get(settings.kind) : undefined
    const built =
      factory !== undefined
        ? factory(name, settings, live)
        : settings.kind === "openai"
          ? openaiProvider(name, settings, live)
          : settings.kind === "anthropic"
            ? anthropicProvider(name, settings, live)
            : undefined
    if (built !== undefined) return Effect.map(built, (p) => withCapabilityOverrides(p, settings))
    return Effect.fail(
      new LMConfigError({
        provider: name,
        message: `providers.${name} has kind "${settings.kind}", which no layer provides: ${
          settings.kind === "simulated"
            ? "provide SimLM.layerKind from @effect-dspy/sim"
            : `provide ProviderKind.layer("${settings.kind}", ...)`
        } (or configure an openai or anthropic provider, e.g. with OPENAI_API_KEY or ANTHROPIC_API_KEY)`
      })
    )
  })

/**
 * {@link providerFromSettings} with the provider kinds of the context captured now, for code that builds
 * providers later in other fibers (the supervised providers of `@effect-dspy/services`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const providerFactory: Effect.Effect<ProviderKind.Factory> = Effect.map(
  Effect.serviceOption(ProviderKind.ProviderKinds),
  (kinds) => (name, settings, live) =>
    Option.isSome(kinds)
      ? Effect.provideService(providerFromSettings(name, settings, live), ProviderKind.ProviderKinds, kinds.value)
      : providerFromSettings(name, settings, live)
)

/**
 * The retry policy of a provider's settings (`maxRetries`, `retryBaseDelayMs`, `retryMaxDelayMs`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const retryOptions = (settings: ConfigSchema.ProviderSettings): Retry.Options => ({
  maxRetries: settings.maxRetries,
  baseDelayMs: settings.retryBaseDelayMs,
  maxDelayMs: settings.retryMaxDelayMs
})

/**
 * The LM layer from configuration: the provider `providers[modules.defaultLmProvider]` (the simulated LM by
 * default, which needs `SimLM.layerKind` of `@effect-dspy/sim` among the layers given to it; a real OpenAI or
 * Anthropic provider when one is configured, e.g. from `OPENAI_API_KEY` or `ANTHROPIC_API_KEY`), built by its kind
 * (see {@link providerFromSettings}), its default model (the kind's own unless one is configured), the capabilities
 * of its models (see `Capabilities`) and retry policy (`maxRetries`, `retryBaseDelayMs`,
 * `retryMaxDelayMs`, re-read at each call, so run-time updates apply at once). An `LMCache` in the context is
 * used when present.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LM, LMConfigError, Config.Config> = Layer.scoped(
  LM,
  Effect.gen(function* () {
    const config = yield* Effect.flatMap(Config.Config, (c) => c.current)
    const name = config.modules.defaultLmProvider
    const settings = config.providers[name]
    if (settings === undefined) {
      return yield* new LMConfigError({
        provider: name,
        message: `modules.defaultLmProvider is "${name}" but providers.${name} is not configured; configured providers: ${Object.keys(config.providers).join(", ") || "none"}`
      })
    }
    const service = yield* Config.Config
    // `providers.*.timeoutMs` and the retry settings may change while the system runs: they are read at each call.
    const current = <A>(read: (s: ConfigSchema.ProviderSettings) => A) =>
      Effect.map(service.current, (c) => read(c.providers[name] ?? settings))
    const provider = yield* providerFromSettings(name, settings, {
      timeoutMs: current((s) => s.timeoutMs),
      maxResponseBytes: current((s) => s.maxResponseBytes),
      streamDeadlineMs: current((s) => s.streamDeadlineMs)
    })
    const cache = yield* Effect.serviceOption(LMCache.LMCache)
    const privacy = yield* Privacy.service
    return yield* make({
      provider,
      model: settings.defaultModel,
      retry: current(retryOptions),
      privacyName: name,
      ...(Option.isSome(privacy) ? { privacy: privacy.value } : {}),
      ...(Option.isSome(cache) ? { cache: cache.value } : {})
    })
  })
)

/**
 * {@link layer} with a cache that follows the configuration (`modules.cacheEnabled`, `modules.cacheTtlMs`,
 * applied again when they change at run time); give `path` for the SQLite disk tier.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCached = (
  options: Omit<LMCache.Options, "enabled" | "ttlMs"> = {}
): Layer.Layer<LM | LMCache.LMCache, LMConfigError, Config.Config> =>
  Layer.provideMerge(layer, LMCache.layerConfig(options))
