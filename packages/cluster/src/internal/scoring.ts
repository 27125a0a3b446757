/**
 * Evaluation shards on a runner: the `Score` handler (rebuild the candidate from its module's spec and saved
 * state, score each example with the runner's LM, answer the outcomes and the usage), and the job side that sends
 * an evaluation's shards out (`Optimizer.RemoteScoring`).
 */
import { Example, LM, Module } from "@effect-dspy/core"
import { Optimizer } from "@effect-dspy/optimizers"
import { ModuleSpecs, type ModuleManager } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ScoringEntity from "../ScoringEntity.js"

/** What the handler needs from its runner. */
export interface ScorerEnv {
  /** The runner's LM, capped at its `lmConcurrency` (shared with its jobs). */
  readonly lm: LM.Service
  readonly metrics: { readonly [name: string]: Optimizer.Metric }
  /** Examples of a shard scored at once. */
  readonly concurrency: number
}

type Payload = (typeof ScoringEntity.Score)["payloadSchema"]["Type"]

/** Scores a shard; fails with a one-line reason when the request cannot be scored here. */
export const score = (
  env: ScorerEnv,
  payload: Payload
): Effect.Effect<
  { readonly outcomes: ReadonlyArray<Optimizer.ExampleScore>; readonly usage: LM.UsageTotals },
  string
> =>
  Effect.gen(function* () {
    const metric = env.metrics[payload.metric]
    if (metric === undefined) return yield* Effect.fail(`unknown metric "${payload.metric}" on this runner`)
    const skeleton = ModuleSpecs.programOf(payload.spec as ModuleManager.ModuleSpec)
    if (Either.isLeft(skeleton)) return yield* Effect.fail(skeleton.left.message)
    const program = Module.loadState(skeleton.right, payload.state)
    if (Either.isLeft(program)) return yield* Effect.fail(program.left.message)
    const examples = yield* Effect.try({
      try: () => payload.examples.map((json) => Example.fromJSON(json as Example.ExampleJson)),
      catch: (error) => `the shard's examples cannot be read: ${String(error)}`
    })
    const { result, usage } = yield* LM.trackUsage(
      Effect.forEach(examples, (example) => Optimizer.scoreExample(metric, program.right, example), {
        concurrency: env.concurrency
      })
    )
    return { outcomes: result, usage }
  }).pipe(Effect.provideService(LM.LM, env.lm))

/**
 * The remote scoring of one run of a job: each shard goes to an entity of its own id (`jobId/epoch/n`), so the
 * shards spread over the runners; a shard not answered within `timeoutMs` fails (the job then scores it).
 */
export const remote = (options: {
  readonly jobId: string
  readonly epoch: number
  readonly spec: unknown
  readonly metric: string
  readonly shardSize: number
  readonly timeoutMs: number
  readonly send: (
    entityId: string,
    payload: Payload
  ) => Effect.Effect<
    { readonly outcomes: ReadonlyArray<Optimizer.ExampleScore>; readonly usage: LM.UsageTotals },
    unknown
  >
}): Optimizer.RemoteScoring => {
  let sent = 0
  return {
    shardSize: options.shardSize,
    score: (program, examples) =>
      Effect.suspend(() =>
        options
          .send(`${options.jobId}/${options.epoch}/${sent++}`, {
            jobId: options.jobId,
            spec: options.spec,
            state: Module.dumpState(program),
            metric: options.metric,
            examples: examples.map((example) => example.toJSON())
          })
          .pipe(
            Effect.timeoutFail({ duration: options.timeoutMs, onTimeout: () => "the shard was not answered in time" })
          )
      )
  }
}
