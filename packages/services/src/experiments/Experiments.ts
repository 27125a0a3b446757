/**
 * Experiments on a module's versions, as a service others call (the ModuleManager's traffic policies, the
 * real-time loop's router, workflows' modes). An experiment has a baseline and arms and a lifecycle: `running`
 * (taking observations) -> `concluded` (waiting for a decision) -> `promoted` | `rolled_back`. Every
 * `checkEvery` observations (default 100) it is checked: each arm is analysed against the baseline with
 * always-valid sequential tests (see `Analysis`), the record is persisted through the {@link ExperimentStore}, and
 * a changed recommendation is published as an event. A check is a checkpoint: a restart resumes from the last one.
 *
 * Opt-in auto-apply (`autoApply: true`): when a check recommends promoting an arm or rolling back (a guard rail
 * broken, a significantly worse arm), the experiment concludes and the module's registered {@link Applier} (the
 * integrator's compare-and-swap) applies it; then the experiment is `promoted` or `rolled_back`, with an event
 * saying why. Without an applier, or when it fails, the experiment stays `concluded` and an event says so.
 *
 * @example
 * ```ts
 * import { Experiments } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const experiments = yield* Experiments.Experiments
 *   const experiment = yield* experiments.start({ moduleId: "qa", baseline: "1", arms: ["1", "2"] })
 *   yield* experiments.observe(experiment.id, "2", { latencyMs: 90, error: false, costUsd: 0.001, reward: 1 })
 *   return yield* experiments.analyze(experiment.id)
 * }).pipe(Effect.provide(Experiments.layerTest))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type {
  ExperimentInvalid,
  ExperimentNotFound,
  ExperimentStatusConflict,
  ExperimentStoreError,
  PolicyInvalid
} from "../ServicesError.js"
import type * as Analysis from "./Analysis.js"
import type * as ArmStats from "./ArmStats.js"
import type * as ExperimentRecord from "./ExperimentRecord.js"
import * as ExperimentStore from "./ExperimentStore.js"
import * as Engine from "./internal/engine.js"
import type * as TrafficPolicy from "./TrafficPolicy.js"

/**
 * A request to start an experiment: the module, the baseline (the version serving before), the arms (the
 * baseline is added when missing), optionally the traffic policy that routes it (its versions must be arms) and
 * settings (defaults: `Analysis.defaults`, a check every 100 observations, no auto-apply). `id` defaults to
 * `<moduleId>-<n>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartRequest {
  readonly id?: string
  readonly moduleId: string
  readonly baseline: string
  readonly arms: ReadonlyArray<string>
  readonly policy?: TrafficPolicy.Policy
  readonly settings?: Partial<ExperimentRecord.Settings>
}

/**
 * What an applier is asked to do: promote `arm`, or roll the module back to `baseline` (`arm` is the arm at
 * fault, `breach` the guard rail it broke when one did).
 *
 * @since 0.1.0
 * @category models
 */
export type Action =
  | {
      readonly _tag: "Promote"
      readonly experimentId: string
      readonly moduleId: string
      readonly arm: string
      readonly reason: string
    }
  | {
      readonly _tag: "RollBack"
      readonly experimentId: string
      readonly moduleId: string
      readonly baseline: string
      readonly arm: string
      readonly reason: string
      readonly breach?: TrafficPolicy.Breach
    }

/**
 * Applies a decision to a module (the integrator's compare-and-swap). A failure leaves the experiment concluded.
 * It runs on the fiber of the call whose check made the recommendation (`observe`, `sync`, `analyze`), under the
 * service's lock: an integrator observing from inside its own actor should have the applier send the change to the
 * actor (or fork it) rather than wait on the actor it runs in.
 *
 * @since 0.1.0
 * @category models
 */
export type Applier = (action: Action) => Effect.Effect<void, unknown>

/**
 * A decision recorded by hand (`promote`, `rollBack`): the arm, why, the guard rail broken if one was.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly arm: string
  readonly reason: string
  readonly breach?: TrafficPolicy.Breach
}

/**
 * The experiments service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Starts an experiment (persisted before it is returned). One running experiment per module. */
  readonly start: (
    request: StartRequest
  ) => Effect.Effect<ExperimentRecord.ExperimentRecord, ExperimentInvalid | PolicyInvalid | ExperimentStoreError>
  /**
   * Records one outcome of a request routed to `arm`; every `checkEvery` outcomes, checks (see
   * {@link Service.analyze}). Fails with `ExperimentStatusConflict` once the experiment no longer runs (an
   * auto-applied recommendation concluded it), and with `ExperimentInvalid` for an unknown arm or an outcome out of
   * range (nothing recorded).
   */
  readonly observe: (
    id: string,
    arm: string,
    observation: ArmStats.Observation
  ) => Effect.Effect<void, ExperimentNotFound | ExperimentStatusConflict | ExperimentInvalid | ExperimentStoreError>
  /** Replaces the arms' statistics with a router's (`router.state().arms`), then checks. */
  readonly sync: (
    id: string,
    stats: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>
  ) => Effect.Effect<Analysis.Analysis, ExperimentNotFound | ExperimentStatusConflict | ExperimentStoreError>
  /** Checks now: analyses, persists, publishes a changed recommendation, auto-applies when opted in. */
  readonly analyze: (
    id: string
  ) => Effect.Effect<Analysis.Analysis, ExperimentNotFound | ExperimentStatusConflict | ExperimentStoreError>
  /** Stops taking observations (running -> concluded). */
  readonly conclude: (
    id: string,
    reason: string
  ) => Effect.Effect<
    ExperimentRecord.ExperimentRecord,
    ExperimentNotFound | ExperimentStatusConflict | ExperimentStoreError
  >
  /** Records that `arm` was promoted (running or concluded -> promoted); it does not change the module. */
  readonly promote: (
    id: string,
    decision: Decision
  ) => Effect.Effect<
    ExperimentRecord.ExperimentRecord,
    ExperimentNotFound | ExperimentStatusConflict | ExperimentInvalid | ExperimentStoreError
  >
  /** Records a roll back to the baseline (running or concluded -> rolled_back); it does not change the module. */
  readonly rollBack: (
    id: string,
    decision: Decision
  ) => Effect.Effect<
    ExperimentRecord.ExperimentRecord,
    ExperimentNotFound | ExperimentStatusConflict | ExperimentInvalid | ExperimentStoreError
  >
  /** The record (as of the last check, with the live statistics). */
  readonly get: (id: string) => Effect.Effect<ExperimentRecord.ExperimentRecord, ExperimentNotFound>
  /** Every record, of one module when given. */
  readonly list: (moduleId?: string) => Effect.Effect<ReadonlyArray<ExperimentRecord.ExperimentRecord>>
  /** Registers the module's applier for auto-apply, for the scope's lifetime (replacing any before). */
  readonly registerApplier: (moduleId: string, applier: Applier) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The experiments service.
 *
 * @since 0.1.0
 * @category services
 */
export class Experiments extends Context.Tag("@effect-dspy/services/Experiments")<Experiments, Service>() {}

/**
 * The service over the {@link ExperimentStore} in context: loads its records (running ones resume from their last
 * check); fails with `ExperimentStoreError` when the store cannot be read or a record does not decode.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Experiments, ExperimentStoreError, ExperimentStore.ExperimentStore> = Layer.effect(
  Experiments,
  Engine.make
)

/**
 * The service over a SQLite store at `filename`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string): Layer.Layer<Experiments, ExperimentStoreError> =>
  layer.pipe(Layer.provide(ExperimentStore.layerSqlite(filename)))

/**
 * The service over a store in memory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<Experiments> = layer.pipe(Layer.provide(ExperimentStore.layerMemory), Layer.orDie)
