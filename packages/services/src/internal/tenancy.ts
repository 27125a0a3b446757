/**
 * Tenant scoping of the application's services (see `Tenants` and docs/tenants.md). Each decorator reads the
 * fiber's tenant once per call: unscoped fibers (the system, cross-tenant admin keys) and the default tenant's
 * bare names pass straight through; a scoped tenant's names are qualified (`~acme/qa`) on the way in, made local
 * again on the way out, and another tenant's resources answer as not found.
 *
 * Shared models: a module stored as `~shared/<name>` serves every tenant that has no `<name>` of its own, and a
 * tenant's fork of it (made by its first change or optimization job) keeps serving the shared module while the
 * fork's current version is the fork itself; once the tenant's own version wins (a job's evaluation on the
 * tenant's data swaps it in, or an experiment on the fork promotes it) the tenant is served its own.
 */
import { LM } from "@effect-dspy/core"
import { Tenant } from "@effect-dspy/foundation"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Experiments from "../experiments/Experiments.js"
import type * as ExperienceStore from "../loop/ExperienceStore.js"
import type * as Loop from "../loop/Loop.js"
import type * as ModuleManager from "../ModuleManager.js"
import type * as OptimizationCoordinator from "../OptimizationCoordinator.js"
import {
  ExperimentNotFound,
  FeedbackUnknownExecution,
  ModuleNotFound,
  OptimizationJobNotFound
} from "../ServicesError.js"
import type { Entry, ModuleStore } from "./moduleManager/store.js"

/** The tenant whose modules serve every tenant without one of its own. */
export const sharedTenant = "shared" as Tenant.TenantId

/** The reason recorded on a tenant's fork of a shared module (the version that still defers to the shared one). */
export const forkReason = "forked_from_shared"

const scoped = FiberRef.get(Tenant.Tenant)

/** Whether a tenant's module serves its fork of the shared module (directly or rolled back to it). */
const defersToShared = (entry: Entry): boolean => {
  const current = entry.current
  if (current.reason === forkReason) return true
  if (!current.reason.startsWith("rolled_back(")) return false
  const back = /^rolled_back\((\d+)\)$/.exec(current.reason)
  if (back === null) return false
  const to = Number(back[1])
  return entry.versions.some((v) => v.version === to && v.reason === forkReason)
}

const notFound = (name: string) =>
  new ModuleNotFound({
    moduleId: name,
    message: `No module "${name}" is registered; create it first (list shows those that exist).`
  })

const localize = <E>(name: string) =>
  Effect.mapError((error: E): E => (error instanceof ModuleNotFound ? (notFound(name) as unknown as E) : error))

const idOf = (module: string | { readonly id: string }): string => (typeof module === "string" ? module : module.id)

const localInfo = <A extends { readonly id: string }>(info: A): A => ({ ...info, id: Tenant.localName(info.id) })

/**
 * Scopes the ModuleManager. `limits.modules` counts a tenant's modules before it creates one (storage quota).
 */
export const modules = (
  service: ModuleManager.Service,
  store: ModuleStore,
  hooks: {
    readonly beforeCreate?: (tenant: Tenant.TenantId, count: number) => Effect.Effect<void, Tenant.TenantLimitExceeded>
    readonly beforeExecute?: (tenant: Tenant.TenantId) => Effect.Effect<void, Tenant.TenantLimitExceeded>
    /** Records a tenant's LM calls and cost (only for tenants `limited` says have limits). */
    readonly charge?: (tenant: Tenant.TenantId, lmCalls: number, costUsd: number) => void
    readonly limited?: (tenant: Tenant.TenantId) => boolean
  } = {}
): Scoped => {
  // Stored names by tenant and name, made once: the hot path passes the same string (its hash computed once) to
  // the module table and everything keyed by module id, instead of a fresh concatenation per call.
  const names = new Map<string, Map<string, string>>()
  const qualified = (tenant: Tenant.TenantId, name: string): string => {
    let byName = names.get(tenant)
    if (byName === undefined) {
      byName = new Map()
      names.set(tenant, byName)
    }
    let stored = byName.get(name)
    if (stored === undefined) {
      stored = Tenant.qualifyScoped(tenant, name)
      if (byName.size < 10_000) byName.set(name, stored)
    }
    return stored
  }
  const sharedOf = (name: string) => qualified(sharedTenant, name)
  /** The stored id a tenant's read of `name` addresses: its own, else the shared module. */
  const readable = (tenant: Tenant.TenantId, name: string): string =>
    readableFrom(tenant, name, qualified(tenant, name))
  const readableFrom = (tenant: Tenant.TenantId, name: string, own: string): string => {
    if (tenant === sharedTenant || name.startsWith(Tenant.marker)) return own
    const entry = store.entries.get(own)
    if (entry === undefined) return store.entries.has(sharedOf(name)) ? sharedOf(name) : own
    // A fork serves the shared module until the tenant's own version replaces the fork.
    return entry.routing === undefined && defersToShared(entry) && store.entries.has(sharedOf(name))
      ? sharedOf(name)
      : own
  }
  /** The stored id a tenant's change of `name` addresses: its own, forking the shared module when it has none. */
  const writable = (tenant: Tenant.TenantId, name: string) =>
    Effect.suspend(() => {
      const own = Tenant.qualifyScoped(tenant, name)
      const shared = sharedOf(name)
      if (
        tenant === sharedTenant ||
        name.startsWith(Tenant.marker) ||
        store.entries.has(own) ||
        !store.entries.has(shared)
      ) {
        return Effect.succeed(own)
      }
      return Effect.flatMap(service.program(shared), (program) =>
        Effect.zipRight(
          service.register(own, program),
          Effect.as(service.swap(own, { program, lineage: { reason: forkReason } }), own)
        )
      )
    })
  const countOf = (tenant: Tenant.TenantId) => {
    let n = 0
    for (const id of store.entries.keys()) if (Tenant.ownerOf(id) === tenant) n++
    return n
  }
  const beforeCreate = (tenant: Tenant.TenantId) =>
    hooks.beforeCreate === undefined ? Effect.void : hooks.beforeCreate(tenant, countOf(tenant))

  /** Runs `f` with the stored id of a read. */
  const read = <A, E>(name: string, f: (id: string) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.flatMap(scoped, (s) => (Option.isNone(s) ? f(name) : f(readable(s.value, name)).pipe(localize<E>(name))))
  /** Runs `f` with the stored id of a change (forking a shared module first). */
  const write = <A, E>(name: string, f: (id: string) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.flatMap(scoped, (s) =>
      Option.isNone(s)
        ? f(name)
        : (Effect.flatMap(writable(s.value, name), f) as Effect.Effect<A, E>).pipe(localize<E>(name))
    )

  /**
   * What a tenant's executions of a name reuse, made once per tenant and name: the stored id of its own module,
   * whether the tenant is limited, and the one step that makes the answer local again (a not-found names the
   * local name; the execution's module id is the local name).
   */
  interface Route {
    readonly own: string
    readonly limited: boolean
    readonly local: {
      readonly onFailure: (
        cause: Cause.Cause<ModuleManager.ExecuteError>
      ) => Exit.Exit<ModuleManager.Execution, ModuleManager.ExecuteError>
      readonly onSuccess: (execution: ModuleManager.Execution) => Exit.Exit<ModuleManager.Execution>
    }
  }
  const routes = new Map<string, Map<string, Route>>()
  const routeOf = (tenant: Tenant.TenantId, name: string): Route => {
    let byName = routes.get(tenant)
    if (byName === undefined) {
      byName = new Map()
      routes.set(tenant, byName)
    }
    let route = byName.get(name)
    if (route === undefined) {
      route = {
        own: qualified(tenant, name),
        limited: hooks.limited?.(tenant) === true,
        // Exits, not effects: the continuation's answer is the step's result, with no further step.
        local: {
          onFailure: (cause) =>
            Exit.failCause(Cause.map(cause, (error) => (error instanceof ModuleNotFound ? notFound(name) : error))),
          onSuccess: (execution) => Exit.succeed({ ...execution, moduleId: name })
        }
      }
      if (byName.size < 10_000) byName.set(name, route)
    }
    return route
  }

  const execute = (module: string | { readonly id: string }, inputs: unknown, options?: ModuleManager.ExecuteOptions) =>
    // One synchronous read of the fiber's tenant; a scoped execution adds one step (its answer made local) to the
    // unscoped one.
    Effect.withFiberRuntime<ModuleManager.Execution, ModuleManager.ExecuteError>((fiber) => {
      const s = fiber.getFiberRef(Tenant.Tenant)
      if (Option.isNone(s)) return service.execute(idOf(module), inputs, options)
      const tenant = s.value
      const name = idOf(module)
      const route = routeOf(tenant, name)
      // The tenant's own module, else (a shared model's name) the shared one: a look-up only when not its own.
      const id = readableFrom(tenant, name, route.own)
      const run = Effect.matchCauseEffect(service.execute(id, inputs, options), route.local)
      if (!route.limited) return run
      const charge = hooks.charge
      const metered =
        charge === undefined ? run : LM.meterUsage(run, (_exit, usage) => charge(tenant, usage.calls, usage.costUsd))
      return hooks.beforeExecute === undefined ? metered : Effect.zipRight(hooks.beforeExecute(tenant), metered)
    })

  const scopedService: ModuleManager.Service = {
    create: ((spec: ModuleManager.ModuleSpec) =>
      Effect.flatMap(scoped, (s) =>
        Option.isNone(s)
          ? service.create(spec)
          : Effect.zipRight(
              beforeCreate(s.value),
              Effect.map(service.create({ ...spec, id: Tenant.qualifyScoped(s.value, spec.id) }), localInfo)
            )
      )) as ModuleManager.Service["create"],
    register: ((id: string, program: never, options?: never) =>
      Effect.flatMap(scoped, (s) =>
        Option.isNone(s)
          ? service.register(id, program, options)
          : Effect.zipRight(
              beforeCreate(s.value),
              Effect.map(service.register(Tenant.qualifyScoped(s.value, id), program, options), localInfo)
            )
      )) as unknown as ModuleManager.Service["register"],
    execute: execute as ModuleManager.Service["execute"],
    // For unscoped callers only (its contract): the module's own id, as an unscoped `execute` runs it.
    executeRemembered: service.executeRemembered,
    setPolicy: (id, policy, options) =>
      write(id, (stored) =>
        Effect.map(service.setPolicy(stored, policy, options), (status) => ({
          ...status,
          moduleId: Tenant.localName(status.moduleId)
        }))
      ),
    clearPolicy: (id) => write(id, (stored) => service.clearPolicy(stored)),
    policy: (id) =>
      read(id, (stored) =>
        Effect.map(service.policy(stored), (status) =>
          status === undefined ? undefined : { ...status, moduleId: Tenant.localName(status.moduleId) }
        )
      ),
    setFallback: (id, chain) => write(id, (stored) => service.setFallback(stored, chain)),
    swap: (id, patch) => write(id, (stored) => Effect.map(service.swap(stored, patch), localInfo)),
    rollback: (id, toVersion, options) =>
      write(id, (stored) => Effect.map(service.rollback(stored, toVersion, options), localInfo)),
    // Reloading from the store changes nothing a tenant owns: its own module (or the shared one it is served).
    reload: (id) => read(id, (stored) => service.reload(stored)),
    remove: (id) =>
      Effect.flatMap(scoped, (s) =>
        Option.isNone(s) ? service.remove(id) : service.remove(Tenant.qualifyScoped(s.value, id)).pipe(localize(id))
      ),
    describe: (id) => read(id, (stored) => Effect.map(service.describe(stored), localInfo)),
    list: Effect.flatMap(scoped, (s) => {
      if (Option.isNone(s)) return service.list
      const tenant = s.value
      return Effect.map(service.list, (all) => {
        const own = all.filter((info) => Tenant.ownerOf(info.id) === tenant).map(localInfo)
        if (tenant === sharedTenant) return own
        const names = new Set(own.map((info) => info.id))
        const shared = all
          .filter((info) => Tenant.ownerOf(info.id) === sharedTenant)
          .map(localInfo)
          .filter((info) => !names.has(info.id))
        return [...own, ...shared].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      })
    }),
    history: (id) => read(id, (stored) => service.history(stored)),
    program: (id, version) => read(id, (stored) => service.program(stored, version))
  }
  return { service: scopedService, writable }
}

/** The scoped ModuleManager, and the stored id a tenant's change of a name addresses (forking a shared module). */
export interface Scoped {
  readonly service: ModuleManager.Service
  readonly writable: (
    tenant: Tenant.TenantId,
    name: string
  ) => Effect.Effect<string, ModuleManager.MutationError | ModuleNotFound | ModuleManager.ExecuteError>
}

/** Whether the current scope sees a stored module id. */
const visible = (s: Option.Option<Tenant.TenantId>, moduleId: string) =>
  Option.isNone(s) || Tenant.ownerOf(moduleId) === s.value

/**
 * Scopes the OptimizationCoordinator: a job is its module's tenant's. `beforeStart` checks the tenant's job limit
 * (it counts the tenant's queued and running jobs).
 */
export const coordinator = (
  service: OptimizationCoordinator.Service,
  modulesScoped: Scoped,
  hooks: {
    readonly beforeStart?: (tenant: Tenant.TenantId, active: number) => Effect.Effect<void, Tenant.TenantLimitExceeded>
  } = {}
): OptimizationCoordinator.Service => {
  const jobNotFound = (id: string) =>
    new OptimizationJobNotFound({ jobId: id, message: `No optimization job "${id}"; list shows those that exist.` })
  const localJob = (job: OptimizationCoordinator.Job): OptimizationCoordinator.Job => ({
    ...job,
    moduleId: Tenant.localName(job.moduleId)
  })
  const own = <A, E>(
    id: string,
    f: (id: string) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | OptimizationJobNotFound> =>
    Effect.flatMap(
      scoped,
      (s): Effect.Effect<A, E | OptimizationJobNotFound> =>
        Option.isNone(s)
          ? f(id)
          : Effect.flatMap(
              Effect.either(service.status(id)),
              (job): Effect.Effect<A, E | OptimizationJobNotFound> =>
                job._tag === "Right" && visible(s, job.right.moduleId) ? f(id) : Effect.fail(jobNotFound(id))
            )
    )
  return {
    start: (request) =>
      Effect.flatMap(scoped, (s) => {
        if (Option.isNone(s)) return service.start(request)
        const tenant = s.value
        const check =
          hooks.beforeStart === undefined
            ? Effect.void
            : Effect.flatMap(service.list, (jobs) => {
                let active = 0
                for (const j of jobs) {
                  if (Tenant.ownerOf(j.moduleId) === tenant && (j.status === "queued" || j.status === "running")) {
                    active++
                  }
                }
                return hooks.beforeStart!(tenant, active)
              })
        // A tenant optimizes its own copy of a shared module: the first job forks it.
        return Effect.zipRight(
          check,
          Effect.flatMap(
            Effect.catchAll(modulesScoped.writable(tenant, request.moduleId), () =>
              Effect.fail(notFound(request.moduleId))
            ),
            (moduleId) => service.start({ ...request, moduleId }).pipe(localize(request.moduleId))
          )
        )
      }),
    status: (id) => own(id, (i) => Effect.map(service.status(i), localJob)),
    list: Effect.flatMap(scoped, (s) =>
      Option.isNone(s)
        ? service.list
        : Effect.map(service.list, (jobs) => jobs.filter((j) => visible(s, j.moduleId)).map(localJob))
    ),
    progress: (id) => Stream.unwrap(own(id, (i) => Effect.succeed(service.progress(i)))),
    await: (id) => own(id, (i) => Effect.map(service.await(i), localJob)),
    cancel: (id) => own(id, (i) => Effect.map(service.cancel(i), localJob)),
    workers: service.workers
  }
}

/** Scopes the experiments: an experiment is its module's tenant's. */
export const experiments = (service: Experiments.Service): Experiments.Service => {
  const missing = (id: string) =>
    new ExperimentNotFound({ experimentId: id, message: `No experiment "${id}"; list shows those that exist.` })
  const own =
    <Args extends ReadonlyArray<unknown>, A, E>(f: (id: string, ...args: Args) => Effect.Effect<A, E>) =>
    (id: string, ...args: Args): Effect.Effect<A, E | ExperimentNotFound> =>
      Effect.flatMap(
        scoped,
        (s): Effect.Effect<A, E | ExperimentNotFound> =>
          Option.isNone(s)
            ? f(id, ...args)
            : Effect.flatMap(
                Effect.either(service.get(id)),
                (record): Effect.Effect<A, E | ExperimentNotFound> =>
                  record._tag === "Right" && visible(s, record.right.moduleId)
                    ? f(id, ...args)
                    : Effect.fail(missing(id))
              )
      )
  return {
    ...service,
    start: (request) =>
      Effect.flatMap(scoped, (s) =>
        service.start(
          Option.isNone(s) ? request : { ...request, moduleId: Tenant.qualifyScoped(s.value, request.moduleId) }
        )
      ),
    observe: own(service.observe),
    sync: own(service.sync),
    analyze: own(service.analyze),
    conclude: own(service.conclude),
    promote: own(service.promote),
    rollBack: own(service.rollBack),
    get: own(service.get),
    list: (moduleId) =>
      Effect.flatMap(scoped, (s) =>
        Option.isNone(s)
          ? service.list(moduleId)
          : Effect.map(
              service.list(moduleId === undefined ? undefined : Tenant.qualifyScoped(s.value, moduleId)),
              (all) => all.filter((r) => visible(s, r.moduleId))
            )
      )
  }
}

/** The tenant scope of the fiber running now (a synchronous call made outside any fiber is unscoped). */
const scopeNow = (): Option.Option<Tenant.TenantId> => {
  const fiber = Fiber.getCurrentFiber()
  return Option.isNone(fiber) ? Option.none() : fiber.value.getFiberRef(Tenant.Tenant)
}

/**
 * Scopes the experience store: a tenant reads, attaches feedback to and removes its own modules' experiences only
 * (another tenant's execution is not found: `get` answers `undefined`, `attach` fails with
 * `FeedbackUnknownExecution`).
 */
export const experiences = (store: ExperienceStore.Service): ExperienceStore.Service => {
  const filter = (s: Option.Option<Tenant.TenantId>, all: ReadonlyArray<ExperienceStore.Experience>) =>
    Option.isNone(s) ? all : all.filter((e) => visible(s, e.moduleId))
  return {
    ...store,
    get: (executionId) => {
      const found = store.get(executionId)
      return found === undefined || visible(scopeNow(), found.moduleId) ? found : undefined
    },
    byCorrelation: (correlationId) => filter(scopeNow(), store.byCorrelation(correlationId)),
    attach: (list, outcome, reward, at) =>
      Effect.flatMap(scoped, (s) => {
        const foreign = Option.isNone(s) ? undefined : list.find((e) => !visible(s, e.moduleId))
        return foreign === undefined
          ? store.attach(list, outcome, reward, at)
          : Effect.fail(
              new FeedbackUnknownExecution({
                message: "No execution has that id; give the executionId an execution returned.",
                executionId: foreign.executionId
              })
            )
      }),
    remove: (executionIds) =>
      Effect.flatMap(scoped, (s) => {
        if (Option.isNone(s)) return store.remove(executionIds)
        // Only executions the tenant can see are its to remove (another tenant's, or one not held, are left).
        return store.remove(
          executionIds.filter((id) => {
            const e = store.get(id)
            return e !== undefined && visible(s, e.moduleId)
          })
        )
      }),
    query: (f) => Effect.flatMap(scoped, (s) => Effect.map(store.query(f), (all) => filter(s, all))),
    sample: (options) => Effect.flatMap(scoped, (s) => Effect.map(store.sample(options), (all) => filter(s, all)))
  }
}

/** Scopes the loop's feedback: an execution of another tenant's module is unknown. */
export const loop = (service: Loop.Service, store: ExperienceStore.Service): Loop.Service => ({
  ...service,
  // A tenant sees its own modules and decisions; the loop-wide spend and running jobs are the operator's.
  status: Effect.flatMap(scoped, (s) =>
    Option.isNone(s)
      ? service.status
      : Effect.map(service.status, (status) => ({
          ...status,
          modules: status.modules
            .filter((m) => visible(s, m.moduleId))
            .map((m) => ({ ...m, moduleId: Tenant.localName(m.moduleId) })),
          runningJobs: 0,
          spent: { lmCalls: 0, costUsd: 0, jobs: 0 }
        }))
  ),
  decisions: Effect.flatMap(scoped, (s) =>
    Option.isNone(s)
      ? service.decisions
      : Effect.map(service.decisions, (all) =>
          all.filter((d) => visible(s, d.moduleId)).map((d) => ({ ...d, moduleId: Tenant.localName(d.moduleId) }))
        )
  ),
  feedback: (request) =>
    Effect.flatMap(scoped, (s) => {
      if (Option.isNone(s)) return service.feedback(request)
      const mine =
        request.executionId !== undefined
          ? (() => {
              const e = store.get(request.executionId)
              return e === undefined || visible(s, e.moduleId)
            })()
          : request.correlationId !== undefined
            ? store.byCorrelation(request.correlationId).every((e) => visible(s, e.moduleId))
            : true
      return mine
        ? service.feedback(request)
        : Effect.fail(
            new FeedbackUnknownExecution({
              message: "No execution has that id; give the executionId an execution returned.",
              ...(request.executionId === undefined ? {} : { executionId: request.executionId }),
              ...(request.correlationId === undefined ? {} : { byCorrelationId: request.correlationId })
            })
          )
    })
})
