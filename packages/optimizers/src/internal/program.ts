import { type Evaluate, type Example, type LM, Module, Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"

/** The inputs of an example as a record (the caller has validated that input keys are set). */
export const inputsOf = (example: Example.Any): Example.Fields => example.inputs().toRecord()

/** Runs a program (module or bare predictor) on an example's inputs. */
export const callProgram = (
  program: Module.Program,
  example: Example.Any
): Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM> =>
  Effect.suspend(() => {
    const inputs = inputsOf(example)
    return (
      Predict.isPredict(program)
        ? Predict.forward(program, inputs)
        : Module.call(program as Module.Module<Module.Parameters, unknown, unknown, unknown, LM.LM>, inputs)
    ) as Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM>
  })

/** A one-line description of a failure. */
export const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error) {
    const tag = "_tag" in error ? `${String((error as { _tag: unknown })._tag)}: ` : ""
    return `${tag}${String((error as { message: unknown }).message)}`
  }
  return String(error)
}

/** Every predictor of a program with its demos replaced (paths not listed keep theirs). */
export const withDemos = <P extends Module.Program>(
  program: P,
  demos: { readonly [path: string]: ReadonlyArray<Predict.Demo> }
): P => Module.mapPredictors(program, (p, path) => (demos[path] === undefined ? p : Predict.withDemos(p, demos[path])))

/** Every predictor of a program with the same demos. */
export const withDemosEverywhere = <P extends Module.Program>(program: P, demos: ReadonlyArray<Predict.Demo>): P =>
  Module.mapPredictors(program, (p) => Predict.withDemos(p, demos))

/** True when some predictor has demos (DSPy's "compiled"). */
export const hasDemos = (program: Module.Program): boolean =>
  Module.namedPredictors(program).some((p) => p.predictor.demos.length > 0)

/** Every predictor mapped with its path. */
export const mapWithPath = <P extends Module.Program>(
  program: P,
  f: (predictor: Predict.Any, path: string) => Predict.Any
): P => Module.mapPredictors(program, f)
