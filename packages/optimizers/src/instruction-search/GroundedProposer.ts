/**
 * The grounded instruction proposer of MIPROv2 (DSPy's `GroundedProposer`): for each predictor and each
 * demo set (up to `numCandidates`), the prompt model proposes a new instruction grounded in
 *
 * - a dataset summary ({@link DatasetSummary.summarize}),
 * - the program's structure (its predictors, their kinds, signatures, fields and instructions: never the source
 *   of its `forward`, see {@link programCode}) with an LM-written program description and an LM-written
 *   description of the module (two extra calls per proposal, as DSPy makes them),
 * - up to 3 bootstrapped demos (the demo set's, then the following sets'; none for set 0),
 * - a random tip (none, creative, simple, description, high_stakes, persona),
 * - the basic (current) instruction.
 *
 * Each proposal samples at `temperature + U(0.01, 0.05)` (a different temperature per proposal, as DSPy, so
 * repeated prompts do not hit the cache). Tips and temperatures are drawn up front from the seeded
 * generator, so the proposals can run concurrently and still give the same result for a seed.
 *
 * @since 0.1.0
 */
import type { Random } from "@effect-dspy/foundation"
import { type Example, type LM, Module, Predict, Signature } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as DatasetSummary from "./DatasetSummary.js"

/**
 * The tips, by key (DSPy's `TIPS`).
 *
 * @since 0.1.0
 * @category constants
 */
export const TIPS = {
  none: "",
  creative: "Don't be afraid to be creative when creating the new instruction!",
  simple: "Keep the instruction clear and concise.",
  description: "Make sure your instruction is very informative and descriptive.",
  high_stakes: "The instruction should include a high stakes scenario in which the LM must solve the task!",
  persona: 'Include a persona that is relevant to the task in the instruction (ie. "You are a ...")'
} as const

/**
 * A tip key.
 *
 * @since 0.1.0
 * @category models
 */
export type TipKey = keyof typeof TIPS

const TIP_KEYS = Object.keys(TIPS) as ReadonlyArray<TipKey>

/**
 * Describes the program from its code and an example of use.
 *
 * @since 0.1.0
 * @category signatures
 */
export const DescribeProgram = Signature.make("program_code, program_example -> program_description", {
  name: "DescribeProgram",
  instructions:
    "Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe what type of task this program appears to be designed to solve, and how it appears to work.",
  descriptions: {
    program_code: "Pseudocode for a language model program designed to solve a particular task.",
    program_example: "An example of the program in use.",
    program_description: "Describe what task the program is designed to solve, and how it goes about solving this task."
  }
})

/**
 * Describes one module of the program.
 *
 * @since 0.1.0
 * @category signatures
 */
export const DescribeModule = Signature.make(
  "program_code, program_example, program_description, module -> module_description",
  {
    name: "DescribeModule",
    instructions:
      "Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe the purpose of one of the specified module in this pipeline.",
    descriptions: {
      program_code: "Pseudocode for a language model program designed to solve a particular task.",
      program_example: "An example of the program in use.",
      program_description: "Summary of the task the program is designed to solve, and how it goes about solving it.",
      module: "The module in the program that we want to describe.",
      module_description: "Description of the module's role in the broader program."
    }
  }
)

/**
 * Which inputs the instruction-generation signature has.
 *
 * @since 0.1.0
 * @category models
 */
export interface Grounding {
  readonly useDatasetSummary: boolean
  readonly programAware: boolean
  readonly useTip: boolean
}

const GENERATE_INSTRUCTIONS =
  "Use the information below to learn about a task that we are trying to solve using calls to an LM, then generate a new instruction that will be used to prompt a Language Model to better solve the task."

const DESCRIPTIONS: Record<string, string> = {
  dataset_description: "A description of the dataset that we are using.",
  program_code: "Language model program designed to solve a particular task.",
  program_description: "Summary of the task the program is designed to solve, and how it goes about solving it.",
  module: "The module to create an instruction for.",
  module_description: "Description of the module to create an instruction for.",
  task_demos: "Example inputs/outputs of our module.",
  basic_instruction: "Basic instruction.",
  tip: "A suggestion for how to go about generating the new instruction.",
  proposed_instruction: "Propose an instruction that will be used to prompt a Language Model to perform this task."
}

/**
 * The instruction-generation signature (DSPy's `GenerateSingleModuleInstruction`) for a grounding.
 *
 * @since 0.1.0
 * @category signatures
 */
export const generateInstructionSignature = (grounding: Grounding): Signature.Any => {
  const inputs = [
    ...(grounding.useDatasetSummary ? ["dataset_description"] : []),
    ...(grounding.programAware ? ["program_code", "program_description", "module", "module_description"] : []),
    "task_demos",
    "basic_instruction",
    ...(grounding.useTip ? ["tip"] : [])
  ]
  const descriptions: Record<string, string> = {}
  for (const name of [...inputs, "proposed_instruction"]) descriptions[name] = DESCRIPTIONS[name]!
  return Signature.make(`${inputs.join(", ")} -> proposed_instruction` as string, {
    name: "GenerateSingleModuleInstruction",
    instructions: GENERATE_INSTRUCTIONS,
    descriptions
  })
}

const fieldLine = (field: Signature.Field): string =>
  `${field.name}: ${field.typeName}${field.description === undefined ? "" : ` (${field.description})`}`

const describeParameter = (parameter: Module.Parameter, label: string, indent: string, lines: Array<string>) => {
  if (Predict.isPredict(parameter)) {
    lines.push(`${indent}${label} = ${parameter.name}(${Predict.signatureString(parameter)})`)
    const more = `${indent}    `
    for (const f of parameter.signature.inputFields) lines.push(`${more}input ${fieldLine(f)}`)
    for (const f of parameter.signature.outputFields) lines.push(`${more}output ${fieldLine(f)}`)
    const instructions = parameter.signature.instructions.replace(/\s+/g, " ").trim()
    if (instructions !== "") lines.push(`${more}instructions: ${instructions}`)
  } else if (Module.isModule(parameter)) {
    const signature = parameter.signature === undefined ? "" : ` (${parameter.signature})`
    lines.push(`${indent}${label} = module ${parameter.name}${signature}:`)
    for (const key of Object.keys(parameter.parameters)) {
      describeParameter(parameter.parameters[key]!, `${label}.${key}`, `${indent}  `, lines)
    }
  } else {
    const items = parameter as ReadonlyArray<Module.Parameter>
    lines.push(`${indent}${label} = a list of ${items.length}:`)
    for (let i = 0; i < items.length; i++) describeParameter(items[i]!, `${label}[${i}]`, `${indent}  `, lines)
  }
}

/**
 * A description of a program for the proposer, built from its structure alone: its name and kind, each
 * predictor with its path, kind (`Predict`, `ChainOfThought`, ...) and signature, its fields (types and
 * descriptions) and instructions, nested modules and lists in declaration order. DSPy shows the program's
 * Python source; the source of a TypeScript `forward` depends on how it was transpiled, so it is never used:
 * the same program gets the same description (and the same proposals) under any runner.
 *
 * @since 0.1.0
 * @category rendering
 */
export const programCode = (program: Module.Program): string => {
  const lines: Array<string> = []
  if (Predict.isPredict(program)) {
    lines.push(`Program ${program.name}: a single predictor`, "  predictors:")
    describeParameter(program, "self", "    ", lines)
    return lines.join("\n")
  }
  const signature = program.signature === undefined ? "" : ` (${program.signature})`
  lines.push(`Program ${program.name}: a module${signature} that calls its predictors`, "  predictors:")
  for (const key of Object.keys(program.parameters)) describeParameter(program.parameters[key]!, key, "    ", lines)
  return lines.join("\n")
}

/**
 * The module line of a predictor: `Predict(question) -> reasoning, answer`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const moduleCode = (predictor: Predict.Any): string =>
  `${predictor.name}(${predictor.signature.inputFields.map((f) => f.name).join(", ")}) -> ${predictor.signature.outputFields.map((f) => f.name).join(", ")}`

/**
 * True for a bootstrapped (augmented) demo: an example with `augmented: true`.
 *
 * @since 0.1.0
 * @category demos
 */
export const isAugmented = (demo: Example.Any): boolean => demo.has("augmented") && demo.get("augmented") === true

/**
 * A demo as the proposer shows it: one `Prefix value` line per signature field it has.
 *
 * @since 0.1.0
 * @category rendering
 */
export const exampleString = (signature: Signature.Any, demo: Example.Any): string =>
  signature.fields
    .filter((f) => demo.has(f.name))
    .map((f) => {
      const v = demo.get(f.name)
      return `${f.prefix} ${typeof v === "string" ? v : JSON.stringify(v)}`
    })
    .join("\n")

/**
 * The task demos shown for demo set `setIndex` of a predictor: up to `max` augmented demos from that set,
 * then the following sets, then the earlier ones; "No task demos provided." for set 0 or when there are none.
 *
 * @since 0.1.0
 * @category demos
 */
export const taskDemos = (
  signature: Signature.Any,
  sets: ReadonlyArray<ReadonlyArray<Example.Any>>,
  setIndex: number,
  max = 3
): string => {
  const none = "No task demos provided."
  if (setIndex === 0 || sets.length === 0) return none
  const ordered = [sets[setIndex] ?? [], ...sets.slice(setIndex + 1), ...sets.slice(0, setIndex)]
  const out: Array<string> = []
  for (const set of ordered) {
    for (const demo of set) {
      if (out.length >= max) break
      if (isAugmented(demo)) out.push(exampleString(signature, demo))
    }
  }
  return out.length === 0 ? none : `${out.join("\n\n")}\n\n`
}

/**
 * How a piece of proposal work runs: by default directly; an optimizer passes its run's `unit` so each
 * piece (the dataset summary, each proposal) is budgeted, bounded and checkpointed. `None` means the piece
 * was not run (the budget was spent).
 *
 * @since 0.1.0
 * @category models
 */
export type Unit<E> = <A>(
  key: string,
  work: Effect.Effect<A, Predict.PredictError, LM.LM>
) => Effect.Effect<Option.Option<A>, E, LM.LM>

/**
 * Options of {@link proposeInstructions}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly program: Module.Program
  readonly trainset: ReadonlyArray<Example.Any>
  /** Demo candidate sets per predictor path (set 0 first); empty or missing when optimizing zero-shot. */
  readonly demoCandidates?: { readonly [path: string]: ReadonlyArray<ReadonlyArray<Example.Any>> }
  /** Proposals per predictor (at most one per demo set when there are demo sets). */
  readonly numCandidates: number
  /** Base sampling temperature; default 0.5 (MIPROv2's `init_temperature`). */
  readonly temperature?: number
  readonly promptModel?: LM.Service
  readonly viewDataBatchSize?: number
  readonly numDemosInContext?: number
  readonly programAware?: boolean
  readonly useDatasetSummary?: boolean
  readonly useTaskDemos?: boolean
  readonly useTip?: boolean
  /** A dataset summary made earlier (skips the summary calls). */
  readonly datasetSummary?: string
  /** The seeded draws for tips and temperatures. */
  readonly random: Random.Random
  /** How many proposals run at once; default 8. */
  readonly concurrency?: number
  /**
   * Keep the original instruction as candidate 0 without proposing for demo set 0 (default true). DSPy
   * proposes for set 0 and then overwrites it with the original: the same candidates, 3 more LM calls per
   * predictor. With `false`, candidate 0 is the proposal for set 0.
   */
  readonly originalFirst?: boolean
}

/**
 * One proposal: which predictor and demo set it was for, the tip, the temperature, the inputs shown to the
 * prompt model and the proposed instruction.
 *
 * @since 0.1.0
 * @category models
 */
export interface Proposal {
  readonly path: string
  readonly demoSet: number
  readonly tip: TipKey
  readonly temperature: number
  readonly inputs: { readonly [field: string]: string }
  readonly instruction: string
}

/**
 * The result: instruction candidates per predictor path (index 0 is the predictor's original instruction,
 * as MIPROv2 sets it), every proposal, the dataset summary and the prompt-model calls made.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly instructions: { readonly [path: string]: ReadonlyArray<string> }
  readonly proposals: ReadonlyArray<Proposal>
  readonly datasetSummary: string | undefined
  readonly calls: number
  /** True when some work was not run because the budget was spent. */
  readonly stoppedByBudget: boolean
}

const direct: Unit<Predict.PredictError> = (_key, work) => Effect.map(work, Option.some)

const ask = (
  signature: Signature.Any,
  inputs: Record<string, string>,
  temperature: number,
  promptModel: LM.Service | undefined
) => {
  const predictor = Predict.make(signature, { n: 1, temperature, ...(promptModel ? { lm: promptModel } : {}) })
  const out = signature.outputFields[0]!.name
  return Effect.map(Predict.forward(predictor, inputs), (p) => DatasetSummary.stripPrefix(String(p.get(out) ?? "")))
}

/**
 * Proposes instruction candidates for every predictor of the program (see the module documentation). With
 * `unit`, each piece of work (key `summary`, `proposal/<path>/<set>`) runs through it and its errors are
 * `unit`'s.
 *
 * @since 0.1.0
 * @category proposing
 */
export const proposeInstructions: {
  (options: Options): Effect.Effect<Result, Predict.PredictError, LM.LM>
  <E>(options: Options, unit: Unit<E>): Effect.Effect<Result, E, LM.LM>
} = ((options: Options, unitIn?: Unit<unknown>): Effect.Effect<Result, unknown, LM.LM> =>
  Effect.gen(function* () {
    const unit = unitIn ?? (direct as Unit<unknown>)
    const lm = options.promptModel
    const useSummary = options.useDatasetSummary ?? true
    let calls = 0
    let stoppedByBudget = false
    let datasetSummary = options.datasetSummary
    if (useSummary && datasetSummary === undefined) {
      const s = yield* unit(
        "summary",
        DatasetSummary.summarize({
          trainset: options.trainset,
          ...(options.viewDataBatchSize !== undefined ? { viewDataBatchSize: options.viewDataBatchSize } : {}),
          ...(lm !== undefined ? { promptModel: lm } : {})
        })
      )
      if (Option.isSome(s)) {
        calls += s.value.calls
        datasetSummary = s.value.summary
      } else stoppedByBudget = true
    }
    const programAware = options.programAware ?? true
    const code = programCode(options.program)
    const base = options.temperature ?? 0.5
    const predictors = Module.namedPredictors(options.program)
    const demos = options.demoCandidates ?? {}
    const hasDemos = predictors.some((p) => (demos[p.path]?.length ?? 0) > 0)
    const useTaskDemos = (options.useTaskDemos ?? true) && hasDemos
    const firstSets = predictors.length > 0 ? (demos[predictors[0]!.path]?.length ?? 0) : 0
    const perPredictor = hasDemos
      ? Math.min(options.numCandidates, Math.max(firstSets, 1))
      : Math.max(0, options.numCandidates)
    // Draw every tip and temperature first (sequentially), so concurrent proposals stay seed-deterministic.
    const plans: Array<{ path: string; predictor: Predict.Any; demoSet: number; tip: TipKey; temperature: number }> = []
    for (const { path, predictor } of predictors) {
      for (let demoSet = 0; demoSet < perPredictor; demoSet++) {
        const tip = (options.useTip ?? true) ? (options.random.pick(TIP_KEYS) ?? "none") : "none"
        const epsilon = 0.01 + options.random.next() * 0.04
        plans.push({ path, predictor, demoSet, tip, temperature: Math.min(2, base + epsilon) })
      }
    }
    const originalFirst = options.originalFirst ?? true
    const results = yield* Effect.forEach(
      originalFirst ? plans.filter((p) => p.demoSet > 0) : plans,
      (plan) =>
        unit(
          `proposal/${plan.path}/${plan.demoSet}`,
          Effect.gen(function* () {
            const demoText = useTaskDemos
              ? taskDemos(
                  plan.predictor.signature,
                  demos[plan.path] ?? [],
                  plan.demoSet,
                  options.numDemosInContext ?? 3
                )
              : "No task demos provided."
            let programDescription = "Not available"
            let module = "Not provided"
            let moduleDescription = "Not provided"
            let made = 0
            if (programAware) {
              programDescription = yield* ask(
                DescribeProgram,
                { program_code: code, program_example: demoText },
                plan.temperature,
                lm
              )
              module = moduleCode(plan.predictor)
              moduleDescription = yield* ask(
                DescribeModule,
                { program_code: code, program_example: demoText, program_description: programDescription, module },
                plan.temperature,
                lm
              )
              made += 2
            }
            const useTip = TIPS[plan.tip] !== ""
            const signature = generateInstructionSignature({
              useDatasetSummary: useSummary && datasetSummary !== undefined,
              programAware,
              useTip
            })
            const inputs: Record<string, string> = {}
            if (useSummary && datasetSummary !== undefined) inputs["dataset_description"] = datasetSummary
            if (programAware) {
              inputs["program_code"] = code
              inputs["program_description"] = programDescription
              inputs["module"] = module
              inputs["module_description"] = moduleDescription
            }
            inputs["task_demos"] = demoText
            inputs["basic_instruction"] = plan.predictor.signature.instructions
            if (useTip) inputs["tip"] = TIPS[plan.tip]
            const instruction = yield* ask(signature, inputs, plan.temperature, lm)
            made += 1
            return {
              made,
              proposal: {
                path: plan.path,
                demoSet: plan.demoSet,
                tip: plan.tip,
                temperature: plan.temperature,
                inputs,
                instruction
              } satisfies Proposal
            }
          })
        ),
      { concurrency: options.concurrency ?? 8 }
    )
    const proposals = results.flatMap((r) => (Option.isSome(r) ? [r.value] : []))
    if (proposals.length < results.length) stoppedByBudget = true
    const instructions: Record<string, Array<string>> = {}
    for (const { path, predictor } of predictors) {
      const mine = proposals.filter((p) => p.proposal.path === path).map((p) => p.proposal.instruction)
      // Candidate 0 is the original instruction (MIPROv2 puts it in place of the proposal for set 0).
      instructions[path] = originalFirst || mine.length === 0 ? [predictor.signature.instructions, ...mine] : mine
    }
    for (const p of proposals) calls += p.made
    return { instructions, proposals: proposals.map((p) => p.proposal), datasetSummary, calls, stoppedByBudget }
  })) as never
