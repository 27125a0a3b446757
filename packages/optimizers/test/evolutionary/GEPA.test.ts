import { Random } from "@effect-dspy/foundation"
import { ChainOfThought, Evaluate, Module, Predict, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Checkpoint from "../../src/Checkpoint.js"
import type * as Feedback from "../../src/Feedback.js"
import * as GEPA from "../../src/evolutionary/GEPA.js"
import * as Gepa from "../../src/evolutionary/internal/gepa.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, promptText, recordingSim } from "../support/sim.js"
import { interruptAndResume } from "../support/resume.js"

const fronts = (rows: ReadonlyArray<ReadonlyArray<number>>): Gepa.Fronts => {
  const f = Gepa.initialFronts(0, rows[0]!)
  rows.slice(1).forEach((scores, i) => {
    Gepa.updateFronts(f, i + 1, scores)
  })
  return f
}

describe("GEPA pieces", () => {
  it("a candidate best on one instance stays on the front even when its average is worse", () => {
    // 0: average 0.5; 1: average 0.67 but worse on instance 2; 2: best on instance 2 only (average 0.33).
    const f = fronts([
      [1, 0, 0.5],
      [1, 1, 0],
      [0, 0, 1]
    ])
    assert.deepStrictEqual(f.best, [1, 1, 1])
    assert.deepStrictEqual(
      f.members.map((m) => [...m].sort()),
      [[0, 1], [1], [2]]
    )
    const avg = [0.5, 2 / 3, 1 / 3]
    const keep = Gepa.dominators(f, (id) => avg[id]!)
    // 0 is on one front only, which 1 also holds: dominated. 2 holds instance 2 alone: kept despite its average.
    assert.deepStrictEqual(keep.sort(), [1, 2])
    // A later candidate strictly better on instance 1 replaces that front; equal on instance 0 joins it.
    Gepa.updateFronts(f, 3, [1, 2, 0])
    assert.deepStrictEqual(
      f.members.map((m) => [...m].sort()),
      [[0, 1, 3], [3], [2]]
    )
  })

  it("parents are drawn in proportion to the number of instances they are best on (fixed seed)", () => {
    const f = fronts([
      [1, 1, 1, 0],
      [0, 0, 0, 1]
    ])
    const avg = [0.75, 0.25]
    assert.deepStrictEqual(
      Gepa.frontFrequencies(f, (id) => avg[id]!),
      [
        [0, 3],
        [1, 1]
      ]
    )
    const rng = Random.make(5, "parents")
    let zero = 0
    for (let i = 0; i < 8000; i++) if (Gepa.selectParent(f, (id) => avg[id]!, rng) === 0) zero++
    assert.closeTo(zero / 8000, 0.75, 0.02)
  })

  it("components are chosen round-robin; minibatches are 3 distinct training examples covering each epoch", () => {
    const components = ["a", "b", "c"]
    let pointer = 0
    const seen: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const r = Gepa.roundRobin(components, pointer)
      seen.push(r.component)
      pointer = r.next
    }
    assert.deepStrictEqual(seen, ["a", "b", "c", "a", "b"])
    const epoch = [0, 1, 2, 3].flatMap((k) => Gepa.minibatch(7, 12, 3, k))
    assert.deepStrictEqual(
      [...epoch].sort((x, y) => x - y),
      Array.from({ length: 12 }, (_, i) => i)
    )
    for (let k = 0; k < 10; k++) {
      const b = Gepa.minibatch(7, 10, 3, k)
      assert.strictEqual(b.length, 3)
      assert.strictEqual(new Set(b).size, 3)
    }
  })

  it("merge combines components: each parent's own change, the ancestor's text elsewhere", () => {
    const ancestor = { x: "x0", y: "y0", z: "z0" }
    const a = { texts: { x: "x1", y: "y0", z: "z0" }, score: 0.6 }
    const b = { texts: { x: "x0", y: "y2", z: "z0" }, score: 0.5 }
    assert.deepStrictEqual(Gepa.mergeComponents(ancestor, a, b), { x: "x1", y: "y2", z: "z0" })
    assert.isTrue(Gepa.isDesirableMerge(ancestor, a.texts, b.texts))
    assert.isFalse(Gepa.isDesirableMerge(ancestor, a.texts, a.texts))
    // Both changed the same component: the better parent's text.
    assert.deepStrictEqual(Gepa.mergeComponents(ancestor, { texts: { ...a.texts, y: "y1" }, score: 0.6 }, b), {
      x: "x1",
      y: "y1",
      z: "z0"
    })
    const texts = [ancestor, a.texts, b.texts]
    const plan = Gepa.findMerge({
      candidates: [1, 2],
      parentsOf: (id) => (id === 0 ? [] : [0]),
      textsOf: (id) => texts[id]!,
      averageOf: (id) => [0.4, 0.6, 0.5][id]!,
      tried: new Set(),
      rng: Random.make(0, "merge")
    })
    assert.deepStrictEqual(plan, { a: 1, b: 2, ancestor: 0 })
    const tried = Gepa.findMerge({
      candidates: [1, 2],
      parentsOf: (id) => (id === 0 ? [] : [0]),
      textsOf: (id) => texts[id]!,
      averageOf: (id) => [0.4, 0.6, 0.5][id]!,
      tried: new Set(["1,2,0"]),
      rng: Random.make(0, "merge")
    })
    assert.isUndefined(tried)
  })

  it("the auto budget follows DSPy's formula", () => {
    // trials = floor(max(2 * 2 * log2(6), 9)) = 10; 30 + 6*5 + 10*35 + (floor(11/5) + 1) * 30 = 500
    assert.strictEqual(Gepa.autoBudget(1, 6, 30), 500)
    assert.isAbove(Gepa.autoBudget(2, 12, 100), Gepa.autoBudget(1, 6, 100))
  })
})

describe("GEPA on the simulated LM", { timeout: 30_000 }, () => {
  const data = arithmetic({ seed: 2, train: 30, dev: 130 })
  const valset = data.dev.slice(0, 30)
  const devset = data.dev.slice(30)
  const score = (p: Module.Program) =>
    Effect.map(Evaluate.run({ devset, program: p as Module.Any, metric, concurrency: 16 }), (r) => r.score)

  // Two predictors, so round-robin and merges have two components to work with.
  const twoStep = () =>
    Module.make({
      name: "DraftThenCheck",
      parameters: {
        draft: Predict.make(Signature.make("question -> answer: int")),
        check: ChainOfThought.make(Signature.make("question, draft: int -> answer: int"))
      },
      forward: (p, inputs: { question: string }) =>
        Effect.flatMap(p.draft(inputs), (d) => p.check({ question: inputs.question, draft: d.get("answer") }))
    })

  it.effect(
    "raises ChainOfThought on arithmetic by a clear margin (seed 0: about 50% -> 73% on 100 dev examples)",
    () =>
      Effect.gen(function* () {
        const student = cot()
        const before = yield* score(student)
        const { program, report } = yield* Optimizer.compile(GEPA.make({ maxMetricCalls: 400 }), student, {
          trainset: data.train,
          valset,
          metric,
          seed: 0,
          concurrency: 16
        })
        const after = yield* score(program)
        const d = report.details as unknown as GEPA.Details
        console.log(
          JSON.stringify({
            gepa: { before, after, valBest: report.bestScore, valBaseline: report.baselineScore },
            lmCalls: report.lmCalls,
            metricCalls: d.metricCalls,
            reflectionCalls: d.reflectionCalls,
            candidates: d.candidates.length
          })
        )
        assert.isAtLeast(after - before, 10)
        assert.isAbove(report.bestScore!, report.baselineScore!)
        assert.isAtMost(d.metricCalls, 400)
        // The returned program is the best candidate by average valset score.
        const best = d.candidates.reduce((x, y) => (y.average > x.average ? y : x))
        assert.strictEqual(d.bestId, best.id)
        assert.deepStrictEqual(Module.instructions(program), best.instructions)
      }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect(
    "minibatches of 3, acceptance only on improvement, full valset evaluations of accepted candidates, exact metric-call accounting",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const counting: Optimizer.Metric = (e, p) => {
          calls++
          return metric(e, p)
        }
        const { report } = yield* Optimizer.compile(GEPA.make({ maxMetricCalls: 300 }), twoStep(), {
          trainset: data.train,
          valset: valset.slice(0, 20),
          metric: counting,
          seed: 1,
          concurrency: 8
        })
        const d = report.details as unknown as GEPA.Details
        const V = 20
        let expected = V
        for (const it of d.iterations) {
          if (it.kind === "merge") {
            expected += it.accepted ? V : it.minibatch.length
            continue
          }
          assert.strictEqual(it.minibatch.length, 3)
          expected += 3
          if (it.childScore !== null) expected += 3
          assert.strictEqual(it.accepted, it.childScore !== null && it.childScore > it.parentScore!)
          if (it.accepted) {
            expected += V
            const c = d.candidates[it.candidate!]!
            assert.strictEqual(c.valScores.length, V)
            assert.deepStrictEqual(c.parents, it.parents)
            assert.strictEqual(c.component, it.component)
          }
        }
        assert.strictEqual(d.metricCalls, expected)
        assert.strictEqual(calls, expected)
        assert.isAtMost(calls, 300)
        // Every accepted reflection changed exactly the component it was asked to rewrite.
        for (const c of d.candidates.filter((c) => c.origin === "reflection")) {
          const parent = d.candidates[c.parents[0]!]!
          const changed = Object.keys(c.instructions).filter((k) => c.instructions[k] !== parent.instructions[k])
          assert.deepStrictEqual(changed, [c.component])
        }
        // Both components were rewritten; the seed's rewrites alternate draft, check, draft, ...
        const seedTurns = d.iterations
          .filter((i) => i.kind === "reflection" && i.parents[0] === 0)
          .map((i) => i.component)
        for (let i = 0; i < seedTurns.length; i++) {
          assert.strictEqual(seedTurns[i], i % 2 === 0 ? "draft" : "check.predict")
        }
        assert.isAtLeast(new Set(d.iterations.map((i) => i.component).filter((c) => c !== null)).size, 2)
        // The fronts hold, per instance, the best score and exactly the candidates achieving it.
        d.fronts.forEach((front, i) => {
          const bestScore = Math.max(...d.candidates.map((c) => c.valScores[i]!))
          assert.strictEqual(front.best, bestScore)
          assert.deepStrictEqual(
            front.members,
            d.candidates.filter((c) => c.valScores[i] === bestScore).map((c) => c.id)
          )
        })
      }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("metric calls never exceed the budget", () =>
    Effect.gen(function* () {
      for (const budget of [20, 41, 77, 150]) {
        let calls = 0
        const counting: Optimizer.Metric = (e, p) => {
          calls++
          return metric(e, p)
        }
        const { report } = yield* Optimizer.compile(GEPA.make({ maxMetricCalls: budget }), cot(), {
          trainset: data.train,
          valset: valset.slice(0, 20),
          metric: counting,
          seed: budget,
          concurrency: 8
        })
        const d = report.details as unknown as GEPA.Details
        assert.isAtMost(calls, budget)
        assert.strictEqual(d.metricCalls, calls)
        assert.strictEqual(d.maxMetricCalls, budget)
        // It stops only when another iteration could overrun the budget.
        assert.isAbove(calls + 2 * 3 + 20, budget)
      }
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("the metric's feedback reaches the reflection LM, with the component being rewritten", () => {
    const sim = recordingSim()
    return Effect.gen(function* () {
      const targets = new Set<string>()
      const withFeedback: Feedback.Metric<import("@effect-dspy/core").Example.Any, Evaluate.AnyPrediction> = (
        example,
        prediction,
        _trace,
        target
      ) => {
        if (target !== undefined) targets.add(`${target.predictorPath}:${target.predictorTrace.length}`)
        const ok = Number(example.get("answer")) === Number(prediction.get("answer"))
        return { score: ok ? 1 : 0, feedback: ok ? "Correct." : `Wrong: the answer is ${example.get("answer")}.` }
      }
      const { report } = yield* Optimizer.compile(
        GEPA.make({ maxMetricCalls: 60, metric: withFeedback, useMerge: false }),
        cot(),
        { trainset: data.train, valset: valset.slice(0, 10), metric, seed: 0, concurrency: 4 }
      )
      const d = report.details as unknown as GEPA.Details
      assert.isAbove(d.reflectionCalls, 0)
      const reflections = sim.requests.map(promptText).filter((t) => t.includes("examples_with_feedback"))
      assert.strictEqual(reflections.length, d.reflectionCalls)
      assert.isTrue(reflections.some((t) => /Wrong: the answer is \d+\.|Correct\./.test(t)))
      assert.include(reflections[0]!, "## Generated Outputs")
      assert.deepStrictEqual([...targets], ["predict:1"])
    }).pipe(Effect.provide(sim.layer))
  })

  it.effect(
    "a custom instruction proposer writes the rewrites from the reflective dataset (DSPy's instruction_proposer)",
    () => {
      const sim = recordingSim()
      return Effect.gen(function* () {
        const seen: Array<GEPA.ProposalInput> = []
        const proposer: GEPA.InstructionProposer = (input) =>
          Effect.sync(() => {
            seen.push(input)
            return `${input.currentInstruction} Rewrite ${seen.length}.`
          })
        const { report } = yield* Optimizer.compile(
          GEPA.make({ maxMetricCalls: 60, useMerge: false, instructionProposer: proposer, reflectionTemperature: 0.7 }),
          cot(),
          { trainset: data.train, valset: valset.slice(0, 10), metric, seed: 0, concurrency: 4 }
        )
        const d = report.details as unknown as GEPA.Details
        assert.isAbove(seen.length, 0)
        assert.strictEqual(d.reflectionCalls, seen.length)
        // No reflection LM call was made: the proposer wrote every rewrite.
        assert.isFalse(sim.requests.map(promptText).some((t) => t.includes("examples_with_feedback")))
        for (const input of seen) {
          assert.strictEqual(input.component, "predict")
          assert.strictEqual(input.temperature, 0.7)
          assert.strictEqual(input.records.length, 3)
          assert.isTrue(input.records.every((r) => typeof r.feedback === "string" && "question" in r.inputs))
        }
        const texts = d.candidates.flatMap((c) => Object.values(c.instructions))
        assert.isTrue(texts.some((t) => /Rewrite \d+\.$/.test(t)) || d.candidates.length === 1)
        assert.strictEqual(
          GEPA.make({ maxMetricCalls: 60, instructionProposer: proposer }).settings["instructionProposer"],
          "custom"
        )
      }).pipe(Effect.provide(sim.layer))
    }
  )

  it.effect("merges two front candidates component-wise when they share an ancestor", () =>
    Effect.gen(function* () {
      // Two predictors, each answering half of the questions, so both components matter.
      const halves = Module.make({
        name: "Halves",
        parameters: {
          short: ChainOfThought.make(Signature.make("question -> answer: int")),
          long: ChainOfThought.make(Signature.make("question -> answer: int"))
        },
        forward: (p, inputs: { question: string }) =>
          inputs.question.length % 2 === 0 ? p.short(inputs) : p.long(inputs)
      })
      // Under common random numbers an instruction that helps some examples never hurts others, so children
      // dominate their parents and the front stays a chain. Merges need rewrites that trade some examples for
      // others: this proposer writes such trade-offs (a helpful strategy with an early rounding), in turn.
      const tradeoffs = [
        "Convert quantities given in dozens into single items before using them. Round each intermediate result to the nearest whole number.",
        "Multiply the number of groups by the group size before adding. Round each intermediate result to the nearest whole number.",
        "Convert quantities given in dozens into single items before using them.",
        "Multiply the number of groups by the group size before adding."
      ]
      let calls = 0
      const proposer: GEPA.InstructionProposer = (input) =>
        Effect.sync(() => `${input.currentInstruction} ${tradeoffs[calls++ % tradeoffs.length]}`)
      const { report } = yield* Optimizer.compile(
        GEPA.make({ maxMetricCalls: 900, maxMergeInvocations: 5, instructionProposer: proposer }),
        halves,
        {
          trainset: data.train,
          valset: valset.slice(0, 20),
          metric,
          seed: 2,
          concurrency: 16
        }
      )
      const d = report.details as unknown as GEPA.Details
      const merges = d.iterations.filter((i) => i.kind === "merge")
      console.log(
        JSON.stringify({
          mergesTested: d.mergesTested,
          mergesAccepted: d.mergesAccepted,
          candidates: d.candidates.length
        })
      )
      assert.isAbove(merges.length, 0)
      for (const m of merges) {
        const [a, b, ancestor] = m.parents.map((id) => d.candidates[id]!)
        assert.isTrue(Gepa.isDesirableMerge(ancestor!.instructions, a!.instructions, b!.instructions))
        if (m.accepted) {
          const merged = d.candidates[m.candidate!]!
          assert.strictEqual(merged.origin, "merge")
          assert.deepStrictEqual(
            merged.instructions,
            Gepa.mergeComponents(
              ancestor!.instructions,
              { texts: a!.instructions, score: a!.average },
              { texts: b!.instructions, score: b!.average }
            )
          )
        }
      }
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("interrupted midway and restarted with the same checkpoint store: resumes to the same program", () => {
    const { layer, requests } = recordingSim()
    const optimizer = GEPA.make({ maxMetricCalls: 150 })
    const options = {
      trainset: data.train.slice(0, 24),
      valset: valset.slice(0, 12),
      metric,
      concurrency: 4,
      runId: "gepa-resume"
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
      assert.deepStrictEqual(resumed.report.details["iterations"], reference.report.details["iterations"])
      assert.deepStrictEqual(Module.dumpState(resumed.program), Module.dumpState(reference.program))
    }).pipe(Effect.provide(layer), Effect.provide(Checkpoint.layerMemory))
  })

  it.effect("budget options are checked: exactly one budget, and enough for one valset evaluation", () =>
    Effect.gen(function* () {
      const failsWith = (options: GEPA.Options, text: string) =>
        Effect.gen(function* () {
          const exit = yield* Effect.exit(
            Optimizer.compile(GEPA.make(options), cot(), { trainset: data.train, valset, metric })
          )
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
            assert.strictEqual(exit.cause.error._tag, "OptimizerConfigError")
            assert.include(exit.cause.error.message, text)
          }
        })
      yield* failsWith({}, "exactly one budget")
      yield* failsWith({ auto: "light", maxMetricCalls: 10 }, "exactly one budget")
      yield* failsWith({ maxMetricCalls: 10 }, "cannot cover one evaluation")
      yield* failsWith({ maxMetricCalls: 100, reflectionMinibatchSize: 0 }, "reflectionMinibatchSize")
      const budget = yield* GEPA.resolveBudget({ auto: "light" }, 1, 30, 30)
      assert.strictEqual(budget, Gepa.autoBudget(1, 6, 30))
      assert.strictEqual(yield* GEPA.resolveBudget({ maxFullEvals: 3 }, 1, 30, 20), 150)
    }).pipe(Effect.provide(recordingSim().layer))
  )
})
