/**
 * The supervised DSPy application: one supervision tree (the runtime's `Supervisor`) over the foundation's
 * config watcher, the ModuleManager, the LM providers and the optimization workers, started as a layer that
 * provides the `ModuleManager`, `LMProviders`, the core `LM` (over the supervised providers), the
 * `OptimizationCoordinator` (its jobs in memory unless `optimization.coordinator.filename` is given; a
 * `CheckpointStore` in context keeps their finished units) and the `Application` itself:
 *
 * ```
 * dspy                      one_for_one (root)
 *   foundation              config watcher: live pool sizes, backups, rate limits
 *   module_manager          serialises module mutations; executions run in callers' fibers
 *   cache_manager           fronts the CacheManager (when one is in context; the LM then caches there)
 *   lm_providers            one_for_one
 *     provider:<name>       one per `providers.<name>`: transport, pool, breaker, limiter
 *   optimization_workers    dynamic supervisor: one worker per running OptimizationCoordinator job
 *   optimization_coordinator  the coordinator's dispatcher: starts queued jobs on free workers
 * ```
 *
 * ```ts
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
 *   return yield* modules.execute("qa", { question: "2 + 3?" })
 * }).pipe(Effect.provide(Application.layerDefault()))
 * ```
 *
 * Shutdown (closing the layer's scope), in order: new module executions are refused with
 * `ApplicationStopping`; those in flight get the grace period (`shutdownGracePeriod`, default 5 s, on
 * Effect's Clock) to finish, then are interrupted and end with `ExecutionAborted`; then LM calls made
 * outside modules are drained the same way in what is left of the grace period; then the tree stops in
 * reverse start order. Every call ends in a result or a typed error.
 *
 * @since 0.1.0
 */
import { LM, LMCache, ProviderKind } from "@effect-dspy/core"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Checkpoint } from "@effect-dspy/optimizers"
import { SimLM } from "@effect-dspy/sim"
import { Actor, DynamicSupervisor, Process, Registry, RuntimeError, Supervisor } from "@effect-dspy/runtime"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CacheManager from "./CacheManager.js"
import { ApplicationStopping, ExecutionAborted } from "./internal/appErrors.js"
import { Drain, type DrainReport } from "./internal/drain.js"
import * as LMProviders from "./LMProviders.js"
import * as ModuleManager from "./ModuleManager.js"
import * as OptimizationCoordinator from "./OptimizationCoordinator.js"

export {
  /**
   * The application is shutting down: the call was not started (retryable against a running application).
   *
   * @since 0.1.0
   * @category errors
   */
  ApplicationStopping,
  /**
   * The call was still running when the shutdown grace period ended and was interrupted.
   *
   * @since 0.1.0
   * @category errors
   */
  ExecutionAborted
}

/**
 * Restart intensity of a supervisor: more than `maxRestarts` within `maxSeconds` and it gives up, stopping
 * its children and exiting (escalating to its parent).
 *
 * @since 0.1.0
 * @category models
 */
export interface Intensity {
  readonly maxRestarts?: number
  readonly maxSeconds?: number
}

/**
 * Options of the application.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long in-flight work may take to finish at shutdown (default 5 seconds). */
  readonly shutdownGracePeriod?: Duration.DurationInput
  /** The root supervisor's intensity (default 3 in 5 s). */
  readonly rootIntensity?: Intensity
  /** The `lm_providers` supervisor's intensity (default 3 in 5 s). */
  readonly providersIntensity?: Intensity
  /**
   * The optimization workers' dynamic supervisor: intensity and `maxChildren` (default 8); and the
   * OptimizationCoordinator's options (its job database, optimizers and metrics by name).
   */
  readonly optimization?: Intensity & {
    readonly maxChildren?: number
    readonly coordinator?: OptimizationCoordinator.Options
  }
  /**
   * Builds provider transports. By default `LM.providerFromSettings` over the provider kinds given to the
   * layer (`ProviderKind.ProviderKinds`), with the simulated LM's `simulated` kind when none is given for it.
   */
  readonly providerFactory?: LMProviders.ProviderFactory
  /**
   * A child spec for the `cache_manager` slot (between the ModuleManager and the LM providers), used when no
   * CacheManager service is in context. With a CacheManager in context, the slot holds an actor fronting it
   * (registered as `dspy/cache_manager`; calls `Stats`, `PurgeExpired`) and the LM caches through it.
   */
  readonly cacheManager?: Supervisor.ChildSpec
}

/**
 * What the shutdown did, as published in the `application_stopped` event.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShutdownReport {
  readonly modules: DrainReport
  readonly lm: DrainReport
}

/**
 * The Application service: the running tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The root supervisor. */
  readonly root: Supervisor.SupervisorRef
  /** The optimization workers' dynamic supervisor (where the OptimizationCoordinator starts its workers). */
  readonly optimizationWorkers: Effect.Effect<DynamicSupervisor.DynamicSupervisorRef, RuntimeError.NoProc>
  /** The supervision tree now. */
  readonly describe: Effect.Effect<Supervisor.Tree>
  /** The tree as indented text (`Supervisor.render`). */
  readonly render: Effect.Effect<string>
  /** Module executions and LM calls in flight. */
  readonly inFlight: Effect.Effect<{ readonly modules: number; readonly lm: number }>
  /** The grace period in force at shutdown. */
  readonly shutdownGracePeriod: Duration.Duration
  /** One snapshot of everything: the tree, the providers, the modules and the work in flight. */
  readonly status: Effect.Effect<Status>
}

/**
 * A snapshot of the running application.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly tree: Supervisor.Tree
  readonly providers: ReadonlyArray<LMProviders.ProviderStatus>
  readonly modules: ReadonlyArray<ModuleManager.ModuleInfo>
  readonly inFlight: { readonly modules: number; readonly lm: number }
}

/**
 * The Application service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Application extends Context.Tag("@effect-dspy/services/Application")<Application, Service>() {}

/**
 * The registry name of the CacheManager's actor (`Stats` / `PurgeExpired` / `InvalidateModule` calls; it also
 * purges expired disk entries and re-checks broken cache levels on timers).
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheManagerName = "dspy/cache_manager"

/**
 * The root supervisor's id in trees.
 *
 * @since 0.1.0
 * @category constants
 */
export const rootId = "dspy"

/**
 * The default provider factory: `LM.providerFromSettings` over the provider kinds in the context, with the
 * simulated LM's kind when the context gives none named `simulated` (the schema's default provider is simulated).
 */
const defaultProviderFactory: Effect.Effect<LMProviders.ProviderFactory> = Effect.map(
  Effect.serviceOption(ProviderKind.ProviderKinds),
  (given) => {
    const kinds = new Map<string, ProviderKind.Factory>([["simulated", SimLM.providerKind]])
    if (Option.isSome(given)) for (const [kind, factory] of given.value) kinds.set(kind, factory)
    return (name, settings) =>
      Effect.provideService(LM.providerFromSettings(name, settings), ProviderKind.ProviderKinds, kinds)
  }
)

const findChild = (root: Supervisor.SupervisorRef, id: string): Effect.Effect<Process.Process, RuntimeError.NoProc> =>
  Effect.flatMap(Supervisor.whichChildren(root), (children) => {
    const child = children.find((c) => c.id === id)
    return child?.process === undefined
      ? Effect.fail(
          new RuntimeError.NoProc({
            message: `the application's ${id} supervisor is not running (it is restarting, or the tree has stopped)`,
            target: id
          })
        )
      : Effect.succeed(child.process)
  })

/**
 * The application as a layer over the foundation services (`Config`, `Events`, `Protection`, `Registry`;
 * an `LMCache` in context is used by the LM). Closing its scope shuts it down gracefully (see the module
 * documentation).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  | Application
  | ModuleManager.ModuleManager
  | LMProviders.LMProviders
  | LM.LM
  | OptimizationCoordinator.OptimizationCoordinator,
  LM.LMConfigError | RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions,
  Config.Config | Events.Events | Protection.Protection | Registry.Registry
> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const config = yield* Config.Config
      const events = yield* Events.Events
      const protection = yield* Protection.Protection
      const registry = yield* Registry.Registry
      // The LM's cache: an LMCache in context, else the CacheManager's (when one is in context).
      const cacheManager = yield* Effect.serviceOption(CacheManager.CacheManager)
      const cache = Option.getOrUndefined(
        Option.orElse(yield* Effect.serviceOption(LMCache.LMCache), () =>
          Option.map(cacheManager, (cm) => CacheManager.lmCache(cm))
        )
      )
      const scope = yield* Effect.scope
      const grace = Duration.decode(options.shutdownGracePeriod ?? "5 seconds")
      const moduleDrain = new Drain("module executions")
      const lmDrain = new Drain("LM calls")

      const providers = yield* LMProviders.make({
        config,
        events,
        protection,
        registry,
        scope,
        factory: options.providerFactory ?? (yield* defaultProviderFactory),
        drain: lmDrain,
        outerDrain: moduleDrain,
        cache
      })
      const deps: ModuleManager.Dependencies = {
        store: ModuleManager.makeStore(),
        config,
        events,
        protection,
        registry,
        lm: providers.lm,
        drain: moduleDrain
      }
      const modules = ModuleManager.make(deps)
      const withRegistry = <A, E>(effect: Effect.Effect<A, E, Registry.Registry>) =>
        Effect.provideService(effect, Registry.Registry, registry)
      // The coordinator is built after the tree; its dispatcher process is in the tree and finds it here.
      const dispatcher = OptimizationCoordinator.makeDispatcher()

      const children: Array<Supervisor.ChildSpec> = [
        Supervisor.worker("foundation", providers.watcherStart),
        Supervisor.worker(
          "module_manager",
          withRegistry(Registry.startNamed(ModuleManager.actorName, ModuleManager.startActor(deps)))
        ),
        // The CacheManager's slot: filled when the CacheManager service is in context (or a spec is given).
        ...(Option.isSome(cacheManager)
          ? [
              Supervisor.worker(
                "cache_manager",
                withRegistry(
                  Registry.startNamed(
                    cacheManagerName,
                    Actor.spawn(CacheManager.actor, { cache: cacheManager.value, options: {} })
                  )
                )
              )
            ]
          : options.cacheManager === undefined
            ? []
            : [options.cacheManager]),
        Supervisor.supervisor("lm_providers", {
          strategy: "one_for_one",
          ...intensityOf(options.providersIntensity),
          children: providers.providerStarts.map((p) => Supervisor.worker(`provider:${p.name}`, p.start))
        }),
        // The OptimizationCoordinator's job workers start here, one per running job.
        DynamicSupervisor.childSpec("optimization_workers", {
          ...intensityOf(options.optimization),
          maxChildren: options.optimization?.maxChildren ?? 8
        }),
        // After the workers' supervisor (it starts jobs there), so it stops before it.
        Supervisor.worker(
          "optimization_coordinator",
          withRegistry(
            Registry.startNamed(OptimizationCoordinator.actorName, OptimizationCoordinator.startDispatcher(dispatcher))
          )
        )
      ]
      const root = yield* Effect.acquireRelease(
        Supervisor.spawn({ name: rootId, strategy: "one_for_one", ...intensityOf(options.rootIntensity), children }),
        (ref) => Process.stop(ref, { timeout: "infinity" })
      )
      yield* publish(events, "application_started", { providers: providers.service.names })

      // Registered after the tree, so it runs first at shutdown: drain, then the tree stops.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          yield* publish(events, "application_stopping", {
            modules_in_flight: moduleDrain.inFlight,
            lm_in_flight: lmDrain.inFlight,
            grace_period_ms: Duration.toMillis(grace)
          })
          const modulesReport = yield* moduleDrain.drain(grace)
          const spent = (yield* Clock.currentTimeMillis) - started
          const lmReport = yield* lmDrain.drain(Duration.millis(Math.max(0, Duration.toMillis(grace) - spent)))
          const report: ShutdownReport = { modules: modulesReport, lm: lmReport }
          yield* publish(events, "application_stopped", { ...report })
        })
      )

      const service: Service = {
        root,
        optimizationWorkers: Effect.map(
          findChild(root, "optimization_workers"),
          (p) => p as DynamicSupervisor.DynamicSupervisorRef
        ),
        describe: Supervisor.describe(root, rootId),
        render: Effect.map(Supervisor.describe(root, rootId), Supervisor.render),
        inFlight: Effect.sync(() => ({ modules: moduleDrain.inFlight, lm: lmDrain.inFlight })),
        shutdownGracePeriod: grace,
        status: Effect.all({
          tree: Supervisor.describe(root, rootId),
          providers: providers.service.status,
          modules: modules.list,
          inFlight: Effect.sync(() => ({ modules: moduleDrain.inFlight, lm: lmDrain.inFlight }))
        })
      }
      // Built last, so it stops first at shutdown: its jobs are interrupted (and resume on a restart with the same
      // database and checkpoint store) before the drain and the tree stop.
      const checkpoints = yield* Effect.serviceOption(Checkpoint.CheckpointStore)
      const coordinator = yield* OptimizationCoordinator.makeWith(
        {
          optimizationWorkers: service.optimizationWorkers,
          modules,
          lm: providers.lm,
          config,
          events,
          dispatcher,
          ...(Option.isSome(checkpoints) ? { checkpoints: checkpoints.value } : {})
        },
        options.optimization?.coordinator ?? {}
      ).pipe(
        Effect.mapError(
          (error) =>
            new RuntimeError.ChildStartFailed({
              childId: "optimization_coordinator",
              cause: error,
              message: `The OptimizationCoordinator did not start: ${error.message}`
            })
        )
      )
      return Context.make(Application, service).pipe(
        Context.add(OptimizationCoordinator.OptimizationCoordinator, coordinator),
        Context.add(ModuleManager.ModuleManager, modules),
        Context.add(LMProviders.LMProviders, providers.service),
        Context.add(LM.LM, providers.lm)
      )
    })
  )

const intensityOf = (intensity: Intensity | undefined): Intensity =>
  intensity === undefined
    ? {}
    : {
        ...(intensity.maxRestarts === undefined ? {} : { maxRestarts: intensity.maxRestarts }),
        ...(intensity.maxSeconds === undefined ? {} : { maxSeconds: intensity.maxSeconds })
      }

const publish = (events: Events.Service, type: string, data: { readonly [key: string]: unknown }) =>
  events.publish({ type, data }).pipe(
    Effect.asVoid,
    Effect.catchAll((e) => Effect.logWarning(`could not record the ${type} event: ${e.message}`))
  )

/**
 * The application with the foundation services it needs: Config (defaults, file, environment; see
 * `Config.layer`), Events (in memory, retention from Config), Protection and the production Registry.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault = (
  options: Options & { readonly config?: Config.Options } = {}
): Layer.Layer<
  | Application
  | ModuleManager.ModuleManager
  | LMProviders.LMProviders
  | LM.LM
  | OptimizationCoordinator.OptimizationCoordinator
  | Config.Config
  | Events.Events,
  LM.LMConfigError | RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions | Config.ConfigInvalid
> => {
  const foundation = Layer.mergeAll(Events.layerConfig, Protection.layer, Registry.layer).pipe(
    Layer.provideMerge(Config.layer(options.config ?? {}))
  )
  return layer(options).pipe(Layer.provideMerge(foundation))
}

/**
 * The supervision tree of the application in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const describe: Effect.Effect<Supervisor.Tree, never, Application> = Effect.flatMap(
  Application,
  (app) => app.describe
)

/**
 * The supervision tree of the application in context, rendered as text.
 *
 * @since 0.1.0
 * @category accessors
 */
export const render: Effect.Effect<string, never, Application> = Effect.flatMap(Application, (app) => app.render)
