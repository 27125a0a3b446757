import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Completion from "../lm/Completion.js"
import type * as LM from "../lm/LM.js"
import * as Adapter from "../adapters/Adapter.js"
import type * as Example from "../primitives/Example.js"
import * as Module from "../primitives/Module.js"
import * as Prediction from "../primitives/Prediction.js"
import * as Signature from "../signature/Signature.js"
import * as Listener from "../stream/internal/listener.js"
import * as ChainOfThought from "./ChainOfThought.js"
import * as Predict from "./Predict.js"
import * as Tool from "./Tool.js"
import { ReActContextOverflow } from "../CoreError.js"
import type { ParseInputs, ParseOutputs } from "../signature/internal/typeParser.js"

/**
 * One step of the trajectory (`index` is the step number, kept when older steps are truncated).
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  readonly index: number
  readonly thought: string
  readonly toolName: string
  readonly toolArgs: { readonly [key: string]: unknown }
  readonly observation: string
}

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ReActContextOverflow }

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Steps before the loop stops (default 20). */
  readonly maxIters?: number
  /** Options of the two predictors (adapter, LM, config). */
  readonly predict?: Predict.Options
}

/**
 * The instructions of the `react` predictor (DSPy's wording).
 *
 * @since 0.1.0
 * @category formatting
 */
export const instructions = (signature: Signature.Any, tools: ReadonlyArray<Tool.Tool<unknown>>): string => {
  const inputs = signature.inputFields.map((f) => `\`${f.name}\``).join(", ")
  const outputs = signature.outputFields.map((f) => `\`${f.name}\``).join(", ")
  const lines: Array<string> = []
  if (signature.instructions !== "") lines.push(`${signature.instructions}\n`)
  lines.push(
    `You are an Agent. In each episode, you will be given the fields ${inputs} as input. And you can see your past trajectory so far.`,
    `Your goal is to use one or more of the supplied tools to collect any necessary information for producing ${outputs}.\n`,
    "To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.",
    "After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n",
    "When writing next_thought, you may reason about the current situation and plan for future steps.",
    "When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n"
  )
  tools.forEach((tool, i) => {
    lines.push(`(${i + 1}) ${Tool.describe(tool)}`)
  })
  lines.push("When providing `next_tool_args`, the value inside the field must be in JSON format")
  return lines.join("\n")
}

/**
 * The `finish` tool: marks the task as complete.
 *
 * @since 0.1.0
 * @category constructors
 */
export const finishTool = (signature: Signature.Any): Tool.Tool =>
  Tool.make({
    name: "finish",
    description: `Marks the task as complete. That is, signals that all information for producing the outputs, i.e. ${signature.outputFields.map((f) => `\`${f.name}\``).join(", ")}, are now available to be extracted.`,
    parameters: Schema.Struct({}),
    run: () => Effect.succeed("Completed.")
  })

const trajectoryField = Signature.input(Schema.String)

const withoutOutputs = (signature: Signature.Any): Signature.Any => {
  let out: Signature.Any = signature
  for (const f of signature.outputFields) out = Signature.remove(out, f.name)
  return out
}

/**
 * Renders the trajectory as the `trajectory` input: `[[ ## thought_0 ## ]]` sections as the ChatAdapter
 * writes input fields.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatTrajectory = (steps: ReadonlyArray<Step>): string =>
  steps
    .flatMap((s) => [
      `[[ ## thought_${s.index} ## ]]\n${s.thought}`,
      `[[ ## tool_name_${s.index} ## ]]\n${s.toolName}`,
      `[[ ## tool_args_${s.index} ## ]]\n${JSON.stringify(s.toolArgs)}`,
      `[[ ## observation_${s.index} ## ]]\n${s.observation}`
    ])
    .join("\n\n")

/**
 * The trajectory as a record (`thought_0`, `tool_name_0`, `tool_args_0`, `observation_0`, ...), as DSPy
 * returns it in the prediction.
 *
 * @since 0.1.0
 * @category formatting
 */
export const trajectoryRecord = (steps: ReadonlyArray<Step>): { readonly [key: string]: unknown } => {
  const out: Record<string, unknown> = {}
  for (const s of steps) {
    out[`thought_${s.index}`] = s.thought
    out[`tool_name_${s.index}`] = s.toolName
    out[`tool_args_${s.index}`] = s.toolArgs
    out[`observation_${s.index}`] = s.observation
  }
  return out
}

/**
 * The outputs of a ReAct module: the signature's outputs, the extract step's reasoning, and the trajectory.
 *
 * @since 0.1.0
 * @category models
 */
export type Outputs<O> = O & { readonly reasoning: string; readonly trajectory: { readonly [key: string]: unknown } }

type ReactOutputs = {
  readonly next_thought: string
  readonly next_tool_name: string
  readonly next_tool_args: { readonly [key: string]: unknown }
}

/**
 * Builds a ReAct module over a signature and tools, the signature given as a `Signature` or in DSPy's string
 * form (`ReAct.make("question -> answer", [search])`, throwing a `SignatureParseError` on a bad string as
 * `Signature.make` does). Its predictors are `react` and `extract.predict`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <const S extends string, R = never>(
    signature: S,
    tools: ReadonlyArray<Tool.Tool<R>>,
    options?: Options
  ): ReAct<ParseInputs<S>, ParseOutputs<S>, R>
  <I, O, R = never>(
    signature: Signature.Signature<I, O>,
    tools: ReadonlyArray<Tool.Tool<R>>,
    options?: Options
  ): ReAct<I, O, R>
} = <R>(signature: string | Signature.Any, tools: ReadonlyArray<Tool.Tool<R>>, options: Options = {}) =>
  makeWith(typeof signature === "string" ? Signature.make(signature) : signature, tools, options) as never

const makeWith = <I, O, R = never>(
  signature: Signature.Signature<I, O>,
  tools: ReadonlyArray<Tool.Tool<R>>,
  options: Options
): ReAct<I, O, R> => {
  const maxIters = options.maxIters ?? 20
  if (!(Number.isInteger(maxIters) && maxIters >= 1)) {
    throw new Predict.PredictConfigError({
      option: "maxIters",
      message: `ReAct maxIters must be a positive integer, got ${maxIters}`
    })
  }
  const all: ReadonlyArray<Tool.Tool<R>> = [...tools.filter((t) => t.name !== "finish"), finishTool(signature)]
  const byName = new Map(all.map((t) => [t.name, t]))
  const names = all.map((t) => t.name) as [string, ...Array<string>]
  const reactSignature = withoutOutputs(signature).pipe(
    Signature.withInstructions(instructions(signature, all)),
    Signature.append("trajectory", trajectoryField),
    Signature.append("next_thought", Signature.output(Schema.String)),
    Signature.append("next_tool_name", Signature.output(Schema.Literal(...names))),
    Signature.append("next_tool_args", Signature.output(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  ) as unknown as Signature.Signature<Signature.AnyFields, ReactOutputs>
  const extractSignature = Signature.append(signature, "trajectory", trajectoryField) as unknown as Signature.Signature<
    Signature.AnyFields,
    O
  >
  const predictOptions = options.predict ?? {}

  return Module.make({
    name: "ReAct",
    signature: Signature.toSignatureString(signature),
    parameters: {
      react: Predict.make(reactSignature, predictOptions),
      extract: ChainOfThought.make(extractSignature, predictOptions)
    },
    forward: (p, inputs: I) =>
      Effect.gen(function* () {
        let steps: Array<Step> = []
        let usage = Completion.emptyUsage
        let lmCalls = 0
        const values = inputs as Signature.AnyFields

        /** Calls a predictor with the trajectory, dropping the oldest step on a context overflow (3 times). */
        const withTruncation = <A extends Example.Fields, E, RR>(
          call: (trajectory: string) => Effect.Effect<Prediction.Prediction<A>, E, RR>
        ): Effect.Effect<Prediction.Prediction<A>, E | ReActContextOverflow, RR> =>
          Effect.gen(function* () {
            for (let attempt = 0; attempt < 3; attempt++) {
              const result = yield* Effect.either(call(formatTrajectory(steps)))
              if (result._tag === "Right") return result.right
              const error = result.left as unknown
              if (!isContextOverflow(error)) return yield* Effect.fail(result.left)
              if (steps.length === 0) {
                return yield* Effect.fail(
                  new ReActContextOverflow({
                    steps: 0,
                    message:
                      "The prompt exceeds the context window and the trajectory has no step left to drop: shorten the inputs or use a model with a larger context."
                  })
                )
              }
              yield* Effect.logWarning("Trajectory exceeded the context window, truncating the oldest tool call.")
              steps = steps.slice(1)
            }
            return yield* Effect.fail(
              new ReActContextOverflow({
                steps: steps.length,
                message: "The context window was exceeded even after 3 attempts to truncate the trajectory."
              })
            )
          })

        for (let index = 0; index < maxIters; index++) {
          const next = yield* Effect.either(withTruncation((trajectory) => p.react({ ...values, trajectory })))
          if (next._tag === "Left") {
            const error = next.left
            if (error._tag === "ReActContextOverflow" || error instanceof Adapter.AdapterParseError) {
              yield* Effect.logWarning(`Ending the trajectory: Agent failed to select a valid tool: ${error.message}`)
              break
            }
            return yield* Effect.fail(error)
          }
          const pred = next.right
          usage = Prediction.addUsage(usage, pred.usage)
          lmCalls += pred.lmCalls
          const toolName = String(pred.get("next_tool_name"))
          const toolArgs = (pred.get("next_tool_args") ?? {}) as { readonly [key: string]: unknown }
          const tool = byName.get(toolName)
          const observation =
            tool === undefined
              ? `Execution error in ${toolName}: no tool named ${toolName}; the tools are ${names.join(", ")}`
              : yield* Listener.aroundTool(toolName, toolArgs, tool.call(toolArgs)).pipe(
                  Effect.map(Tool.renderResult),
                  Effect.catchAll((e) => Effect.succeed(`Execution error in ${toolName}: ${e.message}`))
                )
          steps.push({ index, thought: String(pred.get("next_thought")), toolName, toolArgs, observation })
          if (toolName === "finish") break
        }

        const extract = yield* withTruncation((trajectory) => p.extract({ ...values, trajectory }))
        const trajectory = trajectoryRecord(steps)
        return Prediction.make([{ ...extract.fields, trajectory } as unknown as Outputs<O> & Example.Fields], {
          usage: Prediction.addUsage(usage, extract.usage),
          lmCalls: lmCalls + extract.lmCalls
        })
      })
  })
}

const isContextOverflow = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "LMContextWindowExceeded"

/**
 * The type of a ReAct module.
 *
 * @since 0.1.0
 * @category models
 */
export type ReAct<I, O, R = never> = Module.Module<
  {
    readonly react: Predict.Predict<Signature.AnyFields, ReactOutputs>
    readonly extract: ChainOfThought.ChainOfThought<Signature.AnyFields, O>
  },
  I,
  Prediction.Prediction<Outputs<O> & Example.Fields>,
  Predict.PredictError | ReActContextOverflow,
  LM.LM | R
>
