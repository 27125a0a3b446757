import { Evaluate, LM, Module, Predict } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as BootstrapFewShot from "../../src/few-shot/BootstrapFewShot.js"
import * as Checkpoint from "../../src/Checkpoint.js"
import * as MIPROv2 from "../../src/instruction-search/MIPROv2.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, promptText, recordingSim, signature } from "../support/sim.js"
import { interruptAndResume } from "../support/resume.js"

interface DemoSet {
  readonly kind: string
  readonly size: number | undefined
  readonly demos: { readonly [path: string]: { readonly total: number; readonly augmented: number } }
}

const failureTag = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : undefined

describe("MIPROv2", () => {
  it.effect(
    "light: raises ChainOfThought beyond BootstrapFewShot and zero-shot on held-out examples",
    () =>
      Effect.gen(function* () {
        const data = arithmetic({ seed: 5, train: 200, dev: 200 })
        const zero = yield* Evaluate.run({ devset: data.dev, program: cot(), metric, concurrency: 16 })
        // BootstrapFewShot on the same training part MIPROv2 bootstraps from (the first 20%).
        const bootstrap = yield* Optimizer.compile(
          BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4 }),
          cot(),
          { trainset: data.train.slice(0, 40), metric, concurrency: 16 }
        )
        const bootstrapDev = yield* Evaluate.run({
          devset: data.dev,
          program: bootstrap.program,
          metric,
          concurrency: 16
        })
        const { program, report } = yield* Optimizer.compile(MIPROv2.make({ auto: "light" }), cot(), {
          trainset: data.train,
          metric,
          concurrency: 16
        })
        const dev = yield* Evaluate.run({ devset: data.dev, program, metric, concurrency: 16 })
        assert.isAbove(dev.score, bootstrapDev.score + 5, `mipro ${dev.score} vs bootstrap ${bootstrapDev.score}`)
        assert.isAbove(dev.score, zero.score + 20, `mipro ${dev.score} vs zero-shot ${zero.score}`)
        assert.isAbove(report.bestScore!, report.baselineScore! + 15)
        const details = report.details
        // The best program is a fully evaluated one.
        const log = details["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
        assert.include(
          log.filter((t) => t.kind !== "minibatch").map((t) => t.score),
          report.bestScore
        )
        // Every LM call is accounted: bootstrap walks (with wave overshoot), proposer, evaluations.
        const evaluations = log.reduce((a, t) => a + t.examples, 0)
        assert.isAtLeast(report.lmCalls, evaluations + (details["proposerCalls"] as number))
      }).pipe(Effect.provide(SimLM.layer({ seed: 1 }))),
    60_000
  )

  it("sizes runs like DSPy: trials per preset, adjusted trials, the 80% valset split", () => {
    assert.strictEqual(MIPROv2.numTrialsFor(1, 6, false), 10)
    assert.strictEqual(MIPROv2.numTrialsFor(1, 12, false), 18)
    assert.strictEqual(MIPROv2.numTrialsFor(1, 18, false), 27)
    assert.strictEqual(MIPROv2.numTrialsFor(1, 6, true), 9)
    assert.strictEqual(MIPROv2.numTrialsFor(2, 6, false), 20)
    assert.strictEqual(MIPROv2.numTrialsFor(3, 12, false), 43)
    assert.strictEqual(MIPROv2.adjustedTrials(10, 5, true), 13)
    assert.strictEqual(MIPROv2.adjustedTrials(7, 5, true), 10)
    assert.strictEqual(MIPROv2.adjustedTrials(7, 5, false), 7)
    const { trainset, valset } = MIPROv2.splitTrainset(Array.from({ length: 80 }, (_, i) => i))
    assert.deepStrictEqual(
      trainset,
      Array.from({ length: 16 }, (_, i) => i)
    )
    assert.strictEqual(valset.length, 64)
    assert.strictEqual(valset[0], 16)
    assert.deepStrictEqual(MIPROv2.AUTO_RUN_SETTINGS.medium, { n: 12, valSize: 300 })
  })

  it.effect(
    "builds the demo sets, proposes from grounded prompts, and runs minibatch trials with full evaluations",
    () => {
      const { layer, requests } = recordingSim({ seed: 4 })
      return Effect.gen(function* () {
        const data = arithmetic({ seed: 2, train: 80, dev: 0 })
        const { program, report } = yield* Optimizer.compile(MIPROv2.make({ auto: "light" }), cot(), {
          trainset: data.train,
          metric,
          concurrency: 8
        })
        const d = report.details
        assert.strictEqual(d["numTrials"], 10)
        assert.strictEqual(d["valsetSize"], 64)
        assert.strictEqual(d["trainsetSize"], 16)
        assert.isTrue(d["minibatch"])
        // Demo sets: empty, labeled only, unshuffled bootstrap, shuffled bootstraps of random size.
        const sets = d["demoSets"] as ReadonlyArray<DemoSet>
        assert.strictEqual(sets.length, 6)
        assert.deepStrictEqual(
          sets.map((s) => s.kind),
          ["zero-shot", "labeled", "bootstrap", "bootstrap-shuffled", "bootstrap-shuffled", "bootstrap-shuffled"]
        )
        assert.deepStrictEqual(sets[0]!.demos["predict"], { total: 0, augmented: 0 })
        assert.deepStrictEqual(sets[1]!.demos["predict"], { total: 4, augmented: 0 })
        assert.strictEqual(sets[2]!.demos["predict"]!.augmented, 4)
        for (const s of sets.slice(3)) {
          assert.isTrue(s.size! >= 1 && s.size! <= 4)
          assert.strictEqual(s.demos["predict"]!.augmented, s.size)
          assert.strictEqual(s.demos["predict"]!.total, 4)
        }
        // Instruction candidates: n / 2 = 3; candidate 0 is the original instruction.
        const candidates = (d["instructionCandidates"] as Record<string, ReadonlyArray<string>>)["predict"]!
        assert.strictEqual(candidates.length, 3)
        assert.strictEqual(candidates[0], cot().parameters.predict.signature.instructions)
        assert.notStrictEqual(candidates[1], candidates[0])
        // The proposal prompts are grounded: dataset summary, program code, a tip or none, demos.
        const proposals = requests.map(promptText).filter((t) => t.includes("[[ ## proposed_instruction ## ]]"))
        // Candidate 0 is the original: proposals are made for demo sets 1 and 2 only.
        assert.strictEqual(proposals.length, 2)
        // 16 training examples: 3 summary calls (2 batches of 10 and the summarizer), then 3 calls per proposal.
        assert.strictEqual(d["proposerCalls"], 3 + 2 * 3)
        for (const p of proposals) {
          assert.include(p, d["datasetSummary"] as string)
          assert.include(p, "predict = Predict(question: str -> reasoning: str, answer: int)")
          assert.include(p, "Reasoning: Let's think step by step in order to")
        }
        // Trials: default on the full valset, then 10 minibatches of 35 with full evaluations after 5 and 10.
        const log = d["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
        assert.deepStrictEqual(log.map((t) => t.kind[0]).join(""), "dmmmmmfmmmmmf")
        assert.deepStrictEqual(log[0]!.params, { "0_predictor_instruction": 0, "0_predictor_demos": 0 })
        assert.isTrue(log.filter((t) => t.kind === "minibatch").every((t) => t.examples === 35))
        assert.isTrue(log.filter((t) => t.kind !== "minibatch").every((t) => t.examples === 64))
        // A full evaluation scores the best-mean minibatch combination.
        const full = log[6]!
        const firstFive = log.slice(1, 6)
        const means = new Map<string, Array<number>>()
        for (const t of firstFive) {
          const k = JSON.stringify(t.params)
          means.set(k, [...(means.get(k) ?? []), t.score])
        }
        const ranked = [...means.entries()].sort(
          (a, b) => b[1].reduce((x, y) => x + y, 0) / b[1].length - a[1].reduce((x, y) => x + y, 0) / a[1].length
        )
        assert.strictEqual(JSON.stringify(full.params), ranked[0]![0])
        // The returned program is the best fully evaluated one, with its instruction and demos applied.
        const best = d["bestParams"] as Record<string, number>
        assert.strictEqual(
          program.parameters.predict.signature.instructions,
          candidates[best["0_predictor_instruction"]!]
        )
        assert.strictEqual(
          program.parameters.predict.demos.length,
          sets[best["0_predictor_demos"]!]!.demos["predict"]!.total
        )
        assert.strictEqual(report.trials.length, log.length)
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect(
    "without auto uses numCandidates and numTrials; deterministic for a seed; zero-shot searches instructions only",
    () =>
      Effect.gen(function* () {
        const data = arithmetic({ seed: 3, train: 70, dev: 0 })
        const run = () =>
          Optimizer.compile(
            MIPROv2.make({
              auto: null,
              numCandidates: 3,
              numTrials: 7,
              minibatchSize: 20,
              maxBootstrappedDemos: 0,
              maxLabeledDemos: 0
            }),
            cot(),
            { trainset: data.train, metric, concurrency: 8 }
          )
        const a = yield* run()
        const b = yield* run()
        assert.deepStrictEqual(a.report.details["trialLog"], b.report.details["trialLog"])
        const log = a.report.details["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
        // 7 trials: full evaluations after trial 5 and after the last.
        assert.strictEqual(log.map((t) => t.kind[0]).join(""), "dmmmmmfmmf")
        assert.isTrue(log.every((t) => Object.keys(t.params).join() === "0_predictor_instruction"))
        assert.strictEqual(a.report.details["numInstructionCandidates"], 3)
        assert.strictEqual(a.program.parameters.predict.demos.length, 0)
      }).pipe(Effect.provide(SimLM.layer({ seed: 2 })))
  )

  it.effect("rejects inconsistent settings with typed errors", () =>
    Effect.gen(function* () {
      const data = arithmetic({ seed: 3, train: 20, dev: 0 })
      const compile = (options: MIPROv2.Options) =>
        Effect.exit(Optimizer.compile(MIPROv2.make(options), cot(), { trainset: data.train, metric }))
      assert.strictEqual(failureTag(yield* compile({ auto: "light", numTrials: 5 })), "OptimizerConfigError")
      assert.strictEqual(failureTag(yield* compile({ auto: null, numCandidates: 3 })), "OptimizerConfigError")
      // 16 valset examples cannot hold a minibatch of 35.
      assert.strictEqual(
        failureTag(yield* compile({ auto: null, numCandidates: 3, numTrials: 3 })),
        "OptimizerConfigError"
      )
      assert.strictEqual(failureTag(yield* compile({ maxBootstrappedDemos: -1 })), "OptimizerConfigError")
      assert.strictEqual(signature.outputFields[0]!.name, "answer")
    }).pipe(Effect.provide(SimLM.layer({ seed: 2 })))
  )

  it.effect("searches an instruction and a demo set for every predictor of a multi-predictor program", () =>
    Effect.gen(function* () {
      const two = Module.make({
        name: "Two",
        parameters: { draft: Predict.make(signature), final: Predict.make(signature) },
        forward: (p, inputs: { question: string }) => Effect.flatMap(p.draft(inputs), () => p.final(inputs))
      })
      const data = arithmetic({ seed: 3, train: 40, dev: 0 })
      const { program, report } = yield* Optimizer.compile(
        MIPROv2.make({ auto: null, numCandidates: 3, numTrials: 4, minibatch: false }),
        two,
        { trainset: data.train, metric, concurrency: 8 }
      )
      const log = report.details["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
      assert.deepStrictEqual(Object.keys(log[0]!.params), [
        "0_predictor_instruction",
        "0_predictor_demos",
        "1_predictor_instruction",
        "1_predictor_demos"
      ])
      // Without minibatches every trial is a full evaluation: no separate full-evaluation steps.
      assert.strictEqual(log.map((t) => t.kind[0]).join(""), "dffff")
      const candidates = report.details["instructionCandidates"] as Record<string, ReadonlyArray<string>>
      assert.deepStrictEqual(Object.keys(candidates), ["draft", "final"])
      const best = report.details["bestParams"] as Record<string, number>
      assert.strictEqual(
        program.parameters.final.signature.instructions,
        candidates["final"]![best["1_predictor_instruction"]!]
      )
    }).pipe(Effect.provide(SimLM.layer({ seed: 2 })))
  )

  it.effect("interrupted midway and restarted with the same checkpoint store: resumes to the same program", () => {
    const { layer, requests } = recordingSim({ seed: 6 })
    const optimizer = MIPROv2.make({ auto: null, numCandidates: 3, numTrials: 6, minibatchSize: 20 })
    const data = arithmetic({ seed: 4, train: 60, dev: 0 })
    const options = { trainset: data.train, metric, concurrency: 4, runId: "mipro-resume" }
    return Effect.gen(function* () {
      const { reference, resumed, referenceCalls } = yield* interruptAndResume({
        optimizer,
        student: cot,
        options,
        requests,
        interruptAfterSteps: 120
      })
      assert.isAtLeast(resumed.report.resumedUnits, 100)
      assert.isBelow(resumed.report.lmCalls, referenceCalls)
      assert.deepStrictEqual(resumed.report.details["trialLog"], reference.report.details["trialLog"])
      assert.deepStrictEqual(Module.dumpState(resumed.program), Module.dumpState(reference.program))
    }).pipe(Effect.provide(layer), Effect.provide(Checkpoint.layerMemory))
  })

  it.effect("runs the program on the task model and proposes with the prompt model", () => {
    const prompt = recordingSim({ seed: 7 })
    const task = recordingSim({ seed: 8 })
    return Effect.gen(function* () {
      const taskModel = yield* Effect.provide(LM.LM, task.layer)
      const data = arithmetic({ seed: 3, train: 30, dev: 0 })
      const { report } = yield* Optimizer.compile(
        MIPROv2.make({ auto: null, numCandidates: 3, numTrials: 3, minibatch: false, taskModel }),
        cot(),
        { trainset: data.train, metric, concurrency: 4 }
      )
      const proposerCalls = report.details["proposerCalls"] as number
      assert.strictEqual(prompt.requests.length, proposerCalls)
      assert.isTrue(
        prompt.requests.every((r) =>
          /observations|summary|program_description|module_description|proposed_instruction/.test(promptText(r))
        )
      )
      assert.strictEqual(task.requests.length, report.lmCalls - proposerCalls)
      assert.isTrue(task.requests.every((r) => !promptText(r).includes("[[ ## proposed_instruction ## ]]")))
    }).pipe(Effect.provide(prompt.layer))
  })

  it.effect("parallelTrials scores constant-liar batches together, keeping the full-evaluation steps", () =>
    Effect.gen(function* () {
      const data = arithmetic({ seed: 3, train: 70, dev: 0 })
      const run = () =>
        Optimizer.compile(
          MIPROv2.make({ auto: null, numCandidates: 3, numTrials: 7, minibatchSize: 20, parallelTrials: 2 }),
          cot(),
          { trainset: data.train, metric, concurrency: 8 }
        )
      const a = yield* run()
      const b = yield* run()
      const log = a.report.details["trialLog"] as ReadonlyArray<MIPROv2.TrialLog>
      // Batches [1, 2], [3, 4], [5] (a full evaluation after 5), [6, 7] (and after the last).
      assert.strictEqual(log.map((t) => t.kind[0]).join(""), "dmmmmmfmmf")
      assert.deepStrictEqual(
        a.report.trials.map((t) => t.id),
        [
          "default",
          "trial 1",
          "trial 2",
          "trial 3",
          "trial 4",
          "trial 5",
          "full after 5",
          "trial 6",
          "trial 7",
          "full after 7"
        ]
      )
      assert.deepStrictEqual(log, b.report.details["trialLog"])
      assert.strictEqual(a.report.bestScore, Math.max(...log.filter((t) => t.kind !== "minibatch").map((t) => t.score)))
    }).pipe(Effect.provide(SimLM.layer({ seed: 2 })))
  )
})
