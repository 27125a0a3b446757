/**
 * Instruction optimizers at 50 ms simulated latency (real clock), ChainOfThought on the arithmetic task:
 *
 * - COPRO (breadth 5, depth 2, 64 training examples, concurrency 16). Its phases are sequential (a proposal
 *   call, then every candidate x example of a level in one bounded pool), so the ideal wall time is the sum
 *   over phases of `ceil(calls / concurrency) * 50 ms`; also shown: the naive `calls * 50 ms / concurrency`.
 * - MIPROv2 light (200 training examples, no valset: 40 train / 100 sampled val, concurrency 16). Trials
 *   are sequential (TPE needs each score), each a minibatch of 35 scored concurrently; the ideal is the sum
 *   over sequential phases (bootstrap waves, summary calls, proposal chains, each evaluation) of
 *   `ceil(calls / concurrency) * 50 ms`.
 *
 * Both also report the process CPU time of the timed run and the wall time against ideal + CPU (the simulated
 * LM, the adapters and the optimizer run on one thread, so their CPU adds to the latency-bound ideal; on a
 * loaded machine the wall time also holds time waiting for a core).
 *
 * MIPROv2 also runs with `parallelTrials: 2` (constant-liar batches) against the sequential wall time.
 *
 * Each reports LM calls next to the count DSPy's algorithm makes for the same settings (derived from the
 * algorithm and this run's bootstrap walks), the score before and after, and the heap after each trial in a
 * run at zero latency made first (first vs last trial: flat when nothing is retained per trial); that run also
 * warms the code paths up before the timed run.
 */
import { ChainOfThought, Example, LM, Signature } from "@effect-dspy/core"
import { SimLatency, SimLM, SimTask, Arithmetic } from "@effect-dspy/sim"
import { COPRO, MIPROv2, Optimizer } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, type Figure, heapUsed, nowUs } from "../Harness.js"

const LATENCY_MS = 50
const CONCURRENCY = 16
const NAME = "optimizers-instructions"

const data = (train: number) =>
  SimTask.splits(Arithmetic.task, { seed: 5, train, dev: 0, test: 0 }).train.map((e) =>
    Example.make({ question: e.question, answer: e.answer }).withInputs("question")
  )

const metric: Optimizer.Metric = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

// A user's first instruction names the task (as the proposer's prompt then does).
const student = () =>
  ChainOfThought.make(
    Signature.make("question -> answer: int", { instructions: "Answer the arithmetic word problem with a number." })
  )

const runtimeFor = (latencyMs: number) =>
  ManagedRuntime.make(
    LM.layerProvider(SimLM.make({ seed: 1, ...(latencyMs > 0 ? { latency: SimLatency.fixed(latencyMs) } : {}) }), {
      model: "sim-1",
      historySize: 100
    })
  )

/** Heap (after a full collection) at every trial of a zero-latency run: first and last. */
const heapAcrossTrials = async (optimizer: Optimizer.Optimizer, trainset: ReadonlyArray<Example.Any>) => {
  const runtime = runtimeFor(0)
  const heaps: Array<number> = []
  await runtime.runPromise(
    Optimizer.compile(optimizer, student(), {
      trainset,
      metric,
      concurrency: CONCURRENCY,
      onProgress: (event) =>
        event._tag === "Trial"
          ? Effect.sync(() => {
              heaps.push(heapUsed())
            })
          : Effect.void
    })
  )
  await runtime.dispose()
  return { first: heaps[0]! / 1e6, last: heaps[heaps.length - 1]! / 1e6, trials: heaps.length }
}

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

const rounds = (calls: number) => Math.ceil(calls / CONCURRENCY)

const bench: Bench = {
  name: NAME,
  description: "COPRO (breadth 5, depth 2) and MIPROv2 light on ChainOfThought at 50 ms latency, concurrency 16",
  run: async (report) => {
    const emit = (figure: Omit<Figure, "bench">) => report({ bench: NAME, ...figure })

    // --- COPRO -------------------------------------------------------------------------------------------
    {
      const breadth = 5
      const depth = 2
      const trainset = data(64)
      // The zero-latency heap run first: it also warms the code paths up before the timed run.
      const heap = await heapAcrossTrials(COPRO.make({ breadth, depth }), trainset)
      const runtime = runtimeFor(LATENCY_MS)
      const cpu0 = process.cpuUsage()
      const start = nowUs()
      const { report: r } = await runtime.runPromise(
        Optimizer.compile(COPRO.make({ breadth, depth }), student(), { trainset, metric, concurrency: CONCURRENCY })
      )
      const wallS = (nowUs() - start) / 1e6
      const cpuS = cpuSeconds(cpu0)
      await runtime.dispose()
      // DSPy: one proposal call per predictor and level; every level scores `breadth` candidates on the trainset.
      const dspyCalls = depth + depth * breadth * trainset.length
      const ideal = (depth * 1 + depth * rounds(breadth * trainset.length)) * (LATENCY_MS / 1000)
      const naive = (r.lmCalls * LATENCY_MS) / 1000 / CONCURRENCY
      emit({ metric: "copro_wall_time", value: wallS, unit: "s", baseline: ideal, target: "<= 1.2x (phase ideal)" })
      emit({ metric: "copro_cpu", value: cpuS, unit: "s" })
      emit({
        metric: "copro_wall_vs_ideal_plus_cpu",
        value: wallS,
        unit: "s",
        baseline: ideal + cpuS,
        target: "<= 1.2x"
      })
      emit({ metric: "copro_wall_vs_naive", value: wallS, unit: "s", baseline: naive, target: "<= 1.2x" })
      emit({ metric: "copro_lm_calls", value: r.lmCalls, unit: "calls", baseline: dspyCalls, target: "= DSPy" })
      emit({ metric: "copro_score_before", value: r.baselineScore ?? Number.NaN, unit: "%" })
      emit({
        metric: "copro_score_after",
        value: r.bestScore ?? Number.NaN,
        unit: "%",
        baseline: r.baselineScore ?? null
      })
      emit({ metric: "copro_heap_last_trial", value: heap.last, unit: "MB", baseline: heap.first, target: "flat" })
    }

    // --- MIPROv2 light -----------------------------------------------------------------------------------
    {
      const trainset = data(200)
      const heap = await heapAcrossTrials(MIPROv2.make({ auto: "light" }), trainset)
      const runtime = runtimeFor(LATENCY_MS)
      const cpu0 = process.cpuUsage()
      const start = nowUs()
      const { report: r } = await runtime.runPromise(
        Optimizer.compile(MIPROv2.make({ auto: "light" }), student(), { trainset, metric, concurrency: CONCURRENCY })
      )
      const wallS = (nowUs() - start) / 1e6
      const cpuS = cpuSeconds(cpu0)
      await runtime.dispose()
      const d = r.details
      const log = d["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
      const evaluations = log.reduce((a, t) => a + t.examples, 0)
      const proposerCalls = d["proposerCalls"] as number
      const bootstrapCalls = r.lmCalls - evaluations - proposerCalls
      const bootstrapSets = (d["demoSets"] as ReadonlyArray<{ kind: string }>).filter((s) =>
        s.kind.startsWith("bootstrap")
      ).length
      // One predictor: numInstructionCandidates - 1 proposals of 3 calls (candidate 0 is the original).
      const proposalsMade = (d["numInstructionCandidates"] as number) - 1
      const summaryCalls = proposerCalls - 3 * proposalsMade
      // Sequential phases: bootstrap waves, summary calls, one proposal chain (3 calls), each evaluation.
      const idealRounds =
        Math.max(bootstrapSets, rounds(bootstrapCalls)) +
        summaryCalls +
        3 +
        log.reduce((a, t) => a + rounds(t.examples), 0)
      const ideal = idealRounds * (LATENCY_MS / 1000)
      // DSPy: its sequential bootstrap walks, the proposer calls plus the discarded set-0 proposal, one full evaluation at every
      // checkpoint (it repeats one when every combination was already fully evaluated; this run skips it).
      const numTrials = d["numTrials"] as number
      const checkpoints = Math.floor(numTrials / 5) + (numTrials % 5 !== 0 ? 1 : 0)
      const fullDone = log.filter((t) => t.kind === "full").length
      const dspyCalls =
        (d["bootstrapAttempts"] as number) +
        proposerCalls +
        3 /* DSPy also proposes for demo set 0, then overwrites it with the original */ +
        evaluations +
        Math.max(0, checkpoints - fullDone) * (d["valsetSize"] as number)
      emit({ metric: "mipro_wall_time", value: wallS, unit: "s", baseline: ideal, target: "<= 1.2x (phase ideal)" })
      emit({ metric: "mipro_cpu", value: cpuS, unit: "s" })
      emit({
        metric: "mipro_wall_vs_ideal_plus_cpu",
        value: wallS,
        unit: "s",
        baseline: ideal + cpuS,
        target: "<= 1.2x"
      })
      emit({
        metric: "mipro_wall_vs_naive",
        value: wallS,
        unit: "s",
        baseline: (r.lmCalls * LATENCY_MS) / 1000 / CONCURRENCY
      })
      emit({ metric: "mipro_lm_calls", value: r.lmCalls, unit: "calls", baseline: dspyCalls, target: "~ DSPy" })
      emit({
        metric: "mipro_bootstrap_calls",
        value: bootstrapCalls,
        unit: "calls",
        baseline: d["bootstrapAttempts"] as number
      })
      emit({ metric: "mipro_trials", value: numTrials, unit: "trials" })
      emit({ metric: "mipro_score_before", value: r.baselineScore ?? Number.NaN, unit: "%" })
      emit({
        metric: "mipro_score_after",
        value: r.bestScore ?? Number.NaN,
        unit: "%",
        baseline: r.baselineScore ?? null
      })
      emit({ metric: "mipro_heap_last_trial", value: heap.last, unit: "MB", baseline: heap.first, target: "flat" })

      // The same run with constant-liar batches of 2 trials (an option; DSPy's search is sequential).
      const runtime2 = runtimeFor(LATENCY_MS)
      const start2 = nowUs()
      const { report: r2 } = await runtime2.runPromise(
        Optimizer.compile(MIPROv2.make({ auto: "light", parallelTrials: 2 }), student(), {
          trainset,
          metric,
          concurrency: CONCURRENCY
        })
      )
      const wall2 = (nowUs() - start2) / 1e6
      await runtime2.dispose()
      emit({ metric: "mipro_parallel2_wall_time", value: wall2, unit: "s", baseline: wallS, target: "< 1x" })
      emit({ metric: "mipro_parallel2_lm_calls", value: r2.lmCalls, unit: "calls", baseline: r.lmCalls })
      emit({
        metric: "mipro_parallel2_score_after",
        value: r2.bestScore ?? Number.NaN,
        unit: "%",
        baseline: r.bestScore ?? null
      })
    }
  }
}

export default bench
