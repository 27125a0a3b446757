/**
 * The ModuleManager: the application's modules by id, made from a spec (a signature string, a module kind and
 * its config) or from a program value, executed under their own circuit breaker and rate limiter
 * (`executeProtected`), hot-swapped atomically, versioned with rollback, and observable (events and metrics).
 *
 * Executions are not serialised through an actor: the current versions live in a table owned by the
 * application's layer (like an ETS table that outlives its owner), and callers read it and execute in their
 * own fibers. The ModuleManager actor, supervised in the application's tree, serialises only the mutations
 * (create, register, swap, rollback, remove). Killing it loses nothing: its supervisor restarts it, the table
 * is still there, and executions never stopped.
 *
 * A version is an immutable program, so a swap is one reference write: calls in flight finish on the version
 * they started with, new calls use the new one. Each module keeps its latest `modules.maxVersions` versions
 * (Config, default 50, updatable) for `history` and `rollback`; older ones are dropped as new ones come.
 *
 * Swaps and rollbacks can be compare-and-swap: given `ifVersion`, the change is made only if that version is
 * still current, checked by the actor in the same turn as the change, so a change decided against version n
 * never silently replaces a version n+1 that landed meanwhile; it fails with {@link ModuleVersionConflict}.
 *
 * Events: `module_created`, `module_swapped`, `module_rolled_back`, `module_removed` here, and
 * `module_execution_start` / `module_execution_complete` from core's module instrumentation. Metrics:
 * {@link executions} and {@link executionDuration} tagged with `module_id` and `outcome`.
 *
 * @since 0.1.0
 */
import { ChainOfThought, Example, LM, Module, Predict, Signature } from "@effect-dspy/core"
import {
  CircuitBreaker,
  type ConfigSchema,
  type Config,
  Correlation,
  Errors,
  Events,
  type Protection,
  RateLimiter
} from "@effect-dspy/foundation"
import { Actor, Registry, type RuntimeError } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Schema from "effect/Schema"
import type { ApplicationStopping, ExecutionAborted } from "./internal/appErrors.js"
import type { Drain } from "./internal/drain.js"
import { type Entry, ModuleStore, type Version } from "./internal/moduleStore.js"

// ---------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------

/**
 * The module kinds a spec can name.
 *
 * @since 0.1.0
 * @category models
 */
export type ModuleKind = "predict" | "chain_of_thought"

/**
 * The kinds, in a fixed order.
 *
 * @since 0.1.0
 * @category constants
 */
export const moduleKinds: ReadonlyArray<ModuleKind> = ["predict", "chain_of_thought"]

/**
 * A module's own protections. Left out, the breaker takes `infrastructure.circuitBreakers.module_default` (or
 * the breaker defaults) and the limiter `infrastructure.rateLimiters.module_default` (or none).
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleProtection {
  readonly breaker?: typeof ConfigSchema.CircuitBreakerSettings.Encoded
  readonly rateLimit?: typeof ConfigSchema.RateLimiterSettings.Encoded
}

/**
 * A module described by data: `signature` in DSPy's string form (`"question -> answer: float"`), a kind, and
 * optional instructions, sampling config and demos.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleSpec {
  readonly id: string
  readonly kind: ModuleKind
  readonly signature: string
  readonly instructions?: string
  readonly config?: Predict.Config
  readonly demos?: ReadonlyArray<Example.Fields>
  readonly protection?: ModuleProtection
}

/**
 * A hot swap of a module's parameters. Give either a `program` of the same shape (its parameters are taken,
 * the module keeps its `forward`) or a saved `state` (`Module.dumpState`), or any of `instructions`, `demos`,
 * `config` by predictor path (applied to the current version).
 *
 * `ifVersion` makes the swap a compare-and-swap: it is made only if the current version is still that one
 * (checked by the ModuleManager actor, atomically with the swap), else it fails with
 * {@link ModuleVersionConflict} and changes nothing. Give the version your decision was based on.
 *
 * @since 0.1.0
 * @category models
 */
export interface SwapPatch extends Precondition {
  readonly program?: Module.Program
  readonly state?: unknown
  readonly instructions?: { readonly [path: string]: string }
  readonly demos?: { readonly [path: string]: ReadonlyArray<Predict.Demo> }
  readonly config?: { readonly [path: string]: Predict.ConfigPatch }
}

/**
 * A change's precondition: `ifVersion`, the version that must be current for the change to be made (checked
 * atomically with it; a mismatch fails with {@link ModuleVersionConflict}). Left out, the change applies to
 * whatever version is current.
 *
 * @since 0.1.0
 * @category models
 */
export interface Precondition {
  readonly ifVersion?: number
}

/**
 * One version of a module, as listed by `history`.
 *
 * @since 0.1.0
 * @category models
 */
export interface VersionInfo {
  readonly version: number
  readonly createdAt: number
  readonly reason: string
  readonly current: boolean
}

/**
 * What `describe` and `list` report about a module.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleInfo {
  readonly id: string
  readonly name: string
  readonly kind: ModuleKind | "program"
  readonly signature: string
  readonly version: number
  readonly versions: number
  readonly predictors: ReadonlyArray<string>
  readonly executions: number
  readonly failures: number
  readonly breaker: CircuitBreaker.State
  readonly createdAt: number
}

/**
 * The outcome of an execution: the module's output and the version that produced it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Execution {
  readonly moduleId: string
  readonly version: number
  readonly output: unknown
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/**
 * No module has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleNotFound extends Errors.TaggedError<ModuleNotFound>()(
  "ModuleNotFound",
  { moduleId: Schema.String },
  { code: "module_not_found", retryable: false }
) {}

/**
 * A module with this id exists already.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleAlreadyExists extends Errors.TaggedError<ModuleAlreadyExists>()(
  "ModuleAlreadyExists",
  { moduleId: Schema.String },
  { code: "module_already_exists", retryable: false }
) {}

/**
 * A spec or a swap cannot be used (a bad signature, an unknown kind, a state that does not fit); `field`
 * names the part at fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleSpecInvalid extends Errors.TaggedError<ModuleSpecInvalid>()(
  "ModuleSpecInvalid",
  { moduleId: Schema.String, field: Schema.String },
  { code: "module_spec_invalid", retryable: false }
) {}

/**
 * The module has no such version.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionNotFound extends Errors.TaggedError<ModuleVersionNotFound>()(
  "ModuleVersionNotFound",
  { moduleId: Schema.String, version: Schema.Number },
  { code: "module_version_not_found", retryable: false }
) {}

/**
 * A change made with `ifVersion` found another version current: another change landed first. Nothing was
 * changed. Re-read the module (`describe`, `program`), decide again against version `actual`, and retry with
 * `ifVersion: actual`. Not retryable as it is: the same request fails again.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionConflict extends Errors.TaggedError<ModuleVersionConflict>()(
  "ModuleVersionConflict",
  {
    moduleId: Schema.String,
    expected: Schema.Number,
    actual: Schema.Number
  },
  { code: "module_version_conflict", retryable: false }
) {}

/**
 * The ModuleManager actor did not answer (it is restarting, or its supervisor gave up). Executions are not
 * affected; retry the change.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleManagerUnavailable extends Errors.TaggedError<ModuleManagerUnavailable>()(
  "ModuleManagerUnavailable",
  { operation: Schema.String },
  { code: "module_manager_unavailable", retryable: true }
) {}

/**
 * What a change (create, register, swap, rollback, remove) can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type MutationError =
  | ModuleNotFound
  | ModuleAlreadyExists
  | ModuleSpecInvalid
  | ModuleVersionNotFound
  | ModuleVersionConflict
  | ModuleManagerUnavailable

/**
 * What an execution can fail with: no such module, the module's protections (open circuit, rate limit), the
 * application shutting down, the program's own failures (a predictor's errors; other failures of programs
 * given as values, and defects, are wrapped in `UnexpectedError` unless they belong to the error family).
 * The module's breaker counts defects and the module's own retryable failures, not LM errors (the provider's
 * breaker handles those).
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError =
  | ModuleNotFound
  | Protection.ProtectionError
  | ApplicationStopping
  | ExecutionAborted
  | Predict.PredictError
  | Errors.UnexpectedError
  | Errors.DSPyErrorLike

// ---------------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------------

/**
 * Executions through the ModuleManager, tagged `module_id` and `outcome` (`success` / `failure`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const executions = Metric.counter("dspy.services.module.executions", {
  description: "Module executions through the ModuleManager",
  incremental: true
})

/**
 * Execution time through the ModuleManager in milliseconds, tagged `module_id`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const executionDuration = Metric.histogram(
  "dspy.services.module.duration",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 20 }),
  "Module execution time through the ModuleManager (ms)"
)

// ---------------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------------

/**
 * The ModuleManager service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Makes a module from a spec (version 1). */
  readonly create: (spec: ModuleSpec) => Effect.Effect<ModuleInfo, MutationError>
  /** Adds a program value under `id` (version 1). */
  readonly register: (
    id: string,
    program: Module.Program,
    options?: { readonly protection?: ModuleProtection }
  ) => Effect.Effect<ModuleInfo, MutationError>
  /** Runs the current version on `inputs` in the caller's fiber, under the module's protections. */
  readonly execute: (id: string, inputs: unknown) => Effect.Effect<Execution, ExecuteError>
  /**
   * Replaces the module's parameters atomically: a new version becomes current. With `patch.ifVersion`, only
   * if that version is still current (else `ModuleVersionConflict`, nothing changed).
   */
  readonly swap: (id: string, patch: SwapPatch) => Effect.Effect<ModuleInfo, MutationError>
  /**
   * Makes an earlier version current again (as a new version); by default the one before the current. With
   * `options.ifVersion`, only if that version is still current (else `ModuleVersionConflict`).
   */
  readonly rollback: (
    id: string,
    toVersion?: number,
    options?: Precondition
  ) => Effect.Effect<ModuleInfo, MutationError>
  /** Removes a module and its history. */
  readonly remove: (id: string) => Effect.Effect<void, MutationError>
  /** One module. */
  readonly describe: (id: string) => Effect.Effect<ModuleInfo, ModuleNotFound>
  /** Every module, by id. */
  readonly list: Effect.Effect<ReadonlyArray<ModuleInfo>>
  /** The versions of a module, oldest first. */
  readonly history: (id: string) => Effect.Effect<ReadonlyArray<VersionInfo>, ModuleNotFound>
  /** The program of the current version (or of `version`), e.g. to save or optimize it. */
  readonly program: (
    id: string,
    version?: number
  ) => Effect.Effect<Module.Program, ModuleNotFound | ModuleVersionNotFound>
}

/**
 * The ModuleManager service tag (provided by `Application.layer`).
 *
 * @since 0.1.0
 * @category tags
 */
export class ModuleManager extends Context.Tag("@effect-dspy/services/ModuleManager")<ModuleManager, Service>() {}

/**
 * The registry name of the ModuleManager actor.
 *
 * @since 0.1.0
 * @category constants
 */
export const actorName = "dspy/module_manager"

// ---------------------------------------------------------------------------------------------------------
// The actor (mutations only)
// ---------------------------------------------------------------------------------------------------------

type Call =
  | { readonly _tag: "Create"; readonly spec: ModuleSpec }
  | {
      readonly _tag: "Register"
      readonly id: string
      readonly program: Module.Program
      readonly protection: ModuleProtection | undefined
    }
  | { readonly _tag: "Swap"; readonly id: string; readonly patch: SwapPatch }
  | {
      readonly _tag: "Rollback"
      readonly id: string
      readonly toVersion: number | undefined
      readonly ifVersion: number | undefined
    }
  | { readonly _tag: "Remove"; readonly id: string }

type Reply = Either.Either<ModuleInfo | undefined, MutationError>

/**
 * What the ModuleManager actor and service work with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dependencies {
  readonly store: ModuleStore
  readonly config: Config.Service
  readonly events: Events.Service
  readonly protection: Protection.Service
  readonly registry: Registry.Service
  readonly lm: LM.Service
  readonly drain: Drain
}

const invalid = (moduleId: string, field: string, message: string) =>
  new ModuleSpecInvalid({ moduleId, field, message })

const notFound = (moduleId: string) =>
  new ModuleNotFound({
    moduleId,
    message: `No module "${moduleId}" is registered; create it first (list shows those that exist).`
  })

/** Builds the program of a spec, or says what is wrong with it. */
const programOfSpec = (spec: ModuleSpec): Either.Either<Module.Program, ModuleSpecInvalid> => {
  if (!moduleKinds.includes(spec.kind)) {
    return Either.left(
      invalid(spec.id, "kind", `Unknown module kind "${String(spec.kind)}"; use one of: ${moduleKinds.join(", ")}.`)
    )
  }
  if (typeof spec.signature !== "string") {
    return Either.left(invalid(spec.id, "signature", 'The signature must be a string such as "question -> answer".'))
  }
  const parsed = Signature.parse(
    spec.signature,
    spec.instructions === undefined ? undefined : { instructions: spec.instructions }
  )
  if (Either.isLeft(parsed)) return Either.left(invalid(spec.id, "signature", parsed.left.message))
  const options: Predict.Options = {
    ...spec.config,
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
const checkPrecondition = (
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

const describeEntry = (entry: Entry): Effect.Effect<ModuleInfo> =>
  Effect.map(entry.breaker.state, (state) => info(entry, state))

/** Applies a swap patch to a program. */
const applyPatch = (
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

const publish = (deps: Dependencies, type: string, data: { readonly [key: string]: unknown }): Effect.Effect<void> =>
  deps.events.publish({ type, data }).pipe(
    Effect.asVoid,
    Effect.catchAll((e) => Effect.logWarning(`could not record the ${type} event: ${e.message}`))
  )

/**
 * What counts against a module's breaker: its defects and its own retryable failures. LM failures do not:
 * they are the provider's breaker's (which fails over to a backup), and counting them here would shut a
 * module down for a provider's trouble.
 */
const isModuleFailure = (failure: CircuitBreaker.Failure): boolean =>
  failure._tag === "Die" ||
  (Errors.isRetryable(failure.error) && !lmErrorTags.has((failure.error as { _tag: string })._tag))

const lmErrorTags = new Set([
  "LMRateLimited",
  "LMTimeout",
  "LMContextWindowExceeded",
  "LMAuthError",
  "LMBadRequest",
  "LMServerError"
])

/** Makes the protections of a new module. */
const protectionsOf = (
  deps: Dependencies,
  id: string,
  protection: ModuleProtection | undefined
): Effect.Effect<
  { breaker: CircuitBreaker.CircuitBreaker; limiter: RateLimiter.RateLimiter | undefined },
  ModuleSpecInvalid
> =>
  Effect.gen(function* () {
    const infrastructure = (yield* deps.config.current).infrastructure
    const breakerSettings = protection?.breaker ?? infrastructure.circuitBreakers.module_default ?? {}
    const limiterSettings = protection?.rateLimit ?? infrastructure.rateLimiters.module_default
    const breaker = yield* CircuitBreaker.make(`module:${id}`, breakerSettings, { isFailure: isModuleFailure }).pipe(
      Effect.provideService(Events.Events, deps.events),
      Effect.mapError((e) => invalid(id, "protection.breaker", e.message))
    )
    const limiter =
      limiterSettings === undefined
        ? undefined
        : yield* Effect.mapError(RateLimiter.make(`module:${id}`, limiterSettings), (e) =>
            invalid(id, "protection.rateLimit", e.message)
          )
    return { breaker, limiter }
  })

const addEntry = (
  deps: Dependencies,
  id: string,
  origin: Entry["origin"],
  program: Module.Program,
  protection: ModuleProtection | undefined
): Effect.Effect<ModuleInfo, MutationError> =>
  Effect.gen(function* () {
    if (typeof id !== "string" || id.length === 0)
      return yield* invalid(String(id), "id", "A module id must be a non-empty string.")
    if (deps.store.entries.has(id)) {
      return yield* new ModuleAlreadyExists({
        moduleId: id,
        message: `A module "${id}" exists already; swap it, or remove it first.`
      })
    }
    const { breaker, limiter } = yield* protectionsOf(deps, id, protection)
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const version: Version = { version: 1, program, createdAt: now, reason: "created" }
    const labels = [MetricLabel.make("module_id", id)]
    const entry: Entry = {
      id,
      origin,
      breaker,
      limiter,
      labels,
      successLabels: [MetricLabel.make("outcome", "success"), ...labels],
      failureLabels: [MetricLabel.make("outcome", "failure"), ...labels],
      createdAt: now,
      versions: [version],
      current: version,
      executions: 0,
      failures: 0
    }
    deps.store.entries.set(id, entry)
    yield* publish(deps, "module_created", {
      module_id: id,
      module_type: origin._tag === "Spec" ? origin.kind : "program",
      name: Module.nameOf(program),
      version: 1
    })
    return yield* describeEntry(entry)
  })

/** Adds a version and makes it current; the history keeps the latest `modules.maxVersions`. */
const appendVersion = (
  deps: Dependencies,
  entry: Entry,
  program: Module.Program,
  reason: string
): Effect.Effect<Version> =>
  Effect.clockWith((clock) =>
    Effect.flatMap(deps.config.current, (config) =>
      Effect.map(clock.currentTimeMillis, (now) => {
        const last = entry.versions[entry.versions.length - 1]!
        const version: Version = { version: last.version + 1, program, createdAt: now, reason }
        entry.versions.push(version)
        // The swap itself: one reference write, seen by every execution that starts after it.
        entry.current = version
        // Bounded history: a module swapped all day keeps its latest versions, not all of them.
        const excess = entry.versions.length - config.modules.maxVersions
        if (excess > 0) entry.versions.splice(0, excess)
        return version
      })
    )
  )

const handle = (deps: Dependencies, msg: Call): Effect.Effect<ModuleInfo | undefined, MutationError> => {
  switch (msg._tag) {
    case "Create": {
      const spec = msg.spec
      return Effect.flatMap(programOfSpec(spec), (program) =>
        addEntry(deps, spec.id, { _tag: "Spec", kind: spec.kind, signature: spec.signature }, program, spec.protection)
      )
    }
    case "Register":
      return addEntry(deps, msg.id, { _tag: "Program" }, msg.program, msg.protection)
    case "Swap": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      const conflict = checkPrecondition(entry, "swap", msg.patch.ifVersion)
      if (conflict !== undefined) return Effect.fail(conflict)
      const from = entry.current.version
      return Effect.flatMap(applyPatch(msg.id, entry.current.program, msg.patch), (program) =>
        Effect.flatMap(appendVersion(deps, entry, program, "swapped"), (version) =>
          Effect.zipRight(
            publish(deps, "module_swapped", { module_id: msg.id, from_version: from, to_version: version.version }),
            describeEntry(entry)
          )
        )
      )
    }
    case "Rollback": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      const conflict = checkPrecondition(entry, "rollback", msg.ifVersion)
      if (conflict !== undefined) return Effect.fail(conflict)
      const from = entry.current.version
      const target =
        msg.toVersion === undefined
          ? entry.versions[entry.versions.indexOf(entry.current) - 1]
          : entry.versions.find((v) => v.version === msg.toVersion)
      if (target === undefined || target === entry.current) {
        return Effect.fail(
          new ModuleVersionNotFound({
            moduleId: msg.id,
            version: msg.toVersion ?? from - 1,
            message:
              msg.toVersion === undefined
                ? `Module "${msg.id}" has no version before its current one (${from}) to roll back to.`
                : `Module "${msg.id}" has no version ${msg.toVersion} other than the current one; its versions are ${entry.versions.map((v) => v.version).join(", ")}.`
          })
        )
      }
      return Effect.flatMap(appendVersion(deps, entry, target.program, `rolled_back(${target.version})`), (version) =>
        Effect.zipRight(
          publish(deps, "module_rolled_back", {
            module_id: msg.id,
            from_version: from,
            to_version: version.version,
            restored_version: target.version
          }),
          describeEntry(entry)
        )
      )
    }
    case "Remove": {
      if (!deps.store.entries.delete(msg.id)) return Effect.fail(notFound(msg.id))
      return Effect.as(publish(deps, "module_removed", { module_id: msg.id }), undefined)
    }
  }
}

/**
 * The ModuleManager actor: serialises the mutations of the module table.
 *
 * @since 0.1.0
 * @category actors
 */
export const actor = Actor.make({
  name: "module_manager",
  init: (deps: Dependencies) => Effect.as(publish(deps, "service_started", { service: "module_manager" }), deps),
  handleCall: (msg: Call, deps: Dependencies) =>
    Effect.map(
      // A change that throws (a program whose parameters cannot be copied) is answered with a typed error
      // instead of crashing the actor: a poison request must not restart it until its supervisor gives up.
      Effect.either(
        Effect.catchAllDefect(
          Effect.suspend(() => handle(deps, msg)),
          (defect) =>
            Effect.fail(
              invalid(
                "id" in msg ? msg.id : msg.spec.id,
                msg._tag.toLowerCase(),
                `The ${msg._tag.toLowerCase()} failed unexpectedly: ${defect instanceof Error ? defect.message : String(defect)}`
              )
            )
        )
      ),
      (result): Actor.CallResult<Reply, Dependencies> => Actor.reply(result, deps)
    )
})

/**
 * Spawns the ModuleManager actor over its dependencies (a supervisor's child start).
 *
 * @since 0.1.0
 * @category actors
 */
export const startActor = (
  deps: Dependencies
): Effect.Effect<Actor.ActorRef<Call, Reply>, RuntimeError.InvalidOptions> => Actor.spawn(actor, deps)

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

const name = Registry.name<Actor.ActorRef<Call, Reply>>(actorName)

/** Calls the actor through the registry; while it restarts, waits a few turns for its successor. */
const mutate = (deps: Dependencies, msg: Call): Effect.Effect<ModuleInfo | undefined, MutationError> => {
  // Only finding the actor is retried (it may be restarting); a request it took is never sent twice.
  const find = (left: number): Effect.Effect<Actor.ActorRef<Call, Reply>, RuntimeError.NoProc> =>
    Effect.catchTag(deps.registry.lookup(name), "NoProc", (e) =>
      left > 0 ? Effect.zipRight(Effect.yieldNow(), find(left - 1)) : Effect.fail(e)
    )
  return Effect.flatMap(find(200), (ref) => Actor.call(ref, msg, "30 seconds")).pipe(
    Effect.mapError(
      (e) =>
        new ModuleManagerUnavailable({
          operation: msg._tag.toLowerCase(),
          message: `The ModuleManager actor did not answer the ${msg._tag.toLowerCase()} request (${e.message}); executions are unaffected. Check the module (describe) and retry the change.`
        })
    ),
    Effect.flatten
  )
}

const toFamily = (error: unknown): Errors.DSPyErrorLike =>
  Errors.isDSPyError(error)
    ? error
    : new Errors.UnexpectedError({
        message: `The module failed with a value outside the error family: ${String(error)}`,
        cause: error
      })

/**
 * Builds the ModuleManager service over its dependencies (the application does this; the actor is started by
 * its supervisor with the same dependencies).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Dependencies): Service => {
  const store = deps.store
  // What a program runs with: the application's LM (the supervised providers) and its event store.
  const runContext = Context.make(LM.LM, deps.lm).pipe(Context.add(Events.Events, deps.events))

  const execute = (id: string, inputs: unknown): Effect.Effect<Execution, ExecuteError> =>
    Effect.suspend(() => {
      const entry = store.entries.get(id)
      if (entry === undefined) return Effect.fail(notFound(id))
      // The version is read once, here: the call runs it to the end whatever swaps happen meanwhile.
      const version = entry.current
      const program = Module.call(version.program as Module.Any, inputs) as Effect.Effect<unknown, unknown, LM.LM>
      const run = Effect.clockWith((clock) => {
        const started = clock.unsafeCurrentTimeMillis()
        return deps.protection
          .executeProtected(
            `module:${id}`,
            { breaker: entry.breaker, limiter: entry.limiter },
            Effect.mapError(
              Effect.mapInputContext(program, (_: Context.Context<never>) => runContext),
              toFamily
            )
          )
          .pipe(
            Effect.catchAllDefect((defect) =>
              Effect.fail(
                new Errors.UnexpectedError({
                  message: `Module "${id}" died: ${defect instanceof Error ? defect.message : String(defect)}`,
                  cause: defect
                })
              )
            ),
            Effect.onExit((exit) =>
              Effect.sync(() => {
                entry.executions++
                const ok = exit._tag === "Success"
                if (!ok) entry.failures++
                executionDuration.unsafeUpdate(clock.unsafeCurrentTimeMillis() - started, entry.labels)
                executions.unsafeUpdate(1, ok ? entry.successLabels : entry.failureLabels)
              })
            )
          )
      })
      return Effect.map(
        deps.drain.track(`module "${id}" execution`, Correlation.ensureCorrelationId(run)),
        (output): Execution => ({ moduleId: id, version: version.version, output })
      )
    })

  const find = (id: string): Effect.Effect<Entry, ModuleNotFound> =>
    Effect.suspend(() => {
      const entry = store.entries.get(id)
      return entry === undefined ? Effect.fail(notFound(id)) : Effect.succeed(entry)
    })

  return {
    create: (spec) => Effect.map(mutate(deps, { _tag: "Create", spec }), (i) => i!),
    register: (id, program, options) =>
      Effect.map(mutate(deps, { _tag: "Register", id, program, protection: options?.protection }), (i) => i!),
    execute,
    swap: (id, patch) => Effect.map(mutate(deps, { _tag: "Swap", id, patch }), (i) => i!),
    rollback: (id, toVersion, options) =>
      Effect.map(mutate(deps, { _tag: "Rollback", id, toVersion, ifVersion: options?.ifVersion }), (i) => i!),
    remove: (id) => Effect.asVoid(mutate(deps, { _tag: "Remove", id })),
    describe: (id) => Effect.flatMap(find(id), describeEntry),
    list: Effect.suspend(() =>
      Effect.forEach(
        Array.from(store.entries.values()).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        describeEntry
      )
    ),
    history: (id) =>
      Effect.map(find(id), (entry) =>
        entry.versions.map((v) => ({
          version: v.version,
          createdAt: v.createdAt,
          reason: v.reason,
          current: v === entry.current
        }))
      ),
    program: (id, version) =>
      Effect.flatMap(find(id), (entry) => {
        if (version === undefined) return Effect.succeed(entry.current.program)
        const found = entry.versions.find((v) => v.version === version)
        return found === undefined
          ? Effect.fail(
              new ModuleVersionNotFound({
                moduleId: id,
                version,
                message: `Module "${id}" has no version ${version}; its versions are ${entry.versions.map((v) => v.version).join(", ")}.`
              })
            )
          : Effect.succeed(found.program)
      })
  }
}

/**
 * A fresh, empty module table (owned by whoever outlives the actor: the application's layer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStore = (): ModuleStore => new ModuleStore()

// ---------------------------------------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------------------------------------

/**
 * Makes a module from a spec with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const create = (spec: ModuleSpec): Effect.Effect<ModuleInfo, MutationError, ModuleManager> =>
  Effect.flatMap(ModuleManager, (m) => m.create(spec))

/**
 * Executes a module with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const execute = (id: string, inputs: unknown): Effect.Effect<Execution, ExecuteError, ModuleManager> =>
  Effect.flatMap(ModuleManager, (m) => m.execute(id, inputs))

/**
 * Swaps a module's parameters with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const swap = (id: string, patch: SwapPatch): Effect.Effect<ModuleInfo, MutationError, ModuleManager> =>
  Effect.flatMap(ModuleManager, (m) => m.swap(id, patch))

/**
 * Rolls a module back with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const rollback = (
  id: string,
  toVersion?: number,
  options?: Precondition
): Effect.Effect<ModuleInfo, MutationError, ModuleManager> =>
  Effect.flatMap(ModuleManager, (m) => m.rollback(id, toVersion, options))
