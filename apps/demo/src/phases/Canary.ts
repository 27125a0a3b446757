/**
 * The canary of the optimized version before it is promoted: a canary policy sends half the traffic to the
 * optimized version (guard rails on errors), labelled requests score each arm, and the sequential analysis
 * (`Analysis.analyze`) reports each arm's quality with its always-valid interval. No guard rail broken: the
 * optimized version is promoted (the policy lifted, it serves everything); a broken rail rolls the module back by
 * itself (through the ModuleManager's compare-and-swap).
 */
import { Evaluate, type Example } from "@effect-dspy/core"
import { Analysis, ModuleManager } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import type { ExperimentReport } from "../Summary.js"
import type { Optimized } from "./Optimize.js"
import type * as Stage from "./Stage.js"

/** How many labelled requests the canary scores (from the valset). */
const labelled = 60

/** Runs the canary of the last swapped version against the one it replaced. */
export const run = (
  stage: Stage.Stage,
  optimized: Optimized
): Effect.Effect<ExperimentReport, unknown, ModuleManager.ModuleManager> =>
  Effect.gen(function* () {
    const { moduleId, requests, step, log } = stage
    const modules = yield* ModuleManager.ModuleManager
    const swap = [...optimized.reports].reverse().find((r) => r.swappedVersion !== null)
    const current = yield* modules.describe(moduleId)
    if (swap === undefined || swap.swappedVersion !== current.version) {
      return {
        moduleId,
        baseline: null,
        candidate: null,
        arms: [],
        recommendation: "none",
        decision: "no_candidate",
        reason: "no optimization was swapped in"
      } satisfies ExperimentReport
    }
    const baseline = String(swap.fromVersion)
    const candidate = String(current.version)
    yield* requests.setPhase("canary")
    yield* modules.setPolicy(moduleId, {
      _tag: "Canary",
      stable: baseline,
      candidate,
      fraction: 0.5,
      guardRails: { maxErrorRate: 0.2, minSamples: 20 }
    })
    step(
      `Canary: half the traffic to the optimized v${candidate}, half to v${baseline}; ${labelled} labelled requests score both.`
    )
    const reward = (example: Example.Any) => (output: unknown) =>
      Evaluate.answerExactMatch(example, output as Evaluate.AnyPrediction) ? 1 : 0
    yield* Effect.forEach(
      stage.valset.slice(0, labelled),
      (example) => Effect.either(modules.execute(moduleId, example.inputs().toRecord(), { reward: reward(example) })),
      { concurrency: 8, discard: true }
    )
    const status = yield* modules.policy(moduleId)
    if (status === undefined) {
      // A guard rail broke: the ModuleManager rolled back by itself (its event says why).
      log(`  a guard rail broke: v${candidate} was rolled back by itself.`)
      return {
        moduleId,
        baseline,
        candidate,
        arms: [],
        recommendation: "RollBack",
        decision: "rolled_back",
        reason: "a guard rail broke during the canary"
      } satisfies ExperimentReport
    }
    const analysis = Analysis.analyze({ baseline, arms: status.arms, settings: { minRewards: 20 } })
    const arms = analysis.arms.map((a) => ({
      arm: a.arm,
      requests: a.requests,
      errorRate: a.errorRate,
      latencyP50Ms: a.latencyP50Ms ?? null,
      quality: a.quality ?? null,
      qualityInterval: a.qualityInterval ?? null,
      rewards: a.rewards
    }))
    const recommendation = analysis.recommendation
    let decision: ExperimentReport["decision"]
    let reason: string
    if (recommendation._tag === "RollBack") {
      yield* modules.rollback(moduleId, Number(baseline), { ifVersion: Number(candidate) })
      yield* modules.clearPolicy(moduleId)
      decision = "rolled_back"
      reason = recommendation.reason
    } else {
      // No guard rail broke and the candidate is not worse: promote it (it serves everything).
      yield* modules.clearPolicy(moduleId)
      decision = "promoted"
      reason =
        recommendation._tag === "Promote"
          ? recommendation.reason
          : `no guard rail broke and v${candidate} is not worse (${recommendation.reason})`
    }
    for (const a of arms) {
      log(
        `  v${a.arm}: ${a.requests} requests, quality ${a.quality === null ? "-" : (100 * a.quality).toFixed(1)}%${
          a.qualityInterval === null
            ? ""
            : ` [${(100 * a.qualityInterval.lower).toFixed(1)}, ${(100 * a.qualityInterval.upper).toFixed(1)}]`
        }, errors ${(100 * a.errorRate).toFixed(1)}%`
      )
    }
    log(`  ${decision}: ${reason}`)
    return { moduleId, baseline, candidate, arms, recommendation: recommendation._tag, decision, reason }
  })
