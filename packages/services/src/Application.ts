/**
 * The supervised DSPy application: one supervision tree over the config watcher, the ModuleManager, the
 * CacheManager (when one is in context), the LM providers and the optimization workers, started as a layer that
 * provides the `ModuleManager`, `LMProviders`, the core `LM` (over the supervised providers), the
 * `OptimizationCoordinator`, the `ReleaseStore`, the `Experiments` (the traffic policies' experiments, see
 * `docs/experiments.md`), the real-time `Loop` and its `ExperienceStore` (see `docs/loop.md`) and the `Application`
 * itself. Closing the layer's scope shuts it down gracefully:
 * new work is refused with `ApplicationStopping`, work in flight gets `shutdownGracePeriod` to finish (else
 * `ExecutionAborted`), then the tree stops. The tree and the shutdown order are described in
 * `docs/architecture.md` ("Supervision tree").
 *
 * @example
 * ```ts
 * import { Application, ModuleManager } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
 *   const execution = yield* modules.execute("qa", { question: "2 + 3?" })
 *   // The supervision tree as text: dspy, foundation, module_manager, lm_providers, ...
 *   const tree = yield* Application.render
 *   return { output: execution.output, tree }
 * }).pipe(Effect.provide(Application.layerDefault()))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import { LM, LMCache, ProviderKind } from "@effect-dspy/core"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Checkpoint } from "@effect-dspy/optimizers"
import { SimLM } from "@effect-dspy/sim"
import { Actor, DynamicSupervisor, Process, Registry, RuntimeError, Supervisor } from "@effect-dspy/runtime"
import * as path from "node:path"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CacheManager from "./CacheManager.js"
import * as internal from "./internal/application.js"
import * as coordinator from "./internal/coordinator/coordinator.js"
import * as dispatcher from "./internal/coordinator/dispatcher.js"
import { Drain, type DrainReport } from "./internal/drain.js"
import * as moduleActor from "./internal/moduleManager/actor.js"
import * as moduleService from "./internal/moduleManager/service.js"
import * as LMProviders from "./LMProviders.js"
import * as Experiments from "./experiments/Experiments.js"
import * as ModuleManager from "./ModuleManager.js"
import * as OptimizationCoordinator from "./OptimizationCoordinator.js"
import * as ReleaseStore from "./releases/ReleaseStore.js"
import * as RouterStore from "./routing/RouterStore.js"
import * as ServicesEvents from "./ServicesEvents.js"
import * as Storage from "./Storage.js"
import * as tenancy from "./internal/tenancy.js"
import * as retention from "./rights/internal/application.js"
import * as Tenants from "./Tenants.js"
import { openPostgres } from "./internal/storage.js"
import * as clusterWiring from "./cluster/internal/application.js"
import * as ExperienceStore from "./loop/ExperienceStore.js"
import * as Loop from "./loop/Loop.js"
import * as loopImpl from "./loop/internal/loop.js"
import type { RecorderSlot } from "./internal/moduleManager/recording.js"
import * as privacyEvents from "./internal/privacyEvents.js"
import * as registryImpl from "./internal/coordinator/registry.js"
import * as AlertSink from "./observe/AlertSink.js"
import * as Health from "./observe/Health.js"
import * as HistoryFeed from "./observe/HistoryFeed.js"
import * as MetricHistory from "./observe/MetricHistory.js"
import * as Observability from "./observe/Observability.js"
import * as ProviderBalancer from "./observe/ProviderBalancer.js"

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
  /**
   * Where module versions are kept when no `ReleaseStore` is in context: a SQLite file (default `":memory:"`,
   * nothing survives the process). Give a file to restore each module's promoted version at the next start.
   */
  readonly releases?: { readonly filename?: string }
  /**
   * Where experiment records are kept when no `Experiments` service is in context: a SQLite file. By default
   * `experiments.db` next to the release store's file (in memory when the release store is), so the traffic
   * policies' experiments survive a restart with the releases.
   */
  readonly experiments?: { readonly filename?: string }
  /**
   * The real-time optimization loop (see `docs/loop.md`): its experience store (by default `loop.db` next to the
   * release store's file, in memory when the release store is), its policy's settings (it acts only with
   * `settings.enabled`), its reward function.
   */
  readonly loop?: Loop.Options
}

/**
 * The experiments' SQLite file of an application: `experiments.db` in the release store's directory (in memory
 * when the release store is).
 */
const experimentsFile = (options: Options): string => {
  if (options.experiments?.filename !== undefined) return options.experiments.filename
  const releases = options.releases?.filename ?? ":memory:"
  if (releases === ":memory:" || releases === "") return ":memory:"
  const sibling = path.join(path.dirname(releases), "experiments.db")
  return path.resolve(sibling) === path.resolve(releases) ? `${releases}.experiments` : sibling
}

/** The loop's experience store file: `loop.db` in the release store's directory (in memory when the release store is). */
const loopFile = (options: Options): string => {
  if (options.loop?.filename !== undefined) return options.loop.filename
  const releases = options.releases?.filename ?? ":memory:"
  if (releases === ":memory:" || releases === "") return ":memory:"
  const sibling = path.join(path.dirname(releases), "loop.db")
  return path.resolve(sibling) === path.resolve(releases) ? `${releases}.loop` : sibling
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
 * The Application service: the running tree (its root supervisor, the optimization workers' supervisor, the
 * tree now, the work in flight, a status snapshot).
 *
 * @since 0.1.0
 * @category models
 */
export type Service = internal.Service

/**
 * A snapshot of the running application: the tree, the providers, the modules and the work in flight.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = internal.Status

/**
 * The Application service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Application = internal.Application

/**
 * The Application service tag's type.
 *
 * @since 0.1.0
 * @category tags
 */
export type Application = internal.Application

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
  | OptimizationCoordinator.OptimizationCoordinator
  | ReleaseStore.ReleaseStore
  | Experiments.Experiments
  | Loop.Loop
  | ExperienceStore.ExperienceStore
  | RouterStore.RouterStore
  | Observability.Observability
  | Tenants.Tenants,
  LM.LMConfigError | RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions,
  Config.Config | Events.Events | Protection.Protection | Registry.Registry
> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const config = yield* Config.Config
      // Every event under the privacy policy (Config's `privacy`; off: stored as published).
      const events = yield* privacyEvents.withPrivacy(yield* Events.Events)
      // Cluster mode (`storage.backend: postgres`): shared rate limits and budgets, swap propagation (`cluster/`).
      const cluster = yield* clusterWiring.open(yield* config.current, yield* Effect.scope)
      const protection = cluster.protection(yield* Protection.Protection)
      const registry = yield* Registry.Registry
      // The LM's cache: an LMCache in context, else the CacheManager's (when one is in context).
      const cacheManager = yield* Effect.serviceOption(CacheManager.CacheManager)
      const cache = Option.getOrUndefined(
        Option.orElse(yield* Effect.serviceOption(LMCache.LMCache), () =>
          Option.map(cacheManager, (cm) => CacheManager.lmCache(cm))
        )
      )
      const memoGeneration =
        Option.isNone(yield* Effect.serviceOption(LMCache.LMCache)) && Option.isSome(cacheManager)
          ? cacheManager.value.generation
          : undefined
      const scope = yield* Effect.scope
      const grace = Duration.decode(options.shutdownGracePeriod ?? "5 seconds")
      const moduleDrain = new Drain("module executions")
      const lmDrain = new Drain("LM calls")
      const startedAt = yield* Clock.currentTimeMillis
      // Observability's settings (read once at start); weighted balancing needs its balancer in the request path.
      const observe = (yield* config.current).observe
      const balancer = ProviderBalancer.make()
      const balanced = Object.keys(observe.balancing).length > 0
      // `storage.backend: postgres`: the stores not given in context open on that database.
      const storage = (yield* config.current).storage
      const postgres = storage.backend === "postgres" ? yield* openPostgres(storage, scope) : undefined
      // The metric history, opened first: the request path feeds it each completion's outcome per provider.
      const historyOptions = {
        filename: observe.filename,
        intervalMs: observe.intervalMs,
        rawRetentionMs: observe.rawRetentionMs,
        hourRetentionMs: observe.hourRetentionMs
      }
      const history = yield* (
        postgres === undefined
          ? MetricHistory.make(historyOptions)
          : Effect.provide(MetricHistory.makePostgres(historyOptions), postgres.client)
      ).pipe(
        Effect.mapError(
          (error) =>
            new RuntimeError.ChildStartFailed({
              childId: "observability",
              cause: error,
              message: `The metric history did not open: ${error.message}`
            })
        )
      )
      const clock = yield* Effect.clock

      const providers = yield* LMProviders.make({
        config,
        events,
        protection,
        registry,
        scope,
        factory: options.providerFactory ?? (yield* defaultProviderFactory),
        drain: lmDrain,
        outerDrain: moduleDrain,
        cache,
        choose: balanced ? balancer.choose : undefined,
        observe: observe.enabled
          ? HistoryFeed.providerObserver(history, () => clock.unsafeCurrentTimeMillis())
          : undefined
      })
      // The LM under the cluster's daily budgets (`cluster.budgets`; as is otherwise).
      const lm = cluster.lm(providers.lm)
      // The release store: the one in context, else a SQLite store of the application's own.
      const givenReleases = yield* Effect.serviceOption(ReleaseStore.ReleaseStore)
      const releases = cluster.releases(
        Option.isSome(givenReleases)
          ? givenReleases.value
          : postgres !== undefined
            ? postgres.releases
            : yield* ReleaseStore.makeSqlite({ filename: options.releases?.filename ?? ":memory:" }).pipe(
                Effect.mapError(
                  (error) =>
                    new RuntimeError.ChildStartFailed({
                      childId: "module_manager",
                      cause: error,
                      message: `The release store did not open: ${error.message}`
                    })
                )
              )
      )
      // The experiments (traffic policies of two or more versions run as ones): the service in context, else one
      // over a SQLite store of the application's own, next to the release store.
      const givenExperiments = yield* Effect.serviceOption(Experiments.Experiments)
      const experiments = Option.isSome(givenExperiments)
        ? givenExperiments.value
        : yield* Layer.buildWithScope(
            postgres !== undefined
              ? Experiments.layer.pipe(Layer.provide(postgres.experiments))
              : Experiments.layerSqlite(experimentsFile(options)),
            scope
          ).pipe(
            Effect.map((context) => Context.get(context, Experiments.Experiments)),
            Effect.mapError(
              (error) =>
                new RuntimeError.ChildStartFailed({
                  childId: "module_manager",
                  cause: error,
                  message: `The experiment store did not open: ${error.message}`
                })
            )
          )
      // The loop's experience store; executions are recorded once the loop is built (after the coordinator).
      const experiences = yield* (
        postgres === undefined
          ? ExperienceStore.makeSqlite(loopFile(options), options.loop?.bounds)
          : Effect.provide(ExperienceStore.makePostgres(options.loop?.bounds), postgres.client)
      ).pipe(
        Effect.mapError(
          (error) =>
            new RuntimeError.ChildStartFailed({
              childId: "optimization_loop",
              cause: error,
              message: `The experience store did not open: ${error.message}`
            })
        )
      )
      // The learned routers' state (`Router.make` without a file of its own): the store in context, else PostgreSQL
      // with `storage.backend: postgres`, else each router in memory.
      const givenRouters = yield* Effect.serviceOption(RouterStore.RouterStore)
      const routers = Option.isSome(givenRouters)
        ? givenRouters.value
        : postgres === undefined
          ? RouterStore.makeMemory()
          : yield* Effect.provide(RouterStore.makePostgres, postgres.client).pipe(
              Effect.mapError(
                (error) =>
                  new RuntimeError.ChildStartFailed({
                    childId: "module_manager",
                    cause: error,
                    message: `The router store did not open: ${error.message}`
                  })
              )
            )
      const recorder: RecorderSlot = { current: undefined }
      const loopSlot = loopImpl.makeSlot()
      const deps: moduleActor.Dependencies = {
        recorder,
        store: moduleService.makeStore(),
        releases,
        experiments: { service: experiments, scope, registered: new Set() },
        config,
        events,
        protection,
        registry,
        lm,
        drain: moduleDrain,
        // The execution memo follows the cache it derives from: only the CacheManager's says when it moves.
        ...(memoGeneration === undefined ? {} : { memoGeneration })
      }
      const { modules } = yield* cluster.serve(moduleService.make(deps), releases)
      // Traffic policies from Config (`modules.trafficPolicies`), applied as they change.
      yield* Effect.forkScoped(moduleActor.watchConfigPolicies(deps))
      const withRegistry = <A, E>(effect: Effect.Effect<A, E, Registry.Registry>) =>
        Effect.provideService(effect, Registry.Registry, registry)
      // The coordinator is built after the tree; its dispatcher process is in the tree and finds it here.
      const slot = dispatcher.makeDispatcher()

      const children: Array<Supervisor.ChildSpec> = [
        Supervisor.worker("foundation", providers.watcherStart),
        Supervisor.worker(
          "module_manager",
          withRegistry(Registry.startNamed(ModuleManager.actorName, moduleActor.startActor(deps)))
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
          withRegistry(Registry.startNamed(OptimizationCoordinator.actorName, dispatcher.startDispatcher(slot)))
        ),
        // The real-time loop's policy process: evaluates its rules when feedback commits (state outside it).
        Supervisor.worker(
          "optimization_loop",
          withRegistry(Registry.startNamed(Loop.actorName, loopImpl.startProcess(loopSlot)))
        )
      ]
      const root = yield* Effect.acquireRelease(
        Supervisor.spawn({ name: rootId, strategy: "one_for_one", ...intensityOf(options.rootIntensity), children }),
        (ref) => Process.stop(ref, { timeout: "infinity" })
      )
      yield* Events.publishOrLog(ServicesEvents.ApplicationStarted, { providers: providers.service.names }, { events })

      // Registered after the tree, so it runs first at shutdown: drain, then the tree stops.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          yield* Events.publishOrLog(
            ServicesEvents.ApplicationStopping,
            {
              modules_in_flight: moduleDrain.inFlight,
              lm_in_flight: lmDrain.inFlight,
              grace_period_ms: Duration.toMillis(grace)
            },
            { events }
          )
          const modulesReport = yield* moduleDrain.drain(grace)
          const spent = (yield* Clock.currentTimeMillis) - started
          const lmReport = yield* lmDrain.drain(Duration.millis(Math.max(0, Duration.toMillis(grace) - spent)))
          const report: ShutdownReport = { modules: modulesReport, lm: lmReport }
          yield* Events.publishOrLog(ServicesEvents.ApplicationStopped, { ...report }, { events })
        })
      )

      // Observability: the metric history (fed by the events), the alerts, balancing, resource control, on a loop.
      // The coordinator is built last (below); the controller reads its jobs once it is there.
      let jobsOf: OptimizationCoordinator.Service | undefined
      const observability = yield* Effect.gen(function* () {
        const current = yield* config.current
        return yield* Observability.make({
          history,
          events,
          config,
          providers: providers.service,
          balancer,
          balancing: observe.balancing,
          rules: observe.enabled ? Observability.rulesOf(observe) : [],
          sinks: observe.webhooks.map((url) => AlertSink.webhook({ url })),
          knobs:
            observe.enabled && observe.controller.enabled ? Observability.knobsOf(current, observe.controller) : [],
          optimizationJobs: Effect.suspend(() =>
            jobsOf === undefined
              ? Effect.succeed(undefined)
              : Effect.map(jobsOf.list, (jobs) => ({
                  queued: jobs.filter((j) => j.status === "queued").length,
                  running: jobs.filter((j) => j.status === "running").length,
                  finished: jobs.filter((j) => j.status !== "queued" && j.status !== "running").length,
                  failed: jobs.filter((j) => j.status === "failed").length
                }))
          ),
          feed: observe.enabled,
          loop: observe.enabled
        })
      }).pipe(
        Effect.mapError(
          (error) =>
            new RuntimeError.ChildStartFailed({
              childId: "observability",
              cause: error,
              message: `Observability did not start: ${error.message}`
            })
        )
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
        }),
        health: Effect.gen(function* () {
          return Health.evaluate({
            now: yield* Clock.currentTimeMillis,
            startedAt,
            startupGraceMs: observe.startupGraceMs,
            stopping: !moduleDrain.isAccepting,
            tree: yield* Supervisor.describe(root, rootId),
            providers: yield* providers.service.status,
            defaultProvider: providers.service.defaultProvider,
            alerts: yield* observability.alerts.active
          })
        })
      }
      // Built last, so it stops first at shutdown: its jobs are interrupted (and resume on a restart with the same
      // database and checkpoint store) before the drain and the tree stop.
      const checkpoints = Option.orElse(yield* Effect.serviceOption(Checkpoint.CheckpointStore), () =>
        Option.fromNullable(postgres?.checkpoints)
      )
      const optimization = yield* coordinator
        .makeWith(
          {
            optimizationWorkers: service.optimizationWorkers,
            modules,
            lm,
            config,
            events,
            dispatcher: slot,
            releases,
            // The optimization breaker: no dispatch while every provider's circuit is open.
            providersFailing: Effect.map(providers.service.status, (all) =>
              all.length > 0 && all.every((p) => p.circuit === "open")
                ? `every LM provider's circuit is open (${all.map((p) => p.name).join(", ")})`
                : undefined
            ),
            ...(Option.isSome(checkpoints) ? { checkpoints: checkpoints.value } : {}),
            ...(postgres === undefined ? {} : { jobs: postgres.jobs })
          },
          options.optimization?.coordinator ?? {}
        )
        .pipe(
          Effect.mapError(
            (error) =>
              new RuntimeError.ChildStartFailed({
                childId: "optimization_coordinator",
                cause: error,
                message: `The OptimizationCoordinator did not start: ${error.message}`
              })
          )
        )
      // Unusable loop settings (`LoopSettingsInvalid`) stop the start, saying which field.
      const loop = yield* loopImpl
        .make(
          {
            store: experiences,
            modules,
            coordinator: optimization,
            experiments,
            events,
            slot: loopSlot,
            scope,
            optimizers: Object.keys(options.optimization?.coordinator?.optimizers ?? registryImpl.defaultOptimizers())
          },
          options.loop ?? {}
        )
        .pipe(
          Effect.catchAllDefect((error) =>
            Effect.fail(
              new RuntimeError.ChildStartFailed({
                childId: "optimization_loop",
                cause: error,
                message: `The optimization loop did not start: ${error instanceof Error ? error.message : String(error)}`
              })
            )
          )
        )
      if (options.loop?.record !== false) recorder.current = loop.recorder
      jobsOf = optimization
      // Tenant scoping (docs/tenants.md): the services in context see the calling fiber's tenant; the application's
      // own parts (the loop, the coordinator, the module actor) keep the stored names.
      const givenTenants = yield* Effect.serviceOption(Tenants.Tenants)
      const tenants = Option.isSome(givenTenants)
        ? givenTenants.value
        : yield* Tenants.make(
            (yield* config.current).tenants,
            cluster.counter === undefined ? undefined : { counter: cluster.counter }
          )
      const scopedModules = tenancy.modules(modules, deps.store, {
        beforeCreate: tenants.admitModule,
        beforeExecute: tenants.admitExecution,
        charge: tenants.charge,
        limited: (tenant) => tenants.limitsOf(tenant) !== undefined
      })
      const scopedExperiences = tenancy.experiences(experiences)
      // Retention (Config `tenants.retentionMs`): the `retention` process under the root, on the Clock.
      yield* retention.start(root, (yield* config.current).tenants, {
        experiences,
        events,
        releases,
        modules,
        cache: cacheManager
      })
      return Context.make(Application, service).pipe(
        Context.add(Loop.Loop, tenancy.loop(loop.service, experiences)),
        Context.add(ExperienceStore.ExperienceStore, scopedExperiences),
        Context.add(RouterStore.RouterStore, routers),
        Context.add(
          OptimizationCoordinator.OptimizationCoordinator,
          tenancy.coordinator(optimization, scopedModules, { beforeStart: tenants.admitJob })
        ),
        Context.add(ModuleManager.ModuleManager, scopedModules.service),
        Context.add(ReleaseStore.ReleaseStore, releases),
        Context.add(Tenants.Tenants, tenants),
        Context.add(Experiments.Experiments, tenancy.experiments(experiments)),
        Context.add(LMProviders.LMProviders, providers.service),
        Context.add(LM.LM, lm),
        Context.add(Observability.Observability, observability)
      )
    })
  ).pipe(
    // Request fibers start with their own LM-usage list: recording an execution's usage writes no FiberRef.
    Layer.merge(LM.layerUsageFrames)
  )

const intensityOf = (intensity: Intensity | undefined): Intensity =>
  intensity === undefined
    ? {}
    : {
        ...(intensity.maxRestarts === undefined ? {} : { maxRestarts: intensity.maxRestarts }),
        ...(intensity.maxSeconds === undefined ? {} : { maxSeconds: intensity.maxSeconds })
      }

/**
 * The application with the foundation services it needs: Config (defaults, file, environment; see
 * `Config.layer`), Events (in memory, retention from Config; in the database with `storage.backend: postgres`),
 * Protection and the production Registry. With `cache: true`, also the CacheManager (`CacheManager.layer`: memory,
 * following `modules.cacheEnabled` and `modules.cacheTtlMs`), which the LM then caches through.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault = (
  options: Options & { readonly config?: Config.Options; readonly cache?: boolean } = {}
): Layer.Layer<
  | Application
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
  | Config.Config
  | Events.Events,
  LM.LMConfigError | RuntimeError.ChildStartFailed | RuntimeError.InvalidOptions | Config.ConfigInvalid
> => {
  const foundation = Layer.mergeAll(
    privacyEvents.layer.pipe(Layer.provide(eventsOfStorage)),
    Protection.layer,
    Registry.layer,
    options.cache === true ? CacheManager.layer() : Layer.empty
  ).pipe(Layer.provideMerge(Config.layer(options.config ?? {})))
  return layer(options).pipe(Layer.provideMerge(foundation))
}

/**
 * The events of `layerDefault`: in memory (retention following Config), or in the PostgreSQL database when
 * `storage.backend` is `postgres` (retention as configured at start).
 */
const eventsOfStorage: Layer.Layer<Events.Events, RuntimeError.ChildStartFailed, Config.Config> = Layer.unwrapEffect(
  Effect.map(Config.Config, (config) =>
    Layer.unwrapEffect(
      Effect.map(config.current, ({ storage, events }) => {
        if (storage.backend !== "postgres" || storage.postgres.url === undefined) return Events.layerConfig
        const failed = (reason: string, cause: unknown) =>
          new RuntimeError.ChildStartFailed({
            childId: "foundation",
            cause,
            message: `The event store did not open on PostgreSQL: ${reason}`
          })
        return Events.layerSql(events).pipe(
          Layer.provide(Storage.layerPostgresClient({ url: storage.postgres.url, maxConnections: 2 })),
          Layer.mapError((e) => failed(e.message, e))
        )
      })
    )
  )
)

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

/**
 * The health of the application in context: liveness and readiness (`starting`, `healthy`, `degraded`,
 * `unhealthy`) with the reasons (see `Health`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const health: Effect.Effect<Health.Report, never, Application> = Effect.flatMap(Application, (app) => app.health)
