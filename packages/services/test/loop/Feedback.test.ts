/**
 * Feedback through the real application: by execution id and by correlation id, recorded once, duplicates
 * idempotent, a changed outcome updates, unknown ids, late feedback and bad outcomes are typed errors, and the
 * acknowledged feedback is in the experience store's file.
 */
import { Correlation } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ExperienceStore, Loop, ModuleManager, Reward, TestRuntime } from "../../src/index.js"

const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

describe("Loop.feedback", () => {
  it.effect("records, deduplicates, updates; unknown, late and bad feedback are typed errors", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const loop = yield* Loop.Loop
      const store = yield* ExperienceStore.ExperienceStore
      yield* modules.create(spec)
      const execution = yield* modules.execute("qa", { question: "What is 2 + 3?" })
      assert.isString(execution.executionId)
      const first = yield* loop.feedback({ executionId: execution.executionId, outcome: { rating: 0.8 } })
      assert.deepStrictEqual(first, { executionIds: [execution.executionId], reward: 0.8, status: "recorded" })
      const again = yield* loop.feedback({ executionId: execution.executionId, outcome: { rating: 0.8 } })
      assert.strictEqual(again.status, "duplicate")
      const changed = yield* loop.feedback({ executionId: execution.executionId, outcome: { success: false } })
      assert.deepStrictEqual([changed.status, changed.reward], ["updated", 0])
      assert.strictEqual(store.get(execution.executionId)?.reward, 0)
      // The policy's window counts the first reward only.
      assert.strictEqual((yield* loop.status).modules[0]!.rewards, 1)

      const unknown = yield* Effect.flip(loop.feedback({ executionId: "ex_nope", outcome: { rating: 1 } }))
      assert.strictEqual(unknown._tag, "FeedbackUnknownExecution")
      assert.match(unknown.message, /never recorded/)
      const both = yield* Effect.flip(loop.feedback({ outcome: { rating: 1 } }))
      assert.strictEqual(both._tag, "FeedbackInvalid")
      const range = yield* Effect.flip(loop.feedback({ executionId: execution.executionId, outcome: { rating: 3 } }))
      assert.strictEqual(range._tag, "FeedbackInvalid")
      assert.match(range.message, /rating/)
      const empty = yield* Effect.flip(loop.feedback({ executionId: execution.executionId, outcome: {} }))
      assert.strictEqual(empty._tag, "FeedbackInvalid")

      const later = yield* modules.execute("qa", { question: "What is 4 + 4?" })
      yield* TestClock.adjust("8 days")
      const late = yield* Effect.flip(loop.feedback({ executionId: later.executionId, outcome: { rating: 1 } }))
      assert.strictEqual(late._tag, "FeedbackTooLate")
      assert.isUndefined(store.get(later.executionId)?.reward)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("by correlation id: every execution of the request", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const loop = yield* Loop.Loop
      yield* modules.create(spec)
      const [a, b] = yield* Effect.all([
        modules.execute("qa", { question: "What is 1 + 1?" }),
        modules.execute("qa", { question: "What is 1 + 2?" })
      ]).pipe(Correlation.withCorrelationId("req_checkout_7"))
      const ack = yield* loop.feedback({ correlationId: "req_checkout_7", outcome: { metric: 0.5 } })
      assert.deepStrictEqual([...ack.executionIds].sort(), [a.executionId, b.executionId].sort())
      assert.strictEqual(ack.status, "recorded")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("acknowledged feedback is in the experience store's SQLite file, read back after a restart", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loop-feedback-"))
    const filename = path.join(dir, "loop.db")
    const layer = () => TestRuntime.layer({ application: { loop: { filename } } })
    return Effect.gen(function* () {
      const id = yield* Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        const loop = yield* Loop.Loop
        yield* modules.create(spec)
        const execution = yield* modules.execute("qa", { question: "What is 6 + 1?" })
        yield* loop.feedback({ executionId: execution.executionId, outcome: { corrected: { answer: "7" } } })
        return execution.executionId
      }).pipe(Effect.provide(layer()))
      const restored = yield* Effect.gen(function* () {
        const store = yield* ExperienceStore.ExperienceStore
        return store.get(id)
      }).pipe(Effect.provide(layer()))
      assert.isDefined(restored)
      assert.deepStrictEqual(restored!.outcome, { corrected: { answer: "7" } })
      assert.deepStrictEqual(restored!.inputs, { question: "What is 6 + 1?" })
      assert.strictEqual(restored!.moduleId, "qa")
      assert.isNumber(restored!.reward)
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  })
})

describe("Loop settings", () => {
  it.effect("unusable settings stop the application's start, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(TestRuntime.layer({ application: { loop: { settings: { window: 0 } } } })))
      )
      assert.strictEqual(error._tag, "ChildStartFailed")
      assert.match(error.message, /loop.window must be a positive integer/)
    })
  )
})

describe("Reward", () => {
  it("standard: metric, rating, success, satisfaction, then agreement with a corrected answer", () => {
    const ctx = { latencyMs: 10, ok: true, output: { answer: "5" } }
    assert.strictEqual(Reward.compute(Reward.standard, { metric: 0.3, rating: 0.9 }, ctx), 0.3)
    assert.strictEqual(Reward.compute(Reward.standard, { success: true }, ctx), 1)
    assert.strictEqual(Reward.compute(Reward.standard, { corrected: { answer: " 5 " } }, ctx), 1)
    assert.strictEqual(Reward.compute(Reward.standard, { corrected: { answer: "6" } }, ctx), 0)
    assert.strictEqual(Reward.compute(Reward.standard, { rating: 1 }, { ...ctx, ok: false }), 0)
    assert.isUndefined(Reward.compute(Reward.standard, {}, ctx))
  })

  it("weighted (seed 002): renormalised over the given parts, latency penalty, clamped to [0, 1]", () => {
    const reward = Reward.weighted({ latencyPenaltyPerSecond: 0.5, latencyFreeMs: 100 })
    const ctx = { latencyMs: 100, ok: true, output: {} }
    // 0.4 * 1 + 0.3 * 0 + 0.3 * 0.5 over weights 1.0
    assert.closeTo(Reward.compute(reward, { metric: 1, success: false, satisfaction: 0.5 }, ctx)!, 0.55, 1e-9)
    // Only success given: its weight alone.
    assert.strictEqual(Reward.compute(reward, { success: true }, ctx), 1)
    // 2.1 s over the free 100 ms costs 1.0: clamped at 0.
    assert.strictEqual(Reward.compute(reward, { success: true }, { ...ctx, latencyMs: 2100 }), 0)
    assert.isUndefined(Reward.compute(() => Number.NaN, {}, ctx))
    assert.strictEqual(
      Reward.compute(() => 7, {}, ctx),
      1
    )
    assert.strictEqual(
      Reward.compute(() => -2, {}, ctx),
      0
    )
  })
})
