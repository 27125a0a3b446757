/**
 * Predict: the basic predictor. It formats its signature, demos and inputs with an adapter, calls the `LM`
 * service and parses the answer into a prediction (docs/architecture.md, "Modules, adapters and the LM").
 *
 * @example
 * ```ts
 * import { Predict, Signature } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * const qa = Predict.make(Signature.make("question -> answer: int"), { n: 3 })
 *
 * // three sampled answers (numbers); it needs the `LM` service: `LM.layer` over Config, or the simulated LM
 * const answers = Effect.map(Predict.forward(qa, { question: "What is 2 + 3?" }), (prediction) =>
 *   prediction.pluck("answer")
 * )
 * ```
 *
 * @since 0.1.0
 */
import { FiberLocal } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type * as Adapter from "../adapters/Adapter.js"
import * as ChatAdapter from "../adapters/ChatAdapter.js"
import * as Completion from "../lm/Completion.js"
import * as LM from "../lm/LM.js"
import type * as LMError from "../lm/LMError.js"
import * as Example from "../primitives/Example.js"
import * as Instrument from "../primitives/internal/instrument.js"
import * as Prediction from "../primitives/Prediction.js"
import * as Trace from "../primitives/Trace.js"
import * as Signature from "../signature/Signature.js"
import type { ParseInputs, ParseOutputs } from "../signature/internal/typeParser.js"
import * as Listener from "../stream/internal/listener.js"
import type { SignatureValidationError } from "../signature/SignatureError.js"
import { PredictConfigError } from "../CoreError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/core/Predict")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A demo: an example whose fields cover the signature's inputs and outputs.
 *
 * @since 0.1.0
 * @category models
 */
export type Demo = Example.Any

/**
 * Sampling settings of a predictor (DSPy's `config`): they go into the LM request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly n?: number
  readonly temperature?: number
  readonly maxTokens?: number
  readonly rolloutId?: number
  readonly model?: string
}

/**
 * Options of {@link make}: the config plus the adapter and an LM service for this predictor only (neither is
 * saved).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Config {
  readonly adapter?: Adapter.Adapter
  readonly lm?: LM.Service
  readonly demos?: ReadonlyArray<Demo>
}

/**
 * A predictor for a signature with inputs `I` and outputs `O`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Predict<in out I = Signature.AnyFields, in out O = Signature.AnyFields> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly signature: Signature.Signature<I, O>
  readonly demos: ReadonlyArray<Demo>
  readonly config: Config
  readonly adapter: Adapter.Adapter | undefined
  readonly lm: LM.Service | undefined
}

/**
 * Any predictor.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: the variance-neutral "any predictor" type
export type Any = Predict<any, any>

/**
 * What a predictor call can fail with: the inputs do not match the signature, the LM failed, or no adapter
 * could parse the answer.
 *
 * @since 0.1.0
 * @category errors
 */
export type PredictError = SignatureValidationError | LMError.LMError | Adapter.AdapterParseError | PredictConfigError

/**
 * Options of one call: config values for this call only (DSPy's `config=`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly config?: Config
}

/**
 * The prediction of a predictor with outputs `O`.
 *
 * @since 0.1.0
 * @category models
 */
export type Output<O> = Prediction.Prediction<O & Example.Fields>

/**
 * A predictor bound to its path in a program, as a module's `forward` sees it.
 *
 * @since 0.1.0
 * @category models
 */
export type Bound<I, O> = (
  inputs: I,
  options?: CallOptions
) => Effect.Effect<Prediction.Prediction<O & Example.Fields>, PredictError, LM.LM>

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { PredictConfigError }

class PredictImpl<I, O> implements Predict<I, O> {
  readonly [TypeId]: TypeId = TypeId
  constructor(
    readonly name: string,
    readonly signature: Signature.Signature<I, O>,
    readonly demos: ReadonlyArray<Demo>,
    readonly config: Config,
    readonly adapter: Adapter.Adapter | undefined,
    readonly lm: LM.Service | undefined
  ) {}
  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
  toJSON(): unknown {
    return {
      _id: "Predict",
      signature: Signature.toSignatureString(this.signature),
      instructions: this.signature.instructions,
      demos: this.demos.length,
      config: this.config
    }
  }
  toString(): string {
    return `Predict(${Signature.toSignatureString(this.signature)})`
  }
}

/**
 * True for predictors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPredict = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

const copy = <I, O>(
  self: Predict<I, O>,
  patch: {
    readonly signature?: Signature.Signature<I, O>
    readonly demos?: ReadonlyArray<Demo>
    readonly config?: Config
    readonly adapter?: Adapter.Adapter | undefined
    readonly lm?: LM.Service | undefined
    readonly name?: string
  }
): Predict<I, O> =>
  new PredictImpl(
    patch.name ?? self.name,
    patch.signature ?? self.signature,
    patch.demos ?? self.demos,
    patch.config ?? self.config,
    "adapter" in patch ? patch.adapter : self.adapter,
    "lm" in patch ? patch.lm : self.lm
  )

/**
 * Config values to change; `undefined` removes a value.
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigPatch = { readonly [K in keyof Config]?: Config[K] | undefined }

const configOf = (options: ConfigPatch): Config => {
  const out: { -readonly [K in keyof Config]: Config[K] } = {}
  if (options.n !== undefined) out.n = options.n
  if (options.temperature !== undefined) out.temperature = options.temperature
  if (options.maxTokens !== undefined) out.maxTokens = options.maxTokens
  if (options.rolloutId !== undefined) out.rolloutId = options.rolloutId
  if (options.model !== undefined) out.model = options.model
  return out
}

/**
 * Builds a predictor for a signature, given as a `Signature` or in DSPy's string form
 * (`Predict.make("question -> answer: int")`, throwing a `SignatureParseError` on a bad string as
 * `Signature.make` does).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <const S extends string>(signature: S, options?: Options): Predict<ParseInputs<S>, ParseOutputs<S>>
  <I, O>(signature: Signature.Signature<I, O>, options?: Options): Predict<I, O>
} = (signature: string | Signature.Any, options: Options = {}): Any =>
  new PredictImpl(
    "Predict",
    typeof signature === "string" ? Signature.make(signature) : signature,
    options.demos ?? [],
    configOf(options),
    options.adapter,
    options.lm
  )

/**
 * The same predictor with other demos.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withDemos = <I, O>(self: Predict<I, O>, demos: ReadonlyArray<Demo>): Predict<I, O> => copy(self, { demos })

/**
 * The same predictor with other instructions (on its signature).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withInstructions = <I, O>(self: Predict<I, O>, instructions: string): Predict<I, O> =>
  copy(self, { signature: Signature.withInstructions(self.signature, instructions) })

/**
 * The same predictor with another signature (of the same field types: new instructions, descriptions or
 * prefixes).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSignature = <I, O>(self: Predict<I, O>, signature: Signature.Signature<I, O>): Predict<I, O> =>
  copy(self, { signature })

/**
 * The same predictor with config values changed (`undefined` removes one).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withConfig = <I, O>(self: Predict<I, O>, config: ConfigPatch): Predict<I, O> =>
  copy(self, { config: configOf({ ...self.config, ...config }) })

/**
 * The same predictor with another adapter.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withAdapter = <I, O>(self: Predict<I, O>, adapter: Adapter.Adapter | undefined): Predict<I, O> =>
  copy(self, { adapter })

/**
 * The same predictor calling the given LM service instead of the one in the context.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withLM = <I, O>(self: Predict<I, O>, lm: LM.Service | undefined): Predict<I, O> => copy(self, { lm })

/**
 * The same predictor under another name (used for spans, metrics and events).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withName = <I, O>(self: Predict<I, O>, name: string): Predict<I, O> => copy(self, { name })

/**
 * The signature of a predictor in string form (`"question: str -> answer: str"`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const signatureString = (self: Any): string => Signature.toSignatureString(self.signature)

// ---------------------------------------------------------------------------------------------------------------
// Overrides from the caller (BestOfN, Refine, bootstrapping)
// ---------------------------------------------------------------------------------------------------------------

/**
 * Config values forced on every predictor call in an effect (they win over the predictor's config), e.g.
 * `{ rolloutId: 2, temperature: 1 }` for the third attempt of BestOfN.
 *
 * @since 0.1.0
 * @category references
 */
export const currentOverrides: FiberRef.FiberRef<Config | undefined> = FiberRef.unsafeMake<Config | undefined>(
  undefined
)

/**
 * Runs an effect with config values forced on every predictor call inside it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOverrides =
  (config: Config) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    FiberLocal.locallyWith(self, currentOverrides, (outer) => configOf({ ...outer, ...config }))

/**
 * Hints by predictor path: a predictor with a hint gets an extra input field `hint_` ("A hint to the module
 * from an earlier run") holding it. Refine sets them from the LM-written advice.
 *
 * @since 0.1.0
 * @category references
 */
export const currentHints: FiberRef.FiberRef<ReadonlyMap<string, string>> = FiberRef.unsafeMake<
  ReadonlyMap<string, string>
>(new Map())

/**
 * Runs an effect with hints for the predictors at the given paths.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withHints =
  (hints: ReadonlyMap<string, string>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    FiberLocal.locally(self, currentHints, hints)

const hintField = Signature.input(Schema.String, { description: "A hint to the module from an earlier run" })

// ---------------------------------------------------------------------------------------------------------------
// Calling
// ---------------------------------------------------------------------------------------------------------------

/**
 * The config of one call: the predictor's, then the call's, then the caller's overrides; with DSPy's rule
 * that `n > 1` at a temperature of at most 0.15 (or none) samples at 0.7.
 *
 * @since 0.1.0
 * @category calling
 */
export const resolveConfig = (base: Config, call: Config | undefined, overrides: Config | undefined): Config => {
  const merged: { -readonly [K in keyof Config]: Config[K] } =
    call === undefined && overrides === undefined ? { ...base } : configOf({ ...base, ...call, ...overrides })
  const n = merged.n ?? 1
  if (n > 1 && (merged.temperature === undefined || merged.temperature <= 0.15)) merged.temperature = 0.7
  return merged
}

const checkConfig = (config: Config): PredictConfigError | undefined => {
  if (config.n !== undefined && !(Number.isInteger(config.n) && config.n >= 1))
    return new PredictConfigError({ option: "n", message: `n must be a positive integer, got ${config.n}` })
  if (config.temperature !== undefined && !(config.temperature >= 0))
    return new PredictConfigError({
      option: "temperature",
      message: `temperature must be >= 0, got ${config.temperature}`
    })
  if (config.maxTokens !== undefined && !(Number.isInteger(config.maxTokens) && config.maxTokens >= 1))
    return new PredictConfigError({
      option: "maxTokens",
      message: `maxTokens must be a positive integer, got ${config.maxTokens}`
    })
  return undefined
}

let sharedDefault: Adapter.Adapter | undefined

/**
 * The default adapter: the ChatAdapter, re-run through the JSONAdapter when its answer does not parse.
 *
 * @since 0.1.0
 * @category adapters
 */
export const defaultAdapter = (): Adapter.Adapter => {
  if (sharedDefault === undefined) sharedDefault = ChatAdapter.make()
  return sharedDefault
}

type RequestConfig = Omit<LM.Request, "messages">

const requestConfig = (config: Config): RequestConfig => {
  const out: { -readonly [K in keyof RequestConfig]: RequestConfig[K] } = {}
  if (config.n !== undefined) out.n = config.n
  if (config.temperature !== undefined) out.temperature = config.temperature
  if (config.maxTokens !== undefined) out.maxTokens = config.maxTokens
  if (config.rolloutId !== undefined) out.rolloutId = config.rolloutId
  if (config.model !== undefined) out.model = config.model
  return out
}

const run = <I, O>(
  self: Predict<I, O>,
  path: string,
  inputs: I,
  options: CallOptions | undefined
): Effect.Effect<Prediction.Prediction<O & Example.Fields>, PredictError, LM.LM> =>
  // One synchronous read of the fiber's overrides, hints, trace collector and LM service.
  Effect.withFiberRuntime((fiber): Effect.Effect<Prediction.Prediction<O & Example.Fields>, PredictError, LM.LM> => {
    const config = resolveConfig(self.config, options?.config, fiber.getFiberRef(currentOverrides))
    const bad = checkConfig(config)
    if (bad !== undefined) return Effect.fail(bad)
    const raw = (Example.isExample(inputs) ? inputs.toRecord() : inputs) as Signature.AnyFields
    const valid = Signature.validateInputs(self.signature, raw)
    if (Either.isLeft(valid)) return Effect.fail(valid.left)
    const hints = fiber.getFiberRef(currentHints)
    const hint = hints.size === 0 ? undefined : hints.get(path)
    const signature: Signature.Any =
      hint === undefined ? self.signature : Signature.append(self.signature, "hint_", hintField)
    const values: Signature.AnyFields = hint === undefined ? raw : { ...raw, hint_: hint }
    const request = requestConfig(config)
    const adapter = self.adapter ?? defaultAdapter()
    const collector = fiber.getFiberRef(Trace.currentCollector)
    const listener = fiber.getFiberRef(Listener.current)
    const call = (lm: LM.Service) => {
      let usage = Completion.emptyUsage
      let calls = 0
      const addUsage = (more: Completion.Usage) => {
        usage = usage === Completion.emptyUsage ? more : Prediction.addUsage(usage, more)
      }
      const complete = (formatted: Adapter.Formatted, hint?: Adapter.StreamHint) => {
        const lmRequest: LM.Request =
          formatted.responseFormat === undefined && formatted.model === undefined
            ? { ...request, messages: formatted.messages }
            : {
                ...request,
                messages: formatted.messages,
                ...(formatted.responseFormat === undefined ? {} : { responseFormat: formatted.responseFormat }),
                ...(formatted.model === undefined ? {} : { model: formatted.model })
              }
        // Under `streamify`, the call streams and its field deltas go to the listener.
        if (listener !== undefined) {
          return Effect.suspend(() =>
            Effect.map(Listener.streamedCall(listener, lm, lmRequest, hint, path, calls++), (streamed) => {
              addUsage(streamed.usage)
              return streamed.texts
            })
          )
        }
        return Effect.map(lm.complete(lmRequest), (response) => {
          addUsage(response.usage)
          return response.choices.map((c) => c.content)
        })
      }
      const predicted = Effect.map(adapter.call(signature, self.demos, values, complete), (result) => {
        const prediction = Prediction.make(result.outputs as ReadonlyArray<O & Example.Fields>, {
          usage,
          lmCalls: result.calls
        })
        collector?.entries.push({ predictorPath: path, inputs: raw, outputs: prediction.fields })
        return prediction
      })
      return listener === undefined
        ? predicted
        : Effect.zipRight(Listener.predictorStart(listener, path, self.name, signatureString(self)), predicted)
    }
    if (self.lm !== undefined) return call(self.lm)
    const lm = Context.getOption(fiber.currentContext, LM.LM)
    return Option.isSome(lm) ? call(lm.value) : Effect.flatMap(LM.LM, call)
  })

/**
 * Runs a predictor that sits at `path` in a program (its trace entries carry that path).
 *
 * @since 0.1.0
 * @category calling
 */
export const forwardAt = <I, O>(
  self: Predict<I, O>,
  path: string,
  inputs: I,
  options?: CallOptions
): Effect.Effect<Prediction.Prediction<O & Example.Fields>, PredictError, LM.LM> =>
  Instrument.instrument(
    self.name,
    () => signatureString(self),
    () => run(self, path, inputs, options)
  )

/**
 * Runs a predictor on its inputs (as a bare program: its trace path is `"self"`).
 *
 * @since 0.1.0
 * @category calling
 */
export const forward = <I, O>(
  self: Predict<I, O>,
  inputs: I,
  options?: CallOptions
): Effect.Effect<Prediction.Prediction<O & Example.Fields>, PredictError, LM.LM> =>
  forwardAt(self, "self", inputs, options)

/**
 * The predictor bound to a path, as a function (what modules hand to `forward`).
 *
 * @since 0.1.0
 * @category calling
 */
export const bind =
  <I, O>(self: Predict<I, O>, path: string): Bound<I, O> =>
  (inputs, options) =>
    forwardAt(self, path, inputs, options)
