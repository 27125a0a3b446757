/**
 * Every optimizer's result on the simulated arithmetic task as mean +/- sd over seeds (the table of
 * docs/optimizers.md). Seed `s` fixes everything that is random: the dataset (train / val / dev splits), the
 * simulated LM's seed and the optimizer's seed. A ChainOfThought student, no latency, no LM cache; each
 * optimized program is scored on 200 held-out dev examples. Rows: the zero-shot student, LabeledFewShot
 * (k = 4), BootstrapFewShot, BootstrapFewShotWithRandomSearch, KNNFewShot, COPRO, MIPROv2 (light), SIMBA,
 * GEPA, an Ensemble of three BootstrapFewShot programs, and AdaptiveOptimizer.
 *
 * `OPTIMIZERS_TABLE_SEEDS` (default 10) sets the number of seeds. Prints one figure per optimizer (score,
 * mean with `sd` and `n`), its gain over zero-shot, and its mean LM calls.
 */
import { ChainOfThought, Evaluate, Example, type LM, type Module, Signature } from "@effect-dspy/core"
import {
  AdaptiveOptimizer,
  BootstrapFewShot,
  BootstrapFewShotWithRandomSearch,
  COPRO,
  Ensemble,
  GEPA,
  KNNFewShot,
  LabeledFewShot,
  MIPROv2,
  Optimizer,
  SIMBA
} from "@effect-dspy/optimizers"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import type { Bench } from "../Harness.js"

const NAME = "optimizers-table"
const CONCURRENCY = 16
const SEEDS = Number(process.env["OPTIMIZERS_TABLE_SEEDS"] ?? "10")

const metric: Optimizer.Metric = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

const dataFor = (seed: number) => {
  const splits = SimTask.splits(Arithmetic.task, { seed: 1000 + seed, train: 200, dev: 200, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: e.answer }).withInputs("question")
  return { train: splits.train.map(toExample), dev: splits.dev.map(toExample) }
}

interface Row {
  readonly name: string
  readonly settings: string
  /** Runs the optimizer for a seed: the optimized program and the LM calls it made. */
  readonly run: (
    student: Module.Program,
    train: ReadonlyArray<Example.Any>,
    seed: number
  ) => Effect.Effect<{ readonly program: Module.Program; readonly lmCalls: number }, unknown, LM.LM>
}

const compiled =
  (optimizer: Optimizer.Optimizer, split: (train: ReadonlyArray<Example.Any>) => Partial<Optimizer.CompileOptions>) =>
  (student: Module.Program, train: ReadonlyArray<Example.Any>, seed: number) =>
    Effect.map(
      Optimizer.compile(optimizer, student, {
        trainset: train,
        metric,
        seed,
        concurrency: CONCURRENCY,
        ...split(train)
      }),
      ({ program, report }) => ({ program, lmCalls: report.lmCalls })
    )

const first = (n: number) => (train: ReadonlyArray<Example.Any>) => ({ trainset: train.slice(0, n) })
const trainVal = (t: number, v: number) => (train: ReadonlyArray<Example.Any>) => ({
  trainset: train.slice(0, t),
  valset: train.slice(t, t + v)
})

const rows: ReadonlyArray<Row> = [
  {
    name: "zero-shot ChainOfThought",
    settings: "no optimization",
    run: (student) => Effect.succeed({ program: student, lmCalls: 0 })
  },
  {
    name: "LabeledFewShot",
    settings: "k 4, 30 training examples",
    run: compiled(LabeledFewShot.make({ k: 4 }), first(30))
  },
  {
    name: "BootstrapFewShot",
    settings: "defaults (4 bootstrapped, 16 labeled), 30 training examples",
    run: compiled(BootstrapFewShot.make(), first(30))
  },
  {
    name: "BootstrapFewShotWithRandomSearch",
    settings: "4 + 3 candidates, 4 bootstrapped + 4 labeled, 40 train / 60 val",
    run: compiled(
      BootstrapFewShotWithRandomSearch.make({ numCandidatePrograms: 4, maxBootstrappedDemos: 4, maxLabeledDemos: 4 }),
      trainVal(40, 60)
    )
  },
  {
    name: "KNNFewShot",
    settings: "k 4, 60 training examples",
    run: (student, train, seed) =>
      Effect.map(
        KNNFewShot.compile(student, { trainset: train.slice(0, 60), metric, seed, concurrency: CONCURRENCY, k: 4 }),
        ({ program, report }) => ({ program: program as Module.Program, lmCalls: report.lmCalls })
      )
  },
  {
    name: "COPRO",
    settings: "breadth 6, depth 3, 60 training examples",
    run: compiled(COPRO.make({ breadth: 6, depth: 3 }), first(60))
  },
  {
    name: "MIPROv2",
    settings: "light, 200 training examples",
    run: compiled(MIPROv2.make({ auto: "light" }), first(200))
  },
  {
    name: "SIMBA",
    settings: "bsize 16, 4 candidates, 6 steps, 60 training examples",
    run: compiled(SIMBA.make({ bsize: 16, numCandidates: 4, maxSteps: 6 }), first(60))
  },
  {
    name: "GEPA",
    settings: "400 metric calls, 60 train / 30 val",
    run: compiled(GEPA.make({ maxMetricCalls: 400 }), trainVal(60, 30))
  },
  {
    name: "Ensemble",
    settings: "majority of 3 BootstrapFewShot programs (30 training examples each)",
    run: (student, train, seed) =>
      Effect.gen(function* () {
        const members = yield* Effect.forEach([0, 1, 2], (k) =>
          Optimizer.compile(BootstrapFewShot.make(), student, {
            trainset: train.slice(30 * k, 30 * (k + 1)),
            metric,
            seed: seed * 10 + k,
            concurrency: CONCURRENCY
          })
        )
        const ensemble = yield* Ensemble.make(
          members.map((m) => m.program),
          { seed }
        )
        return { program: ensemble, lmCalls: members.reduce((a, m) => a + m.report.lmCalls, 0) }
      })
  },
  {
    name: "AdaptiveOptimizer",
    settings: "defaults (chooses by trainset size), 60 training examples",
    run: compiled(AdaptiveOptimizer.make(), first(60))
  }
]

const stats = (xs: ReadonlyArray<number>) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0
  return { mean, sd }
}

const bench: Bench = {
  name: NAME,
  description: `every optimizer on simulated arithmetic: mean +/- sd over ${SEEDS} seeds (data, LM, optimizer)`,
  run: async (report) => {
    const student = ChainOfThought.make(Signature.make("question -> answer: int"))
    const scores = new Map<string, Array<number>>()
    const calls = new Map<string, Array<number>>()
    for (let seed = 0; seed < SEEDS; seed++) {
      const data = dataFor(seed)
      for (const row of rows) {
        const outcome = await Effect.runPromise(
          Effect.gen(function* () {
            const { program, lmCalls } = yield* row.run(student, data.train, seed)
            const dev = yield* Evaluate.run({
              devset: data.dev,
              program: (example: Example.Any) => Optimizer.callProgram(program, example),
              metric,
              concurrency: CONCURRENCY
            })
            return { score: dev.score, lmCalls }
          }).pipe(Effect.provide(SimLM.layer({ seed })))
        )
        scores.set(row.name, [...(scores.get(row.name) ?? []), outcome.score])
        calls.set(row.name, [...(calls.get(row.name) ?? []), outcome.lmCalls])
        process.stderr.write(`# seed ${seed} ${row.name}: ${outcome.score}% (${outcome.lmCalls} LM calls)\n`)
      }
    }
    const zero = stats(scores.get(rows[0]!.name)!)
    for (const row of rows) {
      const s = stats(scores.get(row.name)!)
      const slug = row.name.replace(/[^A-Za-z0-9]+/g, "_").toLowerCase()
      report({
        bench: NAME,
        metric: `${slug}_dev_score`,
        value: s.mean,
        unit: "%",
        sd: s.sd,
        n: SEEDS,
        ...(row === rows[0] ? {} : { baseline: zero.mean }),
        target: row.settings
      })
      report({ bench: NAME, metric: `${slug}_lm_calls`, value: stats(calls.get(row.name)!).mean, unit: "calls" })
    }
  }
}

export default bench
