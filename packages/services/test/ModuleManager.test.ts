import { LM, LMError, Module, Predict, Prediction, Signature } from "@effect-dspy/core"
import { SimFaults } from "@effect-dspy/sim"
import { Config, Errors, Events } from "@effect-dspy/foundation"
import { Process, Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import { ModuleManager, TestRuntime, type ServicesError } from "../src/index.js"

const question = { question: "What is the capital of France?" }

/** A module's own retryable failure. */
class Flaky extends Errors.TaggedError<Flaky>()("Flaky", {}, { code: "flaky", retryable: true }) {}

const answerOf = (execution: ModuleManager.Execution): unknown => {
  assert.isTrue(Prediction.isPrediction(execution.output))
  return (execution.output as Prediction.Prediction).get("answer")
}

const eventTypes = (types: ReadonlyArray<string>) =>
  Effect.map(Events.query({ types }), (events) => events.map((e) => e.type))

describe("ModuleManager", () => {
  it.effect("creates modules from specs and executes them in the caller's fiber, with events and metrics", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const created = yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      assert.strictEqual(created.version, 1)
      assert.strictEqual(created.kind, "predict")
      assert.deepStrictEqual(created.predictors, ["self"])
      const cot = yield* modules.create({
        id: "cot",
        kind: "chain_of_thought",
        signature: "question -> answer",
        instructions: "Answer briefly."
      })
      assert.deepStrictEqual(cot.predictors, ["predict"])

      const before = yield* Metric.value(
        Metric.tagged(
          Metric.tagged(
            Metric.tagged(Metric.tagged(ModuleManager.executions, "outcome", "success"), "module_id", "qa"),
            "module_version",
            "1"
          ),
          "arm",
          "none"
        )
      )
      const first = yield* modules.execute("qa", question)
      assert.strictEqual(first.version, 1)
      assert.strictEqual(typeof answerOf(first), "string")
      const reasoning = yield* modules.execute("cot", question)
      assert.strictEqual(typeof (reasoning.output as Prediction.Prediction).get("reasoning"), "string")

      const after = yield* Metric.value(
        Metric.tagged(
          Metric.tagged(
            Metric.tagged(Metric.tagged(ModuleManager.executions, "outcome", "success"), "module_id", "qa"),
            "module_version",
            "1"
          ),
          "arm",
          "none"
        )
      )
      assert.strictEqual(after.count - before.count, 1)
      const described = yield* modules.describe("qa")
      assert.strictEqual(described.executions, 1)
      assert.strictEqual(described.failures, 0)
      assert.deepStrictEqual(
        (yield* modules.list).map((m) => m.id),
        ["cot", "qa"]
      )
      const types = yield* eventTypes(["module_created", "module_execution_start", "module_execution_complete"])
      assert.strictEqual(types.filter((t) => t === "module_created").length, 2)
      assert.isAtLeast(types.filter((t) => t === "module_execution_start").length, 2)
      assert.isAtLeast(types.filter((t) => t === "module_execution_complete").length, 2)
      // The module's LM calls went through the application's LM (the supervised providers).
      const lm = yield* LM.LM
      assert.strictEqual((yield* lm.usage).calls, 2)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("rejects bad specs, duplicates and unknown ids with typed errors", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const badSignature = yield* Effect.flip(
        modules.create({ id: "x", kind: "predict", signature: "question answer" })
      )
      assert.strictEqual(badSignature._tag, "ModuleSpecInvalid")
      assert.strictEqual((badSignature as ServicesError.ModuleSpecInvalid).field, "signature")
      const badKind = yield* Effect.flip(
        modules.create({ id: "x", kind: "react" as ModuleManager.ModuleKind, signature: "q -> a" })
      )
      assert.strictEqual((badKind as ServicesError.ModuleSpecInvalid).field, "kind")
      const emptyId = yield* Effect.flip(modules.create({ id: "", kind: "predict", signature: "q -> a" }))
      assert.strictEqual(emptyId._tag, "ModuleSpecInvalid")
      yield* modules.create({ id: "x", kind: "predict", signature: "q -> a" })
      const duplicate = yield* Effect.flip(modules.create({ id: "x", kind: "predict", signature: "q -> a" }))
      assert.strictEqual(duplicate._tag, "ModuleAlreadyExists")
      const missing = yield* Effect.flip(modules.execute("nope", question))
      assert.strictEqual(missing._tag, "ModuleNotFound")
      const missingSwap = yield* Effect.flip(modules.swap("nope", { instructions: { self: "x" } }))
      assert.strictEqual(missingSwap._tag, "ModuleNotFound")
      const badPath = yield* Effect.flip(modules.swap("x", { instructions: { "no.such": "x" } }))
      assert.strictEqual(badPath._tag, "ModuleSpecInvalid")
      const badInputs = yield* Effect.flip(modules.execute("x", { wrong: 1 }))
      assert.strictEqual(badInputs._tag, "SignatureValidationError")
      // Nothing failed inside the actor: it is still the same one, and still answering.
      assert.strictEqual((yield* modules.list).length, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("registers program values", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const program = Module.make({
        name: "Twice",
        parameters: { first: Predict.make(Signature.make("question -> answer")) },
        forward: (p, inputs: { question: string }) =>
          Effect.map(Effect.zip(p.first(inputs), p.first(inputs)), ([a, b]) => [a.get("answer"), b.get("answer")])
      })
      const info = yield* modules.register("twice", program)
      assert.strictEqual(info.kind, "program")
      assert.strictEqual(info.name, "Twice")
      assert.deepStrictEqual(info.predictors, ["first"])
      const result = yield* modules.execute("twice", question)
      assert.strictEqual((result.output as ReadonlyArray<unknown>).length, 2)
      assert.strictEqual((yield* (yield* LM.LM).usage).calls, 2)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("hot-swaps atomically: calls in flight finish on their version, new calls use the new one", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const lm = yield* LM.LM
      yield* modules.create({
        id: "qa",
        kind: "predict",
        signature: "question -> answer",
        instructions: "OLD INSTRUCTIONS"
      })
      const inFlight = yield* Effect.fork(modules.execute("qa", question))
      yield* TestClock.adjust("10 millis")
      const swapped = yield* modules.swap("qa", { instructions: { self: "NEW INSTRUCTIONS" } })
      assert.strictEqual(swapped.version, 2)
      const after = yield* Effect.fork(modules.execute("qa", question))
      yield* TestClock.adjust("1 second")
      const old = yield* Fiber.join(inFlight)
      const fresh = yield* Fiber.join(after)
      assert.strictEqual(old.version, 1)
      assert.strictEqual(fresh.version, 2)
      const history = yield* lm.history
      const prompts = history.map((h) => h.request.messages.map((m) => m.content).join("\n"))
      assert.strictEqual(prompts.length, 2)
      assert.isTrue(prompts[0]!.includes("OLD INSTRUCTIONS"))
      assert.isTrue(prompts[1]!.includes("NEW INSTRUCTIONS"))
      assert.isFalse(prompts[1]!.includes("OLD INSTRUCTIONS"))
      const swaps = yield* Events.query({ types: ["module_swapped"] })
      assert.deepStrictEqual(swaps[0]!.data, { module_id: "qa", from_version: 1, to_version: 2 })
    }).pipe(Effect.provide(TestRuntime.layer({ sim: { default: { latency: TestRuntime.fixedLatency(100) } } })))
  )

  it.effect("keeps a version history and rolls back (as a new version) to any earlier one", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
      yield* modules.swap("qa", { instructions: { self: "v2" } })
      const v1 = yield* modules.program("qa", 1)
      const v3 = yield* modules.swap("qa", { program: Predict.withInstructions(v1 as Predict.Any, "v3") })
      assert.strictEqual(v3.version, 3)
      const back = yield* modules.rollback("qa")
      assert.strictEqual(back.version, 4)
      const current = (yield* modules.program("qa")) as Predict.Any
      assert.strictEqual(current.signature.instructions, "v2")
      const toFirst = yield* modules.rollback("qa", 1)
      assert.strictEqual(toFirst.version, 5)
      assert.strictEqual(((yield* modules.program("qa")) as Predict.Any).signature.instructions, "v1")
      const history = yield* modules.history("qa")
      assert.deepStrictEqual(
        history.map((v) => [v.version, v.reason, v.current]),
        [
          [1, "created", false],
          [2, "swapped", false],
          [3, "swapped", false],
          [4, "rolled_back(2)", false],
          [5, "rolled_back(1)", true]
        ]
      )
      const missing = yield* Effect.flip(modules.rollback("qa", 42))
      assert.strictEqual(missing._tag, "ModuleVersionNotFound")
      const rolled = yield* Events.query({ types: ["module_rolled_back"] })
      assert.strictEqual(rolled.length, 2)
      assert.strictEqual(rolled[1]!.data.restored_version, 1)
      // A state from another program does not fit: a typed error, the module unchanged.
      const other = Predict.make(Signature.make("context, question -> answer"))
      const misfit = yield* Effect.flip(modules.swap("qa", { state: Module.dumpState(other) }))
      assert.strictEqual(misfit._tag, "ModuleSpecInvalid")
      assert.strictEqual((yield* modules.describe("qa")).version, 5)
      // A saved state round-trips through a swap.
      const state = Module.dumpState(Predict.withInstructions(current, "from state"))
      yield* modules.swap("qa", { state })
      assert.strictEqual(((yield* modules.program("qa")) as Predict.Any).signature.instructions, "from state")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("runs each module under its own circuit breaker and rate limiter", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const failing = Module.make({
        name: "Failing",
        parameters: {},
        forward: (_p, _inputs: unknown) => Effect.fail(new Flaky({ message: "the module's own dependency failed" }))
      })
      yield* modules.register("failing", failing, { protection: { breaker: { failureThreshold: 2 } } })
      yield* modules.create({ id: "healthy", kind: "predict", signature: "question -> answer" })
      const errors: Array<string> = []
      for (let i = 0; i < 4; i++) errors.push((yield* Effect.flip(modules.execute("failing", {})))._tag)
      assert.strictEqual(errors[0], "Flaky")
      assert.strictEqual(errors[3], "CircuitOpen")
      assert.strictEqual((yield* modules.describe("failing")).breaker, "open")
      // Another module's breaker is its own.
      assert.strictEqual(typeof answerOf(yield* modules.execute("healthy", question)), "string")

      yield* modules.create({
        id: "limited",
        kind: "predict",
        signature: "question -> answer",
        protection: { rateLimit: { limit: 2, scaleMs: 1000 } }
      })
      yield* modules.execute("limited", question)
      yield* modules.execute("limited", question)
      const limited = yield* Effect.flip(modules.execute("limited", question))
      assert.strictEqual(limited._tag, "RateLimited")
      yield* TestClock.adjust("1 second")
      yield* modules.execute("limited", question)
      // A program failing with a value outside the error family gets a typed wrapper.
      yield* modules.register(
        "odd",
        Module.make({ name: "Odd", parameters: {}, forward: (_p, _i: unknown) => Effect.fail("plain string") })
      )
      const odd = yield* Effect.flip(modules.execute("odd", {}))
      assert.strictEqual(odd._tag, "UnexpectedError")
      // A defect is a typed failure too, and it counts against the module's breaker.
      yield* modules.register(
        "dies",
        Module.make({ name: "Dies", parameters: {}, forward: (_p, _i: unknown) => Effect.dieMessage("kaput") }),
        { protection: { breaker: { failureThreshold: 1 } } }
      )
      assert.strictEqual((yield* Effect.flip(modules.execute("dies", {})))._tag, "UnexpectedError")
      assert.strictEqual((yield* Effect.flip(modules.execute("dies", {})))._tag, "CircuitOpen")
      // LM failures do not count against a module's breaker (the provider's breaker handles them).
      const lmFailing = Module.make({
        name: "LMFailing",
        parameters: {},
        forward: (_p, _inputs: unknown) =>
          Effect.fail(new LMError.LMServerError({ provider: "test", status: 500, message: "boom" }))
      })
      yield* modules.register("lm-failing", lmFailing, { protection: { breaker: { failureThreshold: 1 } } })
      for (let i = 0; i < 4; i++) {
        assert.strictEqual((yield* Effect.flip(modules.execute("lm-failing", {})))._tag, "LMServerError")
      }
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("removes modules", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.remove("qa")
      assert.strictEqual((yield* Effect.flip(modules.execute("qa", question)))._tag, "ModuleNotFound")
      assert.isTrue(Either.isLeft(yield* Effect.either(modules.remove("qa"))))
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})

describe("ModuleManager versions (property)", () => {
  type Op = { readonly _tag: "swap"; readonly text: string } | { readonly _tag: "rollback"; readonly pick: number }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constant("swap" as const), text: fc.string({ minLength: 1, maxLength: 8 }) }),
    fc.record({ _tag: fc.constant("rollback" as const), pick: fc.nat(50) })
  )
  const runs = fc.sample(fc.array(op, { minLength: 1, maxLength: 12 }), { numRuns: 25, seed: 7 })

  it.effect("keeps the latest modules.maxVersions versions (changeable at run time); older ones are gone, typed", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
      for (let v = 2; v <= 10; v++) yield* modules.swap("qa", { instructions: { self: `v${v}` } })
      const kept = yield* modules.history("qa")
      assert.deepStrictEqual(
        kept.map((v) => v.version),
        [7, 8, 9, 10]
      )
      assert.strictEqual((yield* modules.describe("qa")).versions, 4)
      const gone = yield* Effect.flip(modules.program("qa", 6))
      assert.strictEqual(gone._tag, "ModuleVersionNotFound")
      assert.strictEqual((yield* Effect.flip(modules.rollback("qa", 3)))._tag, "ModuleVersionNotFound")
      // Rolling back to a kept version still works, and is itself a new version.
      const back = yield* modules.rollback("qa", 7)
      assert.strictEqual(back.version, 11)
      assert.strictEqual(((yield* modules.program("qa")) as Predict.Any).signature.instructions, "v7")
      yield* Config.update("modules.maxVersions", 2)
      yield* modules.swap("qa", { instructions: { self: "v12" } })
      assert.deepStrictEqual(
        (yield* modules.history("qa")).map((v) => [v.version, v.current]),
        [
          [11, false],
          [12, true]
        ]
      )
    }).pipe(Effect.provide(TestRuntime.layer({ config: { modules: { maxVersions: 4 } } })))
  )

  it.effect("any sequence of swaps and rollbacks matches a model: versions 1..n, the current program the model's", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      for (const [r, ops] of runs.entries()) {
        const id = `m${r}`
        yield* modules.create({ id, kind: "predict", signature: "question -> answer", instructions: "start" })
        // The model: the instructions of every version, in order.
        const model: Array<string> = ["start"]
        let current = 0
        for (const o of ops) {
          if (o._tag === "swap") {
            yield* modules.swap(id, { instructions: { self: o.text } })
            model.push(o.text)
            current = model.length - 1
          } else {
            const target = o.pick % model.length
            const result = yield* Effect.either(modules.rollback(id, target + 1))
            if (target === current) {
              assert.isTrue(result._tag === "Left" && result.left._tag === "ModuleVersionNotFound")
              continue
            }
            assert.strictEqual(result._tag, "Right")
            model.push(model[target]!)
            current = model.length - 1
          }
        }
        const history = yield* modules.history(id)
        assert.deepStrictEqual(
          history.map((v) => v.version),
          model.map((_, i) => i + 1)
        )
        assert.deepStrictEqual(
          history.filter((v) => v.current).map((v) => v.version),
          [current + 1]
        )
        for (const [i, text] of model.entries()) {
          const program = (yield* modules.program(id, i + 1)) as Predict.Any
          assert.strictEqual(program.signature.instructions, text)
        }
      }
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})

describe("ModuleManager under faults", () => {
  it.effect(
    "200 concurrent executions under a 30% fault mix with failover: each ends in a result or a typed error",
    () =>
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        const sim = yield* TestRuntime.SimControl
        yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
        yield* sim.setFaults(
          "primary",
          SimFaults.uniform(0.3, ["server_error", "unavailable", "reset", "rate_limit"], 3)
        )
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.either(modules.execute("qa", { question: `What is ${i} + 1?` })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(outcomes.length, 200)
        let ok = 0
        for (const o of outcomes) {
          if (o._tag === "Right") ok++
          else assert.isTrue(Errors.isDSPyError(o.left), `untyped failure: ${String(o.left)}`)
        }
        assert.isAbove(ok, 100)
        assert.strictEqual((yield* modules.describe("qa")).executions, 200)
      }).pipe(
        Effect.provide(
          TestRuntime.layer({
            config: {
              modules: { defaultLmProvider: "primary" },
              providers: { primary: { backup: "backup", maxRetries: 0 }, backup: { maxRetries: 0 } }
            }
          })
        )
      )
  )
})

describe("ModuleManager poison requests", () => {
  it.effect("a change that throws is a typed error and does not crash the actor", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const actor = yield* Registry.lookup(ModuleManager.actorName)
      const poison = { predictors: "not a record" } as unknown
      const hostile = new Proxy(
        {},
        {
          get: () => {
            throw new Error("hostile state")
          }
        }
      )
      for (const state of [poison, hostile]) {
        const error = yield* Effect.flip(modules.swap("qa", { state }))
        assert.strictEqual(error._tag, "ModuleSpecInvalid")
      }
      assert.isTrue(yield* Process.isAlive(actor))
      assert.strictEqual((yield* modules.describe("qa")).version, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})

describe("ModuleManager compare-and-swap (ifVersion)", () => {
  const instructionsOf = (modules: ModuleManager.Service) =>
    Effect.map(modules.program("qa"), (p) => (p as Predict.Any).signature.instructions)

  it.effect("a swap with the current version as ifVersion is made", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
      const v2 = yield* modules.swap("qa", { instructions: { self: "v2" }, ifVersion: 1 })
      assert.strictEqual(v2.version, 2)
      const v1 = yield* modules.program("qa", 1)
      const v3 = yield* modules.swap("qa", { program: Predict.withInstructions(v1 as Predict.Any, "v3"), ifVersion: 2 })
      assert.strictEqual(v3.version, 3)
      assert.strictEqual(yield* instructionsOf(modules), "v3")
      const back = yield* modules.rollback("qa", 1, { ifVersion: 3 })
      assert.strictEqual(back.version, 4)
      assert.strictEqual(yield* instructionsOf(modules), "v1")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("a stale ifVersion fails with ModuleVersionConflict and leaves the module unchanged", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
      yield* modules.swap("qa", { instructions: { self: "v2" } })
      const stale = yield* Effect.flip(modules.swap("qa", { instructions: { self: "lost update" }, ifVersion: 1 }))
      assert.strictEqual(stale._tag, "ModuleVersionConflict")
      const conflict = stale as ServicesError.ModuleVersionConflict
      assert.strictEqual(conflict.moduleId, "qa")
      assert.strictEqual(conflict.expected, 1)
      assert.strictEqual(conflict.actual, 2)
      assert.strictEqual(conflict.code, "module_version_conflict")
      assert.isFalse(conflict.retryable)
      assert.isTrue(Errors.isDSPyError(conflict))
      assert.include(conflict.message, "ifVersion 2")
      // Nothing changed: same version, same program, no new history entry, no module_swapped event.
      const info = yield* modules.describe("qa")
      assert.strictEqual(info.version, 2)
      assert.strictEqual(info.versions, 2)
      assert.strictEqual(yield* instructionsOf(modules), "v2")
      assert.strictEqual((yield* eventTypes(["module_swapped"])).length, 1)
      // A rollback with a stale ifVersion is refused the same way.
      const staleRollback = yield* Effect.flip(modules.rollback("qa", 1, { ifVersion: 1 }))
      assert.strictEqual(staleRollback._tag, "ModuleVersionConflict")
      assert.strictEqual((yield* modules.describe("qa")).version, 2)
      // A version that cannot be one is a bad request, not a conflict.
      const bad = yield* Effect.flip(modules.swap("qa", { instructions: { self: "x" }, ifVersion: 1.5 }))
      assert.strictEqual(bad._tag, "ModuleSpecInvalid")
      assert.strictEqual((bad as ServicesError.ModuleSpecInvalid).field, "ifVersion")
      // An unknown module is still ModuleNotFound.
      const missing = yield* Effect.flip(modules.swap("nope", { instructions: { self: "x" }, ifVersion: 1 }))
      assert.strictEqual(missing._tag, "ModuleNotFound")
      // Without ifVersion a swap applies to whatever is current, as before.
      assert.strictEqual((yield* modules.swap("qa", { instructions: { self: "v3" } })).version, 3)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("concurrent swaps with the same ifVersion: exactly one wins, the others conflict", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
      const contenders = Array.from({ length: 20 }, (_, i) => `contender ${i}`)
      const results = yield* Effect.forEach(
        contenders,
        (text) => Effect.either(modules.swap("qa", { instructions: { self: text }, ifVersion: 1 })),
        { concurrency: "unbounded" }
      )
      const winners = results.flatMap((r, i) => (r._tag === "Right" ? [{ text: contenders[i]!, info: r.right }] : []))
      assert.strictEqual(winners.length, 1)
      assert.strictEqual(winners[0]!.info.version, 2)
      for (const r of results) {
        if (r._tag === "Left") {
          assert.strictEqual(r.left._tag, "ModuleVersionConflict")
          const conflict = r.left as ServicesError.ModuleVersionConflict
          assert.deepStrictEqual([conflict.expected, conflict.actual], [1, 2])
        }
      }
      // The winner's change is the module's; one version was added, one module_swapped recorded.
      assert.strictEqual(yield* instructionsOf(modules), winners[0]!.text)
      assert.deepStrictEqual(
        (yield* modules.history("qa")).map((v) => [v.version, v.current]),
        [
          [1, false],
          [2, true]
        ]
      )
      assert.strictEqual((yield* eventTypes(["module_swapped"])).length, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})

describe("ModuleManager adapters (modules.defaultAdapter)", () => {
  const adapterOf = (id: string) =>
    Effect.map(
      Effect.flatMap(ModuleManager.ModuleManager, (m) => m.program(id)),
      (program) => Module.namedPredictors(program).map((p) => p.predictor.adapter?.name)
    )

  it.effect("a spec without an adapter gets Config's modules.defaultAdapter; a spec's own adapter wins", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
      yield* modules.create({ id: "chat", kind: "predict", signature: "question -> answer", adapter: "chat" })
      assert.deepStrictEqual(yield* adapterOf("qa"), ["JSONAdapter"])
      assert.deepStrictEqual(yield* adapterOf("chat"), ["ChatAdapter"])
      // The module runs with it: the JSON adapter parses the simulated LM's answer.
      const execution = yield* modules.execute("qa", question)
      assert.strictEqual(typeof answerOf(execution), "string")
      // A swap keeps the module's adapter.
      yield* modules.swap("qa", { instructions: { predict: "Answer briefly." } })
      assert.deepStrictEqual(yield* adapterOf("qa"), ["JSONAdapter"])
    }).pipe(Effect.provide(TestRuntime.layer({ config: { modules: { defaultAdapter: "json" } } })))
  )

  it.effect("the default is the chat adapter; an unknown adapter name is a typed error", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      assert.deepStrictEqual(yield* adapterOf("qa"), ["ChatAdapter"])
      const error = yield* Effect.flip(
        modules.create({
          id: "xml",
          kind: "predict",
          signature: "question -> answer",
          adapter: "yaml" as ModuleManager.AdapterName
        })
      )
      assert.strictEqual(error._tag, "ModuleSpecInvalid")
      assert.strictEqual((error as ServicesError.ModuleSpecInvalid).field, "adapter")
      // The message lists every valid name.
      for (const name of ModuleManager.adapterNames) assert.include(error.message, name)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("xml and two_step specs run; two_step extracts on the spec's extractionModel", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "xml", kind: "predict", signature: "question -> answer", adapter: "xml" })
      yield* modules.create({
        id: "two",
        kind: "chain_of_thought",
        signature: "question -> answer",
        adapter: "two_step",
        extractionModel: "extractor-mini"
      })
      yield* modules.create({ id: "same", kind: "predict", signature: "question -> answer", adapter: "two_step" })
      assert.deepStrictEqual(yield* adapterOf("xml"), ["XMLAdapter"])
      assert.deepStrictEqual(yield* adapterOf("two"), ["TwoStepAdapter"])
      assert.strictEqual(typeof answerOf(yield* modules.execute("xml", question)), "string")

      const two = yield* modules.execute("two", question)
      assert.strictEqual(typeof answerOf(two), "string")
      // The free-text call and the extraction call.
      assert.strictEqual((two.output as Prediction.Prediction).lmCalls, 2)
      const models = (yield* Events.query({ types: ["lm_request"] })).map((e) => (e.data as { model: string }).model)
      assert.include(models, "extractor-mini")
      assert.strictEqual(models.filter((m) => m === "extractor-mini").length, 1)

      // Without extractionModel the extraction runs on the module's own model.
      const same = yield* modules.execute("same", question)
      assert.strictEqual((same.output as Prediction.Prediction).lmCalls, 2)
      const after = (yield* Events.query({ types: ["lm_request"] })).map((e) => (e.data as { model: string }).model)
      assert.strictEqual(after.filter((m) => m === "extractor-mini").length, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("Config's defaultAdapter takes xml; an extractionModel without two_step is a typed error", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      assert.deepStrictEqual(yield* adapterOf("qa"), ["XMLAdapter"])
      const error = yield* Effect.flip(
        modules.create({ id: "x", kind: "predict", signature: "question -> answer", extractionModel: "small" })
      )
      assert.strictEqual(error._tag, "ModuleSpecInvalid")
      assert.strictEqual((error as ServicesError.ModuleSpecInvalid).field, "extractionModel")
      assert.include(error.message, "two_step")
    }).pipe(Effect.provide(TestRuntime.layer({ config: { modules: { defaultAdapter: "xml" } } })))
  )
})
