import { DynamicSupervisor, type Process, Supervisor } from "@effect-dspy/runtime"
import { Application } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const gate = `version: 1
name: gate
steps:
  - id: wait
    tool: { name: wait, outputs: { ok: bool } }
`

/** The runs' supervisor under the application's root. */
const runsSupervisor = Effect.gen(function* () {
  const app = yield* Application.Application
  const children = yield* Supervisor.whichChildren(app.root)
  const child = children.find((c) => c.id === WorkflowEngine.supervisorId)
  assert.isDefined(child?.process)
  return child!.process as DynamicSupervisor.DynamicSupervisorRef
})

/** The run processes under it, by child id (`run:<runId>`), once the supervisor has seen every exit. */
const runProcesses = (supervisor: DynamicSupervisor.DynamicSupervisorRef) =>
  Effect.map(
    DynamicSupervisor.whichChildren(supervisor),
    (children) => new Map(children.map((c) => [c.id, c.process] as const))
  )

const waitFor = <A, E>(check: Effect.Effect<A | undefined, E>): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      const found = yield* check
      if (found !== undefined) return found
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage("timed out waiting for the supervisor")
  })

describe("run process", () => {
  it.effect("a run is a worker process under workflow_runs while it runs, and leaves it when it ends", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const w = yield* Workflow.parse(gate, "gate.yaml")
      const program = Effect.gen(function* () {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const supervisor = yield* runsSupervisor
        const fiber = yield* Effect.fork(engine.run(w, {}, { runId: "p1" }))
        yield* Deferred.await(started)
        const process = (yield* runProcesses(supervisor)).get("run:p1") as Process.Process
        assert.isDefined(process)
        assert.strictEqual(process.kind, "worker")
        assert.strictEqual(process.label, "workflow_run")
        assert.isUndefined(process.unsafeExitReason())
        yield* Deferred.succeed(release, undefined)
        const result = yield* Fiber.join(fiber)
        assert.strictEqual(result.status, "succeeded")
        assert.deepStrictEqual(process.unsafeExitReason(), { _tag: "Normal" })
        yield* waitFor(Effect.map(runProcesses(supervisor), (m) => (m.has("run:p1") ? undefined : true)))
      })
      yield* program.pipe(
        Effect.provide(
          Runtime.layer({
            wait: () =>
              Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), { ok: true }))
          })
        )
      )
    })
  )

  it.effect("stopping a run's process interrupts the run (its caller sees the interruption)", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const w = yield* Workflow.parse(gate, "gate.yaml")
      const program = Effect.gen(function* () {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const supervisor = yield* runsSupervisor
        const fiber = yield* Effect.fork(engine.run(w, {}, { runId: "p2" }))
        yield* Deferred.await(started)
        const process = (yield* runProcesses(supervisor)).get("run:p2") as Process.Process
        yield* DynamicSupervisor.terminateChild(supervisor, process)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.deepStrictEqual(process.unsafeExitReason(), { _tag: "Shutdown" })
        assert.isFalse((yield* runProcesses(supervisor)).has("run:p2"))
      })
      yield* program.pipe(
        Effect.provide(
          Runtime.layer({ wait: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never) })
        )
      )
    })
  )
})
