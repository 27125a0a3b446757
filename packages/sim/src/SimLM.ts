/**
 * The simulated LM as a {@link Provider.Provider}: the embedded default LM of effect-dspy (like DSPy's
 * `DummyLM`, but it reads the adapters' prompts and its accuracy depends on what they contain). Calls go
 * through {@link Engine} for the answer, draw faults from the fault profile and wait the latency profile's
 * delay on Effect's Clock (so `TestClock` drives it).
 *
 * ```ts
 * const provider = SimLM.make({ seed: 7 })
 * const program = myProgram.pipe(Effect.provide(SimLM.layer({ seed: 7 })))
 * // or from configuration (`providers.<name>.kind: "simulated"`, the default provider):
 * const fromConfig = LM.layer.pipe(Layer.provide(SimLM.layerKind), Layer.provide(Config.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { type Config, Random } from "@effect-dspy/foundation"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { type Completion, LM, LMError, type Provider, ProviderKind } from "@effect-dspy/core"
import * as Embeddings from "./Embeddings.js"
import * as Engine from "./Engine.js"
import * as Faults from "./Faults.js"
import * as Latency from "./Latency.js"
import { SimConfigError } from "./SimError.js"

/**
 * Options of the simulated LM.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Engine.Settings {
  /** The provider name in telemetry and errors; default `"simulated"`. */
  readonly name?: string
  /** The default model (for `embed` calls that name none); default `"sim-1"`. */
  readonly model?: string
  /** Faults; none by default. */
  readonly faults?: Faults.Profile
  /** Latency; none by default. */
  readonly latency?: Latency.Profile
  /** Embedding size; default 256. */
  readonly embeddingDimensions?: number
  /** Characters per streamed chunk; default 24. */
  readonly chunkChars?: number
}

/**
 * The error of this module (defined with every error of the package in `SimError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { SimConfigError }

/**
 * Counts of a simulated provider: calls served and faults injected by kind.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly calls: number
  readonly embedCalls: number
  readonly faults: { readonly [K in Faults.Kind]?: number }
}

/**
 * The simulated provider: a {@link Provider.Provider} with its counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimProvider extends Provider.Provider {
  readonly stats: Effect.Effect<Stats>
}

interface Outcome {
  readonly response: Engine.Response
  readonly fault: Faults.Kind | undefined
}

/**
 * Checks options; returns a message saying what to fix, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateOptions = (options: Options): string | undefined => {
  const f = options.faults === undefined ? undefined : Faults.validate(options.faults)
  if (f !== undefined) return f
  const l = options.latency === undefined ? undefined : Latency.validate(options.latency)
  if (l !== undefined) return l
  const d = options.embeddingDimensions
  if (d !== undefined && (!Number.isInteger(d) || d < 1 || d > 65536))
    return `embeddingDimensions must be an integer in [1, 65536], got ${d}`
  const c = options.chunkChars
  if (c !== undefined && (!Number.isInteger(c) || c < 1)) return `chunkChars must be a positive integer, got ${c}`
  return undefined
}

/**
 * Builds the simulated provider. Throws a {@link SimConfigError} for unusable options (a programming error;
 * use {@link makeEffect} to get it as a typed failure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): SimProvider => {
  const problem = validateOptions(options)
  if (problem !== undefined) throw new SimConfigError({ message: `simulated LM options: ${problem}` })
  const name = options.name ?? "simulated"
  const faults = options.faults ?? Faults.none
  const latency = options.latency ?? Latency.none
  const chunkChars = options.chunkChars ?? 24
  const dimensions = options.embeddingDimensions ?? Embeddings.defaultDimensions
  const counts: { calls: number; embedCalls: number; faults: { [K in Faults.Kind]?: number } } = {
    calls: 0,
    embedCalls: 0,
    faults: {}
  }

  const delay = (call: number) => {
    const ms = Latency.sample(latency, Random.fromState(Random.hashParts("latency", options.seed ?? 0, call)))
    return ms > 0 ? Effect.sleep(Duration.millis(ms)) : Effect.void
  }

  const badRequest = (model: string, message: string) =>
    new LMError.LMBadRequest({ provider: name, model, status: 400, message: `simulated LM: ${message}` })

  /** Validates, counts, waits, and either fails with a transport fault or computes the response. */
  const run = (request: Completion.CompletionRequest, streaming: boolean): Effect.Effect<Outcome, LMError.LMError> =>
    Effect.suspend((): Effect.Effect<Outcome, LMError.LMError> => {
      const problem = Engine.validate(request)
      if (problem !== undefined) return Effect.fail(badRequest(request.model, problem))
      const call = counts.calls++
      const allowed = streaming
        ? Faults.kinds
        : Faults.kinds.filter((k) => k !== "slow_stream" && k !== "truncated_stream")
      const fault = Faults.draw(faults, call, allowed)
      if (fault !== undefined) counts.faults[fault] = (counts.faults[fault] ?? 0) + 1
      const model = request.model
      return Effect.zipRight(
        delay(call),
        Effect.suspend((): Effect.Effect<Outcome, LMError.LMError> => {
          switch (fault) {
            case "rate_limit":
              return Effect.fail(
                new LMError.LMRateLimited({
                  provider: name,
                  model,
                  retryAfterMs: (faults.retryAfterSeconds ?? 1) * 1000,
                  message: "simulated LM: rate limited (injected fault); retry after the given delay"
                })
              )
            case "server_error":
            case "unavailable":
              return Effect.fail(
                new LMError.LMServerError({
                  provider: name,
                  model,
                  status: fault === "server_error" ? 500 : 503,
                  message: `simulated LM: ${fault === "server_error" ? "internal error" : "service unavailable"} (injected fault)`
                })
              )
            case "reset":
              return Effect.fail(
                new LMError.LMServerError({
                  provider: name,
                  model,
                  message: "simulated LM: connection reset (injected fault)"
                })
              )
            case "timeout": {
              const timeoutMs = faults.timeoutMs ?? 30_000
              return Effect.zipRight(
                Effect.sleep(Duration.millis(timeoutMs)),
                Effect.fail(
                  new LMError.LMTimeout({
                    provider: name,
                    model,
                    timeoutMs,
                    message: "simulated LM: no response (injected fault)"
                  })
                )
              )
            }
            default: {
              const transform =
                fault !== undefined && Faults.outputKinds.includes(fault)
                  ? (content: string, i: number) =>
                      Faults.corrupt(content, fault, Random.fromState(Random.hashParts("corrupt", call, i)))
                  : undefined
              return Effect.succeed({ response: Engine.respond(request, options, transform), fault })
            }
          }
        })
      )
    })

  const strip = (r: Engine.Response): Completion.CompletionResponse => ({
    id: r.id,
    model: r.model,
    choices: r.choices,
    usage: r.usage,
    costUsd: r.costUsd,
    cacheHit: false
  })

  const complete = (request: Completion.CompletionRequest) =>
    Effect.map(run(request, false), ({ response }) => strip(response))

  const stream = (request: Completion.CompletionRequest): Stream.Stream<Completion.CompletionChunk, LMError.LMError> =>
    Stream.unwrap(
      Effect.map(run(request, true), ({ response, fault }) => {
        const chunks: Array<Completion.CompletionChunk> = []
        response.choices.forEach((choice, c) => {
          const last = c === response.choices.length - 1
          if (choice.toolCalls !== undefined) {
            chunks.push({
              index: choice.index,
              delta: "",
              toolCalls: choice.toolCalls,
              finishReason: choice.finishReason,
              ...(last ? { usage: response.usage } : {})
            })
            return
          }
          const pieces: Array<string> = []
          for (let i = 0; i < choice.content.length; i += chunkChars)
            pieces.push(choice.content.slice(i, i + chunkChars))
          if (pieces.length === 0) pieces.push("")
          pieces.forEach((delta, i) => {
            const end = i === pieces.length - 1
            chunks.push({
              index: choice.index,
              delta,
              ...(end ? { finishReason: choice.finishReason } : {}),
              ...(end && last ? { usage: response.usage } : {})
            })
          })
        })
        if (fault === "truncated_stream") {
          const kept = chunks.slice(0, Math.max(1, Math.floor(chunks.length / 2)))
          return Stream.concat(
            Stream.fromIterable(kept),
            Stream.fail(
              new LMError.LMServerError({
                provider: name,
                model: request.model,
                message: "simulated LM: the stream ended before completion (injected fault)"
              })
            )
          )
        }
        const base = Stream.fromIterable(chunks)
        if (fault === "slow_stream") {
          const ms = faults.slowChunkMs ?? 250
          return Stream.mapEffect(base, (chunk) => Effect.as(Effect.sleep(Duration.millis(ms)), chunk))
        }
        return base
      })
    )

  const embed = (inputs: ReadonlyArray<string>, model?: string) =>
    Effect.suspend(() => {
      const m = model ?? options.model ?? "sim-embed"
      if (!Array.isArray(inputs) || inputs.some((s) => typeof s !== "string")) {
        return Effect.fail(badRequest(m, "embedding inputs must be an array of strings"))
      }
      const call = counts.embedCalls++
      return Effect.as(
        delay(1_000_000 + call),
        inputs.map((text) => Embeddings.embed(text, dimensions))
      )
    })

  return {
    name,
    complete,
    stream,
    embed,
    stats: Effect.sync(() => ({ calls: counts.calls, embedCalls: counts.embedCalls, faults: { ...counts.faults } }))
  }
}

/**
 * {@link make} with unusable options as a typed failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEffect = (options: Options = {}): Effect.Effect<SimProvider, SimConfigError> =>
  Effect.suspend(() => {
    const problem = validateOptions(options)
    return problem !== undefined
      ? Effect.fail(new SimConfigError({ message: `simulated LM options: ${problem}` }))
      : Effect.succeed(make(options))
  })

/**
 * The `LM` service over a simulated provider, with `model` (default `sim-1`) as its default model.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LM.LM> =>
  LM.layerProvider(make(options), { model: options.model ?? "sim-1" })

/**
 * The `simulated` provider kind: builds a simulated provider for a `providers.<name>` entry of kind
 * `simulated` (named `simulated` in telemetry, like every provider of a kind, with the entry's `defaultModel`). Unusable options are an `LMConfigError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const providerKind: ProviderKind.Factory = (name, settings) =>
  Effect.mapError(
    makeEffect({ model: settings.defaultModel }),
    (error) => new LM.LMConfigError({ provider: name, message: `providers.${name}: ${error.message}` })
  )

/**
 * Adds the `simulated` kind ({@link providerKind}) to the provider kinds of the context, so that `LM.layer`
 * (and the supervised providers of `@effect-dspy/services`) can build simulated providers from configuration.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKind: Layer.Layer<ProviderKind.ProviderKinds> = ProviderKind.layer("simulated", providerKind)

/**
 * `LM.layer` (the LM from configuration) with the `simulated` kind available: the simulated LM by default, a
 * real OpenAI-compatible provider when one is configured (e.g. from `OPENAI_API_KEY`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<LM.LM, LM.LMConfigError, Config.Config> = LM.layer.pipe(Layer.provide(layerKind))
