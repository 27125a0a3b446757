/**
 * Traffic policies as experiments, through the real application: a canary runs as an experiment visible through
 * the Experiments service (with per-arm analysis), a regressing canary ends rolled back with its reason, an opted-in
 * better candidate is promoted through the ModuleManager's compare-and-swap, and the records survive a ModuleManager
 * kill and an application restart on the same database.
 */
import { Example, Module, Prediction } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { Process, Registry } from "@effect-dspy/runtime"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Experiments, ModuleManager, ServicesEvents, TestRuntime } from "../src/index.js"

const spec: ModuleManager.ModuleSpec = { id: "qa", kind: "predict", signature: "question -> answer" }
const question = { question: "What is 2 + 3?" }

/** Polls (yielding) until `check` holds, at most `turns` times. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, turns = 2000): Effect.Effect<void, E | string, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < turns; i++) {
      if (yield* check) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.fail(`the condition did not hold after ${turns} turns`)
  })

const canary = (stable: string, candidate: string, guardRails: { maxErrorRate?: number; minSamples: number }) => ({
  _tag: "Canary" as const,
  stable,
  candidate,
  fraction: 0.5,
  guardRails
})

describe("Traffic policies as experiments", () => {
  it.effect("a canary runs as an experiment, visible through the Experiments service with per-arm analysis", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const experiments = yield* Experiments.Experiments
      yield* modules.create(spec)
      yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
      const status = yield* modules.setPolicy("qa", canary("1", "2", { minSamples: 1000 }), { seed: 3 })
      const id = status.experimentId!
      assert.isString(id)
      for (let i = 0; i < 60; i++) yield* modules.execute("qa", question)
      const record = yield* experiments.get(id)
      assert.strictEqual(record.status, "running")
      assert.strictEqual(record.moduleId, "qa")
      assert.strictEqual(record.baseline, "1")
      assert.deepStrictEqual([...record.arms].sort(), ["1", "2"])
      assert.strictEqual(record.stats["1"]!.n + record.stats["2"]!.n, 60)
      assert.isAbove(record.stats["2"]!.n, 10)
      const analysis = yield* experiments.analyze(id)
      assert.deepStrictEqual(analysis.arms.map((a) => a.arm).sort(), ["1", "2"])
      assert.strictEqual(
        analysis.arms.reduce((n, a) => n + a.requests, 0),
        60
      )
      assert.strictEqual(analysis.comparisons[0]!.arm, "2")
      assert.strictEqual((yield* modules.policy("qa"))!.experimentId, id)
      // The application's event store records it.
      const [started] = yield* Events.queryOf(ServicesEvents.ExperimentStarted, {})
      assert.strictEqual(started!.data.experiment_id, id)
      // Clearing the policy concludes it; a single version runs no experiment.
      yield* modules.clearPolicy("qa")
      assert.strictEqual((yield* experiments.get(id)).status, "concluded")
      const pinned = yield* modules.setPolicy("qa", { _tag: "Pinned", version: "2" })
      assert.isUndefined(pinned.experimentId)
      assert.lengthOf(yield* experiments.list("qa"), 1)
      // Removing the module concludes its experiment too.
      const weighted = yield* modules.setPolicy("qa", {
        _tag: "Weighted",
        weights: [
          { version: "1", weight: 0.5 },
          { version: "2", weight: 0.5 }
        ]
      })
      yield* modules.remove("qa")
      const removed = yield* experiments.get(weighted.experimentId!)
      assert.strictEqual(removed.status, "concluded")
      assert.strictEqual(removed.concludedReason, "the module was removed")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("a canary whose candidate regresses ends rolled back, with the broken rail as reason", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const experiments = yield* Experiments.Experiments
      yield* modules.create(spec)
      // The regression: version 2 asks the LM for a temperature it refuses (every call fails).
      yield* modules.swap("qa", { config: { self: { temperature: 5 } } })
      const status = yield* modules.setPolicy("qa", canary("1", "2", { maxErrorRate: 0.2, minSamples: 10 }), {
        seed: 5
      })
      for (let i = 0; i < 200; i++) yield* Effect.exit(modules.execute("qa", question))
      yield* eventually(Effect.map(experiments.get(status.experimentId!), (r) => r.status === "rolled_back"))
      const record = yield* experiments.get(status.experimentId!)
      assert.strictEqual(record.outcome!.decision, "roll_back")
      assert.strictEqual(record.outcome!.arm, "2")
      assert.include(record.outcome!.reason, "error_rate")
      assert.strictEqual(record.outcome!.breach!.rail, "error_rate")
      assert.strictEqual((yield* modules.describe("qa")).version, 3)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("with auto-apply opted in, a clearly better candidate is promoted through the compare-and-swap", () =>
    Effect.gen(function* () {
      const splits = SimTask.splits(Arithmetic.task, { seed: 2, train: 8, dev: 400, test: 0 })
      const demo = (e: Arithmetic.Example, answer: number) =>
        Example.make({ question: e.question, answer: String(answer) }).withInputs("question")
      const modules = yield* ModuleManager.ModuleManager
      const experiments = yield* Experiments.Experiments
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer: float" })
      // Version 2 shows right worked answers; version 3 (current) wrong ones.
      yield* modules.swap("qa", { demos: { self: splits.train.map((e) => demo(e, e.answer)) } })
      yield* modules.swap("qa", { demos: { self: splits.train.map((e) => demo(e, e.answer + 7)) } })
      const status = yield* modules.setPolicy("qa", canary("3", "2", { minSamples: 10_000 }), {
        seed: 4,
        experiment: { autoApply: true, checkEvery: 50 }
      })
      const id = status.experimentId!
      for (const e of splits.dev) {
        if ((yield* experiments.get(id)).status !== "running") break
        yield* modules.execute(
          "qa",
          { question: e.question },
          {
            reward: (output) => (Prediction.isPrediction(output) && Number(output.get("answer")) === e.answer ? 1 : 0)
          }
        )
      }
      const record = yield* experiments.get(id)
      assert.strictEqual(record.status, "promoted")
      assert.strictEqual(record.outcome!.arm, "2")
      assert.isTrue(record.outcome!.automatic)
      // The module serves the candidate's program now (a new version made from it), with no policy.
      const current = yield* modules.program("qa")
      const candidate = yield* modules.program("qa", 2)
      assert.deepStrictEqual(Module.dumpState(current), Module.dumpState(candidate))
      const history = yield* modules.history("qa")
      assert.strictEqual(history[history.length - 1]!.reason, "rolled_back(2)")
      assert.isUndefined(yield* modules.policy("qa"))
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.scoped("experiment records survive a ModuleManager kill and an application restart on the same database", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-experiments-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const runtime = () =>
        TestRuntime.layer({ application: { releases: { filename: path.join(dir, "releases.db") } } })
      const id = yield* Effect.scoped(
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const experiments = yield* Experiments.Experiments
          yield* modules.create(spec)
          yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
          const status = yield* modules.setPolicy("qa", {
            _tag: "Weighted",
            weights: [
              { version: "1", weight: 0.5 },
              { version: "2", weight: 0.5 }
            ]
          })
          for (let i = 0; i < 20; i++) yield* modules.execute("qa", question)
          const before = yield* Registry.lookup(ModuleManager.actorName)
          yield* Process.kill(before)
          for (let i = 0; i < 20; i++) yield* modules.execute("qa", question)
          yield* eventually(
            Effect.map(
              Registry.whereis(ModuleManager.actorName),
              (p) => p._tag === "Some" && p.value.pid.id !== before.pid.id
            )
          )
          const record = yield* experiments.get(status.experimentId!)
          assert.strictEqual(record.stats["1"]!.n + record.stats["2"]!.n, 40)
          yield* modules.clearPolicy("qa")
          return status.experimentId!
        }).pipe(Effect.provide(runtime()))
      )
      assert.isTrue(fs.existsSync(path.join(dir, "experiments.db")))
      const reopened = yield* Effect.scoped(
        Effect.flatMap(Experiments.Experiments, (experiments) => experiments.get(id)).pipe(Effect.provide(runtime()))
      )
      assert.strictEqual(reopened.status, "concluded")
      assert.strictEqual(reopened.concludedReason, "the traffic policy was cleared")
      assert.strictEqual(reopened.stats["1"]!.n + reopened.stats["2"]!.n, 40)
    })
  )
})
