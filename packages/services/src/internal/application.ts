/**
 * The Application service tag and its interface, apart from `Application.ts` (which re-exports them) so that the
 * OptimizationCoordinator's standalone layer can require a running application without importing the module that
 * builds the application (and builds the coordinator).
 */
import type { DynamicSupervisor, RuntimeError, Supervisor } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as LMProviders from "../LMProviders.js"
import type * as ModuleManager from "../ModuleManager.js"
import type * as Health from "../observe/Health.js"

/** The Application service: the running tree. */
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
  /** Liveness and readiness with their reasons (see `Health`). */
  readonly health: Effect.Effect<Health.Report>
}

/** A snapshot of the running application. */
export interface Status {
  readonly tree: Supervisor.Tree
  readonly providers: ReadonlyArray<LMProviders.ProviderStatus>
  readonly modules: ReadonlyArray<ModuleManager.ModuleInfo>
  readonly inFlight: { readonly modules: number; readonly lm: number }
}

/** The Application service tag. */
export class Application extends Context.Tag("@effect-dspy/services/Application")<Application, Service>() {}
