/**
 * The real-time loop: a second module (ChainOfThought arithmetic) serves labelled traffic with feedback on every
 * answer; the simulated LM then drifts (its arithmetic accuracy drops); the application's loop detects the
 * degradation, starts an optimization job on the module's recent experiences by itself, canaries the result and
 * promotes it (or rolls it back). The phase only sends traffic and feedback: it never calls the coordinator. The
 * drift is cleared at the end of the phase. Runs on the simulated LM only (a real provider cannot be drifted).
 */
import { Evaluate, Example } from "@effect-dspy/core"
import { Arithmetic, type SimDrift, SimTask } from "@effect-dspy/sim"
import { Loop, ModuleManager } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import type { LoopReport } from "../Summary.js"
import type * as Stage from "./Stage.js"

/** The loop's module. */
export const loopModuleId = "arithmetic_loop"

/** The loop's policy settings in the demo (the application is built with them; see `Setup`). */
export const settings = {
  enabled: true,
  window: 200,
  minSamples: 150,
  baselineSamples: 300,
  // Strict enough that the noise of a 200-request window (about 3.5 points) does not fire it.
  relativeDrop: 0.25,
  absoluteDrop: 0.1,
  cooldownMs: 60_000,
  // 105 training examples: the AdaptiveOptimizer picks MIPROv2 (demos and an instruction).
  trainSize: 140,
  minTrainSize: 30,
  canary: { fraction: 0.5, minRewards: 30, maxRewards: 500 }
} as const

/** The drift the phase injects. */
const drift: SimDrift.Drift = { _tag: "AccuracyDrop", task: "arithmetic", logits: 1.2 }

const mean = (xs: ReadonlyArray<number>) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length)

/** Runs the phase: at most `maxRequests` requests, 16 at a time, the drift injected at request `onset` (450). */
export const run = (
  stage: Stage.Stage,
  control: SimDrift.Control | undefined,
  options: { readonly onset?: number; readonly maxRequests?: number; readonly after?: number } = {}
): Effect.Effect<LoopReport | null, unknown, ModuleManager.ModuleManager | Loop.Loop> =>
  Effect.gen(function* () {
    if (control === undefined) {
      stage.step("Real-time loop: skipped (a real provider cannot be drifted; the loop runs on the simulated LM).")
      return null
    }
    const onset = options.onset ?? 450
    const maxRequests = options.maxRequests ?? 2_500
    const afterRequests = options.after ?? 300
    const modules = yield* ModuleManager.ModuleManager
    const loop = yield* Loop.Loop
    yield* stage.requests.setPhase("loop")
    yield* modules.create({ id: loopModuleId, kind: "chain_of_thought", signature: "question -> answer" })
    stage.step(
      `Real-time loop: "${loopModuleId}" serves labelled traffic with feedback; at request ${onset} the simulated LM's arithmetic accuracy drops.`
    )
    const questions = SimTask.generate(Arithmetic.task, 313 + (stage.settings.seed ?? 0), maxRequests + afterRequests)
    const right: Array<number> = []
    const serve = (i: number) =>
      Effect.gen(function* () {
        const q = questions[i]!
        const example = Example.make({ question: q.question, answer: String(q.answer) }).withInputs("question")
        const execution = yield* modules.execute(loopModuleId, { question: q.question })
        const correct = Evaluate.answerExactMatch(example, execution.output as Evaluate.AnyPrediction)
        right[i] = correct ? 1 : 0
        yield* loop.feedback({
          executionId: execution.executionId,
          outcome: { metric: correct ? 1 : 0, corrected: { answer: String(q.answer) } }
        })
      }).pipe(Effect.ignore)
    const ofModule = (ds: ReadonlyArray<Loop.Decision>) => ds.filter((d) => d.moduleId === loopModuleId)
    const base = (yield* loop.decisions).length
    let detectedAt: number | null = null
    let endedAt: number | null = null
    let sent = 0
    while (sent < maxRequests && endedAt === null) {
      if (sent === onset) {
        control.set(drift)
        stage.log(
          `  drift injected at request ${onset}: arithmetic accuracy -${drift._tag === "AccuracyDrop" ? drift.logits : 0} logits`
        )
      }
      const batch = Array.from(
        { length: Math.min(16, (sent < onset ? onset : maxRequests) - sent) },
        (_, k) => sent + k
      )
      yield* Effect.forEach(batch, serve, { concurrency: 16, discard: true })
      sent += batch.length
      const decisions = ofModule((yield* loop.decisions).slice(base))
      if (detectedAt === null && decisions.some((d) => d.action === "start_job")) {
        detectedAt = sent
        const start = decisions.find((d) => d.action === "start_job")!
        stage.log(`  detected at request ${sent}: ${start.reason}`)
      }
      const end = decisions.find((d) => d.action === "promote" || d.action === "roll_back")
      if (end !== undefined) {
        endedAt = sent
        stage.log(`  ${end.action === "promote" ? "promoted" : "rolled back"} at request ${sent}: ${end.reason}`)
      }
    }
    // Quality after the loop's decision, the drift still in force.
    const afterFrom = sent
    if (endedAt !== null) {
      const rest = Array.from({ length: afterRequests }, (_, k) => afterFrom + k)
      yield* Effect.forEach(rest, serve, { concurrency: 16, discard: true })
    }
    control.clear()
    const decisions = ofModule((yield* loop.decisions).slice(base))
    const started = decisions.find((d) => d.action === "start_job")
    const end = decisions.find((d) => d.action === "promote" || d.action === "roll_back")
    const status = yield* loop.status
    const slice = (from: number, to: number) => right.slice(from, to).filter((x) => x !== undefined)
    const report: LoopReport = {
      moduleId: loopModuleId,
      driftAtRequest: onset,
      detectedAtRequest: detectedAt,
      jobId: started?.jobId ?? null,
      optimizer: started === undefined ? null : (/: (\w+) on \d+ recent/.exec(started.reason)?.[1] ?? null),
      canaryDecision: end === undefined ? "none" : end.action === "promote" ? "promoted" : "rolled_back",
      quality: {
        before: mean(slice(0, onset)),
        during: mean(slice(onset, endedAt ?? sent)),
        after: endedAt === null ? null : mean(slice(afterFrom, afterFrom + afterRequests))
      },
      requests: right.filter((x) => x !== undefined).length,
      lmCalls: status.spent.lmCalls,
      costUsd: status.spent.costUsd,
      decisions: decisions.length
    }
    const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`)
    stage.log(
      `  quality ${pct(report.quality.before)} before the drift, ${pct(report.quality.during)} during, ${pct(report.quality.after)} after; the loop spent ${report.lmCalls} LM calls ($${report.costUsd.toFixed(4)})`
    )
    return report
  })
