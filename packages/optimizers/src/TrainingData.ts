/**
 * Training-data validation, run by every optimizer before any LM work. As in DSPy, a program's inputs come from
 * the examples (`Example.withInputs`, DSPy's `with_inputs`), so each example must be an `Example` with its input
 * keys set and present. Beyond that, only what is known to be needed is checked:
 *
 * - the inputs of the program's own signature, when it has one: a bare predictor's, or a module's declared
 *   `Module.make({ signature })` (ChainOfThought declares the one it was built from). A custom module without a
 *   declared signature (DSPy's tutorial modules) takes whatever inputs its examples mark: its first predictor's
 *   fields are never required (its traces come from the predictor calls, not from the examples);
 * - the labels the metric reads: `metricFields` when given, else the outputs of the program's own signature
 *   (reasoning left out); a custom module without a declared signature and no `metricFields` needs none.
 *
 * A failure lists every offending example by index with the fields it lacks and, in its message, the fix.
 *
 * @since 0.1.0
 */
import { Example, Module, Predict, Signature } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import { type ExampleProblem, TrainingDataInvalid } from "./OptimizerError.js"

/**
 * The fields a program needs from an example: its signature's inputs and the labels its metric reads, and where
 * each list came from (they name the fix in error messages).
 *
 * @since 0.1.0
 * @category models
 */
export interface Requirements {
  readonly inputs: ReadonlyArray<string>
  readonly labels: ReadonlyArray<string>
  /**
   * Where the inputs come from: the program's own signature (as a string), or `undefined` when it has none (a
   * custom module: its inputs are the examples' input keys).
   */
  readonly signature?: string | undefined
  /** Where the labels come from: `metricFields`, the program's signature's outputs, or nothing required. */
  readonly labelsFrom?: "metricFields" | "signature" | "none"
}

const REASONING = new Set(["reasoning", "rationale", "thought", "chain_of_thought"])

/**
 * The signature that describes a program from the outside: a predictor's own, or a module's declared one
 * (`Module.make({ signature })`, as ChainOfThought declares the signature it was built from). A module without
 * one (or with a descriptive string that does not parse) has none: its inputs are its examples' input keys.
 *
 * @since 0.1.0
 * @category accessors
 */
export const programSignature = (program: Module.Program): Signature.Any | undefined => {
  if (Predict.isPredict(program)) return program.signature
  if (program.signature === undefined) return undefined
  try {
    return Signature.make(program.signature)
  } catch {
    return undefined
  }
}

/**
 * The requirements of a program: the inputs of its own signature (none for a module without a declared
 * signature), and as labels the metric's declared fields, else the signature's outputs (reasoning fields left
 * out), else none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const requirements = (program: Module.Program, metricFields?: ReadonlyArray<string>): Requirements => {
  const signature = programSignature(program)
  const inputs = signature?.inputFields.filter((f) => !f.optional).map((f) => f.name) ?? []
  const outputs = signature?.outputFields.filter((f) => !REASONING.has(f.name)).map((f) => f.name)
  const labels = metricFields ?? outputs ?? []
  return {
    inputs,
    labels,
    signature: signature === undefined ? undefined : Signature.toSignatureString(signature),
    labelsFrom: metricFields !== undefined ? "metricFields" : outputs !== undefined ? "signature" : "none"
  }
}

const quoted = (names: ReadonlyArray<string>) => names.map((n) => `"${n}"`).join(", ")
const args = (names: ReadonlyArray<string>) => names.map((n) => JSON.stringify(n)).join(", ")

/**
 * The problems of a set of examples, in index order (empty when all are usable). Each reason says what to do.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (examples: ReadonlyArray<unknown>, required: Requirements): ReadonlyArray<ExampleProblem> => {
  const out: Array<ExampleProblem> = []
  const from = required.signature === undefined ? "" : ` of the program's signature "${required.signature}"`
  examples.forEach((example, index) => {
    if (!Example.isExample(example)) {
      out.push({
        index,
        missing: [],
        reason: "not an Example: build it with Example.make({ ... }).withInputs(...inputKeys)"
      })
      return
    }
    const inputKeys = example.inputKeys
    if (inputKeys === undefined) {
      const suggested = required.inputs.length > 0 ? required.inputs : example.keys().slice(0, 1)
      out.push({
        index,
        missing: required.inputs.filter((f) => !example.has(f)),
        reason: `no input keys: say which fields the program takes, e.g. .withInputs(${args(suggested)})`
      })
      return
    }
    if (inputKeys.length === 0) {
      out.push({ index, missing: [], reason: "no inputs: .withInputs() was given no field, so the program gets none" })
      return
    }
    const absent = inputKeys.filter((k) => !example.has(k))
    if (absent.length > 0) {
      out.push({
        index,
        missing: absent,
        reason: `marked as inputs with .withInputs but absent: add ${quoted(absent)} to the example or leave ${absent.length === 1 ? "it" : "them"} out of .withInputs`
      })
      return
    }
    const missingInputs = required.inputs.filter((f) => !example.has(f))
    if (missingInputs.length > 0) {
      out.push({
        index,
        missing: missingInputs,
        reason: `lacks the input${missingInputs.length === 1 ? "" : "s"} ${quoted(missingInputs)}${from}: add ${missingInputs.length === 1 ? "it" : "them"} and mark ${missingInputs.length === 1 ? "it" : "them"} with .withInputs`
      })
      return
    }
    const notInputs = required.inputs.filter((f) => !inputKeys.includes(f))
    if (notInputs.length > 0) {
      out.push({
        index,
        missing: notInputs,
        reason: `has ${quoted(notInputs)}${from} but not as input: .withInputs(${args([...new Set([...inputKeys, ...notInputs])])})`
      })
      return
    }
    const missingLabels = required.labels.filter((f) => !example.has(f))
    if (missingLabels.length > 0) {
      const fix =
        required.labelsFrom === "metricFields"
          ? "metricFields says the metric reads them: add them to the example, or correct metricFields"
          : `the metric is assumed to read the outputs${from}: add ${missingLabels.length === 1 ? "it" : "them"} to the example, or pass metricFields with the fields your metric reads`
      out.push({
        index,
        missing: missingLabels,
        reason: `lacks the label${missingLabels.length === 1 ? "" : "s"} ${quoted(missingLabels)} (${fix})`
      })
    }
  })
  return out
}

/**
 * Validates a set of examples against a program and its metric's fields; fails with `TrainingDataInvalid`
 * listing every offending example (the message shows the first few, each with its fix).
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
      .map((p) => `#${p.index} ${p.reason}`)
      .join("; ")
    const needs =
      required.signature === undefined
        ? `the program ${Module.nameOf(program)} takes its inputs from each example's .withInputs keys`
        : `the program ${Module.nameOf(program)} has the signature "${required.signature}"`
    return Effect.fail(
      new TrainingDataInvalid({
        set,
        requiredInputs: required.inputs,
        requiredLabels: required.labels,
        problems: found,
        message: `${found.length} of ${examples.length} ${set} examples cannot be used (${needs}; labels the metric reads: ${required.labels.join(", ") || "none required"}): ${shown}${found.length > 5 ? "; ..." : ""}.`
      })
    )
  })
