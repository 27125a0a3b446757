/**
 * Test isolation for the supervised application (the design's `DSPy.Test.Support`): each use of
 * {@link layer} gets its own registry namespace (`test-<n>`), its own Config (defaults plus the test's
 * overrides; no file, no environment), its own event store and protections, and simulated LMs for every
 * configured provider, whose faults and latency the test changes at run time through {@link SimControl}, and
 * the application's OptimizationCoordinator (its job database and checkpoint store set by {@link Options}).
 * Provide it inside each test: everything is torn down with the test's scope (the application shuts down, the
 * namespace and its names disappear).
 *
 * ```ts
 * it.effect("answers", () =>
 *   Effect.gen(function* () {
 *     const modules = yield* ModuleManager.ModuleManager
 *     yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *     const sim = yield* TestRuntime.SimControl
 *     yield* sim.setFaults("default", { rates: { server_error: 1 } })
 *   }).pipe(Effect.provide(TestRuntime.layer()))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { LM } from "@effect-dspy/core"
import { type SimDrift, SimFaults, type SimLatency, SimLM } from "@effect-dspy/sim"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Checkpoint } from "@effect-dspy/optimizers"
import { Actor, Registry, type RuntimeError } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Application from "./Application.js"
import type * as Observability from "./observe/Observability.js"
import * as CacheManager from "./CacheManager.js"
import * as privacyEvents from "./internal/privacyEvents.js"
import type * as Experiments from "./experiments/Experiments.js"
import type * as LMProviders from "./LMProviders.js"
import type * as ModuleManager from "./ModuleManager.js"
import type * as OptimizationCoordinator from "./OptimizationCoordinator.js"
import type * as ReleaseStore from "./releases/ReleaseStore.js"
import type * as ExperienceStore from "./loop/ExperienceStore.js"
import type * as RouterStore from "./routing/RouterStore.js"
import type * as Loop from "./loop/Loop.js"

/**
 * The simulated LM of one provider as a test sets it: seed, faults, latency.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimSettings {
  readonly seed?: number
  readonly faults?: SimFaults.Profile
  readonly latency?: SimLatency.Profile
  /** The drift control the simulated LM reads on every call (the test sets and clears the drift through it). */
  readonly drift?: SimDrift.Control
}

/**
 * Control over the simulated providers of a test runtime.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimControlService {
  /** Replaces a provider's fault profile from its next call on (`SimFaults.none` stops the faults). */
  readonly setFaults: (provider: string, faults: SimFaults.Profile) => Effect.Effect<void, SimLM.SimConfigError>
  /** Replaces a provider's latency profile from its next call on. */
  readonly setLatency: (provider: string, latency: SimLatency.Profile) => Effect.Effect<void, SimLM.SimConfigError>
  /** Calls served and faults injected by a provider's simulated LM since the runtime started. */
  readonly stats: (provider: string) => Effect.Effect<SimLM.Stats>
}

/**
 * The SimControl service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class SimControl extends Context.Tag("@effect-dspy/services/TestRuntime/SimControl")<
  SimControl,
  SimControlService
>() {}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Config over the defaults, in the file's form (`{ providers: { a: { backup: "b" } }, ... }`). */
  readonly config?: { readonly [key: string]: unknown }
  /** The initial simulated LM of each provider, by name (default: no faults, no latency, seed 0). */
  readonly sim?: { readonly [provider: string]: SimSettings }
  /** Adds an in-memory CacheManager (`CacheManager.layerTest`): the tree's `cache_manager` and the LM's cache. */
  readonly cache?: boolean
  /**
   * The application's options (its provider factory is the test runtime's). The OptimizationCoordinator's job
   * database is `application.optimization.coordinator.filename` (in memory by default).
   */
  readonly application?: Omit<Application.Options, "providerFactory">
  /**
   * Where the OptimizationCoordinator's jobs keep their finished units (default: a `CheckpointStore` in the
   * context the layer is provided in, else one in memory per runtime). Give the same durable store (e.g.
   * `Checkpoint.makeFile`) and job database to a second runtime to restart the application mid-job.
   */
  readonly checkpoints?: Checkpoint.Service
}

interface SimEntry {
  settings: SimSettings
  current: SimLM.SimProvider
  model: string
  retired: { calls: number; embedCalls: number; faults: { [K in SimFaults.Kind]?: number } }
}

const emptyStats = (): SimEntry["retired"] => ({ calls: 0, embedCalls: 0, faults: {} })

/** The simulated providers of one runtime, rebuilt when a test changes their faults or latency. */
const makeSims = (initial: { readonly [provider: string]: SimSettings }) => {
  const entries = new Map<string, SimEntry>()
  const entryOf = (name: string, model: string): SimEntry => {
    let entry = entries.get(name)
    if (entry === undefined) {
      const settings = initial[name] ?? {}
      entry = { settings, model, current: SimLM.make({ ...settings, name, model }), retired: emptyStats() }
      entries.set(name, entry)
    }
    return entry
  }
  const rebuild = (name: string, patch: SimSettings): Effect.Effect<void, SimLM.SimConfigError> =>
    Effect.gen(function* () {
      const entry = entryOf(name, "sim-1")
      const settings = { ...entry.settings, ...patch }
      const next = yield* SimLM.makeEffect({ ...settings, name, model: entry.model })
      const stats = yield* entry.current.stats
      entry.retired.calls += stats.calls
      entry.retired.embedCalls += stats.embedCalls
      for (const [k, n] of Object.entries(stats.faults)) {
        const kind = k as SimFaults.Kind
        entry.retired.faults[kind] = (entry.retired.faults[kind] ?? 0) + (n ?? 0)
      }
      entry.settings = settings
      entry.current = next
    })
  const factory: LMProviders.ProviderFactory = (name, settings) =>
    Effect.sync(() => {
      const entry = entryOf(name, settings.defaultModel)
      // Each call goes to the simulated LM in force at that moment.
      return {
        name,
        complete: (request) => Effect.suspend(() => entry.current.complete(request)),
        stream: (request) => Stream.suspend(() => entry.current.stream(request)),
        embed: (inputs, model) => Effect.suspend(() => entry.current.embed(inputs, model))
      }
    })
  const control: SimControlService = {
    setFaults: (provider, faults) => rebuild(provider, { faults }),
    setLatency: (provider, latency) => rebuild(provider, { latency }),
    stats: (provider) =>
      Effect.suspend(() => {
        const entry = entries.get(provider)
        if (entry === undefined) return Effect.succeed({ calls: 0, embedCalls: 0, faults: {} })
        return Effect.map(entry.current.stats, (s) => {
          const faults: { [K in SimFaults.Kind]?: number } = { ...entry.retired.faults }
          for (const [k, n] of Object.entries(s.faults)) {
            const kind = k as SimFaults.Kind
            faults[kind] = (faults[kind] ?? 0) + (n ?? 0)
          }
          return {
            calls: entry.retired.calls + s.calls,
            embedCalls: entry.retired.embedCalls + s.embedCalls,
            faults
          }
        })
      })
  }
  return { factory, control }
}

/**
 * Everything a test runtime provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | Application.Application
  | ModuleManager.ModuleManager
  | LMProviders.LMProviders
  | LM.LM
  | OptimizationCoordinator.OptimizationCoordinator
  | ReleaseStore.ReleaseStore
  | Experiments.Experiments
  | Loop.Loop
  | ExperienceStore.ExperienceStore
  | RouterStore.RouterStore
  | Observability.Observability
  | SimControl
  | Config.Config
  | Events.Events
  | Protection.Protection
  | Registry.Registry

/**
 * An isolated application for one test: its own registry namespace, Config, events, protections and
 * simulated LMs, and the application's OptimizationCoordinator, all torn down with the scope it is provided in.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  Services,
  LM.LMConfigError | RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions | Config.ConfigInvalid
> =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      const sims = makeSims(options.sim ?? {})
      const base = Layer.mergeAll(
        privacyEvents.layer.pipe(Layer.provide(Events.layerTest)),
        Protection.layer,
        Registry.layerTest,
        // Every actor copies the messages it is sent unless its definition chooses otherwise: a test catches a
        // sender that changes a message after sending it.
        Actor.layerIsolation("copy")
      ).pipe(Layer.provideMerge(Config.layerTest(options.config ?? {})))
      const foundation = options.cache === true ? Layer.merge(base, CacheManager.layerTest) : base
      const application = Application.layer({ ...options.application, providerFactory: sims.factory })
      const app =
        options.checkpoints === undefined
          ? application
          : Layer.provide(application, Layer.succeed(Checkpoint.CheckpointStore, options.checkpoints))
      return Layer.mergeAll(app, Layer.succeed(SimControl, sims.control)).pipe(Layer.provideMerge(foundation))
    })
  )

/**
 * No faults (for `SimControl.setFaults`).
 *
 * @since 0.1.0
 * @category constants
 */
export const noFaults: SimFaults.Profile = SimFaults.none

/**
 * A fixed latency in milliseconds (for `SimControl.setLatency` or {@link SimSettings}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fixedLatency = (ms: number): SimLatency.Profile => ({ _tag: "fixed", ms })
