/**
 * Phases 2 and 3, optimize and hot-swap: each planned optimizer runs in the background through the
 * OptimizationCoordinator, with a live progress bar, while the traffic is served; the coordinator swaps a result
 * in only when it beats the serving version on the valset. Then the accuracy is measured again.
 */
import { ModuleManager, OptimizationCoordinator } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as ProgressBar from "../ProgressBar.js"
import type { OptimizationReport } from "../Summary.js"
import type { PhaseStats } from "../Traffic.js"
import type { Baseline } from "./Baseline.js"
import * as Stage from "./Stage.js"

/** What the optimizations did. */
export interface Optimized {
  readonly reports: ReadonlyArray<OptimizationReport>
  /** The traffic's figures while the optimizations ran. */
  readonly traffic: PhaseStats
  /** Accuracy (percent) of the version serving afterwards. */
  readonly accuracy: number
}

/** Runs the planned optimizations one after the other, then measures the serving version. */
export const run = (
  stage: Stage.Stage,
  baseline: Baseline
): Effect.Effect<Optimized, unknown, ModuleManager.ModuleManager | OptimizationCoordinator.OptimizationCoordinator> =>
  Effect.gen(function* () {
    const { settings, requests, moduleId, log, step } = stage
    const modules = yield* ModuleManager.ModuleManager
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    yield* requests.setPhase("optimizing")
    const reports: Array<OptimizationReport> = []
    for (const plan of settings.optimizations) {
      const serving = yield* modules.describe(moduleId)
      step(`Optimizing ${moduleId} v${serving.version} in the background with ${plan.optimizer}; serving continues.`)
      const jobStarted = performance.now()
      const { id } = yield* coordinator.start({
        moduleId,
        optimizer: plan.optimizer,
        trainset: stage.trainset,
        valset: stage.valset,
        metric: "exact_match",
        priority: 1,
        ...(plan.budget === undefined ? {} : { budget: plan.budget })
      })
      const bar = ProgressBar.make(settings.bars, plan.optimizer.padEnd(18))
      let lmCalls = 0
      let best: number | undefined
      let steps = 0
      let trials = 0
      const drawBar = Effect.gen(function* () {
        const live = yield* requests.phase("optimizing")
        const fractions = [
          plan.expect.steps === undefined ? undefined : steps / plan.expect.steps,
          plan.expect.trials === undefined ? undefined : trials / plan.expect.trials
        ].filter((f): f is number => f !== undefined)
        const fraction = fractions.length === 0 ? 0 : Math.min(0.99, Math.max(...fractions))
        bar.update(
          fraction,
          `${lmCalls} LM calls, best ${best === undefined ? "-" : `${best.toFixed(1)}%`}, serving p50 ${live.latencyP50Ms.toFixed(1)} ms`
        )
      })
      const watcher = yield* coordinator.progress(id).pipe(
        Stream.runForEach((update) => {
          if (update._tag === "Progress") {
            const event = update.event
            if (event._tag === "Step" && !event.resumed) {
              steps++
              lmCalls = Math.max(lmCalls, event.lmCalls)
            } else if (event._tag === "Trial") {
              trials++
              best = event.bestScore
            } else if (event._tag === "Completed") {
              lmCalls = Math.max(lmCalls, event.lmCalls)
            }
          }
          return drawBar
        }),
        Effect.ignore,
        Effect.fork
      )
      const job = yield* coordinator.await(id)
      yield* Fiber.interrupt(watcher)
      const seconds = ((performance.now() - jobStarted) / 1000).toFixed(1)
      bar.done(`${job.status} in ${seconds} s`)
      reports.push({
        optimizer: plan.optimizer,
        status: job.status,
        servingScore: job.servingScore ?? null,
        optimizedScore: job.optimizedScore ?? null,
        fromVersion: job.moduleVersion,
        swappedVersion: job.swappedVersion ?? null,
        lmCalls: Math.max(lmCalls, job.progress.lmCalls),
        trials: job.progress.trials,
        durationMs: Math.round(performance.now() - jobStarted)
      })
      if (job.status === "failed") return yield* Stage.fail(`the ${plan.optimizer} job failed: ${job.error}`)
      log(
        job.status === "swapped"
          ? `  valset ${job.servingScore?.toFixed(1)} -> ${job.optimizedScore?.toFixed(1)}: hot-swapped as version ${job.swappedVersion} (requests in flight finish on the version they started with).`
          : `  valset ${job.servingScore?.toFixed(1)} -> ${job.optimizedScore?.toFixed(1)}: below the swap margin, version ${job.moduleVersion} keeps serving.`
      )
    }
    const traffic = yield* requests.phase("optimizing")
    log(
      `Serving while optimizing: p50 ${traffic.latencyP50Ms.toFixed(1)} ms (baseline ${baseline.traffic.latencyP50Ms.toFixed(1)} ms), ${traffic.failed} failed of ${traffic.sent}.`
    )

    yield* requests.setPhase("optimized")
    const current = yield* modules.describe(moduleId)
    const accuracy = yield* Stage.accuracy(stage)
    step(
      `Accuracy of version ${current.version} on the same held-out questions: ${accuracy.toFixed(1)}% (was ${baseline.accuracy.toFixed(1)}%).`
    )
    return { reports, traffic, accuracy }
  })
