/**
 * The ModuleManager: the application's modules by id, made from a spec or from a program value, executed in the
 * caller's fiber under their own circuit breaker and rate limiter, hot-swapped atomically (with compare-and-swap
 * through `ifVersion`), versioned with rollback, and observable. `Application.layer` provides it; the design (the
 * module table, the actor that serialises changes) is in `docs/architecture.md` ("Request path").
 *
 * @example
 * ```ts
 * import { Application, ModuleManager } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   // A handle typed by the signature: execute checks the inputs and types the output.
 *   const qa = yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   const first = yield* modules.execute(qa, { question: "2 + 3?" })
 *   console.log(first.output.get("answer"))
 *   // A new version, made only if version 1 still serves.
 *   yield* modules.swap("qa", { instructions: { self: "Answer with a number." }, ifVersion: first.version })
 *   return yield* modules.history("qa")
 * }).pipe(Effect.provide(Application.layerDefault()))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import type { ChainOfThought, Example, Module, Predict, Program, Signature } from "@effect-dspy/core"
import type { CircuitBreaker, ConfigSchema, Errors, Protection, Tenant } from "@effect-dspy/foundation"
import type * as ArmStats from "./experiments/ArmStats.js"
import type * as ExperimentRecord from "./experiments/ExperimentRecord.js"
import type * as TrafficPolicy from "./experiments/TrafficPolicy.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type {
  ApplicationStopping,
  ExecutionAborted,
  ModuleAlreadyExists,
  ModuleManagerUnavailable,
  ModuleNotFound,
  ModuleSpecInvalid,
  ModuleVersionConflict,
  ModuleVersionNotFound,
  PolicyInvalid,
  ReleaseCorrupted,
  ReleaseShapeMismatch,
  ReleaseStoreError
} from "./ServicesError.js"

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
 * The adapters a spec can name: `chat` (DSPy's ChatAdapter, re-run through the JSONAdapter when its answer does
 * not parse), `json` (the JSONAdapter, asking for structured output), `xml` (the XMLAdapter, fields as
 * `<name>...</name>` tags) or `two_step` (the TwoStepAdapter: a free-text answer, then an extraction call on the
 * spec's `extractionModel`, else on the module's own model).
 *
 * @since 0.1.0
 * @category models
 */
export type AdapterName = "chat" | "json" | "xml" | "two_step"

/**
 * The adapter names, in a fixed order.
 *
 * @since 0.1.0
 * @category constants
 */
export const adapterNames: ReadonlyArray<AdapterName> = ["chat", "json", "xml", "two_step"]

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
 * optional instructions, sampling config, demos and adapter (left out: Config `modules.defaultAdapter`).
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
  /** How the module's predictors format prompts and parse answers (default Config `modules.defaultAdapter`). */
  readonly adapter?: AdapterName
  /** The model of the `two_step` adapter's extraction call (default: the module's own model); `two_step` only. */
  readonly extractionModel?: string
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
  /** Where the new version comes from (an optimization job, its optimizer and scores), kept in its release. */
  readonly lineage?: LineageNote
}

/**
 * What a change says about where its version comes from; stored with the version (see `ReleaseStore.Lineage`).
 *
 * @since 0.1.0
 * @category models
 */
export interface LineageNote {
  /** What made the version (default `swapped`; `imported` for a release bundle). */
  readonly reason?: string
  readonly jobId?: string
  readonly optimizer?: string
  readonly scores?: { readonly [name: string]: number }
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
  /** The version it was made from (none for a module's first version). */
  readonly parent: number | null
  /** The optimization job that made it, when one did. */
  readonly jobId: string | null
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
 * What `reload` did: the version served before and after, and whether it changed.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReloadOutcome {
  readonly moduleId: string
  readonly from: number
  readonly to: number
  readonly applied: boolean
}

/**
 * Why a version served an execution: `promoted` (no traffic policy: the module's current version), or the
 * reason of the module's traffic policy (`pinned`, `weighted`, `canary`, `shadow`, `bandit`).
 *
 * @since 0.1.0
 * @category models
 */
export type ServeReason = "promoted" | TrafficPolicy.Reason

/**
 * The step of a module's fallback chain that served an execution after the steps before it failed:
 * `previous` (the version before the one chosen), `stale_cache` (the last answer this module gave for the same
 * inputs, marked stale), `simpler` (the module's simpler program), `default` (its declared default output).
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackStep = "previous" | "stale_cache" | "simpler" | "default"

/**
 * The outcome of an execution: the module's output, the version that produced it and why it served (the
 * traffic policy's reason and arm; the fallback step, when the chosen version failed and the chain served).
 * The output is typed `O` when executed through a {@link Handle}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Execution<O = unknown> {
  /**
   * The execution's id: give it to the real-time loop's `feedback` to attach a delayed outcome (the execution's
   * correlation id works too).
   */
  readonly executionId: string
  readonly moduleId: string
  readonly version: number
  readonly output: O
  /** Why this version served. */
  readonly reason: ServeReason
  /** The experiment arm the execution counts for (the served version, as a string), under a traffic policy. */
  readonly arm: string | undefined
  /** The fallback step that served, when the version chosen failed. */
  readonly fallback: FallbackStep | undefined
  /** Whether the output is a stale cached answer (the `stale_cache` fallback step). */
  readonly stale: boolean
}

/**
 * Options of an execution: `callerKey` keeps a caller on one version under sticky policies; `reward` scores
 * the output in [0, 1] (e.g. a metric on a labelled request) for the policy's statistics, bandit and guard
 * rails.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions {
  readonly callerKey?: string
  readonly reward?: (output: unknown) => number
}

/**
 * A module's traffic policy as in force: the policy, where it was set (`api` or `config`), each arm's
 * statistics, and the canary's breach if one broke a guard rail.
 *
 * @since 0.1.0
 * @category models
 */
export interface PolicyStatus {
  readonly moduleId: string
  readonly policy: TrafficPolicy.Policy
  readonly source: "api" | "config"
  readonly arms: { readonly [arm: string]: ArmStats.ArmStats }
  readonly breach: TrafficPolicy.Breach | undefined
  /** The experiment the policy runs as (a policy of two or more versions, under the application's `Experiments`). */
  readonly experimentId?: string
}

/**
 * A module's fallback chain: the steps tried in order when the version chosen fails (or its breaker is open).
 * `simpler` is a program of the same signature (e.g. a Predict instead of a ChainOfThought, or on a cheaper
 * model); `default` an output given when everything else failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface FallbackChain {
  readonly steps: ReadonlyArray<FallbackStep>
  readonly simpler?: Module.Program
  readonly default?: unknown
}

/**
 * A typed reference to a module: its id, with the types of its inputs `I` and output `O` (carried by the type
 * only). `create` and `register` return one (their `ModuleInfo` is a handle); {@link handle} makes one from an id.
 * `execute(handle, inputs)` checks the inputs and types the output.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle<I, O> {
  readonly id: string
  /** The types only: never present at run time. */
  readonly "~types"?: { readonly inputs: (inputs: I) => void; readonly output: () => O }
}

type SignatureOf<S extends string> = ReturnType<typeof Signature.make<S>>

/**
 * The output of a module made from a spec: the prediction of its signature's outputs (after `reasoning` for a
 * `chain_of_thought`).
 *
 * @since 0.1.0
 * @category models
 */
export type SpecOutput<S extends Pick<ModuleSpec, "kind" | "signature">> = S["kind"] extends "chain_of_thought"
  ? Predict.Output<ChainOfThought.Outputs<Signature.Outputs<SignatureOf<S["signature"]>>>>
  : Predict.Output<Signature.Outputs<SignatureOf<S["signature"]>>>

/**
 * The handle of a module made from a spec: typed by the spec's signature.
 *
 * @since 0.1.0
 * @category models
 */
export type SpecHandle<S extends Pick<ModuleSpec, "kind" | "signature">> = Handle<
  Signature.Inputs<SignatureOf<S["signature"]>>,
  SpecOutput<S>
>

/**
 * The handle of a registered program: typed by the program's inputs and output.
 *
 * @since 0.1.0
 * @category models
 */
export type ProgramHandle<P> = Handle<Program.Input<P>, Program.Output<P>>

/**
 * A typed handle for a module id: `ModuleManager.handle<typeof program>("qa")` for a registered program,
 * `ModuleManager.handle<Inputs, Output>("qa")` for explicit types.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handle: {
  <P extends Module.Program>(id: string): ProgramHandle<P>
  <I, O>(id: string): Handle<I, O>
} = (id: string) => ({ id })

// ---------------------------------------------------------------------------------------------------------
// Errors (defined in ServicesError)
// ---------------------------------------------------------------------------------------------------------

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
  | ReleaseStoreError
  | ReleaseCorrupted
  | ReleaseShapeMismatch
  | Tenant.TenantLimitExceeded

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

/**
 * Executions served by a step of a module's fallback chain, tagged `module_id` and `step`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbacks = Metric.counter("dspy.services.module.fallbacks", {
  description: "Module executions served by a fallback step",
  incremental: true
})

/**
 * Executions served from the execution memo (config `modules.memoEnabled`: the answer of an earlier execution whose
 * every LM call the cache answered, for the same version and inputs), tagged `module_id`, `module_version`, `arm`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const memoHits = Metric.counter("dspy.services.module.memo_hits", {
  description: "Executions served from the execution memo (no program run)",
  incremental: true
})

/**
 * Shadow runs of a module's candidate version (recorded, never served), tagged `module_id`, `module_version`,
 * `arm`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const shadowExecutions = Metric.counter("dspy.services.module.shadow_executions", {
  description: "Shadow runs of candidate versions (never served)",
  incremental: true
})

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
  /** Makes a module from a spec (version 1); its info is a handle typed by the spec's signature. */
  readonly create: <const S extends ModuleSpec>(spec: S) => Effect.Effect<ModuleInfo & SpecHandle<S>, MutationError>
  /** Adds a program value under `id` (version 1); its info is a handle typed by the program. */
  readonly register: <P extends Module.Program>(
    id: string,
    program: P,
    options?: { readonly protection?: ModuleProtection }
  ) => Effect.Effect<ModuleInfo & ProgramHandle<P>, MutationError>
  /**
   * Runs the module on `inputs` in the caller's fiber, under its protections: its current version, or the version
   * its traffic policy chooses; when that fails, the steps of its fallback chain. Given a {@link Handle} (what
   * `create` and `register` return), the inputs are checked and the output typed.
   */
  readonly execute: {
    <I, O>(
      module: Handle<I, O>,
      inputs: NoInfer<I>,
      options?: ExecuteOptions
    ): Effect.Effect<Execution<O>, ExecuteError>
    (id: string, inputs: unknown, options?: ExecuteOptions): Effect.Effect<Execution, ExecuteError>
  }
  /**
   * A repeated execution answered at once from the execution memo, without a fiber, when it can be: the answer,
   * events (`memo: true`), record and metrics `execute` gives a memo hit. `undefined` when `execute` must run: no
   * live remembered answer, a traffic policy, fallback chain or rate limit on the module, a swap landing, an event
   * store that cannot publish synchronously, the application stopping. For an unscoped caller (no tenant, no end
   * user) with no execute options; an HTTP server uses it before it starts a request's fiber.
   */
  readonly executeRemembered?: ((id: string, inputs: unknown) => Execution | undefined) | undefined
  /**
   * Sets a module's traffic policy (a `TrafficPolicy.Policy` naming its versions as strings, checked against
   * them: `PolicyInvalid` says what to fix, and the policy in force is kept). A policy of two or more versions
   * runs as an experiment (see `docs/experiments.md`); `options.experiment` sets it (e.g. `autoApply: true`).
   */
  readonly setPolicy: (
    id: string,
    policy: unknown,
    options?: {
      readonly seed?: number
      readonly experiment?: Partial<ExperimentRecord.Settings>
      /**
       * The policy was set by another process sharing the stores (cluster mode): it routes here too, but runs as
       * an experiment only in the process that set it (default false).
       */
      readonly follow?: boolean
    }
  ) => Effect.Effect<PolicyStatus, MutationError | PolicyInvalid>
  /** Removes a module's traffic policy: its current version serves everything. */
  readonly clearPolicy: (id: string) => Effect.Effect<void, MutationError>
  /** A module's traffic policy now, if it has one. */
  readonly policy: (id: string) => Effect.Effect<PolicyStatus | undefined, ModuleNotFound>
  /** Sets (or, with `undefined`, removes) a module's fallback chain. */
  readonly setFallback: (id: string, chain: FallbackChain | undefined) => Effect.Effect<void, MutationError>
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
  /**
   * Serves the module's promoted version as stored in the release store, when it is newer than the version served
   * here (another process sharing the store swapped or rolled it back). Idempotent; a stored version equal to or
   * older than the one served changes nothing (a stale notice never rolls a module back).
   */
  readonly reload: (id: string) => Effect.Effect<ReloadOutcome, MutationError>
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
// Accessors
// ---------------------------------------------------------------------------------------------------------

/**
 * Makes a module from a spec with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const create = <const S extends ModuleSpec>(
  spec: S
): Effect.Effect<ModuleInfo & SpecHandle<S>, MutationError, ModuleManager> =>
  Effect.flatMap(ModuleManager, (m) => m.create(spec))

/**
 * Executes a module with the ModuleManager in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const execute: {
  <I, O>(
    module: Handle<I, O>,
    inputs: NoInfer<I>,
    options?: ExecuteOptions
  ): Effect.Effect<Execution<O>, ExecuteError, ModuleManager>
  (id: string, inputs: unknown, options?: ExecuteOptions): Effect.Effect<Execution, ExecuteError, ModuleManager>
} = (module: string | Handle<unknown, unknown>, inputs: unknown, options?: ExecuteOptions) =>
  Effect.flatMap(ModuleManager, (m) => m.execute(module as string, inputs, options))

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
