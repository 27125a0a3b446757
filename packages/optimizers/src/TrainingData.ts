/**
 * Training-data validation, run by every optimizer before any LM work: each example must be an `Example` with
 * its input keys set (`withInputs`), hold every input field of the program's signature, and hold every field
 * the metric reads (the metric's declared fields, else the program's output fields without reasoning). A
 * failure lists every offending example by index with the fields it lacks.
 *
 * @since 0.1.0
 */
import { Example, Module, Predict, Signature } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import { type ExampleProblem, TrainingDataInvalid } from "./OptimizerError.js"

/**
 * The fields a program needs from an example: its inputs and the labels its metric reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface Requirements {
  readonly inputs: ReadonlyArray<string>
  readonly labels: ReadonlyArray<string>
}

const REASONING = new Set(["reasoning", "rationale", "thought", "chain_of_thought"])

/**
 * The signature that describes a program from the outside: a predictor's own; a module's declared one
 * (`Module.make({ signature })`, as ChainOfThought declares the signature it was built from); else its
 * first predictor's.
 *
 * @since 0.1.0
 * @category accessors
 */
export const programSignature = (program: Module.Program): Signature.Any | undefined => {
  if (Predict.isPredict(program)) return program.signature
  if (program.signature !== undefined) {
    try {
      return Signature.make(program.signature)
    } catch {
      // A descriptive, non-parsable signature string: fall back to the first predictor.
    }
  }
  return Module.namedPredictors(program)[0]?.predictor.signature
}

/**
 * The requirements of a program: the inputs of its signature, and as labels the metric's declared fields or
 * the signature's outputs (reasoning fields left out).
 *
 * @since 0.1.0
 * @category accessors
 */
export const requirements = (program: Module.Program, metricFields?: ReadonlyArray<string>): Requirements => {
  const signature = programSignature(program)
  const inputs = signature?.inputFields.filter((f) => !f.optional).map((f) => f.name) ?? []
  const labels = metricFields ?? signature?.outputFields.filter((f) => !REASONING.has(f.name)).map((f) => f.name) ?? []
  return { inputs, labels }
}

/**
 * The problems of a set of examples, in index order (empty when all are usable).
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (examples: ReadonlyArray<unknown>, required: Requirements): ReadonlyArray<ExampleProblem> => {
  const out: Array<ExampleProblem> = []
  examples.forEach((example, index) => {
    if (!Example.isExample(example)) {
      out.push({ index, missing: [], reason: "not an Example: build it with Example.make(...).withInputs(...)" })
      return
    }
    const missing = [...required.inputs, ...required.labels].filter((f) => !example.has(f))
    if (example.inputKeys === undefined) {
      out.push({ index, missing, reason: "no input keys: call .withInputs(...keys)" })
      return
    }
    const notInputs = required.inputs.filter((f) => example.has(f) && !example.inputKeys!.includes(f))
    if (missing.length > 0) out.push({ index, missing, reason: "missing fields" })
    else if (notInputs.length > 0)
      out.push({ index, missing: notInputs, reason: "fields present but not marked as inputs with .withInputs" })
  })
  return out
}

/**
 * Validates a set of examples against a program and its metric's fields; fails with `TrainingDataInvalid`
 * listing every offending example (the message shows the first few).
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (
  program: Module.Program,
  examples: ReadonlyArray<unknown>,
  options: { readonly set?: string; readonly metricFields?: ReadonlyArray<string> } = {}
): Effect.Effect<void, TrainingDataInvalid> =>
  Effect.suspend(() => {
    const set = options.set ?? "trainset"
    const required = requirements(program, options.metricFields)
    const found = problems(examples, required)
    if (found.length === 0) return Effect.void
    const shown = found
      .slice(0, 5)
      .map((p) => `#${p.index}: ${p.reason}${p.missing.length > 0 ? ` (${p.missing.join(", ")})` : ""}`)
      .join("; ")
    return Effect.fail(
      new TrainingDataInvalid({
        set,
        requiredInputs: required.inputs,
        requiredLabels: required.labels,
        problems: found,
        message: `${found.length} of ${examples.length} ${set} examples cannot be used (inputs: ${required.inputs.join(", ") || "none"}; labels: ${required.labels.join(", ") || "none"}): ${shown}${found.length > 5 ? "; ..." : ""}. Fix these examples or declare the fields the metric reads with metricFields.`
      })
    )
  })
