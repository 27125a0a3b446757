/**
 * COPRO (DSPy's coordinate-ascent prompt optimizer): it searches each predictor's instruction and output
 * prefix with a prompt model.
 *
 * 1. Per predictor, the prompt model proposes `breadth - 1` (instruction, prefix) candidates in one call
 *    (`n = breadth - 1`, temperature `initTemperature`, default 1.4); the original is added.
 * 2. For each of `depth` levels, for each predictor in order (coordinate ascent): every candidate is scored
 *    on the trainset with the other predictors at their current best; the best candidate is fixed before
 *    moving to the next predictor. With one predictor only the newest candidates are scored; with several,
 *    all candidates so far (the others changed).
 * 3. Between levels, the prompt model sees the top `breadth` attempts of each predictor, worst to best, as
 *    `Instruction #k` / `Prefix #k` / `Resulting Score #k`, and proposes `breadth` new candidates.
 * 4. The result is the best scored program; the report lists every evaluated candidate (deduplicated, best
 *    first) with its score.
 *
 * Unlike DSPy, the candidates of a predictor are scored concurrently: every (candidate, example) pair is one
 * unit of the run's bounded pool. Defaults for `breadth`, `depth` and `initTemperature` come from Config
 * `optimization.copro` with {@link fromConfig}.
 *
 * @since 0.1.0
 */
import { type LM, Module, Predict, Signature } from "@effect-dspy/core"
import { Config } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Pool from "./internal/coproPool.js"
import { stripQuotes } from "./internal/text.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError } from "../OptimizerError.js"

/**
 * The first proposal: a new instruction and output prefix from the initial instruction.
 *
 * @since 0.1.0
 * @category signatures
 */
export const BasicGenerateInstruction = Signature.make(
  "basic_instruction -> proposed_instruction, proposed_prefix_for_output_field",
  {
    name: "BasicGenerateInstruction",
    instructions:
      "You are an instruction optimizer for large language models. I will give you a ``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good language model to perform the task well. Don't be afraid to be creative.",
    descriptions: {
      basic_instruction: "The initial instructions before optimization",
      proposed_instruction: "The improved instructions for the language model",
      proposed_prefix_for_output_field:
        "The string at the end of the prompt, which will help the model start solving the task"
    }
  }
)

/**
 * The later proposals: a new instruction and prefix given earlier attempts with their scores.
 *
 * @since 0.1.0
 * @category signatures
 */
export const GenerateInstructionGivenAttempts = Signature.make(
  "attempted_instructions: list[str] -> proposed_instruction, proposed_prefix_for_output_field",
  {
    name: "GenerateInstructionGivenAttempts",
    instructions:
      "You are an instruction optimizer for large language models. I will give some task instructions I've tried, along with their corresponding validation scores. The instructions are arranged in increasing order based on their scores, where higher scores indicate better quality.\n\nYour task is to propose a new instruction that will lead a good language model to perform the task even better. Don't be afraid to be creative.",
    descriptions: {
      attempted_instructions: "Instructions tried so far, with their scores, worst to best",
      proposed_instruction: "The improved instructions for the language model",
      proposed_prefix_for_output_field:
        "The string at the end of the prompt, which will help the model start solving the task"
    }
  }
)

/**
 * Settings of COPRO.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The LM that proposes instructions; default the `LM` in the context (the task model). */
  readonly promptModel?: LM.Service
  /** Candidates per predictor and level; must be > 1. Default 10. */
  readonly breadth?: number
  /** Levels of proposal and scoring. Default 3. */
  readonly depth?: number
  /** The prompt model's temperature. Default 1.4. */
  readonly initTemperature?: number
}

/**
 * An (instruction, prefix) candidate of a predictor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Proposal {
  readonly instruction: string
  readonly prefix: string
}

/**
 * An evaluated candidate: the predictor, its instruction and prefix, the score of the program it was part
 * of, and the level it was scored at.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate extends Proposal {
  readonly path: string
  readonly score: number
  readonly depth: number
}

/**
 * The attempts shown to the prompt model between levels: the top `breadth` candidates (by score, best
 * first, ties in evaluation order), listed worst to best as `Instruction #k`, `Prefix #k`,
 * `Resulting Score #k`.
 *
 * @since 0.1.0
 * @category prompts
 */
export const attempts = (evaluated: ReadonlyArray<Candidate>, breadth: number): Array<string> => {
  const best = [...evaluated].sort((a, b) => b.score - a.score)
  const n = Math.min(evaluated.length, breadth)
  const out: Array<string> = []
  for (let i = n - 1; i >= 0; i--) {
    out.push(`Instruction #${n - i}: ${best[i]!.instruction}`)
    out.push(`Prefix #${n - i}: ${best[i]!.prefix}`)
    out.push(`Resulting Score #${n - i}: ${best[i]!.score}`)
  }
  return out
}

const clean = (text: unknown): string => stripQuotes(String(text ?? "").trim()).trim()

const lastField = (predictor: Predict.Any): Signature.Field =>
  predictor.signature.fields[predictor.signature.fields.length - 1]!

/**
 * The program with a predictor's instruction and last field's prefix replaced.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProposal = <P extends Module.Program>(program: P, path: string, proposal: Proposal): P =>
  Either.getOrThrow(
    Module.updatePredictor(program, path, (p) =>
      Predict.withSignature(
        p,
        Signature.withUpdatedFields(Signature.withInstructions(p.signature, proposal.instruction), {
          [lastField(p).name]: { prefix: proposal.prefix }
        })
      )
    )
  )

const sameProgram = (a: Module.Program, b: Module.Program): boolean => {
  const pa = Module.predictors(a)
  const pb = Module.predictors(b)
  return pa.every(
    (p, i) =>
      p.signature.instructions === pb[i]!.signature.instructions && lastField(p).prefix === lastField(pb[i]!).prefix
  )
}

const propose = (
  signature: Signature.Any,
  inputs: Record<string, unknown>,
  n: number,
  temperature: number,
  promptModel: LM.Service | undefined
) =>
  Effect.map(
    Predict.forward(Predict.make(signature, { n, temperature, ...(promptModel ? { lm: promptModel } : {}) }), inputs),
    (prediction) =>
      prediction.completions.map((c) => ({
        instruction: clean(c["proposed_instruction"]),
        prefix: clean(c["proposed_prefix_for_output_field"])
      }))
  )

const checkOptions = (breadth: number, depth: number, temperature: number) => {
  if (!Number.isInteger(breadth) || breadth <= 1) {
    return Effect.fail(
      new OptimizerConfigError({ option: "breadth", message: `COPRO breadth must be an integer > 1, got ${breadth}` })
    )
  }
  if (!Number.isInteger(depth) || depth < 1) {
    return Effect.fail(
      new OptimizerConfigError({ option: "depth", message: `COPRO depth must be a positive integer, got ${depth}` })
    )
  }
  if (!(temperature >= 0 && temperature <= 2)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "initTemperature",
        message: `COPRO initTemperature must be in [0, 2], got ${temperature}`
      })
    )
  }
  return Effect.void
}

interface Evaluated extends Candidate {
  readonly program: Module.Program
}

/**
 * COPRO as an optimizer (see the module documentation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Optimizer.Optimizer => {
  const breadth = options.breadth ?? 10
  const depth = options.depth ?? 3
  const temperature = options.initTemperature ?? 1.4
  const promptModel = options.promptModel
  return Optimizer.make({
    name: "COPRO",
    settings: {
      breadth,
      depth,
      initTemperature: temperature,
      promptModel: promptModel === undefined ? "task" : `${promptModel.provider}/${promptModel.model}`
    },
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        yield* checkOptions(breadth, depth, temperature)
        const paths = Module.namedPredictors(student).map((p) => p.path)
        const trainset = run.trainset
        // Step 1: breadth - 1 proposals per predictor in one call each, plus the original.
        const initial = yield* run.forEach(paths, (path) => {
          const predictor = Either.getOrThrow(Module.getPredictor(student, path))
          const basic = predictor.signature.instructions
          return Effect.map(
            run.unit(
              `copro/propose/0/${path}`,
              Effect.mapError(
                propose(BasicGenerateInstruction, { basic_instruction: basic }, breadth - 1, temperature, promptModel),
                (e) => Pool.proposalFailed("COPRO's first proposal", e)
              )
            ),
            (proposed) => [
              ...Option.getOrElse(proposed, () => []),
              { instruction: basic, prefix: lastField(predictor).prefix }
            ]
          )
        })
        const all = new Map<string, Array<Proposal>>(paths.map((p, i) => [p, [...initial[i]!]]))
        let latest = new Map<string, Array<Proposal>>(paths.map((p, i) => [p, [...initial[i]!]]))
        const evaluated = new Map<string, Map<string, Evaluated>>(paths.map((p) => [p, new Map()]))
        let current: P = student
        let evaluations = 0
        let baselineScore: number | undefined
        let stopped = false

        for (let d = 0; d < depth && !stopped; d++) {
          for (let pi = 0; pi < paths.length && !stopped; pi++) {
            const path = paths[pi]!
            const candidates = paths.length > 1 ? all.get(path)! : latest.get(path)!
            const programs = candidates.map((c) => withProposal(current, path, c))
            const scores = yield* Pool.scoreAll(
              run,
              programs.map((program, ci) => ({ key: `copro/eval/${d}/${pi}/${ci}`, program })),
              trainset
            )
            const mine = evaluated.get(path)!
            for (let ci = 0; ci < candidates.length; ci++) {
              const s = scores[ci]!
              if (!s.complete) {
                stopped = true
                continue
              }
              evaluations++
              const c = candidates[ci]!
              if (d === 0 && pi === 0 && ci === candidates.length - 1) baselineScore = s.score
              yield* run.trial({
                id: `d${d}/p${pi}/c${ci}`,
                score: s.score,
                details: {
                  path,
                  depth: d,
                  instruction: c.instruction,
                  prefix: c.prefix,
                  instructions: Module.instructions(programs[ci]!)
                }
              })
              const key = `${c.instruction}\u0000${c.prefix}`
              const before = mine.get(key)
              if (before === undefined || before.score < s.score) {
                mine.set(key, { ...c, path, score: s.score, depth: d, program: programs[ci]! })
              }
            }
            // Fix this predictor at its best candidate before moving on to the next one.
            let best: Evaluated | undefined
            for (const e of mine.values()) if (best === undefined || e.score > best.score) best = e
            if (best !== undefined) current = withProposal(current, path, best)
          }
          if (d === depth - 1 || stopped) break
          // Between levels: show the top attempts worst to best and ask for breadth new candidates.
          const next = yield* run.forEach(paths, (path) =>
            Effect.map(
              run.unit(
                `copro/propose/${d + 1}/${path}`,
                Effect.mapError(
                  propose(
                    GenerateInstructionGivenAttempts,
                    { attempted_instructions: attempts([...evaluated.get(path)!.values()], breadth) },
                    breadth,
                    temperature,
                    promptModel
                  ),
                  (e) => Pool.proposalFailed(`COPRO's proposal at depth ${d + 1}`, e)
                )
              ),
              (proposed) => Option.getOrElse(proposed, () => [] as Array<Proposal>)
            )
          )
          latest = new Map(paths.map((p, i) => [p, next[i]!]))
          for (let i = 0; i < paths.length; i++) all.get(paths[i]!)!.push(...next[i]!)
        }

        // Every evaluated candidate, best first, without repeats of the same program at the same score.
        const ranked = [...evaluated.values()].flatMap((m) => [...m.values()]).sort((a, b) => b.score - a.score)
        const kept: Array<Evaluated> = []
        let batch: Array<Evaluated> = []
        let batchScore: number | undefined
        for (const c of ranked) {
          if (c.score === batchScore) {
            if (batch.some((b) => sameProgram(b.program, c.program))) continue
            batch.push(c)
          } else {
            batch = [c]
            batchScore = c.score
          }
          kept.push(c)
        }
        const winner = kept[0]
        return {
          program: (winner?.program as P | undefined) ?? student,
          ...(winner !== undefined ? { bestScore: winner.score } : {}),
          ...(baselineScore !== undefined ? { baselineScore } : {}),
          details: {
            evaluations,
            stoppedByBudget: stopped,
            candidates: kept.map(({ path, instruction, prefix, score, depth }) => ({
              path,
              instruction,
              prefix,
              score,
              depth
            }))
          }
        }
      })
  })
}

/**
 * COPRO with defaults from Config `optimization.copro` (`breadth`, `depth`, `initTemperature`) when the
 * Config service is present; explicit options win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = (options: Options = {}): Effect.Effect<Optimizer.Optimizer> =>
  Effect.flatMap(Effect.serviceOption(Config.Config), (config) =>
    Option.isNone(config)
      ? Effect.succeed(make(options))
      : Effect.map(config.value.current, (c) =>
          make({
            breadth: c.optimization.copro.breadth,
            depth: c.optimization.copro.depth,
            initTemperature: c.optimization.copro.initTemperature,
            ...options
          })
        )
  )
