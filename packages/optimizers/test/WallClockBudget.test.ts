import type { Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as Budget from "../src/Budget.js"
import * as Optimizer from "../src/Optimizer.js"
import { arithmetic, metric, predict, recordingSim } from "./support/sim.js"

const data = arithmetic({ seed: 5, train: 6, dev: 12 })

const probe = Optimizer.make({
  name: "WallProbe",
  settings: {},
  compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
    Effect.gen(function* () {
      const baseline = yield* run.evaluate(student, run.valset, { key: "baseline" })
      yield* run.trial({ id: "baseline", score: baseline.score, details: {} })
      return { program: student, bestScore: baseline.score }
    })
})

/** Each finished unit of LM work takes 100 ms of (test) wall-clock time. */
const tick = (event: { readonly _tag: string }) =>
  event._tag === "Step" ? TestClock.adjust("100 millis") : Effect.void

describe("Budget.maxWallMs (the wall-clock limit)", () => {
  it.effect("a tracker reaches maxWallMs only once the Clock has moved past it", () =>
    Effect.gen(function* () {
      const tracker = yield* Budget.make({ maxWallMs: 1_000 })
      assert.isUndefined(yield* tracker.reached)
      yield* TestClock.adjust("999 millis")
      assert.isFalse(yield* tracker.exhausted)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* tracker.reached, "maxWallMs")
      assert.strictEqual(yield* tracker.elapsedMs, 1_000)
      const bad = yield* Effect.flip(Budget.make({ maxWallMs: Number.NaN }))
      assert.strictEqual(bad.option, "budget.maxWallMs")
    })
  )

  it.effect("a run stops starting units at the limit and returns the best program so far", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const unlimited = yield* Optimizer.compile(probe, predict(), {
        trainset: data.train,
        valset: data.dev,
        metric,
        concurrency: 1,
        onProgress: tick
      })
      assert.isFalse(unlimited.report.budgetExhausted)
      assert.strictEqual(unlimited.report.lmCalls, data.dev.length)
      requests.length = 0
      const limited = yield* Optimizer.compile(probe, predict(), {
        trainset: data.train,
        valset: data.dev,
        metric,
        concurrency: 1,
        budget: { maxWallMs: 350 },
        onProgress: tick
      })
      // Units start at 0, 100, 200 and 300 ms; at 400 ms the limit holds the fifth.
      assert.isTrue(limited.report.budgetExhausted)
      assert.strictEqual(limited.report.lmCalls, 4)
      assert.strictEqual(requests.length, 4)
      assert.isDefined(limited.program)
      const failed = yield* Effect.flip(
        Optimizer.compile(probe, predict(), {
          trainset: data.train,
          valset: data.dev,
          metric,
          concurrency: 1,
          budget: { maxWallMs: 150, onExhausted: "fail" },
          onProgress: tick
        })
      )
      assert.strictEqual(failed._tag, "BudgetExceeded")
      assert.strictEqual(failed._tag === "BudgetExceeded" ? failed.limit : undefined, "maxWallMs")
    }).pipe(Effect.provide(layer))
  })
})
