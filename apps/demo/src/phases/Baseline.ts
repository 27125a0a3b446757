/**
 * Phase 1, baseline: the serving version's accuracy on the held-out questions, and the traffic's figures before
 * anything else happens.
 */
import type { ModuleManager } from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { PhaseStats } from "../Traffic.js"
import * as Stage from "./Stage.js"

/** What the baseline measured. */
export interface Baseline {
  /** Accuracy (percent) of the first version. */
  readonly accuracy: number
  readonly traffic: PhaseStats
}

/** Measures the accuracy, then lets the traffic run for `baselineMs` in all. */
export const run = (stage: Stage.Stage): Effect.Effect<Baseline, unknown, ModuleManager.ModuleManager> =>
  Effect.gen(function* () {
    const started = performance.now()
    const accuracy = yield* Stage.accuracy(stage)
    stage.log(
      `Accuracy of version ${stage.firstVersion} on ${stage.testset.length} held-out questions: ${accuracy.toFixed(1)}%`
    )
    const waited = performance.now() - started
    if (waited < stage.settings.baselineMs) yield* Effect.sleep(Duration.millis(stage.settings.baselineMs - waited))
    const traffic = yield* stage.requests.phase("baseline")
    stage.log(`Baseline traffic: ${traffic.answered} answered, p50 ${traffic.latencyP50Ms.toFixed(1)} ms.`)
    return { accuracy, traffic }
  })
