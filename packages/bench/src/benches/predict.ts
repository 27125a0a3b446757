/**
 * Predict overhead: one `Predict.forward` call (ChatAdapter format and parse, the LM service, the module
 * machinery: metrics, trace, overrides) against the simulated LM in process at zero latency, in
 * microseconds per call at p50. Measured in the same run and interleaved call by call (so machine load
 * hits all of them alike): the bare simulated provider call with the same messages (the floor: the
 * simulated LM reading the prompt and answering), the LM service call with those messages, and
 * `@ax-llm/ax` on its in-process `AxMockAIService`.
 *
 * `predict_overhead_p50` is the median of per-call differences Predict - bare provider (target <= 20 us);
 * `predict_over_lm_p50` is Predict - LM service (adapter plus module machinery only).
 */
import { type AxAIService, AxMockAIService, ax } from "@ax-llm/ax"
import { LM, Predict, Signature } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, nowUs, quantile } from "../Harness.js"

const ITERATIONS = 20_000
const WARMUP = 3_000
const question = "What is the capital of France?"

const time = async (run: () => Promise<unknown>): Promise<number> => {
  const start = nowUs()
  await run()
  return nowUs() - start
}

const bench: Bench = {
  name: "predict",
  description:
    "Predict overhead per call (simulated LM in process, zero latency) vs the bare provider, the LM service and Ax",
  run: async (report) => {
    const provider = SimLM.make({})
    const runtime = ManagedRuntime.make(LM.layerProvider(provider))
    const predictor = Predict.make(Signature.make("question -> answer"))
    const predict = Predict.forward(predictor, { question })
    const first = await runtime.runPromise(predict)
    if (typeof first.get("answer") !== "string") throw new Error("predict bench: no answer")
    // The exact request Predict sends, replayed to the LM service and to the bare provider.
    const history = await runtime.runPromise(Effect.flatMap(LM.LM, (lm) => lm.history))
    const request = history[history.length - 1]!.request
    const { model: _model, ...lmRequest } = request
    const lmCall = Effect.flatMap(LM.LM, (lm) => lm.complete(lmRequest))
    const bare = provider.complete(request)

    const ai = new AxMockAIService({
      chatResponse: {
        results: [{ index: 0, content: "Answer: Paris", finishReason: "stop" }],
        modelUsage: { ai: "mock", model: "mock", tokens: { promptTokens: 10, completionTokens: 2, totalTokens: 12 } }
      }
    }) as unknown as AxAIService
    const gen = ax("question:string -> answer:string")
    const axResult = await gen.forward(ai, { question })
    if (axResult.answer !== "Paris") throw new Error(`ax bench: unexpected answer ${JSON.stringify(axResult)}`)

    const samples = { bare: [] as Array<number>, lm: [] as Array<number>, predict: [] as Array<number> }
    const overhead: Array<number> = []
    const overLm: Array<number> = []
    const axSamples: Array<number> = []
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      const b = await time(() => runtime.runPromise(bare))
      const l = await time(() => runtime.runPromise(lmCall))
      const p = await time(() => runtime.runPromise(predict))
      const a = i % 4 === 0 ? await time(() => gen.forward(ai, { question })) : undefined
      if (i < WARMUP) continue
      samples.bare.push(b)
      samples.lm.push(l)
      samples.predict.push(p)
      overhead.push(p - b)
      overLm.push(p - l)
      if (a !== undefined) axSamples.push(a)
    }
    await runtime.dispose()
    const axP50 = quantile(axSamples, 0.5)

    report({ bench: "predict", metric: "sim_provider_p50", value: quantile(samples.bare, 0.5), unit: "us" })
    report({ bench: "predict", metric: "lm_service_p50", value: quantile(samples.lm, 0.5), unit: "us" })
    report({
      bench: "predict",
      metric: "predict_p50",
      value: quantile(samples.predict, 0.5),
      unit: "us",
      baseline: axP50
    })
    report({ bench: "predict", metric: "predict_p99", value: quantile(samples.predict, 0.99), unit: "us" })
    report({
      bench: "predict",
      metric: "predict_overhead_p50",
      value: quantile(overhead, 0.5),
      unit: "us",
      target: "<= 20 us"
    })
    report({ bench: "predict", metric: "predict_over_lm_p50", value: quantile(overLm, 0.5), unit: "us" })
    report({ bench: "predict", metric: "ax_mock_p50", value: axP50, unit: "us" })
  }
}

export default bench
