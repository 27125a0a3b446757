import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as Predict from "../predict/Predict.js"
import * as Signature from "../signature/Signature.js"
import * as Example from "./Example.js"
import { decodeUnknownEither } from "../internal/decode.js"
import * as Instrument from "./internal/instrument.js"
import { UnknownPredictorPath, ModuleStateError, type MediaError, type PrivacyBlocked } from "../CoreError.js"
import * as Media from "../media/Media.js"
import * as Privacy from "../privacy/Privacy.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/core/Module")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A parameter of a module: a predictor, a sub-module, or an array of them.
 *
 * @since 0.1.0
 * @category models
 */
export type Parameter = Predict.Any | Any | ReadonlyArray<Parameter>

/**
 * The named parameters of a module.
 *
 * @since 0.1.0
 * @category models
 */
export type Parameters = { readonly [name: string]: Parameter }

/**
 * A parameter as `forward` sees it: a function running it at its path.
 *
 * @since 0.1.0
 * @category models
 */
export type BoundParameter<X> =
  X extends Predict.Predict<infer I, infer O>
    ? Predict.Bound<I, O>
    : X extends Module<infer _P, infer I, infer O, infer E, infer R>
      ? (inputs: I) => Effect.Effect<O, E, R>
      : X extends ReadonlyArray<infer Y>
        ? ReadonlyArray<BoundParameter<Y>>
        : never

/**
 * The parameters as `forward` sees them.
 *
 * @since 0.1.0
 * @category models
 */
export type Bound<P> = { readonly [K in keyof P]: BoundParameter<P[K]> }

/**
 * A module with parameters `P`, taking `I` and giving `O` (usually a `Prediction`), failing with `E` and
 * needing `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Module<P extends Parameters, I, O, E = never, R = never> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly parameters: P
  readonly forward: (parameters: Bound<P>, inputs: I) => Effect.Effect<O, E, R>
  /**
   * A signature describing the module from outside (optional): its events show it, and optimizers check that
   * training examples carry its inputs and its outputs as labels. Without one, events show the first
   * predictor's signature and optimizers take the inputs from the examples' `withInputs` keys (as DSPy).
   */
  readonly signature?: string
}

/**
 * Any module.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: the variance-neutral "any module" type
export type Any = Module<any, any, any, any, any>

/**
 * A program: a module or a bare predictor.
 *
 * @since 0.1.0
 * @category models
 */
export type Program = Any | Predict.Any

class ModuleImpl<P extends Parameters, I, O, E, R> implements Module<P, I, O, E, R> {
  readonly [TypeId]: TypeId = TypeId
  readonly signature?: string
  constructor(
    readonly name: string,
    readonly parameters: P,
    readonly forward: (parameters: Bound<P>, inputs: I) => Effect.Effect<O, E, R>,
    signature: string | undefined
  ) {
    if (signature !== undefined) this.signature = signature
  }
  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
  toJSON(): unknown {
    return { _id: "Module", name: this.name, predictors: namedPredictors(this).map((p) => p.path) }
  }
}

/**
 * True for modules.
 *
 * @since 0.1.0
 * @category guards
 */
export const isModule = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * Builds a module.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const P extends Parameters, I, O, E = never, R = never>(spec: {
  readonly name: string
  readonly parameters: P
  readonly forward: (parameters: Bound<P>, inputs: I) => Effect.Effect<O, E, R>
  readonly signature?: string
}): Module<P, I, O, E, R> => new ModuleImpl(spec.name, spec.parameters, spec.forward, spec.signature)

/**
 * The same module with other parameters (of the same shape).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withParameters = <P extends Parameters, I, O, E, R>(
  self: Module<P, I, O, E, R>,
  parameters: P
): Module<P, I, O, E, R> => new ModuleImpl(self.name, parameters, self.forward, self.signature)

/**
 * A copy of a program. Programs are immutable values, so this is the program itself; replacing a predictor
 * always builds a new program and never changes the original.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = <A extends Program>(self: A): A => self

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { UnknownPredictorPath, ModuleStateError }

// ---------------------------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------------------------

/**
 * A predictor with its dotted path in the program.
 *
 * @since 0.1.0
 * @category models
 */
export interface NamedPredictor {
  readonly path: string
  readonly predictor: Predict.Any
}

const join = (prefix: string, key: string | number): string =>
  typeof key === "number" ? `${prefix}[${key}]` : prefix === "" ? key : `${prefix}.${key}`

const walk = (parameter: Parameter, path: string, out: Array<NamedPredictor>): void => {
  if (Predict.isPredict(parameter)) out.push({ path, predictor: parameter })
  else if (isModule(parameter)) {
    for (const key of Object.keys(parameter.parameters)) walk(parameter.parameters[key]!, join(path, key), out)
  } else {
    const items = parameter as ReadonlyArray<Parameter>
    for (let i = 0; i < items.length; i++) walk(items[i]!, join(path, i), out)
  }
}

/**
 * Every predictor of the program with its dotted path, depth first in declaration order (DSPy's
 * `named_predictors`). A bare predictor is listed as `"self"`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const namedPredictors = (program: Program): ReadonlyArray<NamedPredictor> => {
  if (Predict.isPredict(program)) return [{ path: "self", predictor: program }]
  const out: Array<NamedPredictor> = []
  walk(program, "", out)
  return out
}

/**
 * The predictors of the program, in the order of {@link namedPredictors}.
 *
 * @since 0.1.0
 * @category accessors
 */
export const predictors = (program: Program): ReadonlyArray<Predict.Any> =>
  namedPredictors(program).map((p) => p.predictor)

/**
 * The predictor at a path.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getPredictor = (program: Program, path: string): Either.Either<Predict.Any, UnknownPredictorPath> => {
  const found = namedPredictors(program).find((p) => p.path === path)
  return found === undefined ? Either.left(unknownPath(program, path)) : Either.right(found.predictor)
}

const unknownPath = (program: Program, path: string): UnknownPredictorPath => {
  const known = namedPredictors(program).map((p) => p.path)
  return new UnknownPredictorPath({
    path,
    known,
    message: `The program ${nameOf(program)} has no predictor at "${path}"; its predictors are: ${known.join(", ") || "(none)"}`
  })
}

/**
 * The name of a program (a module's name, or `Predict` for a bare predictor).
 *
 * @since 0.1.0
 * @category accessors
 */
export const nameOf = (program: Program): string => (Predict.isPredict(program) ? program.name : program.name)

const mapParameter = (
  parameter: Parameter,
  path: string,
  f: (predictor: Predict.Any, path: string) => Predict.Any
): Parameter => {
  if (Predict.isPredict(parameter)) return f(parameter, path)
  if (isModule(parameter)) return mapModule(parameter, path, f)
  const items = parameter as ReadonlyArray<Parameter>
  let changed = false
  const next = items.map((item, i) => {
    const mapped = mapParameter(item, join(path, i), f)
    if (mapped !== item) changed = true
    return mapped
  })
  return changed ? next : items
}

const mapModule = (module: Any, prefix: string, f: (predictor: Predict.Any, path: string) => Predict.Any): Any => {
  let changed = false
  const next: Record<string, Parameter> = {}
  for (const key of Object.keys(module.parameters)) {
    const before = module.parameters[key]!
    const after = mapParameter(before, join(prefix, key), f)
    if (after !== before) changed = true
    next[key] = after
  }
  return changed ? withParameters(module, next) : module
}

/**
 * A new program with every predictor replaced by `f(predictor, path)`. Sub-trees where nothing changed are
 * shared with the original.
 *
 * @since 0.1.0
 * @category combinators
 */
export const mapPredictors: {
  (f: (predictor: Predict.Any, path: string) => Predict.Any): <A extends Program>(self: A) => A
  <A extends Program>(self: A, f: (predictor: Predict.Any, path: string) => Predict.Any): A
} = ((...args: Array<unknown>) => {
  if (args.length === 1) {
    const f = args[0] as (predictor: Predict.Any, path: string) => Predict.Any
    return (self: Program) => mapProgram(self, f)
  }
  return mapProgram(args[0] as Program, args[1] as (predictor: Predict.Any, path: string) => Predict.Any)
}) as never

const mapProgram = <A extends Program>(self: A, f: (predictor: Predict.Any, path: string) => Predict.Any): A =>
  (Predict.isPredict(self) ? f(self, "self") : mapModule(self as Any, "", f)) as A

/**
 * A new program whose predictor at `path` is replaced.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPredictor = <A extends Program>(
  self: A,
  path: string,
  predictor: Predict.Any
): Either.Either<A, UnknownPredictorPath> => {
  let found = false
  const next = mapProgram(self, (p, at) => {
    if (at !== path) return p
    found = true
    return predictor
  })
  return found ? Either.right(next) : Either.left(unknownPath(self, path))
}

/**
 * A new program whose predictor at `path` is `f` of the current one.
 *
 * @since 0.1.0
 * @category combinators
 */
export const updatePredictor = <A extends Program>(
  self: A,
  path: string,
  f: (predictor: Predict.Any) => Predict.Any
): Either.Either<A, UnknownPredictorPath> =>
  Either.flatMap(getPredictor(self, path), (p) => withPredictor(self, path, f(p)))

/**
 * A new program where every predictor has the given demos (by path; paths not listed keep theirs). Fails on
 * a path the program does not have.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withDemos = <A extends Program>(
  self: A,
  demos: { readonly [path: string]: ReadonlyArray<Predict.Demo> }
): Either.Either<A, UnknownPredictorPath> => {
  const known = new Set(namedPredictors(self).map((p) => p.path))
  const missing = Object.keys(demos).find((path) => !known.has(path))
  if (missing !== undefined) return Either.left(unknownPath(self, missing))
  return Either.right(
    mapProgram(self, (p, path) => (demos[path] === undefined ? p : Predict.withDemos(p, demos[path])))
  )
}

/**
 * A new program where the predictors at the given paths have new instructions.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withInstructions = <A extends Program>(
  self: A,
  instructions: { readonly [path: string]: string }
): Either.Either<A, UnknownPredictorPath> => {
  const known = new Set(namedPredictors(self).map((p) => p.path))
  const missing = Object.keys(instructions).find((path) => !known.has(path))
  if (missing !== undefined) return Either.left(unknownPath(self, missing))
  return Either.right(
    mapProgram(self, (p, path) =>
      instructions[path] === undefined ? p : Predict.withInstructions(p, instructions[path])
    )
  )
}

/**
 * The demos of every predictor, by path.
 *
 * @since 0.1.0
 * @category accessors
 */
export const demos = (program: Program): { readonly [path: string]: ReadonlyArray<Predict.Demo> } =>
  Object.fromEntries(namedPredictors(program).map((p) => [p.path, p.predictor.demos]))

/**
 * The instructions of every predictor, by path.
 *
 * @since 0.1.0
 * @category accessors
 */
export const instructions = (program: Program): { readonly [path: string]: string } =>
  Object.fromEntries(namedPredictors(program).map((p) => [p.path, p.predictor.signature.instructions]))

// ---------------------------------------------------------------------------------------------------------------
// Calling
// ---------------------------------------------------------------------------------------------------------------

const boundCache = new WeakMap<Any, Map<string, Bound<Parameters>>>()

const bindParameter = (parameter: Parameter, path: string): unknown => {
  if (Predict.isPredict(parameter)) return Predict.bind(parameter, path)
  if (isModule(parameter)) return (inputs: unknown) => callAt(parameter, path, inputs)
  return (parameter as ReadonlyArray<Parameter>).map((item, i) => bindParameter(item, join(path, i)))
}

/**
 * The parameters of a module bound to their paths under `prefix` (what `forward` receives).
 *
 * @since 0.1.0
 * @category calling
 */
export const bind = <P extends Parameters>(module: Module<P, unknown, unknown, unknown, unknown>, prefix: string) => {
  let byPrefix = boundCache.get(module as Any)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    boundCache.set(module as Any, byPrefix)
  }
  let bound = byPrefix.get(prefix)
  if (bound === undefined) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(module.parameters))
      out[key] = bindParameter(module.parameters[key]!, join(prefix, key))
    bound = out as Bound<Parameters>
    byPrefix.set(prefix, bound)
  }
  return bound as Bound<P>
}

const signatureOf = (module: Any): string => {
  if (module.signature !== undefined) return module.signature
  const first = namedPredictors(module)[0]
  return first === undefined ? "" : Predict.signatureString(first.predictor)
}

/**
 * Runs a module whose parameters sit at `path` in an enclosing program (what a parent's bound parameter
 * does). Use {@link call} for a root program.
 *
 * @since 0.1.0
 * @category calling
 */
export const callAt = <P extends Parameters, I, O, E, R>(
  module: Module<P, I, O, E, R>,
  path: string,
  inputs: I
): Effect.Effect<O, E, R> =>
  Instrument.instrument(
    module.name,
    () => signatureOf(module as Any),
    () => module.forward(bind(module as Module<P, unknown, unknown, unknown, unknown>, path), inputs)
  )

/**
 * Runs a program on its inputs: a module's `forward`, or a bare predictor.
 *
 * @since 0.1.0
 * @category calling
 */
export const call: {
  <P extends Parameters, I, O, E, R>(program: Module<P, I, O, E, R>, inputs: I): Effect.Effect<O, E, R>
  <I, O>(program: Predict.Predict<I, O>, inputs: I): ReturnType<Predict.Bound<I, O>>
} = ((program: Program, inputs: unknown) =>
  Predict.isPredict(program) ? Predict.forward(program, inputs) : callAt(program, "", inputs)) as never

/**
 * A program as a function of its inputs (for `Evaluate.run`, `Parallel`, ...).
 *
 * @since 0.1.0
 * @category calling
 */
export const toFunction: {
  <P extends Parameters, I, O, E, R>(program: Module<P, I, O, E, R>): (inputs: I) => Effect.Effect<O, E, R>
  <I, O>(program: Predict.Predict<I, O>): Predict.Bound<I, O>
} = ((program: Program) => (inputs: unknown) => (call as (p: Program, i: unknown) => unknown)(program, inputs)) as never

// ---------------------------------------------------------------------------------------------------------------
// State: dump, load, save
// ---------------------------------------------------------------------------------------------------------------

/**
 * The saved config of a predictor (sampling settings only: never an LM client or a key).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConfigJson = Schema.Struct({
  n: Schema.optional(Schema.Number),
  temperature: Schema.optional(Schema.Number),
  maxTokens: Schema.optional(Schema.Number),
  rolloutId: Schema.optional(Schema.Number),
  model: Schema.optional(Schema.String)
})

/**
 * The saved state of one predictor: its signature (instructions, fields, descriptions, prefixes), demos
 * and config.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PredictorState = Schema.Struct({
  signature: Signature.SignatureJson,
  demos: Schema.Array(Example.ExampleJson),
  config: ConfigJson
})

/**
 * The saved state of one predictor.
 *
 * @since 0.1.0
 * @category schemas
 */
export type PredictorState = typeof PredictorState.Type

/**
 * The saved state of a program: every predictor's state by path.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProgramState = Schema.Struct({
  version: Schema.Literal(2),
  program: Schema.String,
  predictors: Schema.Record({ key: Schema.String, value: PredictorState })
})

/**
 * The current version of the saved program format. Version 2 (this one) stores the image and audio values of
 * demos in their saved form (`Media.SavedJson`: type, sha256, size and the bytes in base64, checked on load);
 * version 1 (before media) is read too and migrated forward as it is (it could hold no media).
 *
 * @since 0.1.0
 * @category schemas
 */
export const stateVersion = 2

const ProgramStateV1 = Schema.Struct({
  version: Schema.Literal(1),
  program: Schema.String,
  predictors: Schema.Record({ key: Schema.String, value: PredictorState })
})

/** A saved state of any version, migrated to the current one. */
const AnyProgramState = Schema.Union(
  ProgramState,
  Schema.transform(ProgramStateV1, Schema.typeSchema(ProgramState), {
    strict: true,
    decode: (v1) => ({ ...v1, version: 2 as const }),
    encode: (v2) => ({ ...v2, version: 1 as const })
  })
)

/** Demo values in their saved form: media values as `Media.SavedJson` (with their bytes), the rest as they are. */
const saveMedia = (fields: { readonly [key: string]: unknown }): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) {
    out[k] = Media.isMedia(v)
      ? Media.toSaved(v)
      : Array.isArray(v) && v.some(Media.isMedia)
        ? v.map((x) => (Media.isMedia(x) ? Media.toSaved(x) : x))
        : v
  }
  return out
}

/** Saved media values back to values (digest checked), at any depth of lists. */
const loadMedia = (value: unknown): Either.Either<unknown, MediaError> => {
  if (Media.isSaved(value)) return Media.fromSaved(value)
  if (Array.isArray(value) && value.some(Media.isSaved)) return Either.all(value.map(loadMedia))
  return Either.right(value)
}

/**
 * The saved state of a program.
 *
 * @since 0.1.0
 * @category schemas
 */
export type ProgramState = typeof ProgramState.Type

const jsonValue = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? "null")

/**
 * The state of a program as JSON-ready data: per predictor path, its signature JSON, demos and config. No
 * LM client, adapter or secret is included.
 *
 * @since 0.1.0
 * @category state
 */
export const dumpState = (program: Program): ProgramState => {
  const predictors: Record<string, PredictorState> = {}
  for (const { path, predictor } of namedPredictors(program)) {
    predictors[path] = {
      signature: Signature.toJSON(predictor.signature),
      demos: predictor.demos.map((d: Predict.Demo) => {
        const json = Example.isExample(d) ? d.toJSON() : { fields: d }
        return jsonValue({ ...json, fields: saveMedia(json.fields) }) as Example.ExampleJson
      }),
      config: { ...predictor.config }
    }
  }
  return { version: stateVersion, program: nameOf(program), predictors }
}

const mismatch = (message: string, path?: string) =>
  new ModuleStateError(path === undefined ? { reason: "mismatch", message } : { reason: "mismatch", message, path })

const applyState = (
  predictor: Predict.Any,
  path: string,
  state: PredictorState
): Either.Either<Predict.Any, ModuleStateError> => {
  const saved = state.signature.fields
  const current = predictor.signature.fields
  const describe = (fs: ReadonlyArray<{ readonly name: string; readonly kind: string; readonly typeName: string }>) =>
    fs.map((f) => `${f.kind} ${f.name}: ${f.typeName}`).join(", ")
  const same =
    saved.length === current.length &&
    saved.every(
      (f, i) => f.name === current[i]!.name && f.kind === current[i]!.kind && f.typeName === current[i]!.typeName
    )
  if (!same) {
    return Either.left(
      mismatch(
        `The saved predictor "${path}" has the fields [${describe(saved)}] but the program's has [${describe(current)}]: load state saved from the same program.`,
        path
      )
    )
  }
  const patches: Record<string, Signature.FieldPatch> = {}
  for (const f of saved) {
    const patch: { description?: string; prefix?: string } = { prefix: f.prefix }
    if (f.description !== undefined) patch.description = f.description
    patches[f.name] = patch
  }
  const signature = Signature.withUpdatedFields(
    Signature.withInstructions(predictor.signature, state.signature.instructions),
    patches
  )
  const demos: Array<Example.Example<Example.Fields, string>> = []
  for (const demo of state.demos) {
    const fields: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(demo.fields)) {
      const loaded = loadMedia(v)
      if (Either.isLeft(loaded)) {
        return Either.left(
          new ModuleStateError({
            reason: "decode",
            path,
            message: `A demo of the saved predictor "${path}" has an unreadable ${k}: ${loaded.left.message}`
          })
        )
      }
      fields[k] = loaded.right
    }
    demos.push(Example.fromJSON({ ...demo, fields }))
  }
  return Either.right(
    Predict.withConfig(Predict.withDemos(Predict.withSignature(predictor, signature), demos), {
      n: undefined,
      temperature: undefined,
      maxTokens: undefined,
      rolloutId: undefined,
      model: undefined,
      ...state.config
    })
  )
}

/**
 * A new program with the saved state applied: each predictor's instructions, field descriptions and
 * prefixes, demos and config. Fails when the data is not a program state, names a predictor the program
 * does not have, lacks one it has, or has different fields.
 *
 * @since 0.1.0
 * @category state
 */
export const loadState = <A extends Program>(
  program: A,
  state: unknown
): Either.Either<A, ModuleStateError | UnknownPredictorPath> => {
  const decoded = decodeUnknownEither(AnyProgramState)(state)
  if (Either.isLeft(decoded)) {
    return Either.left(
      new ModuleStateError({
        reason: "decode",
        message: `Not a saved program state: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
      })
    )
  }
  const saved = decoded.right.predictors
  const named = namedPredictors(program)
  const known = new Set(named.map((p) => p.path))
  for (const path of Object.keys(saved)) if (!known.has(path)) return Either.left(unknownPath(program, path))
  const replaced = new Map<string, Predict.Any>()
  for (const { path, predictor } of named) {
    const entry = saved[path]
    if (entry === undefined) {
      return Either.left(
        mismatch(
          `The saved state has no entry for the predictor "${path}": load state saved from the same program.`,
          path
        )
      )
    }
    const applied = applyState(predictor, path, entry)
    if (Either.isLeft(applied)) return Either.left(applied.left)
    replaced.set(path, applied.right)
  }
  return Either.right(mapProgram(program, (p, path) => replaced.get(path) ?? p))
}

/**
 * Saves a program's state as JSON to a file (written to a temporary file, then renamed into place). The privacy
 * policy of the context (`privacy.stores`, see `Privacy.scrub`) applies first: demos a bootstrap took from
 * customer data are saved with their PII redacted, or not at all under `block`.
 *
 * @since 0.1.0
 * @category state
 */
export const save = (program: Program, file: string): Effect.Effect<void, ModuleStateError | PrivacyBlocked> =>
  Effect.flatMap(Privacy.scrub("saved_program", dumpState(program)), (state) => writeState(state, file))

const writeState = (state: ProgramState, file: string): Effect.Effect<void, ModuleStateError> =>
  Effect.tryPromise({
    try: async () => {
      const text = `${JSON.stringify(state, null, 2)}\n`
      const temporary = `${file}.${process.pid}.tmp`
      await fs.writeFile(temporary, text, "utf8")
      await fs.rename(temporary, file)
    },
    catch: (cause) =>
      new ModuleStateError({
        reason: "io",
        path: file,
        message: `Could not save the program state to ${file}: ${String(cause)}`
      })
  })

/**
 * Loads a program's state from a JSON file written by {@link save} and applies it to the program.
 *
 * @since 0.1.0
 * @category state
 */
export const load = <A extends Program>(
  program: A,
  file: string
): Effect.Effect<A, ModuleStateError | UnknownPredictorPath> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) =>
      new ModuleStateError({
        reason: "io",
        path: file,
        message: `Could not read the program state from ${file}: ${String(cause)}`
      })
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (cause) =>
          new ModuleStateError({ reason: "decode", path: file, message: `${file} is not JSON: ${String(cause)}` })
      })
    ),
    Effect.flatMap((json) => loadState(program, json))
  )
