/**
 * Bootstrap optimizers at 50 ms simulated latency (Effect's real clock, no LM cache), concurrency 8, on the
 * arithmetic task with a ChainOfThought student:
 *
 * - BootstrapFewShot (maxBootstrappedDemos 16, trainset 100) and BootstrapFewShotWithRandomSearch
 *   (4 random candidates + 3 fixed ones, maxBootstrappedDemos 4, maxLabeledDemos 4, trainset 40, valset 40):
 *   wall time against the ideal `LM calls x latency / concurrency` (target within 1.2x);
 * - the LM calls made beside the calls DSPy's algorithm makes for the same settings: its sequential walk
 *   makes one teacher call per example visited per round until enough successes (the `attempts` the
 *   optimizer reports), and random search adds one call per valset example per candidate. Ours can exceed
 *   it by at most `concurrency - 1` teacher runs per bootstrap (the rest of the last wave);
 * - heap (after a full GC) at each random-search trial: first, last and the highest (target flat).
 */
import { ChainOfThought, Evaluate, Example, LM, Signature } from "@effect-dspy/core"
import { Arithmetic, SimLatency, SimLM, SimTask } from "@effect-dspy/sim"
import { BootstrapFewShot, BootstrapFewShotWithRandomSearch, Optimizer, type Progress } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, heapUsed, nowUs } from "../Harness.js"

const LATENCY_MS = 50
const CONCURRENCY = 8
const NAME = "optimizers-bootstrap"

const examples = SimTask.splits(Arithmetic.task, { seed: 4, train: 140, dev: 0, test: 0 }).train.map((e) =>
  Example.make({ question: e.question, answer: e.answer }).withInputs("question")
)
const metric: Optimizer.Metric = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

const cpuMsSince = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

const bench: Bench = {
  name: NAME,
  description: "BootstrapFewShot and random search at 50 ms latency, concurrency 8: wall vs ideal, LM calls vs DSPy's",
  run: async (report) => {
    const runtime = ManagedRuntime.make(
      LM.layerProvider(SimLM.make({ latency: SimLatency.fixed(LATENCY_MS) }), { historySize: 100 })
    )
    const student = ChainOfThought.make(Signature.make("question -> answer: int"))
    // Warm up the code paths (not timed).
    await runtime.runPromise(
      Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 2 }), student, {
        trainset: examples.slice(0, 8),
        metric,
        concurrency: CONCURRENCY
      })
    )

    // Random search: timed (no heap sampling inside), then again with the heap sampled at each trial.
    // Baseline: CPU per call of a plain Evaluate run of a program with demos (the path every call takes; the
    // simulated LM reads each demo, so prompts with demos cost more than zero-shot ones).
    let evaluateCpuPerCall = 0
    {
      const withDemos = (
        await runtime.runPromise(
          Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4 }), student, {
            trainset: examples.slice(0, 40),
            metric
          })
        )
      ).program
      const cpu = process.cpuUsage()
      const { usage } = await runtime.runPromise(
        LM.trackUsage(
          Evaluate.run({ devset: examples.slice(40, 100), program: withDemos, metric, concurrency: CONCURRENCY })
        )
      )
      evaluateCpuPerCall = cpuMsSince(cpu) / usage.calls
    }
    const search = (onProgress?: (event: Progress.Event) => Effect.Effect<void>) =>
      runtime.runPromise(
        Optimizer.compile(
          BootstrapFewShotWithRandomSearch.make({
            numCandidatePrograms: 4,
            maxBootstrappedDemos: 4,
            maxLabeledDemos: 4
          }),
          student,
          {
            trainset: examples.slice(0, 40),
            valset: examples.slice(100, 140),
            metric,
            concurrency: CONCURRENCY,
            ...(onProgress === undefined ? {} : { onProgress })
          }
        )
      )
    // BootstrapFewShot
    {
      const cpu = process.cpuUsage()
      const start = nowUs()
      const { report: r } = await runtime.runPromise(
        Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 16 }), student, {
          trainset: examples.slice(0, 100),
          metric,
          concurrency: CONCURRENCY
        })
      )
      const wallS = (nowUs() - start) / 1e6
      const cpuMs = cpuMsSince(cpu)
      const ideal = (r.lmCalls * LATENCY_MS) / 1000 / CONCURRENCY
      const dspyCalls = r.details["attempts"] as number
      report({
        bench: NAME,
        metric: "bootstrap_cpu_per_call",
        value: cpuMs / r.lmCalls,
        unit: "ms",
        baseline: evaluateCpuPerCall
      })
      report({
        bench: NAME,
        metric: "bootstrap_wall_time",
        value: wallS,
        unit: "s",
        baseline: ideal,
        target: "<= 1.2x"
      })
      report({
        bench: NAME,
        metric: "bootstrap_lm_calls",
        value: r.lmCalls,
        unit: "calls",
        baseline: dspyCalls,
        target: `<= DSPy + ${CONCURRENCY - 1}`
      })
      report({
        bench: NAME,
        metric: "bootstrap_dspy_sequential_time",
        value: (dspyCalls * LATENCY_MS) / 1000,
        unit: "s",
        baseline: wallS
      })
    }

    {
      const cpu = process.cpuUsage()
      const start = nowUs()
      const { report: r } = await search()
      const wallS = (nowUs() - start) / 1e6
      const cpuMs = cpuMsSince(cpu)
      const ideal = (r.lmCalls * LATENCY_MS) / 1000 / CONCURRENCY
      const candidates = r.details["candidates"] as ReadonlyArray<BootstrapFewShotWithRandomSearch.Candidate>
      const dspyCalls = candidates.reduce((n, c) => n + c.teacherRuns, 0) + candidates.length * 40
      report({
        bench: NAME,
        metric: "random_search_wall_time",
        value: wallS,
        unit: "s",
        baseline: ideal,
        target: "<= 1.2x"
      })
      report({
        bench: NAME,
        metric: "random_search_cpu_per_call",
        value: cpuMs / r.lmCalls,
        unit: "ms",
        baseline: evaluateCpuPerCall
      })
      report({
        bench: NAME,
        metric: "random_search_lm_calls",
        value: r.lmCalls,
        unit: "calls",
        baseline: dspyCalls,
        target: `<= DSPy + ${(CONCURRENCY - 1) * 5}`
      })
      report({
        bench: NAME,
        metric: "random_search_dspy_sequential_time",
        value: (dspyCalls * LATENCY_MS) / 1000,
        unit: "s",
        baseline: wallS
      })
      report({
        bench: NAME,
        metric: "random_search_best_score",
        value: r.bestScore ?? 0,
        unit: "%",
        baseline: r.baselineScore ?? null
      })
      report({ bench: NAME, metric: "random_search_trials", value: r.trials.length, unit: "trials" })
    }
    {
      const heaps: Array<number> = []
      await search((event) => (event._tag === "Trial" ? Effect.sync(() => void heaps.push(heapUsed())) : Effect.void))
      report({ bench: NAME, metric: "heap_first_trial", value: heaps[0]! / 1e6, unit: "MB" })
      report({
        bench: NAME,
        metric: "heap_max_trial",
        value: Math.max(...heaps) / 1e6,
        unit: "MB",
        baseline: heaps[0]! / 1e6
      })
      report({
        bench: NAME,
        metric: "heap_last_trial",
        value: heaps.at(-1)! / 1e6,
        unit: "MB",
        baseline: heaps[0]! / 1e6,
        target: "flat"
      })
    }
    await runtime.dispose()
  }
}

export default bench
