/**
 * SIMBA and GEPA (small settings) on the simulated LM with 50 ms latency per call (Effect's real clock), a
 * ChainOfThought on arithmetic.
 *
 * - Wall time against the ideal for the parallelism each algorithm allows: every phase whose calls are
 *   independent runs in waves of `concurrency` calls, phases that depend on each other run one after the
 *   other. SIMBA per step: rollouts, then advice calls, then candidate scores; then all finalists at once.
 *   GEPA per iteration: parent minibatch, reflection, child minibatch, full valset (when accepted); merges:
 *   subsample, then the rest. Target within 1.2x.
 * - LM and metric calls beside what DSPy's algorithm makes for the same settings (SIMBA: its formula; GEPA:
 *   the metric-call budget, which DSPy checks only between iterations and may overrun).
 * - Heap across steps: a separate SIMBA run without latency, heap after a full collection at the first
 *   candidate of each step (the pool of programs is the only state that grows).
 */
import { ChainOfThought, Example, LM, Signature } from "@effect-dspy/core"
import { Arithmetic, SimLatency, SimLM, SimTask } from "@effect-dspy/sim"
import { GEPA, Optimizer, SIMBA } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, heapUsed, nowUs } from "../Harness.js"

const LATENCY_MS = 50
// 16 calls in flight: each call costs ~0.6 ms of CPU (prompt formatting, the simulator, parsing), so a wave
// of 16 adds ~10 ms to the 50 ms of latency; at 64 in flight CPU, not latency, would set the pace.
const CONCURRENCY = 16
const NAME = "optimizers-evolution"

const data = () => {
  const splits = SimTask.splits(Arithmetic.task, { seed: 3, train: 32, dev: 30, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: e.answer }).withInputs("question")
  return { train: splits.train.map(toExample), val: splits.dev.map(toExample) }
}

const metric: Optimizer.Metric = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

const waves = (calls: number, concurrency: number) => Math.ceil(calls / concurrency)

const bench: Bench = {
  name: NAME,
  description:
    "SIMBA and GEPA at 50 ms simulated latency: wall time vs the ideal, LM/metric calls vs DSPy, heap across steps",
  run: async (report) => {
    const { train, val } = data()
    const student = ChainOfThought.make(Signature.make("question -> answer: int"))
    const runtime = ManagedRuntime.make(
      LM.layerProvider(SimLM.make({ latency: SimLatency.fixed(LATENCY_MS) }), { historySize: 100 })
    )
    // Warm up the code paths without latency (not timed): the JIT, not the algorithm, dominates a cold run.
    const warm = ManagedRuntime.make(LM.layerProvider(SimLM.make({ seed: 1 }), { historySize: 100 }))
    for (let i = 0; i < 6; i++) {
      await warm.runPromise(
        Optimizer.compile(SIMBA.make({ bsize: 16, numCandidates: 4, maxSteps: 3 }), student, {
          trainset: train,
          metric,
          concurrency: CONCURRENCY,
          seed: i + 1
        })
      )
      await warm.runPromise(
        Optimizer.compile(GEPA.make({ maxMetricCalls: 200 }), student, {
          trainset: train,
          valset: val,
          metric,
          concurrency: CONCURRENCY,
          seed: i + 1
        })
      )
    }
    await warm.dispose()

    // SIMBA: bsize 16, 4 candidates, 3 steps.
    {
      const settings = { bsize: 16, numCandidates: 4, maxSteps: 3 }
      const concurrency = CONCURRENCY
      const start = nowUs()
      const cpuStart = process.cpuUsage()
      const { report: r } = await runtime.runPromise(
        Optimizer.compile(SIMBA.make(settings), student, { trainset: train, metric, concurrency })
      )
      const wallS = (nowUs() - start) / 1e6
      const cpu = process.cpuUsage(cpuStart)
      const d = r.details as unknown as SIMBA.Details
      let idealWaves = 0
      for (const step of d.steps) {
        idealWaves += waves(step.rollouts, concurrency)
        idealWaves += waves(step.adviceCalls, concurrency)
        idealWaves += waves(step.candidates.length * step.batch.length, concurrency)
      }
      idealWaves += waves(d.finalists.length * train.length, concurrency)
      // Calls beyond one per scored run (adapter fallbacks) each add a sequential call.
      const extraCalls = r.lmCalls - d.metricCalls - d.advisorCalls
      const ideal = ((idealWaves + Math.max(0, extraCalls)) * LATENCY_MS) / 1000
      const dspyMetric = SIMBA.expectedMetricCalls(settings, train.length)
      report({ bench: NAME, metric: "simba_wall_time", value: wallS, unit: "s", baseline: ideal, target: "<= 1.2x" })
      report({
        bench: NAME,
        metric: "simba_cpu_per_lm_call",
        value: (cpu.user + cpu.system) / 1000 / r.lmCalls,
        unit: "ms"
      })
      report({
        bench: NAME,
        metric: "simba_metric_calls",
        value: d.metricCalls,
        unit: "calls",
        baseline: dspyMetric,
        target: "== 1x"
      })
      report({
        bench: NAME,
        metric: "simba_lm_calls",
        value: r.lmCalls,
        unit: "calls",
        baseline: dspyMetric + d.advisorCalls,
        target: "== 1x (DSPy: one per run plus one per advice)"
      })
      report({ bench: NAME, metric: "simba_train_score_baseline", value: r.baselineScore ?? Number.NaN, unit: "%" })
      report({
        bench: NAME,
        metric: "simba_train_score_best",
        value: r.bestScore ?? Number.NaN,
        unit: "%",
        baseline: r.baselineScore ?? null
      })
    }

    // GEPA: 300 metric calls, 3-example minibatches, valset 30.
    {
      const maxMetricCalls = 300
      const concurrency = CONCURRENCY
      const start = nowUs()
      const cpuStart = process.cpuUsage()
      const { report: r } = await runtime.runPromise(
        Optimizer.compile(GEPA.make({ maxMetricCalls }), student, { trainset: train, valset: val, metric, concurrency })
      )
      const wallS = (nowUs() - start) / 1e6
      const cpu = process.cpuUsage(cpuStart)
      const d = r.details as unknown as GEPA.Details
      const V = val.length
      let idealWaves = waves(V, concurrency)
      for (const it of d.iterations) {
        if (it.kind === "merge") {
          idealWaves +=
            waves(it.minibatch.length, concurrency) + (it.accepted ? waves(V - it.minibatch.length, concurrency) : 0)
          continue
        }
        idealWaves += waves(it.minibatch.length, concurrency)
        if (it.note === "parent perfect on the minibatch") continue
        idealWaves += 1
        if (it.childScore === null) continue
        idealWaves += waves(it.minibatch.length, concurrency)
        if (it.accepted) idealWaves += waves(V, concurrency)
      }
      const extraCalls = r.lmCalls - d.metricCalls - d.reflectionCalls
      const ideal = ((idealWaves + Math.max(0, extraCalls)) * LATENCY_MS) / 1000
      report({ bench: NAME, metric: "gepa_wall_time", value: wallS, unit: "s", baseline: ideal, target: "<= 1.2x" })
      report({
        bench: NAME,
        metric: "gepa_cpu_per_lm_call",
        value: (cpu.user + cpu.system) / 1000 / r.lmCalls,
        unit: "ms"
      })
      report({
        bench: NAME,
        metric: "gepa_metric_calls",
        value: d.metricCalls,
        unit: "calls",
        baseline: maxMetricCalls,
        target: "<= 1x (DSPy may overrun by one iteration)"
      })
      report({
        bench: NAME,
        metric: "gepa_lm_calls",
        value: r.lmCalls,
        unit: "calls",
        baseline: d.metricCalls + d.reflectionCalls,
        target: "== 1x (one per scored run plus one per reflection)"
      })
      report({ bench: NAME, metric: "gepa_candidates", value: d.candidates.length, unit: "programs" })
      report({
        bench: NAME,
        metric: "gepa_val_score_best",
        value: r.bestScore ?? Number.NaN,
        unit: "%",
        baseline: r.baselineScore ?? null
      })
    }
    await runtime.dispose()

    // Heap across SIMBA steps (no latency): after a full collection at each step's first candidate.
    {
      const fast = ManagedRuntime.make(LM.layerProvider(SimLM.make({}), { historySize: 100 }))
      const byStep: Array<number> = []
      const before = heapUsed()
      await fast.runPromise(
        Optimizer.compile(SIMBA.make({ bsize: 16, numCandidates: 4, maxSteps: 8 }), student, {
          trainset: train,
          metric,
          concurrency: 64,
          onProgress: (event) =>
            Effect.sync(() => {
              if (event._tag !== "Trial") return
              const step = event.trial.details["step"]
              if (typeof step === "number" && byStep[step] === undefined) byStep[step] = heapUsed()
            })
        })
      )
      await fast.dispose()
      const first = byStep[0] ?? before
      const last = byStep[byStep.length - 1] ?? before
      report({ bench: NAME, metric: "simba_heap_step1", value: first / 1e6, unit: "MB", baseline: before / 1e6 })
      report({
        bench: NAME,
        metric: "simba_heap_step8",
        value: last / 1e6,
        unit: "MB",
        baseline: first / 1e6,
        target: "flat (<= 1.1x step 1)"
      })
    }
  }
}

export default bench
