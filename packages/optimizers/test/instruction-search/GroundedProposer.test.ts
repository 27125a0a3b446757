import { Random } from "@effect-dspy/foundation"
import { ChainOfThought, Example, LM, Module, Predict, Signature } from "@effect-dspy/core"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as DatasetSummary from "../../src/instruction-search/DatasetSummary.js"
import * as GroundedProposer from "../../src/instruction-search/GroundedProposer.js"

const train = SimTask.generate(Arithmetic.task, 3, 25).map((e) => Example.make(e).withInputs("question"))
const program = ChainOfThought.make(Signature.make("question -> answer: int"))
const path = "predict"
const original = program.parameters.predict.signature.instructions
const augmented = train
  .slice(0, 3)
  .map((e) => e.with({ reasoning: "Step by step.", augmented: true }).withInputs("question"))
const demoCandidates = { [path]: [[], train.slice(3, 5), augmented] }

const phrases = [...Arithmetic.inventory.concepts.flatMap((f) => f.phrasings)]

describe("DatasetSummary", () => {
  it.effect("describes batches of examples, then summarizes, with DSPy's call count", () =>
    Effect.gen(function* () {
      const { result, usage } = yield* LM.trackUsage(DatasetSummary.summarize({ trainset: train }))
      // 25 examples in batches of 10: one descriptor call, 2 more batches, one summary.
      assert.strictEqual(result.calls, 4)
      assert.strictEqual(usage.calls, 4)
      assert.strictEqual(DatasetSummary.maxCalls(25), 4)
      assert.strictEqual(DatasetSummary.maxCalls(500), 11)
      assert.include(result.summary, "arithmetic")
      const lm = yield* LM.LM
      const history = yield* lm.history
      const first = history[0]!.request.messages.map((m) => m.content).join("\n")
      assert.include(first, train[0]!.get("question"))
      assert.include(first, "input_keys={'question'}")
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it("strips labels and quotes like DSPy's strip_prefix", () => {
    assert.strictEqual(DatasetSummary.stripPrefix('Proposed Instruction: "Think step by step."'), "Think step by step.")
    assert.strictEqual(DatasetSummary.stripPrefix("Solve it."), "Solve it.")
  })
})

describe("GroundedProposer", () => {
  it.effect("proposes one grounded instruction per demo set; candidate 0 is the original instruction", () =>
    Effect.gen(function* () {
      const { result, usage } = yield* LM.trackUsage(
        GroundedProposer.proposeInstructions({
          program,
          trainset: train,
          demoCandidates,
          numCandidates: 3,
          random: Random.make(9)
        })
      )
      const candidates = result.instructions[path]!
      assert.strictEqual(candidates.length, 3)
      assert.strictEqual(candidates[0], original)
      // Summary (4 calls) + 2 proposals (sets 1 and 2; set 0's candidate is the original) x 3 calls each.
      assert.strictEqual(result.calls, 4 + 2 * 3)
      assert.strictEqual(usage.calls, result.calls)
      assert.isFalse(result.stoppedByBudget)
      // Proposed instructions are new and carry phrases of the task's bank.
      for (const c of candidates.slice(1)) {
        assert.notStrictEqual(c, original)
        assert.isTrue(phrases.some((p) => c.includes(p)) || /clear|plain|format|input|focused|carefully/i.test(c), c)
      }
      // What a proposal prompt contains.
      const [p1, p2] = result.proposals
      assert.deepStrictEqual(
        result.proposals.map((p) => p.demoSet),
        [1, 2]
      )
      assert.strictEqual(
        GroundedProposer.taskDemos(program.parameters.predict.signature, demoCandidates[path]!, 0),
        "No task demos provided."
      )
      // Set 1 holds labeled demos only (not augmented): the proposer moves on to the augmented set 2.
      assert.include(p1!.inputs["task_demos"]!, String(augmented[0]!.get("question")))
      assert.include(p2!.inputs["task_demos"]!, String(augmented[0]!.get("question")))
      assert.include(p2!.inputs["task_demos"]!, "Reasoning: Let's think step by step in order to Step by step.")
      for (const p of result.proposals) {
        assert.strictEqual(p.inputs["dataset_description"], result.datasetSummary)
        assert.include(p.inputs["program_code"]!, "predict = Predict(question: str -> reasoning: str, answer: int)")
        assert.include(p.inputs["program_description"]!, "program")
        assert.strictEqual(p.inputs["module"], "Predict(question) -> reasoning, answer")
        assert.isString(p.inputs["module_description"])
        assert.strictEqual(p.inputs["basic_instruction"], original)
        assert.include(Object.keys(GroundedProposer.TIPS), p.tip)
        if (p.tip === "none") assert.isUndefined(p.inputs["tip"])
        else assert.strictEqual(p.inputs["tip"], GroundedProposer.TIPS[p.tip])
        assert.isTrue(p.temperature >= 0.51 && p.temperature <= 0.55)
      }
      // The prompt the prompt model saw holds the summary and the basic instruction.
      const history = yield* (yield* LM.LM).history
      const generate = history.filter((h) =>
        h.request.messages.some((m) => (m.content as string).includes("generate a new instruction"))
      )
      assert.strictEqual(generate.length, 2)
      const text = generate[1]!.request.messages.map((m) => m.content).join("\n")
      assert.include(text, result.datasetSummary!)
      assert.include(text, "[[ ## proposed_instruction ## ]]")
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it.effect("is deterministic for a seed; zero-shot proposes numCandidates instructions", () =>
    Effect.gen(function* () {
      const run = (seed: number) =>
        GroundedProposer.proposeInstructions({
          program,
          trainset: train.slice(0, 8),
          numCandidates: 4,
          random: Random.make(seed),
          datasetSummary: "Arithmetic word problems."
        })
      const a = yield* run(3)
      const b = yield* run(3)
      assert.deepStrictEqual(a.instructions, b.instructions)
      assert.strictEqual(a.instructions[path]!.length, 4)
      assert.strictEqual(a.calls, 3 * 3)
      assert.isTrue(a.proposals.every((p) => p.inputs["task_demos"] === "No task demos provided."))
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it("builds the instruction signature from the grounding", () => {
    const full = GroundedProposer.generateInstructionSignature({
      useDatasetSummary: true,
      programAware: true,
      useTip: true
    })
    assert.deepStrictEqual(
      full.inputFields.map((f) => f.name),
      [
        "dataset_description",
        "program_code",
        "program_description",
        "module",
        "module_description",
        "task_demos",
        "basic_instruction",
        "tip"
      ]
    )
    const bare = GroundedProposer.generateInstructionSignature({
      useDatasetSummary: false,
      programAware: false,
      useTip: false
    })
    assert.deepStrictEqual(
      bare.inputFields.map((f) => f.name),
      ["task_demos", "basic_instruction"]
    )
    assert.deepStrictEqual(
      bare.outputFields.map((f) => f.name),
      ["proposed_instruction"]
    )
  })

  it.effect("with originalFirst: false proposes for set 0 too (DSPy's way); a unit that skips work stops early", () =>
    Effect.gen(function* () {
      const base = {
        program,
        trainset: train.slice(0, 8),
        demoCandidates,
        numCandidates: 3,
        random: Random.make(5),
        datasetSummary: "Arithmetic word problems."
      }
      const dspy = yield* GroundedProposer.proposeInstructions({ ...base, originalFirst: false })
      assert.strictEqual(dspy.calls, 3 * 3)
      assert.deepStrictEqual(
        dspy.proposals.map((p) => p.demoSet),
        [0, 1, 2]
      )
      assert.strictEqual(dspy.proposals[0]!.inputs["task_demos"], "No task demos provided.")
      assert.notStrictEqual(dspy.instructions[path]![0], original)
      const keys: Array<string> = []
      const skipping: GroundedProposer.Unit<never> = (key, work) => {
        keys.push(key)
        return key.endsWith("/2") ? Effect.succeed(Option.none()) : Effect.orDie(Effect.map(work, Option.some))
      }
      const cut = yield* GroundedProposer.proposeInstructions(base, skipping)
      assert.sameMembers(keys, ["proposal/predict/1", "proposal/predict/2"])
      assert.isTrue(cut.stoppedByBudget)
      assert.strictEqual(cut.instructions[path]!.length, 2)
      assert.strictEqual(cut.instructions[path]![0], original)
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it("describes a program from its structure: modules, predictor kinds, paths, typed fields, instructions", () => {
    const twoStep = Module.make({
      name: "TwoStep",
      parameters: {
        draft: ChainOfThought.make(Signature.make("question -> answer: int")),
        checks: [
          Predict.make(
            Signature.make("question, draft: int -> answer: float", {
              descriptions: { draft: "a first attempt" },
              instructions: "Check the draft."
            })
          )
        ]
      },
      forward: (p, inputs: { readonly question: string }) =>
        Effect.flatMap(p.draft(inputs), (d) => p.checks[0]!({ ...inputs, draft: d.get("answer") as number }))
    })
    const code = GroundedProposer.programCode(twoStep)
    assert.strictEqual(
      code,
      [
        "Program TwoStep: a module that calls its predictors",
        "  predictors:",
        "    draft = module ChainOfThought (question: str -> answer: int):",
        "      draft.predict = Predict(question: str -> reasoning: str, answer: int)",
        "          input question: str",
        "          output reasoning: str",
        "          output answer: int",
        "          instructions: Given the fields `question`, produce the fields `answer`.",
        "    checks = a list of 1:",
        "      checks[0] = Predict(question: str, draft: int -> answer: float)",
        "          input question: str",
        "          input draft: int (a first attempt)",
        "          output answer: float",
        "          instructions: Check the draft."
      ].join("\n")
    )
    // Never the source of `forward`: another forward over the same structure gets the same description.
    const other = Module.make({
      ...twoStep,
      name: "TwoStep",
      forward: (p, i: { readonly question: string }) => p.draft(i)
    })
    assert.strictEqual(GroundedProposer.programCode(other), code)
    assert.notInclude(code, "flatMap")
    assert.include(
      GroundedProposer.programCode(Predict.make(Signature.make("q -> a"))),
      "self = Predict(q: str -> a: str)"
    )
  })
})
