import { Random } from "@effect-dspy/foundation"
import { Evaluate, Example, Module, Predict, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Checkpoint from "../../src/Checkpoint.js"
import * as Loop from "../../src/evolutionary/internal/simbaLoop.js"
import * as Simba from "../../src/evolutionary/internal/simba.js"
import * as Optimizer from "../../src/Optimizer.js"
import * as SIMBA from "../../src/evolutionary/SIMBA.js"
import { arithmetic, cot, metric, predict, promptText, recordingSim } from "../support/sim.js"
import { interruptAndResume } from "../support/resume.js"

const rollout = (exampleIndex: number, score: number, extra: Partial<Simba.Rollout> = {}): Simba.Rollout => ({
  exampleIndex,
  example: Example.make({ question: `q${exampleIndex}`, answer: 1 }).withInputs("question"),
  programId: 0,
  variant: 0,
  outputs: { answer: score },
  trace: [],
  score,
  error: undefined,
  ...extra
})

describe("SIMBA pieces", () => {
  it("softmax sampling at temperature 0.2 follows exp(score / 0.2) (fixed seed, 20,000 draws)", () => {
    const scores = new Map([
      [0, 0.5],
      [3, 0.6],
      [7, 0.8]
    ])
    const ids: [number, ...Array<number>] = [0, 3, 7]
    const expected = Simba.softmaxWeights([0.5, 0.6, 0.8], 0.2)
    const raw = [0.5, 0.6, 0.8].map((s) => Math.exp(s / 0.2))
    const sum = raw.reduce((a, b) => a + b, 0)
    for (let i = 0; i < raw.length; i++) assert.closeTo(expected[i]!, raw[i]! / sum, 1e-12)
    const rng = Random.make(42, "softmax-test")
    const counts = new Map<number, number>()
    const draws = 20_000
    for (let i = 0; i < draws; i++) {
      const id = Simba.softmaxSample(rng, ids, (id) => scores.get(id)!, 0.2)
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    for (let i = 0; i < ids.length; i++) assert.closeTo((counts.get(ids[i]!) ?? 0) / draws, expected[i]!, 0.012)
    // The best program is drawn most (about 0.69), the baseline rarely (about 0.10).
    assert.isAbove(counts.get(7)!, counts.get(3)!)
    assert.isAbove(counts.get(3)!, counts.get(0)!)
  })

  it("top-k keeps the best programs and forces the baseline in", () => {
    const avg = new Map([
      [0, 0.1],
      [1, 0.9],
      [2, 0.8],
      [3, 0.7]
    ])
    assert.deepStrictEqual(
      Simba.topKPlusBaseline([0, 1, 2, 3], (id) => avg.get(id)!, 2),
      [1, 0]
    )
    assert.deepStrictEqual(
      Simba.topKPlusBaseline([0, 1, 2, 3], (id) => avg.get(id)!, 6),
      [1, 2, 3, 0]
    )
  })

  it("buckets are ordered by max - min spread, then max score, then max - mean gap", () => {
    const rollouts = [
      // example 0: all 1 (no spread); example 1: 1 and 0 (spread 1); example 2: 0.5 and 0 (spread 0.5)
      rollout(0, 1),
      rollout(1, 0),
      rollout(2, 0.5),
      rollout(0, 1, { variant: 1 }),
      rollout(1, 1, { variant: 1 }),
      rollout(2, 0, { variant: 1 })
    ]
    const buckets = Simba.buckets(rollouts)
    assert.deepStrictEqual(
      buckets.map((b) => b.exampleIndex),
      [1, 2, 0]
    )
    assert.deepStrictEqual(
      buckets[0]!.rollouts.map((r) => r.score),
      [1, 0]
    )
    assert.strictEqual(buckets[0]!.maxToMinGap, 1)
    assert.strictEqual(buckets[2]!.maxToMinGap, 0)
  })

  it("percentiles interpolate linearly (numpy)", () => {
    assert.closeTo(Simba.percentile([1, 2, 3, 4], 10), 1.3, 1e-12)
    assert.closeTo(Simba.percentile([4, 1, 3, 2], 90), 3.7, 1e-12)
    assert.strictEqual(Simba.percentile([0, 0, 1], 50), 0)
  })

  it("finalists spread evenly over the winners (Python rounding), the student and the last winner always in", () => {
    assert.deepStrictEqual(Loop.finalistIndices(1, 6), [0])
    assert.deepStrictEqual(Loop.finalistIndices(9, 6), [0, 1, 3, 4, 5, 7, 8])
    assert.deepStrictEqual(Loop.finalistIndices(3, 6), [0, 1, 2])
  })

  const program = Module.make({
    name: "Two",
    parameters: {
      first: Predict.make(Signature.make("question -> note")),
      second: Predict.make(Signature.make("question, note -> answer"))
    },
    forward: (p, inputs: { question: string }) =>
      Effect.flatMap(p.first(inputs), (n) => p.second({ question: inputs.question, note: n.get("note") }))
  })

  it("the demo strategy appends the best rollout's last call per predictor, keeping at most maxDemos", () => {
    const old = (i: number) => Example.make({ question: `old${i}`, note: `n${i}` }).withInputs("question")
    const start = Module.mapPredictors(program, (p, path) =>
      path === "first" ? Predict.withDemos(p, [old(1), old(2), old(3), old(4)]) : p
    )
    const good = rollout(0, 1, {
      trace: [
        { predictorPath: "first", inputs: { question: "a" }, outputs: { note: "early" } },
        { predictorPath: "first", inputs: { question: "b" }, outputs: { note: "late" } },
        { predictorPath: "second", inputs: { question: "b", note: "late" }, outputs: { answer: "42" } }
      ]
    })
    const bucket = Simba.buckets([good, rollout(0, 0, { variant: 1 })])[0]!
    const { program: next, applied } = Simba.appendDemo(start, bucket, { maxDemos: 4, p10: 0 })
    assert.isTrue(applied)
    const demos = Module.demos(next)
    assert.strictEqual(demos["first"]!.length, 4)
    assert.deepStrictEqual(
      demos["first"]!.map((d) => Example.toRecord(d)["question"]),
      ["old2", "old3", "old4", "b"]
    )
    assert.deepStrictEqual(Example.toRecord(demos["second"]![0]!), { question: "b", note: "late", answer: "42" })
    assert.deepStrictEqual(demos["second"]![0]!.inputKeys, ["question", "note"])
    // The original is untouched; a best score at or below the 10th percentile adds nothing.
    assert.strictEqual(Module.demos(start)["second"]!.length, 0)
    assert.isFalse(Simba.appendDemo(start, bucket, { maxDemos: 4, p10: 1 }).applied)
  })

  it("dropping demos at the limit always makes room, and never touches programs without demos", () => {
    const full = Module.mapPredictors(program, (p) =>
      Predict.withDemos(
        p,
        [1, 2, 3, 4].map((i) => Example.make({ question: `q${i}` }))
      )
    )
    for (let seed = 0; seed < 20; seed++) {
      const dropped = Simba.dropDemos(full, Random.make(seed, "drop"), 4)
      const counts = Object.values(Module.demos(dropped)).map((d) => d.length)
      assert.isTrue(counts.every((c) => c < 4))
      assert.strictEqual(counts[0], counts[1])
    }
    assert.strictEqual(Simba.dropDemos(program, Random.make(0, "drop"), 4), program)
  })

  it.effect("the rule strategy asks an LM for per-module advice and appends it to each module's instructions", () => {
    const sim = recordingSim()
    return Effect.gen(function* () {
      const bucket = Simba.buckets([
        rollout(0, 1, {
          trace: [{ predictorPath: "first", inputs: { question: "q" }, outputs: { note: "good" } }],
          feedback: "Exactly right."
        }),
        rollout(0, 0, {
          variant: 1,
          trace: [{ predictorPath: "first", inputs: { question: "q" }, outputs: { note: "bad" } }]
        })
      ])[0]!
      const { program: next, applied } = yield* Simba.appendRule(program, bucket, {
        p10: 0.1,
        p90: 0.9,
        promptModel: undefined
      })
      assert.isTrue(applied)
      assert.strictEqual(sim.requests.length, 1)
      const prompt = promptText(sim.requests[0]!)
      assert.include(prompt, "module_advice")
      assert.include(prompt, '"good"')
      assert.include(prompt, '"bad"')
      assert.include(prompt, "Exactly right.")
      const before = Module.instructions(program)
      const after = Module.instructions(next)
      for (const path of ["first", "second"]) {
        assert.isTrue(after[path]!.startsWith(`${before[path]!}\n\n`))
        assert.isAbove(after[path]!.length, before[path]!.length + 10)
      }
      // Not informative (the worst run is at the 90th percentile): no LM call, no edit.
      const skipped = yield* Simba.appendRule(program, bucket, { p10: 0, p90: 0, promptModel: undefined })
      assert.isFalse(skipped.applied)
      assert.strictEqual(sim.requests.length, 1)
    }).pipe(Effect.provide(sim.layer))
  })

  it("applyAdvice ignores modules the advice does not name", () => {
    const { program: next, applied } = Simba.applyAdvice(program, { second: "Use the note.", ghost: "x" })
    assert.isTrue(applied)
    assert.strictEqual(Module.instructions(next)["first"], Module.instructions(program)["first"])
    assert.isTrue(Module.instructions(next)["second"]!.endsWith("\n\nUse the note."))
  })
})

describe("SIMBA on the simulated LM", { timeout: 30_000 }, () => {
  const data = arithmetic({ seed: 1, train: 32, dev: 100 })
  const score = (p: Module.Program) =>
    Effect.map(Evaluate.run({ devset: data.dev, program: p as Module.Any, metric, concurrency: 16 }), (r) => r.score)

  it.effect("the step structure: minibatch size, rollouts and candidates per step, metric calls as DSPy's", () => {
    const sim = recordingSim()
    return Effect.gen(function* () {
      let metricCalls = 0
      const counting: Optimizer.Metric = (e, p) => {
        metricCalls++
        return metric(e, p)
      }
      const settings = { bsize: 8, numCandidates: 3, maxSteps: 2 }
      const trainset = data.train.slice(0, 20)
      const { report } = yield* Optimizer.compile(SIMBA.make(settings), cot(), {
        trainset,
        metric: counting,
        concurrency: 8
      })
      const details = report.details as unknown as SIMBA.Details
      assert.strictEqual(details.steps.length, 2)
      for (const step of details.steps) {
        assert.strictEqual(step.batch.length, 8)
        assert.strictEqual(new Set(step.batch).size, 8)
        assert.strictEqual(step.rollouts, 3 * 8)
        assert.strictEqual(step.sampledPrograms.length, 3 * 8)
        assert.strictEqual(step.candidates.length, 3 + 1)
      }
      // The two steps use disjoint minibatches (one pass over a shuffled trainset).
      assert.strictEqual(new Set([...details.steps[0]!.batch, ...details.steps[1]!.batch]).size, 16)
      // Step 1 samples from the whole pool (student + step-0 candidates).
      assert.isTrue(details.steps[1]!.sampledPrograms.some((id) => id !== 0))
      assert.strictEqual(details.metricCalls, metricCalls)
      assert.strictEqual(metricCalls, SIMBA.expectedMetricCalls(settings, trainset.length))
      assert.strictEqual(details.finalists[0]!.id, 0)
      // LM calls: one per rollout (ChainOfThought makes one call) plus the advice calls.
      assert.strictEqual(report.lmCalls, metricCalls + details.advisorCalls)
      assert.strictEqual(
        details.steps.reduce((n, s) => n + s.adviceCalls, 0),
        details.advisorCalls
      )
    }).pipe(Effect.provide(sim.layer))
  })

  it.effect(
    "raises ChainOfThought on arithmetic by a clear margin (seed 0: 51% -> 67% on 100 dev examples; seeds 1-3 give 73-83%)",
    () =>
      Effect.gen(function* () {
        const student = cot()
        const before = yield* score(student)
        const { program, report } = yield* Optimizer.compile(
          SIMBA.make({ bsize: 16, numCandidates: 4, maxSteps: 6 }),
          student,
          { trainset: data.train, metric, seed: 0, concurrency: 16 }
        )
        const after = yield* score(program)
        const details = report.details as unknown as SIMBA.Details
        console.log(
          JSON.stringify({
            simba: { before, after, trainBest: report.bestScore, trainBaseline: report.baselineScore },
            lmCalls: report.lmCalls,
            metricCalls: details.metricCalls,
            advisorCalls: details.advisorCalls
          })
        )
        assert.isAtLeast(after - before, 10)
        assert.isAbove(report.bestScore!, report.baselineScore!)
        assert.isAbove(SIMBA.changedPredictors(student, program).length, 0)
        assert.isAtMost(Module.demos(program)["predict"]!.length, 4)
        // Candidates were built by both strategies.
        const strategies = new Set(details.pool.filter((p) => p.applied).map((p) => p.strategy))
        assert.isTrue(strategies.has("demo") && strategies.has("rule"))
      }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("optimizes a bare predictor too (its path is self), keeping at most maxDemos demos", () =>
    Effect.gen(function* () {
      const { program, report } = yield* Optimizer.compile(
        SIMBA.make({ bsize: 8, numCandidates: 3, maxSteps: 3, maxDemos: 1 }),
        predict(),
        { trainset: data.train, metric, seed: 1, concurrency: 8 }
      )
      const details = report.details as unknown as SIMBA.Details
      assert.isTrue(details.pool.some((p) => p.strategy === "demo" && p.applied))
      assert.isAtMost(Module.demos(program)["self"]!.length, 1)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("the same seed gives the same program", () =>
    Effect.gen(function* () {
      const run = Optimizer.compile(SIMBA.make({ bsize: 6, numCandidates: 2, maxSteps: 2 }), cot(), {
        trainset: data.train.slice(0, 12),
        metric,
        seed: 3,
        concurrency: 6
      })
      const a = yield* run
      const b = yield* run
      assert.deepStrictEqual(Module.dumpState(a.program), Module.dumpState(b.program))
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("stops at the LM-call budget and returns the best program so far", () =>
    Effect.gen(function* () {
      const { report } = yield* Optimizer.compile(SIMBA.make({ bsize: 8, numCandidates: 3, maxSteps: 4 }), cot(), {
        trainset: data.train,
        metric,
        concurrency: 4,
        budget: { maxLmCalls: 40 }
      })
      const details = report.details as unknown as SIMBA.Details
      assert.isTrue(details.budgetExhausted)
      assert.isTrue(report.budgetExhausted)
      assert.isAtMost(report.lmCalls, 40 + 4 - 1)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("interrupted midway and restarted with the same checkpoint store: resumes to the same program", () => {
    const { layer, requests } = recordingSim()
    const optimizer = SIMBA.make({ bsize: 8, numCandidates: 3, maxSteps: 2 })
    const options = {
      trainset: data.train.slice(0, 24),

      metric,
      concurrency: 4,
      runId: "simba-resume"
    }
    return Effect.gen(function* () {
      const { reference, resumed, referenceCalls, firstCalls } = yield* interruptAndResume({
        optimizer,
        student: cot,
        options,
        requests,
        interruptAfterSteps: 60
      })
      assert.isAtLeast(resumed.report.resumedUnits, 50)
      assert.isBelow(resumed.report.lmCalls, referenceCalls)
      assert.isAtMost(firstCalls + resumed.report.lmCalls, referenceCalls + options.concurrency)
      assert.deepStrictEqual(resumed.report.details["steps"], reference.report.details["steps"])
      assert.deepStrictEqual(Module.dumpState(resumed.program), Module.dumpState(reference.program))
    }).pipe(Effect.provide(layer), Effect.provide(Checkpoint.layerMemory))
  })

  it.effect("rejects bad settings with a typed error", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Optimizer.compile(SIMBA.make({ bsize: 0 }), cot(), { trainset: data.train, metric })
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        assert.strictEqual(exit.cause.error._tag, "OptimizerConfigError")
        assert.include(exit.cause.error.message, "bsize")
      }
      const temp = yield* Effect.exit(
        Optimizer.compile(SIMBA.make({ temperatureForSampling: 0 }), cot(), { trainset: data.train, metric })
      )
      assert.isTrue(Exit.isFailure(temp))
    }).pipe(Effect.provide(recordingSim().layer))
  )
})
