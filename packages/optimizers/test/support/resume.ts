/**
 * The interrupt-and-resume scenario every optimizer is tested with: a reference run to the end, then a run with
 * the same checkpoint store interrupted after `interruptAfterSteps` progress steps, then a restart that must
 * resume. The caller asserts what must hold for its optimizer.
 */
import type { LM, Module } from "@effect-dspy/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Checkpoint from "../../src/Checkpoint.js"
import * as Optimizer from "../../src/Optimizer.js"
import type * as OptimizerError from "../../src/OptimizerError.js"

/** What the scenario observed. */
export interface Resumed<P> {
  /** The uninterrupted run (under run id `reference`). */
  readonly reference: Optimizer.Compiled<P>
  /** The restarted run. */
  readonly resumed: Optimizer.Compiled<P>
  /** LM calls of the reference run. */
  readonly referenceCalls: number
  /** LM calls of the interrupted run. */
  readonly firstCalls: number
}

/**
 * Runs the scenario. `requests` is the recording simulated LM's request log (cleared after the reference run);
 * the checkpoint store must be in the context.
 */
export const interruptAndResume = <P extends Module.Program>(params: {
  readonly optimizer: Optimizer.Optimizer
  readonly student: () => P
  readonly options: Optimizer.CompileOptions
  readonly requests: Array<unknown>
  readonly interruptAfterSteps: number
}): Effect.Effect<Resumed<P>, OptimizerError.OptimizerError, LM.LM | Checkpoint.CheckpointStore> =>
  Effect.gen(function* () {
    const { optimizer, student, options, requests } = params
    const reference = yield* Optimizer.compile(optimizer, student(), { ...options, runId: "reference" })
    const referenceCalls = requests.length
    requests.length = 0
    const midway = yield* Deferred.make<void>()
    let steps = 0
    const fiber = yield* Effect.fork(
      Optimizer.compile(optimizer, student(), {
        ...options,
        onProgress: (event) =>
          event._tag === "Step" && ++steps === params.interruptAfterSteps
            ? Deferred.succeed(midway, undefined)
            : Effect.void
      })
    )
    yield* Deferred.await(midway)
    yield* Fiber.interrupt(fiber)
    const firstCalls = requests.length
    const resumed = yield* Optimizer.compile(optimizer, student(), options)
    const result: Resumed<P> = { reference, resumed, referenceCalls, firstCalls }
    return result
  })
