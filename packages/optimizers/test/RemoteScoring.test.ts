/**
 * `CompileOptions.remoteScoring`: evaluations sent out in shards (cluster mode sends them to other runners). The
 * compile's result is the same as scoring here; a failing shard is scored here; what a shard answered is
 * checkpointed, so a resumed run asks for nothing again; usage comes back into the budget.
 */
import { LM, Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Checkpoint from "../src/Checkpoint.js"
import * as RandomSearch from "../src/few-shot/BootstrapFewShotWithRandomSearch.js"
import * as Optimizer from "../src/Optimizer.js"
import { arithmetic, cot, metric, recordingSim } from "./support/sim.js"

const data = arithmetic({ seed: 9, train: 10, dev: 20 })
const settings = { numCandidatePrograms: 2, maxBootstrappedDemos: 3, maxLabeledDemos: 4 }

/** A remote scorer that scores in this process on its own LM, counting requests and examples. */
const localScorer = (lm: LM.Service, options: { readonly failEvery?: number } = {}) => {
  const seen = { requests: 0, examples: 0, failed: 0 }
  const scoring: Optimizer.RemoteScoring = {
    shardSize: 6,
    score: (program, examples) =>
      Effect.suspend(() => {
        seen.requests++
        if (options.failEvery !== undefined && seen.requests % options.failEvery === 0) {
          seen.failed++
          return Effect.fail(new Error("the runner went away"))
        }
        seen.examples += examples.length
        // Run apart from the caller's fibers, as on another runner: the caller's usage tracking does not see it.
        return Effect.promise(() =>
          Effect.runPromise(
            LM.trackUsage(
              Effect.forEach(examples, (example) => Optimizer.scoreExample(metric, program, example), {
                concurrency: 4
              })
            ).pipe(
              Effect.map(({ result, usage }) => ({ outcomes: result, usage })),
              Effect.provideService(LM.LM, lm)
            )
          )
        )
      })
  }
  return { scoring, seen }
}

const compile = (options: Partial<Optimizer.CompileOptions> = {}) =>
  Optimizer.compile(RandomSearch.make(settings), cot(), {
    trainset: data.train,
    valset: data.dev,
    metric,
    concurrency: 4,
    ...options
  })

describe("remote scoring", () => {
  it.effect("gives the same compile as scoring here, its usage counted; a failed shard is scored here", () =>
    Effect.gen(function* () {
      const here = yield* compile().pipe(Effect.provide(recordingSim().layer))
      const remoteLm = yield* Effect.provide(LM.LM, recordingSim().layer)
      const { scoring, seen } = localScorer(remoteLm)
      const local = recordingSim()
      const there = yield* compile({ remoteScoring: scoring }).pipe(Effect.provide(local.layer))
      assert.deepStrictEqual(
        there.report.trials.map((t) => t.score),
        here.report.trials.map((t) => t.score)
      )
      assert.strictEqual(there.report.bestScore, here.report.bestScore)
      assert.deepStrictEqual(Module.dumpState(there.program), Module.dumpState(here.program))
      // Every candidate's 20 valset examples went out in shards of at most 6.
      assert.strictEqual(seen.examples, 20 * there.report.trials.length)
      assert.strictEqual(seen.requests, 4 * there.report.trials.length)
      // The LM calls made remotely are in the run's usage, as the ones made here.
      assert.strictEqual(there.report.lmCalls, here.report.lmCalls)

      const flaky = localScorer(remoteLm, { failEvery: 3 })
      const fallback = yield* compile({ remoteScoring: flaky.scoring }).pipe(Effect.provide(recordingSim().layer))
      assert.isAbove(flaky.seen.failed, 0)
      assert.deepStrictEqual(
        fallback.report.trials.map((t) => t.score),
        here.report.trials.map((t) => t.score)
      )
    })
  )

  it.effect("what shards answered is checkpointed: a resumed run asks for nothing again", () =>
    Effect.gen(function* () {
      const remoteLm = yield* Effect.provide(LM.LM, recordingSim().layer)
      const store = Checkpoint.makeMemory()
      const first = localScorer(remoteLm)
      const run = (scoring: Optimizer.RemoteScoring) =>
        compile({ remoteScoring: scoring, runId: "resumable" }).pipe(
          Effect.provideService(Checkpoint.CheckpointStore, store),
          Effect.provide(recordingSim().layer)
        )
      const a = yield* run(first.scoring)
      assert.isAbove(first.seen.requests, 0)
      const second = localScorer(remoteLm)
      const b = yield* run(second.scoring)
      assert.strictEqual(second.seen.requests, 0, "every evaluation unit was read back")
      assert.strictEqual(b.report.bestScore, a.report.bestScore)
      assert.isAtLeast(b.report.resumedUnits, 20 * b.report.trials.length)
    })
  )

  it.effect("an evaluation of one shard or less is scored here", () =>
    Effect.gen(function* () {
      const remoteLm = yield* Effect.provide(LM.LM, recordingSim().layer)
      const { scoring, seen } = localScorer(remoteLm)
      yield* compile({ valset: data.dev.slice(0, 6), remoteScoring: scoring }).pipe(
        Effect.provide(recordingSim().layer)
      )
      assert.strictEqual(seen.requests, 0)
    })
  )
})
