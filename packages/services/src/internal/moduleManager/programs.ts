/**
 * The pure part of the ModuleManager: a spec made into a program, a swap patch applied to one, a change's
 * `ifVersion` checked, and a module described. No effects but reading a breaker's state.
 */
import {
  type Adapter,
  ChainOfThought,
  ChatAdapter,
  Example,
  JSONAdapter,
  Module,
  Predict,
  Signature,
  TwoStepAdapter,
  XMLAdapter
} from "@effect-dspy/core"
import type { CircuitBreaker } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import {
  type AdapterName,
  adapterNames,
  type ModuleInfo,
  type ModuleKind,
  moduleKinds,
  type ModuleSpec,
  type SwapPatch
} from "../../ModuleManager.js"
import { ModuleNotFound, ModuleSpecInvalid, ModuleVersionConflict } from "../../ServicesError.js"
import type { Entry } from "./store.js"

export const invalid = (moduleId: string, field: string, message: string) =>
  new ModuleSpecInvalid({ moduleId, field, message })

export const notFound = (moduleId: string) =>
  new ModuleNotFound({
    moduleId,
    message: `No module "${moduleId}" is registered; create it first (list shows those that exist).`
  })

const adapterOf = (name: AdapterName, extractionModel: string | undefined): Adapter.Adapter => {
  switch (name) {
    case "json":
      return JSONAdapter.make()
    case "xml":
      return XMLAdapter.make()
    case "two_step":
      return TwoStepAdapter.make(extractionModel === undefined ? {} : { extractionModel })
    case "chat":
      return ChatAdapter.make()
  }
}

/**
 * Builds the program of a spec, or says what is wrong with it. Its predictors format with the spec's
 * `adapter`, else with `defaultAdapter` (Config `modules.defaultAdapter`).
 */
export const programOfSpec = (
  spec: ModuleSpec,
  defaultAdapter: AdapterName
): Either.Either<Module.Program, ModuleSpecInvalid> => {
  if (!moduleKinds.includes(spec.kind)) {
    return Either.left(
      invalid(spec.id, "kind", `Unknown module kind "${String(spec.kind)}"; use one of: ${moduleKinds.join(", ")}.`)
    )
  }
  if (typeof spec.signature !== "string") {
    return Either.left(invalid(spec.id, "signature", 'The signature must be a string such as "question -> answer".'))
  }
  const adapterName = spec.adapter ?? defaultAdapter
  if (!adapterNames.includes(adapterName)) {
    return Either.left(
      invalid(spec.id, "adapter", `Unknown adapter "${String(adapterName)}"; use one of: ${adapterNames.join(", ")}.`)
    )
  }
  if (spec.extractionModel !== undefined) {
    if (typeof spec.extractionModel !== "string" || spec.extractionModel.trim() === "") {
      return Either.left(
        invalid(spec.id, "extractionModel", 'The extraction model must be a model name such as "gpt-4o-mini".')
      )
    }
    if (adapterName !== "two_step") {
      return Either.left(
        invalid(
          spec.id,
          "extractionModel",
          `An extraction model is used by the two_step adapter only, not by "${adapterName}"; set adapter: "two_step" or leave extractionModel out.`
        )
      )
    }
  }
  const parsed = Signature.parse(
    spec.signature,
    spec.instructions === undefined ? undefined : { instructions: spec.instructions }
  )
  if (Either.isLeft(parsed)) return Either.left(invalid(spec.id, "signature", parsed.left.message))
  const options: Predict.Options = {
    ...spec.config,
    adapter: adapterOf(adapterName, spec.extractionModel),
    ...(spec.demos === undefined ? {} : { demos: spec.demos.map((d) => Example.make(d)) })
  }
  const signature = parsed.right as Signature.Any
  return Either.right(
    spec.kind === "predict" ? Predict.make(signature, options) : ChainOfThought.make(signature, options)
  )
}

/**
 * Checks a change's `ifVersion` against the current version: inside the actor's handler, so nothing can land
 * between the check and the change.
 */
export const checkPrecondition = (
  entry: Entry,
  operation: string,
  ifVersion: number | undefined
): ModuleVersionConflict | ModuleSpecInvalid | undefined => {
  if (ifVersion === undefined) return undefined
  if (typeof ifVersion !== "number" || !Number.isInteger(ifVersion) || ifVersion < 1) {
    return invalid(
      entry.id,
      "ifVersion",
      `ifVersion must be a version number (an integer from 1), not ${String(ifVersion)}.`
    )
  }
  const actual = entry.current.version
  if (actual === ifVersion) return undefined
  return new ModuleVersionConflict({
    moduleId: entry.id,
    expected: ifVersion,
    actual,
    message: `The ${operation} of module "${entry.id}" expected version ${ifVersion} to be current, but version ${actual} is: another change landed first, and nothing was changed. Re-read the module (describe, program), decide again against version ${actual}, and retry with ifVersion ${actual}.`
  })
}

const info = (entry: Entry, breaker: CircuitBreaker.State): ModuleInfo => {
  const program = entry.current.program
  const predictors = Module.namedPredictors(program)
  return {
    id: entry.id,
    name: Module.nameOf(program),
    kind: entry.origin._tag === "Spec" ? (entry.origin.kind as ModuleKind) : "program",
    signature:
      entry.origin._tag === "Spec"
        ? entry.origin.signature
        : Predict.isPredict(program)
          ? Predict.signatureString(program)
          : (program.signature ??
            (predictors[0] === undefined ? "" : Predict.signatureString(predictors[0].predictor))),
    version: entry.current.version,
    versions: entry.versions.length,
    predictors: predictors.map((p) => p.path),
    executions: entry.executions,
    failures: entry.failures,
    breaker,
    createdAt: entry.createdAt
  }
}

/** What `describe` reports about a module now. */
export const describeEntry = (entry: Entry): Effect.Effect<ModuleInfo> =>
  Effect.map(entry.breaker.state, (state) => info(entry, state))

/** Applies a swap patch to a program. */
export const applyPatch = (
  id: string,
  current: Module.Program,
  patch: SwapPatch
): Either.Either<Module.Program, ModuleSpecInvalid> => {
  // `ifVersion` is a precondition, not a change: checked by the handler before this.
  const given = [patch.program, patch.state, patch.instructions, patch.demos, patch.config].filter(
    (p) => p !== undefined
  )
  if (given.length === 0)
    return Either.left(
      invalid(id, "patch", "The swap changes nothing: give a program, a state, instructions, demos or config.")
    )
  if ((patch.program !== undefined || patch.state !== undefined) && given.length > 1) {
    return Either.left(invalid(id, "patch", "Give a program or a state alone, not with instructions, demos or config."))
  }
  const state = patch.program !== undefined ? Module.dumpState(patch.program) : patch.state
  if (state !== undefined) {
    return Either.mapLeft(Module.loadState(current, state), (e) =>
      invalid(id, patch.program !== undefined ? "program" : "state", e.message)
    )
  }
  let next: Either.Either<Module.Program, Module.UnknownPredictorPath> = Either.right(current)
  if (patch.instructions !== undefined) {
    const instructions = patch.instructions
    next = Either.flatMap(next, (p) => Module.withInstructions(p, instructions))
  }
  if (patch.demos !== undefined) {
    const demos = patch.demos
    next = Either.flatMap(next, (p) => Module.withDemos(p, demos))
  }
  if (patch.config !== undefined) {
    const config = patch.config
    next = Either.flatMap(next, (p) => {
      let out: Either.Either<Module.Program, Module.UnknownPredictorPath> = Either.right(p)
      for (const [path, c] of Object.entries(config)) {
        out = Either.flatMap(out, (q) => Module.updatePredictor(q, path, (pred) => Predict.withConfig(pred, c)))
      }
      return out
    })
  }
  return Either.mapLeft(next, (e) => invalid(id, "path", e.message))
}
