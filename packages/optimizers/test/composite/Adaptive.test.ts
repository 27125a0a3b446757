import { Module } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as AdaptiveOptimizer from "../../src/composite/AdaptiveOptimizer.js"
import * as BootstrapFewShot from "../../src/few-shot/BootstrapFewShot.js"
import * as Checkpoint from "../../src/Checkpoint.js"
import * as GEPA from "../../src/evolutionary/GEPA.js"
import * as LabeledFewShot from "../../src/few-shot/LabeledFewShot.js"
import * as Optimizer from "../../src/Optimizer.js"
import * as OptimizerEvents from "../../src/OptimizerEvents.js"
import * as SIMBA from "../../src/evolutionary/SIMBA.js"
import { arithmetic, cot, metric, recordingSim } from "../support/sim.js"

const all = ["BootstrapFewShot", "SIMBA", "MIPROv2", "GEPA"]

describe("AdaptiveOptimizer selection", () => {
  it("by trainset size: bootstrap below 50, SIMBA from 50, MIPROv2 from 100, GEPA from 200", () => {
    const at = (n: number) => AdaptiveOptimizer.select({ trainsetSize: n, available: all })
    assert.deepStrictEqual(
      [0, 49, 50, 99, 100, 199, 200, 5000].map((n) => at(n).optimizer),
      ["BootstrapFewShot", "BootstrapFewShot", "SIMBA", "SIMBA", "MIPROv2", "MIPROv2", "GEPA", "GEPA"]
    )
    assert.strictEqual(at(99).rule, "size")
    assert.include(at(99).reason, "99 training examples")
  })

  it("thresholds and the optimizer can be overridden", () => {
    const thresholds = { simba: 10, mipro: 20, gepa: 30 }
    assert.deepStrictEqual(
      [9, 10, 19, 20, 29, 30].map(
        (n) => AdaptiveOptimizer.select({ trainsetSize: n, thresholds, available: all }).optimizer
      ),
      ["BootstrapFewShot", "SIMBA", "SIMBA", "MIPROv2", "MIPROv2", "GEPA"]
    )
    const forced = AdaptiveOptimizer.select({ trainsetSize: 500, override: "SIMBA", available: all })
    assert.strictEqual(forced.optimizer, "SIMBA")
    assert.strictEqual(forced.rule, "override")
  })

  it("prefers the best gain per cost among past runs of the same program", () => {
    const entry = (optimizer: string, scoreGain: number, lmCalls: number): AdaptiveOptimizer.HistoryEntry => ({
      programFingerprint: "p",
      optimizer,
      trainsetSize: 150,
      scoreGain,
      lmCalls,
      costUsd: lmCalls / 1000
    })
    // MIPROv2 gained more (15 points) but at 4,000 calls; SIMBA 10 points at 1,000: 0.01 vs 0.00375 per call.
    const history = [entry("MIPROv2", 15, 4000), entry("SIMBA", 8, 1000), entry("SIMBA", 12, 1000)]
    const choice = AdaptiveOptimizer.select({ trainsetSize: 150, history, available: all })
    assert.strictEqual(choice.optimizer, "SIMBA")
    assert.strictEqual(choice.rule, "history")
    assert.include(choice.reason, "gain per LM call")
    const simba = choice.history.find((h) => h.optimizer === "SIMBA")!
    assert.strictEqual(simba.runs, 2)
    assert.closeTo(simba.gainPerCost, 0.01, 1e-12)
    // Optimizers that are not candidates are ignored; no positive gain falls back to the size rule.
    assert.strictEqual(
      AdaptiveOptimizer.select({ trainsetSize: 150, history, available: ["MIPROv2", "GEPA"] }).optimizer,
      "MIPROv2"
    )
    const losing = AdaptiveOptimizer.select({
      trainsetSize: 150,
      history: [entry("SIMBA", -2, 1000)],
      available: all
    })
    assert.strictEqual(losing.rule, "size")
    assert.strictEqual(losing.optimizer, "MIPROv2")
    // By cost in dollars the ranking is the same here.
    assert.strictEqual(
      AdaptiveOptimizer.select({ trainsetSize: 150, history, available: all, costMeasure: "costUsd" }).optimizer,
      "SIMBA"
    )
  })

  it("fingerprints a program's starting state", () => {
    assert.strictEqual(AdaptiveOptimizer.fingerprint(cot()), AdaptiveOptimizer.fingerprint(cot()))
    const changed = Module.withInstructions(cot(), { predict: "Add the numbers." })
    assert.isTrue(changed._tag === "Right")
    if (changed._tag === "Right") {
      assert.notStrictEqual(AdaptiveOptimizer.fingerprint(cot()), AdaptiveOptimizer.fingerprint(changed.right))
    }
  })
})

describe("AdaptiveOptimizer runs", { timeout: 30_000 }, () => {
  const data = arithmetic({ seed: 5, train: 24, dev: 0 })
  const candidates = {
    BootstrapFewShot: BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 2 }),
    SIMBA: SIMBA.make({ bsize: 6, numCandidates: 2, maxSteps: 1 }),
    GEPA: GEPA.make({ maxMetricCalls: 60 }),
    MIPROv2: LabeledFewShot.make({ k: 2 })
  }

  it.effect("delegates by size, reports the choice and records the run; the next run follows the history", () =>
    Effect.gen(function* () {
      const store = Checkpoint.makeMemory()
      const history = AdaptiveOptimizer.historyFromCheckpoints(store)
      const student = cot()
      const first = yield* Optimizer.compile(AdaptiveOptimizer.make({ candidates, history }), student, {
        trainset: data.train,
        metric,
        concurrency: 8
      })
      const adaptive = first.report.details["adaptive"] as {
        chosen: string
        rule: string
        reason: string
        run: AdaptiveOptimizer.HistoryEntry
      }
      assert.strictEqual(adaptive.chosen, "BootstrapFewShot")
      assert.strictEqual(adaptive.rule, "size")
      const announced = yield* Events.queryOf(OptimizerEvents.AdaptiveOptimizerSelected, {
        correlationId: first.report.correlationId
      })
      assert.strictEqual(announced.length, 1)
      assert.strictEqual(announced[0]!.data.optimizer, "BootstrapFewShot")
      assert.strictEqual(announced[0]!.data.rule, "size")
      assert.strictEqual(announced[0]!.data.reason, adaptive.reason)
      // The program is BootstrapFewShot's: demos on the predictor.
      assert.isAbove(Module.demos(first.program)["predict"]!.length, 0)
      const recorded = yield* history.read(AdaptiveOptimizer.fingerprint(student))
      assert.strictEqual(recorded.length, 1)
      assert.strictEqual(recorded[0]!.optimizer, "BootstrapFewShot")
      assert.strictEqual(recorded[0]!.trainsetSize, 24)
      // The run's cost is the delegate's; the report adds the two valset evaluations that measured the gain.
      assert.strictEqual(recorded[0]!.lmCalls + 2 * 24, first.report.lmCalls)
      assert.strictEqual(recorded[0]!.scoreGain, adaptive.run.scoreGain)

      // A past SIMBA run on this program that gained a lot per call: the size rule says bootstrap, the
      // history says SIMBA.
      yield* history.record({
        programFingerprint: AdaptiveOptimizer.fingerprint(student),
        optimizer: "SIMBA",
        trainsetSize: 24,
        scoreGain: Math.max(1, adaptive.run.scoreGain) * 100,
        lmCalls: 10,
        costUsd: 0.001
      })
      const second = yield* Optimizer.compile(AdaptiveOptimizer.make({ candidates, history }), student, {
        trainset: data.train,
        metric,
        concurrency: 8
      })
      const again = second.report.details["adaptive"] as { chosen: string; rule: string; pastRuns: number }
      assert.strictEqual(again.chosen, "SIMBA")
      assert.strictEqual(again.rule, "history")
      assert.strictEqual(again.pastRuns, 2)
      // SIMBA's own details are in the report.
      assert.isArray(second.report.details["steps"])
      assert.strictEqual((yield* history.read(AdaptiveOptimizer.fingerprint(student))).length, 3)
    }).pipe(Effect.provide(recordingSim().layer), Effect.provide(Events.layerMemory))
  )

  it.effect("works with whatever candidates it is given, and says what is missing", () =>
    Effect.gen(function* () {
      const forced = yield* Optimizer.compile(
        AdaptiveOptimizer.make({ candidates, optimizer: "GEPA", thresholds: { simba: 5 } }),
        cot(),
        { trainset: data.train, metric, concurrency: 8 }
      )
      assert.strictEqual((forced.report.details["adaptive"] as { chosen: string }).chosen, "GEPA")
      assert.isArray(forced.report.details["candidates"])

      const bySize = yield* Optimizer.compile(
        AdaptiveOptimizer.make({ candidates, thresholds: { simba: 10, mipro: 20, gepa: 100 } }),
        cot(),
        { trainset: data.train, metric, concurrency: 8 }
      )
      assert.strictEqual((bySize.report.details["adaptive"] as { chosen: string }).chosen, "MIPROv2")

      const missing = yield* Effect.exit(
        Optimizer.compile(
          AdaptiveOptimizer.make({
            candidates: { BootstrapFewShot: candidates.BootstrapFewShot },
            thresholds: { simba: 10 }
          }),
          cot(),
          { trainset: data.train, metric }
        )
      )
      assert.isTrue(Exit.isFailure(missing))
      if (Exit.isFailure(missing) && missing.cause._tag === "Fail") {
        assert.strictEqual(missing.cause.error._tag, "OptimizerConfigError")
        assert.include(missing.cause.error.message, "SIMBA")
      }
      const unknown = yield* Effect.exit(
        Optimizer.compile(AdaptiveOptimizer.make({ candidates, optimizer: "Nope" }), cot(), {
          trainset: data.train,
          metric
        })
      )
      assert.isTrue(Exit.isFailure(unknown))
      const badThresholds = yield* Effect.exit(
        Optimizer.compile(AdaptiveOptimizer.make({ candidates, thresholds: { simba: 300 } }), cot(), {
          trainset: data.train,
          metric
        })
      )
      assert.isTrue(Exit.isFailure(badThresholds))
    }).pipe(Effect.provide(recordingSim().layer))
  )
})
