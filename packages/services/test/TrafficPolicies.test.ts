/**
 * Traffic policies in the ModuleManager's execution path: a weighted split within a binomial bound, sticky keys,
 * a shadow that never serves, a canary with an injected regression that rolls back by itself, a bandit that
 * converges to the better version on the simulated LM, and policies changed at run time through Config.
 */
import { Example, Module, Predict, Prediction, Signature } from "@effect-dspy/core"
import { Config, Events } from "@effect-dspy/foundation"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Process, Registry } from "@effect-dspy/runtime"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { ModuleManager, ReleaseStore, ServicesEvents, TestRuntime } from "../src/index.js"

const spec: ModuleManager.ModuleSpec = { id: "qa", kind: "predict", signature: "question -> answer" }
const question = { question: "What is 2 + 3?" }

/** Two versions of `qa`: 1 as created, 2 with other instructions. */
const twoVersions = Effect.gen(function* () {
  const modules = yield* ModuleManager.ModuleManager
  yield* modules.create(spec)
  yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
  return modules
})

/** Polls (yielding) until `check` holds, at most `turns` times. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, turns = 2000): Effect.Effect<void, E | string, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < turns; i++) {
      if (yield* check) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.fail(`the condition did not hold after ${turns} turns`)
  })

/**
 * A program with one predictor that answers without an LM call (what is measured here is the routing, not the
 * model): 10,000 executions in about a second.
 */
const echo = Module.make({
  name: "echo",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, inputs: { readonly question: string }) => Effect.succeed(inputs.question)
})

describe("Traffic policies", () => {
  it.effect(
    "a weighted split serves each version within a binomial bound of its weight over 10,000 calls",
    () =>
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        yield* modules.register("qa", echo)
        yield* modules.swap("qa", { instructions: { p: "Echo." } })
        const status = yield* modules.setPolicy(
          "qa",
          {
            _tag: "Weighted",
            weights: [
              { version: "1", weight: 0.3 },
              { version: "2", weight: 0.7 }
            ]
          },
          { seed: 11 }
        )
        assert.strictEqual(status.source, "api")
        const n = 10_000
        let onTwo = 0
        for (let i = 0; i < n; i++) {
          const execution = yield* modules.execute("qa", question)
          assert.strictEqual(execution.reason, "weighted")
          assert.strictEqual(execution.arm, String(execution.version))
          if (execution.version === 2) onTwo++
        }
        // 4.5 standard deviations: a false failure about once in 150,000 runs.
        const sd = Math.sqrt(n * 0.7 * 0.3)
        assert.isAtMost(Math.abs(onTwo - n * 0.7), 4.5 * sd)
        const arms = (yield* modules.policy("qa"))!.arms
        assert.strictEqual(arms["2"]!.n, onTwo)
        assert.strictEqual(arms["1"]!.n, n - onTwo)
      }).pipe(Effect.provide(TestRuntime.layer())),
    // 10,000 executions: a few seconds, more on a loaded machine.
    120_000
  )

  it.effect("sticky keys stay on their version; different keys spread over both", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.register("qa", echo)
      yield* modules.swap("qa", { instructions: { p: "Echo." } })
      yield* modules.setPolicy("qa", {
        _tag: "Weighted",
        weights: [
          { version: "1", weight: 0.5 },
          { version: "2", weight: 0.5 }
        ],
        stickyBy: "callerKey"
      })
      const seen = new Set<number>()
      for (let k = 0; k < 100; k++) {
        const first = yield* modules.execute("qa", question, { callerKey: `user-${k}` })
        seen.add(first.version)
        for (let i = 0; i < 5; i++) {
          const again = yield* modules.execute("qa", question, { callerKey: `user-${k}` })
          assert.strictEqual(again.version, first.version)
        }
      }
      assert.deepStrictEqual([...seen].sort(), [1, 2])
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect(
    "a shadow never serves: the candidate runs on its sample, recorded in events, and every answer is the serving version's",
    () =>
      Effect.gen(function* () {
        const modules = yield* twoVersions
        yield* modules.setPolicy("qa", { _tag: "Shadow", serving: "1", candidate: "2", sample: 0.5 }, { seed: 3 })
        for (let i = 0; i < 200; i++) {
          const execution = yield* modules.execute("qa", question)
          assert.strictEqual(execution.version, 1)
          assert.strictEqual(execution.reason, "shadow")
        }
        yield* eventually(
          Effect.map(modules.policy("qa"), (s) => s!.arms["2"]!.n === s!.arms["2"]!.pulls && s!.arms["2"]!.n > 50)
        )
        const shadows = yield* Events.queryOf(ServicesEvents.ModuleShadowExecution, {})
        assert.isAbove(shadows.length, 50)
        assert.isBelow(shadows.length, 150)
        for (const e of shadows) {
          assert.strictEqual(e.data.version, 2)
          assert.strictEqual(e.data.served_version, 1)
          assert.strictEqual(e.data.status, "ok")
        }
      }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("a canary with an injected regression rolls back by itself, with an event saying why", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create(spec)
      // The regression: version 2 asks the LM for a temperature it refuses (every call fails, 400).
      yield* modules.swap("qa", { config: { self: { temperature: 5 } } })
      yield* modules.setPolicy(
        "qa",
        {
          _tag: "Canary",
          stable: "1",
          candidate: "2",
          fraction: 0.5,
          guardRails: { maxErrorRate: 0.2, minSamples: 10 }
        },
        { seed: 5 }
      )
      let failures = 0
      for (let i = 0; i < 200; i++) {
        const exit = yield* Effect.exit(modules.execute("qa", question))
        if (exit._tag === "Failure") failures++
      }
      yield* eventually(Effect.map(modules.policy("qa"), (p) => p === undefined))
      const info = yield* modules.describe("qa")
      // Rolled back through the compare-and-swap: a new version holding version 1's program.
      assert.strictEqual(info.version, 3)
      const history = yield* modules.history("qa")
      assert.strictEqual(history[2]!.reason, "canary_rollback(1)")
      const [event] = yield* Events.queryOf(ServicesEvents.CanaryRolledBack, {})
      assert.strictEqual(event!.data.candidate_version, 2)
      assert.strictEqual(event!.data.baseline_version, 1)
      assert.include(event!.data.reason, "error_rate")
      // The candidate stopped serving once the rail broke: few calls failed.
      assert.isAtLeast(failures, 10)
      assert.isBelow(failures, 40)
      const after = yield* modules.execute("qa", question)
      assert.strictEqual(after.version, 3)
      assert.strictEqual(after.reason, "promoted")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("a bandit (Thompson sampling) converges to the better version on the simulated LM", () =>
    Effect.gen(function* () {
      const splits = SimTask.splits(Arithmetic.task, { seed: 2, train: 8, dev: 400, test: 0 })
      const demo = (e: Arithmetic.Example, answer: number) =>
        Example.make({ question: e.question, answer: String(answer) }).withInputs("question")
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer: float" })
      // Version 1 shows wrong worked answers; version 2 right ones.
      yield* modules.swap("qa", { demos: { self: splits.train.map((e) => demo(e, e.answer + 7)) } })
      yield* modules.swap("qa", { demos: { self: splits.train.map((e) => demo(e, e.answer)) } })
      yield* modules.setPolicy(
        "qa",
        { _tag: "Bandit", versions: ["2", "3"], algorithm: { _tag: "Thompson" } },
        { seed: 9 }
      )
      const served: Array<number> = []
      for (const e of splits.dev) {
        const execution = yield* modules.execute(
          "qa",
          { question: e.question },
          {
            reward: (output) => (Prediction.isPrediction(output) && Number(output.get("answer")) === e.answer ? 1 : 0)
          }
        )
        served.push(execution.version)
      }
      const last = served.slice(-200)
      const better = last.filter((v) => v === 3).length
      assert.isAtLeast(better / last.length, 0.8)
      const arms = (yield* modules.policy("qa"))!.arms
      assert.isAbove(arms["3"]!.rewardSum / arms["3"]!.rewardN, arms["2"]!.rewardSum / Math.max(1, arms["2"]!.rewardN))
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect(
    "policies change at run time through Config; a policy naming a missing version is refused, typed, and the one in force kept",
    () =>
      Effect.gen(function* () {
        const modules = yield* twoVersions
        const config = yield* Config.Config
        yield* config.update("modules.trafficPolicies", { qa: { _tag: "Pinned", version: "1" } })
        yield* eventually(Effect.map(modules.policy("qa"), (p) => p?.source === "config"))
        const pinned = yield* modules.execute("qa", question)
        assert.strictEqual(pinned.version, 1)
        assert.strictEqual(pinned.reason, "pinned")

        // Through Config: the update is taken, the policy is not applied, and an event says what to fix.
        yield* config.update("modules.trafficPolicies", { qa: { _tag: "Pinned", version: "9" } })
        yield* eventually(
          Effect.map(Events.queryOf(ServicesEvents.TrafficPolicyRejected, {}), (events) => events.length === 1)
        )
        const [rejected] = yield* Events.queryOf(ServicesEvents.TrafficPolicyRejected, {})
        assert.include(rejected!.data.error, "unknown version")
        assert.strictEqual((yield* modules.policy("qa"))!.policy._tag, "Pinned")
        assert.strictEqual((yield* modules.execute("qa", question)).version, 1)

        const refused = yield* Effect.flip(modules.setPolicy("qa", { _tag: "Pinned", version: "9" }))
        assert.strictEqual(refused._tag, "PolicyInvalid")
        assert.include(refused.message, "unknown version")
        assert.strictEqual((yield* modules.execute("qa", question)).version, 1)

        yield* config.update("modules.trafficPolicies", {})
        yield* eventually(Effect.map(modules.policy("qa"), (p) => p === undefined))
        const promoted = yield* modules.execute("qa", question)
        assert.strictEqual(promoted.version, 2)
        assert.strictEqual(promoted.reason, "promoted")
      }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("every execution's events carry its module version and arm", () =>
    Effect.gen(function* () {
      const modules = yield* twoVersions
      yield* modules.setPolicy("qa", { _tag: "Pinned", version: "1" })
      yield* modules.execute("qa", question)
      const complete = yield* Events.query({ types: ["module_execution_complete"] })
      const last = complete[complete.length - 1]!
      assert.strictEqual(last.data.module_version, 1)
      assert.strictEqual(last.data.arm, "1")
      assert.strictEqual(last.data.module_id, "qa")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect(
    "killing the ModuleManager actor mid-experiment loses no acknowledged version and no policy statistics",
    () =>
      Effect.gen(function* () {
        const modules = yield* twoVersions
        yield* modules.setPolicy("qa", {
          _tag: "Weighted",
          weights: [
            { version: "1", weight: 0.5 },
            { version: "2", weight: 0.5 }
          ]
        })
        for (let i = 0; i < 20; i++) yield* modules.execute("qa", question)
        const before = yield* Registry.lookup(ModuleManager.actorName)
        yield* Process.kill(before)
        // Executions go on under the policy while the actor restarts.
        for (let i = 0; i < 20; i++) assert.strictEqual((yield* modules.execute("qa", question)).reason, "weighted")
        yield* eventually(
          Effect.map(
            Registry.whereis(ModuleManager.actorName),
            (p) => p._tag === "Some" && p.value.pid.id !== before.pid.id
          )
        )
        const status = (yield* modules.policy("qa"))!
        assert.strictEqual(status.arms["1"]!.n + status.arms["2"]!.n, 40)
        const swapped = yield* modules.swap("qa", { instructions: { self: "Answer in words." } })
        assert.strictEqual(swapped.version, 3)
        const stored = Option.getOrThrow(yield* Effect.flatMap(ReleaseStore.ReleaseStore, (s) => s.load("qa")))
        assert.deepStrictEqual(
          stored.versions.map((v) => v.version),
          [1, 2, 3]
        )
        assert.strictEqual(stored.module.promoted, 3)
      }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("the spans of an execution carry the module version and arm", () =>
    Effect.gen(function* () {
      const modules = yield* twoVersions
      yield* modules.setPolicy("qa", { _tag: "Pinned", version: "1" })
      const base = yield* Effect.tracer
      const spans: Array<{ readonly name: string; readonly attributes: Map<string, unknown> }> = []
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = base.span(name, parent, context, links, startTime, kind, options)
          const attributes = new Map<string, unknown>()
          spans.push({ name, attributes })
          const attribute = span.attribute.bind(span)
          return Object.assign(span, {
            attribute: (key: string, value: unknown) => {
              attributes.set(key, value)
              attribute(key, value)
            }
          })
        },
        context: base.context
      })
      yield* modules.execute("qa", question).pipe(Effect.withTracer(recording))
      const moduleSpan = spans.find((s) => s.name.startsWith("module."))
      assert.isDefined(moduleSpan)
      assert.strictEqual(moduleSpan!.attributes.get("dspy.module.version"), 1)
      assert.strictEqual(moduleSpan!.attributes.get("dspy.module.arm"), "1")
      assert.strictEqual(moduleSpan!.attributes.get("dspy.module.id"), "qa")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
