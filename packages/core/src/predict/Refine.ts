/**
 * Refine: BestOfN plus feedback (DSPy's `Refine`). After an attempt whose reward is below the threshold, an
 * LM call (`OfferFeedback`) reads the program, its inputs, its trajectory (each predictor's inputs and
 * outputs), its outputs, what the reward measures (`rewardDescription`: DSPy sends the reward function's
 * source here; this port never sends code), the threshold and the reward, and writes advice per predictor. The next
 * attempt runs with that advice as a hint: each predictor gets an extra `hint_` input holding its advice
 * (`N/A` when it is not to blame).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as LM from "../lm/LM.js"
import * as Module from "../primitives/Module.js"
import type * as Program from "../primitives/Program.js"
import * as Signature from "../signature/Signature.js"
import * as BestOfN from "./BestOfN.js"
import * as Predict from "./Predict.js"

/**
 * The feedback signature (DSPy's `OfferFeedback`).
 *
 * @since 0.1.0
 * @category signatures
 */
export const OfferFeedback = Signature.make({
  name: "OfferFeedback",
  instructions: [
    "In the discussion, assign blame to each module that contributed to the final reward being below the threshold, if",
    "any. Then, prescribe concrete advice of how the module should act on its future input when we retry the process, if",
    "it were to receive the same or similar inputs. If a module is not to blame, the advice should be N/A.",
    "The module will not see its own history, so it needs to rely on entirely concrete and actionable advice from you",
    "to avoid the same mistake on the same or similar inputs."
  ].join("\n"),
  inputs: {
    program_code: Signature.field(Schema.String, { description: "The code of the program that we are analyzing" }),
    modules_defined_in_program: Signature.field(Schema.String, {
      description: "The definition of each module in the program, including its I/O"
    }),
    program_inputs: Signature.field(Schema.String, { description: "The inputs to the program that we are analyzing" }),
    program_trajectory: Signature.field(Schema.String, {
      description: "The trajectory of the program's execution, showing each module's I/O"
    }),
    program_outputs: Signature.field(Schema.String, {
      description: "The outputs of the program that we are analyzing"
    }),
    reward_code: Signature.field(Schema.String, {
      description: "What the reward function that we are analyzing measures"
    }),
    target_threshold: Signature.field(Schema.Number, { description: "The target threshold for the reward function" }),
    reward_value: Signature.field(Schema.Number, {
      description: "The reward value assigned to the program's outputs"
    }),
    module_names: Signature.field(Schema.Array(Schema.String), {
      description: "The names of the modules in the program, for which we seek advice"
    })
  },
  outputs: {
    discussion: Signature.field(Schema.String, {
      description: "Discussing blame of where each module went wrong, if it did"
    }),
    advice: Signature.field(Schema.Record({ key: Schema.String, value: Schema.String }), {
      description:
        "For each module, describe very concretely, in this order: the specific scenarios in which it has made mistakes in the past and what each mistake was, followed by what it should do differently in that kind of scenario in the future. If the module is not to blame, write N/A."
    })
  }
})

/**
 * Options of {@link make}: those of BestOfN, plus the predictor writing the feedback (by default a
 * `Predict` of {@link OfferFeedback} on the context's LM).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<I, O, RR> extends BestOfN.Options<I, O, RR> {
  /**
   * What the reward measures, in words, for the feedback prompt (its `reward_code` input; default
   * {@link defaultRewardDescription}). The reward function's source is never sent.
   */
  readonly rewardDescription?: string
  readonly feedback?: Predict.Predict<
    typeof OfferFeedback extends Signature.Signature<infer A, infer _> ? A : never,
    typeof OfferFeedback extends Signature.Signature<infer _, infer B> ? B : never
  >
}

const json = (value: unknown): string => {
  try {
    return JSON.stringify(value, null, 2) ?? String(value)
  } catch {
    return String(value)
  }
}

const outputsOf = (prediction: unknown): unknown =>
  typeof prediction === "object" && prediction !== null && "toRecord" in prediction
    ? (prediction as { readonly toRecord: () => unknown }).toRecord()
    : prediction

/**
 * The feedback prompt's description of the reward when the options give none: stable, and without code.
 *
 * @since 0.1.0
 * @category formatting
 */
export const defaultRewardDescription =
  "A reward function scoring the program's outputs for its inputs; higher is better, and an attempt passes when its reward reaches the target threshold."

/**
 * A textual description of a program for the feedback prompt: its modules and predictors with their
 * signatures and instructions (the counterpart of DSPy's program source code).
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeProgram = (program: Module.Program): string =>
  Module.namedPredictors(program)
    .map(
      ({ path, predictor }) =>
        `${path}: ${Predict.signatureString(predictor)}\n  instructions: ${predictor.signature.instructions}`
    )
    .join("\n")

/**
 * Wraps a program (a module or a bare predictor, as `Program.call` takes): its predictors sit under `module`
 * (paths `"module.<path>"`, or `"module"` for a bare predictor); hints are keyed by those paths.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <P extends Program.Any, RR = never>(
  module: P,
  options: Options<Program.Input<P>, Program.Output<P>, RR>
): Module.Module<
  { readonly module: P },
  Program.Input<P>,
  Program.Output<P>,
  Program.Error<P> | BestOfN.BestOfNFailed | Predict.PredictError,
  Program.Context<P> | RR | LM.LM
> => {
  if (!(Number.isInteger(options.n) && options.n >= 1)) {
    throw new Predict.PredictConfigError({
      option: "n",
      message: `Refine n must be a positive integer, got ${options.n}`
    })
  }
  const feedback = options.feedback ?? Predict.make(OfferFeedback)
  const rewardDescription = options.rewardDescription ?? defaultRewardDescription
  return Module.make({
    name: "Refine",
    parameters: { module },
    forward: (p, inputs: Program.Input<P>) =>
      BestOfN.runAttempts({
        run: p.module as unknown as (
          inputs: Program.Input<P>
        ) => Effect.Effect<Program.Output<P>, Program.Error<P>, Program.Context<P>>,
        inputs,
        n: options.n,
        reward: options.reward,
        threshold: options.threshold,
        ...(options.failCount === undefined ? {} : { failCount: options.failCount }),
        between: (attempt) => {
          // Hints are keyed by the full paths of the predictors that ran (as the trace records them).
          const named = [...new Set(attempt.trace.map((e) => e.predictorPath))]
          return Effect.map(
            Predict.forwardAt(feedback, "feedback", {
              program_code: describeProgram(module),
              modules_defined_in_program: describeProgram(module),
              program_inputs: json(outputsOf(inputs)),
              program_trajectory: json(
                attempt.trace.map((e) => ({ module_name: e.predictorPath, inputs: e.inputs, outputs: e.outputs }))
              ),
              program_outputs: json(outputsOf(attempt.prediction)),
              reward_code: rewardDescription,
              target_threshold: options.threshold,
              reward_value: attempt.reward,
              module_names: named
            }).pipe(Predict.withOverrides({ rolloutId: attempt.rolloutId })),
            (advice) => {
              const given = advice.get("advice") as { readonly [name: string]: string }
              return new Map(named.map((name) => [name, given[name] ?? "N/A"]))
            }
          )
        }
      })
  })
}
