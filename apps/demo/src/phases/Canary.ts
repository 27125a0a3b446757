/**
 * The canary of the optimized version before it is promoted: a canary policy sends half the traffic to the
 * optimized version (guard rails on errors) and labelled requests score each arm. The policy runs as an experiment
 * of the application's `Experiments` service: a check of it recommends, the phase decides (no guard rail broken and
 * the candidate not worse: promoted, the policy lifted; else rolled back through the ModuleManager's
 * compare-and-swap, which a broken rail does by itself) and records the decision in it; the experiment's record
 * (each arm's requests, quality with its always-valid interval, the decision) is the phase's summary.
 */
import { Evaluate, type Example } from "@effect-dspy/core"
import { Analysis, Experiments, ModuleManager } from "@effect-dspy/services"
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
): Effect.Effect<ExperimentReport, unknown, ModuleManager.ModuleManager | Experiments.Experiments> =>
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
    // The canary runs as an experiment of the application's Experiments service (decided here, not auto-applied).
    const policy = yield* modules.setPolicy(
      moduleId,
      {
        _tag: "Canary",
        stable: baseline,
        candidate,
        fraction: 0.5,
        guardRails: { maxErrorRate: 0.2, minSamples: 20 }
      },
      { experiment: { minRewards: 20 } }
    )
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
    const experiments = yield* Experiments.Experiments
    const experimentId = policy.experimentId!
    if ((yield* modules.policy(moduleId)) === undefined) {
      // A guard rail broke: the ModuleManager rolled back by itself and records it in the experiment.
      log(`  a guard rail broke: v${candidate} was rolled back by itself.`)
      for (let turn = 0; turn < 200 && (yield* experiments.get(experimentId)).status === "running"; turn++)
        yield* Effect.sleep("5 millis")
    } else {
      // A check of the experiment now: each arm against the baseline, persisted with the record.
      const recommendation = (yield* experiments.analyze(experimentId)).recommendation
      if (recommendation._tag === "RollBack") {
        yield* modules.rollback(moduleId, Number(baseline), { ifVersion: Number(candidate) })
        yield* modules.clearPolicy(moduleId)
        yield* experiments.rollBack(experimentId, { arm: candidate, reason: recommendation.reason })
      } else {
        // No guard rail broke and the candidate is not worse: promote it (it serves everything).
        yield* modules.clearPolicy(moduleId)
        yield* experiments.promote(experimentId, {
          arm: candidate,
          reason:
            recommendation._tag === "Promote"
              ? recommendation.reason
              : `no guard rail broke and v${candidate} is not worse (${recommendation.reason})`
        })
      }
    }
    // The summary is the experiment's record: each arm's requests and quality with its interval, the decision.
    const record = yield* experiments.get(experimentId)
    const reports =
      record.analysis?.arms ??
      record.arms.map((arm) => Analysis.armReport(arm, record.stats[arm]!, record.settings.alpha))
    const arms = reports.map((a) => ({
      arm: a.arm,
      requests: a.requests,
      errorRate: a.errorRate,
      latencyP50Ms: a.latencyP50Ms ?? null,
      quality: a.quality ?? null,
      qualityInterval: a.qualityInterval ?? null,
      rewards: a.rewards
    }))
    const decision: ExperimentReport["decision"] = record.status === "promoted" ? "promoted" : "rolled_back"
    const reason = record.outcome?.reason ?? record.concludedReason ?? "a guard rail broke during the canary"
    const recommendation = record.analysis?.recommendation._tag ?? "RollBack"
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
    return { moduleId, baseline, candidate, arms, recommendation, decision, reason }
  })
