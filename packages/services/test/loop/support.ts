/**
 * Traffic for the loop's scenarios: arithmetic questions from the simulated task (under the drift in force), each
 * executed and given feedback (exact match as the metric, the gold answer as the corrected answer).
 */
import { Evaluate, Example } from "@effect-dspy/core"
import { SimDrift } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import { Loop, ModuleManager } from "../../src/index.js"

/** The loop's settings in the scenarios: acting, with windows sized for a few thousand requests. */
export const driftSettings = {
  enabled: true,
  window: 150,
  minSamples: 100,
  baselineSamples: 300,
  relativeDrop: 0.15,
  absoluteDrop: 0.05,
  cooldownMs: 60_000,
  trainSize: 60,
  minTrainSize: 30,
  canary: { fraction: 0.5, minRewards: 30, maxRewards: 600 }
} as const

/** What a run of traffic saw. */
export interface Traffic {
  /** Quality (exact match) of the requests in [from, to). */
  readonly qualityBetween: (from: number, to: number) => number
  readonly qualityBefore: (request: number) => number
  /** Quality over the whole run. */
  readonly quality: number
  /** The request (index) at which a decision was taken (from the rewards the module had observed then). */
  readonly requestAtDecision: (decision: Loop.Decision) => number
  readonly requests: number
}

/** Runs `requests` requests with feedback, stopping early when `stopWhen` holds. */
export const runTraffic = (options: {
  readonly moduleId: string
  readonly requests: number
  readonly seed: number
  readonly from?: number
  readonly onRequest?: (i: number) => void
  readonly afterRequest?: (i: number) => Effect.Effect<void>
  readonly stopWhen?: (decisions: ReadonlyArray<Loop.Decision>, i: number) => boolean
}): Effect.Effect<Traffic, unknown, ModuleManager.ModuleManager | Loop.Loop> =>
  Effect.gen(function* () {
    const modules = yield* ModuleManager.ModuleManager
    const loop = yield* Loop.Loop
    const right: Array<number> = []
    const base = (yield* loop.status).modules.find((m) => m.moduleId === options.moduleId)?.rewards ?? 0
    for (let i = 0; i < options.requests; i++) {
      options.onRequest?.(i)
      const e = SimDrift.example(undefined, "arithmetic", options.seed, (options.from ?? 0) + i) as {
        readonly question: string
        readonly answer: number
      }
      const example = Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
      const execution = yield* modules.execute(options.moduleId, { question: e.question })
      const correct = Evaluate.answerExactMatch(example, execution.output as Evaluate.AnyPrediction)
      right.push(correct ? 1 : 0)
      yield* loop.feedback({
        executionId: execution.executionId,
        outcome: { metric: correct ? 1 : 0, corrected: { answer: String(e.answer) } }
      })
      if (options.afterRequest !== undefined) yield* options.afterRequest(i)
      // Lets the loop's process and jobs run between requests.
      yield* Effect.yieldNow()
      if (options.stopWhen !== undefined && i % 20 === 0 && options.stopWhen(yield* loop.decisions, i)) break
    }
    const mean = (from: number, to: number) => {
      const xs = right.slice(Math.max(0, from), Math.min(right.length, to))
      return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
    }
    return {
      qualityBetween: mean,
      qualityBefore: (request) => mean(0, request),
      quality: mean(0, right.length),
      requestAtDecision: (d) => d.atFeedback - base,
      requests: right.length
    }
  })
