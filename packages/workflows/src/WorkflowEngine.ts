/**
 * The workflow engine: runs and resumes workflows on the supervised application. Each run is a process
 * (`workflow_run`: the run's fiber, without an actor's mailbox) under the `workflow_runs` dynamic supervisor, a
 * child of the application's root; its state is written to the `RunStore` at each step boundary, so a run
 * interrupted by a crash or a restart resumes without repeating a finished step.
 *
 * @example
 * ```ts
 * import { TestRuntime } from "@effect-dspy/services"
 * import { RunStore, Workflow, WorkflowEngine, WorkflowTools } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const program = Effect.gen(function* () {
 *   const workflow = yield* Workflow.parse(`
 * version: 1
 * name: route
 * inputs: { query: str }
 * steps:
 *   - id: route
 *     module: { signature: "query -> agent" }
 *     inputs: { query: "{inputs.query}" }
 * outputs: { agent: "{route.agent}" }
 * `)
 *   const engine = yield* WorkflowEngine.WorkflowEngine
 *   return yield* engine.run(workflow, { query: "find videos of cats" })
 * }).pipe(
 *   Effect.provide(
 *     WorkflowEngine.layer.pipe(
 *       Layer.provideMerge(Layer.mergeAll(RunStore.layerMemory, WorkflowTools.layerEmpty, TestRuntime.layer()))
 *     )
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
import { LM } from "@effect-dspy/core"
import { DynamicSupervisor, type RuntimeError, Supervisor } from "@effect-dspy/runtime"
import { Tenant } from "@effect-dspy/foundation"
import { Application, Loop, ModuleManager } from "@effect-dspy/services"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Executor from "./internal/executor.js"
import { RunProcess } from "./internal/runProcess.js"
import type * as RunRecord from "./RunRecord.js"
import * as RunStore from "./RunStore.js"
import type * as Workflow from "./Workflow.js"
import { RunNotFound, RunNotResumable, type StepFailed, type StepTimedOut } from "./WorkflowError.js"
import type { RunStoreError, WorkflowInputInvalid, WorkflowInvalid } from "./WorkflowError.js"
import * as WorkflowTools from "./WorkflowTools.js"
import type * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * What a run reports as it goes.
 *
 * @since 0.1.0
 * @category models
 */
export type Progress = Executor.Progress

/**
 * Options of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The run's id (default: generated). A run id names the run in the store: use it to resume. */
  readonly runId?: string
  /** Overrides the mode of every module step. */
  readonly mode?: WorkflowSchema.Mode
  readonly onProgress?: (progress: Progress) => Effect.Effect<void>
  /** A reward (0..1) for a module step's output, when the caller knows the truth: feeds bandits and reports. */
  readonly reward?: (step: string, outputs: { readonly [field: string]: unknown }) => number | undefined
}

/**
 * A finished run.
 *
 * @since 0.1.0
 * @category models
 */
export type Result = Executor.Result

/**
 * What a run can fail with: its inputs, the workflow's needs (modules, tools), a step (with its path), the store.
 *
 * @since 0.1.0
 * @category models
 */
export type RunError = WorkflowInputInvalid | WorkflowInvalid | StepFailed | StepTimedOut | RunStoreError

/**
 * The engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Runs the workflow on its inputs, as a supervised run process; the run is persisted at each step boundary. */
  readonly run: (
    workflow: Workflow.Workflow,
    inputs: { readonly [name: string]: unknown },
    options?: RunOptions
  ) => Effect.Effect<Result, RunError>
  /** Resumes a stored run of this workflow where it stopped (a failed run retries its failed step). */
  readonly resume: (
    workflow: Workflow.Workflow,
    runId: string,
    options?: Omit<RunOptions, "runId">
  ) => Effect.Effect<Result, RunError | RunNotFound | RunNotResumable>
  /** A stored run's record. */
  readonly record: (runId: string) => Effect.Effect<RunRecord.RunRecord, RunNotFound | RunStoreError>
  /**
   * Checks what the workflow needs from the application (registered modules and tools) and creates its inline
   * modules (what `run` does first).
   */
  readonly prepare: (workflow: Workflow.Workflow) => Effect.Effect<void, WorkflowInvalid>
  /** The module id a module step runs (its registered id, or `<workflow>.<step>` for an inline spec). */
  readonly moduleId: (workflow: Workflow.Workflow, step: string) => string | undefined
}

/**
 * The engine tag.
 *
 * @since 0.1.0
 * @category services
 */
export class WorkflowEngine extends Context.Tag("@effect-dspy/workflows/WorkflowEngine")<WorkflowEngine, Service>() {}

/**
 * The dynamic supervisor's id under the application's root.
 *
 * @since 0.1.0
 * @category constants
 */
export const supervisorId = "workflow_runs"

/**
 * Makes the engine: attaches the `workflow_runs` supervisor to the application's root (removed when the scope
 * closes, which stops the runs in flight: they resume from the store).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  Service,
  RuntimeError.ChildRunning | RuntimeError.ChildStartFailed | RuntimeError.NoProc,
  | Application.Application
  | ModuleManager.ModuleManager
  | LM.LM
  | RunStore.RunStore
  | WorkflowTools.WorkflowTools
  | Scope.Scope
> = Effect.gen(function* () {
  const app = yield* Application.Application
  const env: Executor.Env = {
    modules: yield* ModuleManager.ModuleManager,
    lm: yield* LM.LM,
    store: yield* RunStore.RunStore,
    tools: yield* WorkflowTools.WorkflowTools,
    loop: Option.getOrUndefined(yield* Effect.serviceOption(Loop.Loop)),
    routers: new Map(),
    charts: new Map(),
    prepared: new Set()
  }
  const supervisor = (yield* Effect.acquireRelease(
    Supervisor.startChild(app.root, DynamicSupervisor.childSpec(supervisorId, {}, { restart: "permanent" })),
    () =>
      Effect.ignore(
        Effect.zipRight(
          Supervisor.terminateChild(app.root, supervisorId),
          Supervisor.deleteChild(app.root, supervisorId)
        )
      )
  )) as DynamicSupervisor.DynamicSupervisorRef
  const scope = yield* Effect.scope

  /**
   * Runs `self` as a supervised run process: the process is the run's fiber (no mailbox, no loop fiber), so
   * stopping it interrupts the run and the run's end is its exit.
   */
  const supervised = <A, E>(runId: string, self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.forkIn(Effect.interruptible(self), scope), (fiber) =>
        Effect.zipRight(
          // Not under the supervisor (stopping, or full): the run still runs, as before.
          Effect.ignore(
            DynamicSupervisor.startChild(
              supervisor,
              DynamicSupervisor.child(
                Effect.sync(() => new RunProcess(fiber as Fiber.RuntimeFiber<unknown, unknown>)),
                { restart: "temporary", id: `run:${runId}` }
              )
            )
          ),
          // The run's exit, without inheriting its fiber's FiberRefs (`Fiber.join` would merge them into the caller's).
          restore(Effect.flatten(Fiber.await(fiber))).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
        )
      )
    )

  const checkedOf = (w: Workflow.Workflow) => ({
    file: w.file,
    definition: w.definition,
    nodes: w.nodes,
    inputs: w.inputs,
    outputs: w.outputs,
    fingerprint: w.fingerprint
  })

  /**
   * A scoped tenant's runs are stored under its own run ids (`~tenant/<id>`, `Tenant.own`: another tenant's run is
   * not found) and answered under the local ones; unscoped callers (the system) use stored ids as they are.
   */
  const local = <A extends { readonly runId: string }, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.flatMap(Tenant.scope, (scope) =>
      Option.isNone(scope) ? self : Effect.map(self, (a) => ({ ...a, runId: Tenant.localName(a.runId) }))
    )

  let generated = 0
  const service: Service = {
    run: (workflow, inputs, options = {}) =>
      Effect.suspend(() => {
        const checked = checkedOf(workflow)
        return Effect.zipRight(
          Executor.prepare(env, checked),
          Effect.flatMap(
            Tenant.own(options.runId ?? `${workflow.name}-${Date.now().toString(36)}-${(++generated).toString(36)}`),
            (runId) => local(supervised(runId, Executor.start(env, checked, inputs, { ...options, runId })))
          )
        )
      }),
    resume: (workflow, localId, options = {}) =>
      Effect.gen(function* () {
        const runId = yield* Tenant.own(localId)
        const record = yield* env.store.get(runId)
        if (record === undefined) {
          return yield* new RunNotFound({ runId: localId, message: `no run "${localId}" in the run store` })
        }
        if (record.status === "succeeded") {
          return yield* new RunNotResumable({
            runId: localId,
            status: record.status,
            message: `run "${localId}" already succeeded: nothing to resume`
          })
        }
        if (record.fingerprint !== workflow.fingerprint) {
          return yield* new RunNotResumable({
            runId: localId,
            status: record.status,
            message: `run "${localId}" started on another version of workflow ${record.workflow}: resume it with the workflow file it started with`
          })
        }
        const checked = checkedOf(workflow)
        yield* Executor.prepare(env, checked)
        return yield* local(supervised(runId, Executor.resume(env, checked, record, { ...options, runId })))
      }),
    record: (localId) =>
      Effect.flatMap(Tenant.own(localId), (runId) =>
        Effect.flatMap(env.store.get(runId), (record) =>
          record === undefined
            ? Effect.fail(new RunNotFound({ runId: localId, message: `no run "${localId}" in the run store` }))
            : local(Effect.succeed(record))
        )
      ),
    prepare: (workflow) => Executor.prepare(env, checkedOf(workflow)),
    moduleId: (workflow, step) => {
      const node = workflow.nodes.get(step)
      return node === undefined || node.kind !== "module" ? undefined : Executor.moduleIdOf(workflow.name, node)
    }
  }
  return service
})

/**
 * The engine as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  WorkflowEngine,
  RuntimeError.ChildRunning | RuntimeError.ChildStartFailed | RuntimeError.NoProc,
  Application.Application | ModuleManager.ModuleManager | LM.LM | RunStore.RunStore | WorkflowTools.WorkflowTools
> = Layer.scoped(WorkflowEngine, make)
