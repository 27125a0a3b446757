/**
 * Shared test helpers: arithmetic examples, programs and a simulated LM that counts calls and keeps the
 * prompts it received.
 */
import {
  ChainOfThought,
  Completion,
  type Evaluate,
  Example,
  LM,
  Predict,
  type Provider,
  Signature
} from "@effect-dspy/core"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

/** Arithmetic splits as examples with `question` as input. */
export const arithmetic = (options: { readonly seed?: number; readonly train: number; readonly dev: number }) => {
  const splits = SimTask.splits(Arithmetic.task, {
    seed: options.seed ?? 0,
    train: options.train,
    dev: options.dev,
    test: 0
  })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: e.answer }).withInputs("question")
  return { train: splits.train.map(toExample), dev: splits.dev.map(toExample) }
}

/** The arithmetic signature. */
export const signature = Signature.make("question -> answer: int")

/** ChainOfThought over the arithmetic signature. */
export const cot = () => ChainOfThought.make(signature)

/** A bare predictor over the arithmetic signature. */
export const predict = () => Predict.make(signature)

/** Exact match on the integer answer. */
export const metric: Evaluate.Metric<Example.Any, Evaluate.AnyPrediction> = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

/**
 * A simulated LM that records every request (in order of arrival) and the most calls in flight at once
 * (each call yields to other fibers before answering, so concurrent calls overlap).
 */
export const recordingSim = (options: SimLM.Options = {}) => {
  const sim = SimLM.make(options)
  const requests: Array<Completion.CompletionRequest> = []
  const flight = { now: 0, max: 0 }
  const provider: Provider.Provider = {
    ...sim,
    complete: (request) =>
      Effect.sync(() => {
        requests.push(request)
        flight.now++
        flight.max = Math.max(flight.max, flight.now)
      }).pipe(
        Effect.zipRight(Effect.yieldNow()),
        Effect.zipRight(Effect.yieldNow()),
        Effect.zipRight(sim.complete(request)),
        Effect.ensuring(Effect.sync(() => flight.now--))
      )
  }
  const layer: Layer.Layer<LM.LM> = LM.layerProvider(provider, { model: "sim-1" })
  return { sim, requests, layer, flight }
}

/** The text of a request's messages. */
export const promptText = (request: Completion.CompletionRequest): string =>
  request.messages.map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content))).join("\n")

export { Completion }
