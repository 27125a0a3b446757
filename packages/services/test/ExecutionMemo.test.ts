import { CoreEvents, LM, Module, Predict, type Prediction, Signature } from "@effect-dspy/core"
import { Events, Subject } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { CacheManager, ModuleManager, TestRuntime } from "../src/index.js"

const question = { question: "What is the capital of France?" }

/** The LM calls made so far (cache hits included: a memo hit makes none). */
const lmCalls = Effect.flatMap(LM.LM, (lm) => Effect.map(lm.usage, (u) => u.calls))

const memoHits = (moduleId: string, version: number) =>
  Effect.map(
    Metric.value(
      ModuleManager.memoHits.pipe(
        Metric.tagged("module_id", moduleId),
        Metric.tagged("module_version", String(version)),
        Metric.tagged("arm", "none")
      )
    ),
    (state) => state.count
  )

/** The events of one execution (by its correlation id): their types, and the data of each. */
const eventsOf = (correlationId: string | undefined) =>
  Effect.flatMap(Events.Events, (events) =>
    correlationId === undefined ? Effect.succeed([]) : events.query({ correlationId })
  )

const withCache = (config: { readonly [key: string]: unknown } = {}) =>
  Effect.provide(TestRuntime.layer({ cache: true, config }))

describe("ModuleManager execution memo", () => {
  it.effect("serves inputs the cache answered in full without running the program, with its events replayed", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const miss = yield* modules.execute("qa", question)
      const hit = yield* modules.execute("qa", question)
      // A provider call, then a cache hit: the second run's answer is remembered.
      assert.strictEqual(yield* lmCalls, 2)
      const before = yield* memoHits("qa", 1)

      const memo = yield* modules.execute("qa", question)
      const again = yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 2, "a memo hit makes no LM call")
      assert.strictEqual((yield* memoHits("qa", 1)) - before, 2)
      // The cache-hit run's answer, itself the provider's.
      assert.deepStrictEqual(memo.output, hit.output)
      assert.deepStrictEqual(again.output, hit.output)
      assert.deepStrictEqual(
        (again.output as Prediction.Prediction).fields,
        (miss.output as Prediction.Prediction).fields
      )
      assert.notStrictEqual(memo.executionId, again.executionId)
      assert.strictEqual(memo.version, 1)
      assert.strictEqual(memo.reason, "promoted")

      // The replayed events: start and complete under the request's correlation id, parent kept, no lm_request.
      const complete = yield* Effect.flatMap(Events.Events, (events) =>
        events.query({ types: [CoreEvents.ModuleExecutionComplete.type], order: "desc", limit: 1 })
      )
      const replayed = yield* eventsOf(complete[0]?.correlationId)
      assert.deepStrictEqual(
        replayed.map((e) => e.type),
        [CoreEvents.ModuleExecutionStart.type, CoreEvents.ModuleExecutionComplete.type]
      )
      const [start, end] = replayed
      assert.strictEqual(end!.parentId, start!.id)
      assert.strictEqual(start!.data.memo, true)
      assert.strictEqual(end!.data.memo, true)
      assert.strictEqual(end!.data.lm_calls, 0)
      assert.strictEqual(end!.data.status, "ok")
      assert.strictEqual(end!.data.module_id, "qa", "stamped with the module like any execution")
      assert.strictEqual(end!.data.module_version, 1)

      // Other inputs are not the remembered ones.
      yield* modules.execute("qa", { question: "What is the capital of Italy?" })
      assert.strictEqual(yield* lmCalls, 3)
    }).pipe(withCache())
  )

  it.effect("forgets every answer when the cache is invalidated, and a new version starts empty", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      // The test runtime's CacheManager (its layer's type does not name it).
      const cache = Option.getOrThrow(yield* Effect.serviceOption(CacheManager.CacheManager))
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.execute("qa", question)
      yield* modules.execute("qa", question)
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 2)

      yield* cache.invalidateModule("lm")
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 3, "the invalidated answer is asked again")

      yield* modules.execute("qa", question)
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 4, "remembered again after a cache hit")

      yield* modules.swap("qa", { instructions: { self: "Answer in one word." } })
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 5, "version 2 runs its program")
    }).pipe(withCache())
  )

  it.effect("an answer lives at most the cache's TTL", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.execute("qa", question)
      yield* modules.execute("qa", question)
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 2)
      yield* TestClock.adjust("2 seconds")
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 3, "expired with the cache entry it came from")
    }).pipe(withCache({ modules: { cacheTtlMs: 1_000 } }))
  )

  it.effect("is per end user, off with modules.memoEnabled false, and never used for registered programs", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const alice = Subject.withSubject("alice")
      yield* alice(modules.execute("qa", question))
      yield* alice(modules.execute("qa", question))
      yield* alice(modules.execute("qa", question))
      assert.strictEqual(yield* lmCalls, 2)
      yield* Subject.withSubject("bob")(modules.execute("qa", question))
      assert.strictEqual(yield* lmCalls, 3, "bob is not served alice's answer")

      const program = Module.make({
        name: "answer",
        parameters: { p: Predict.make(Signature.make("question -> answer")) },
        forward: (parameters, inputs: { readonly question: string }) => parameters.p(inputs)
      })
      yield* modules.register("custom", program)
      for (let i = 0; i < 3; i++) yield* modules.execute("custom", question)
      assert.strictEqual(yield* lmCalls, 6, "a registered program runs every time (it may do more than call the LM)")
    }).pipe(withCache())
  )

  it.effect("keeps at most modules.memoMaxEntries answers across modules, the least recently served going first", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.create({ id: "other", kind: "predict", signature: "question -> answer" })
      const twice = (id: string) => Effect.zipRight(modules.execute(id, question), modules.execute(id, question))
      yield* twice("qa")
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 2, "qa's answer is remembered")
      // The same prompt: other's first run is already a cache hit, so its answer is remembered at once.
      yield* twice("other")
      assert.strictEqual(yield* lmCalls, 3)
      yield* modules.execute("other", question)
      assert.strictEqual(yield* lmCalls, 3, "other's answer took the one place")
      yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 4, "qa's answer went to make room")
    }).pipe(withCache({ modules: { memoMaxEntries: 1 } }))
  )

  it.live("executeRemembered answers a remembered execution without a fiber, and declines what execute must run", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const remembered = modules.executeRemembered
      assert.isDefined(remembered, "the application's module manager has it (its event store publishes synchronously)")
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      assert.isUndefined(remembered!("qa", question), "nothing remembered yet")
      yield* modules.execute("qa", question)
      const hit = yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 2)
      const before = yield* memoHits("qa", 1)

      const answer = remembered!("qa", question)
      assert.isDefined(answer)
      assert.deepStrictEqual(answer!.output, hit.output)
      assert.strictEqual(answer!.version, 1)
      assert.strictEqual(answer!.reason, "promoted")
      assert.strictEqual(yield* lmCalls, 2, "no LM call")
      assert.strictEqual((yield* memoHits("qa", 1)) - before, 1)
      // Its events: the run's, replayed under a correlation id of its own, stamped and marked.
      const complete = yield* Effect.flatMap(Events.Events, (events) =>
        events.query({ types: [CoreEvents.ModuleExecutionComplete.type], order: "desc", limit: 1 })
      )
      const replayed = yield* eventsOf(complete[0]?.correlationId)
      assert.deepStrictEqual(
        replayed.map((e) => e.type),
        [CoreEvents.ModuleExecutionStart.type, CoreEvents.ModuleExecutionComplete.type]
      )
      assert.strictEqual(replayed[1]!.parentId, replayed[0]!.id)
      assert.strictEqual(replayed[1]!.data.memo, true)
      assert.strictEqual(replayed[1]!.data.module_id, "qa")

      assert.isUndefined(remembered!("qa", { question: "Another one?" }), "other inputs")
      assert.isUndefined(remembered!("nope", question), "an unknown module: execute says why")
      // A module with a fallback chain (or a traffic policy) takes the effectful path.
      yield* modules.setFallback("qa", { steps: ["stale_cache"] })
      assert.isUndefined(remembered!("qa", question))
      yield* modules.setFallback("qa", undefined)
      assert.isDefined(remembered!("qa", question))
    }).pipe(withCache())
  )

  it.effect("modules.memoEnabled false runs the program each time", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const before = yield* memoHits("qa", 1)
      for (let i = 0; i < 4; i++) yield* modules.execute("qa", question)
      assert.strictEqual(yield* lmCalls, 4)
      assert.strictEqual(yield* memoHits("qa", 1), before)
    }).pipe(withCache({ modules: { memoEnabled: false } }))
  )
})
