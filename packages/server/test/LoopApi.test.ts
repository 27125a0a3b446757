import { Correlation } from "@effect-dspy/foundation"
import { ModuleManager } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { client, start } from "./support.js"

const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

const raw = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, text: await response.text() }
  })

describe("feedback and loop over HTTP", () => {
  it.scopedLive("feedback by executionId and correlationId; status; decisions; 404, 422, 400 and 403", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      const executor = yield* client(h.url, h.keys.executor)
      const reader = yield* client(h.url, h.keys.reader)
      yield* admin.modules.create({ payload: spec })
      const execution = yield* executor.modules.execute({
        path: { id: "qa" },
        payload: { inputs: { question: "What is 2 + 3?" } }
      })
      assert.isString(execution.executionId)
      const executionId = execution.executionId as string
      const first = yield* executor.loop.feedback({ payload: { executionId, outcome: { rating: 0.8 } } })
      assert.deepStrictEqual(first, { executionIds: [executionId], reward: 0.8, status: "recorded" })
      const again = yield* executor.loop.feedback({ payload: { executionId, outcome: { rating: 0.8 } } })
      assert.strictEqual(again.status, "duplicate")
      const changed = yield* executor.loop.feedback({ payload: { executionId, outcome: { success: false } } })
      assert.deepStrictEqual([changed.status, changed.reward], ["updated", 0])
      // The loop saw the reward: its status counts it for the module.
      const status = yield* reader.loop.status()
      const qa = status.modules.find((m) => m.moduleId === "qa")
      assert.isDefined(qa)
      assert.isAtLeast(qa!.rewards, 1)
      assert.strictEqual(qa!.version, 1)
      const decisions = yield* reader.loop.decisions({ urlParams: { moduleId: "qa" } })
      assert.isTrue(decisions.every((d) => d.moduleId === "qa"))
      // By correlation id: every execution of the request (executed in process under that correlation id).
      const modules = Context.get(h.context, ModuleManager.ModuleManager)
      const [a, b] = yield* Effect.all([
        modules.execute("qa", { question: "What is 1 + 1?" }),
        modules.execute("qa", { question: "What is 1 + 2?" })
      ]).pipe(Correlation.withCorrelationId("req_checkout_7"))
      const byCorrelation = yield* executor.loop.feedback({
        payload: { correlationId: "req_checkout_7", outcome: { metric: 0.5 } }
      })
      assert.deepStrictEqual([...byCorrelation.executionIds].sort(), [a.executionId, b.executionId].sort())
      assert.strictEqual(byCorrelation.reward, 0.5)
      // Unknown ids are typed 404s.
      const unknown = yield* Effect.flip(
        executor.loop.feedback({ payload: { executionId: "ex_nope", outcome: { rating: 1 } } })
      )
      assert.strictEqual(unknown._tag, "NotFound")
      const unknownCorrelation = yield* Effect.flip(
        executor.loop.feedback({ payload: { correlationId: "req_nope", outcome: { rating: 1 } } })
      )
      assert.strictEqual(unknownCorrelation._tag, "NotFound")
      // An outcome without a signal is the loop's 422, naming the field.
      const empty = yield* Effect.flip(executor.loop.feedback({ payload: { executionId, outcome: {} } }))
      assert.strictEqual(empty._tag, "FeedbackInvalid")
      assert.strictEqual((empty as { readonly field?: string }).field, "outcome")
      // A value out of range is the schema's 400, naming the field.
      const range = yield* raw(`${h.url}/feedback`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.keys.executor}`, "content-type": "application/json" },
        body: JSON.stringify({ executionId, outcome: { rating: 3 } })
      })
      assert.strictEqual(range.status, 400)
      assert.include(range.text, "rating")
      // Scopes: feedback needs execute; no key is 401.
      const forbidden = yield* Effect.flip(reader.loop.feedback({ payload: { executionId, outcome: { rating: 1 } } }))
      assert.strictEqual(forbidden._tag, "Forbidden")
      // Scopes are ordered (execute includes read).
      const executorReads = yield* executor.loop.status()
      assert.isTrue(executorReads.modules.some((m) => m.moduleId === "qa"))
      const anonymous = yield* client(h.url)
      const none = yield* Effect.flip(anonymous.loop.decisions({ urlParams: {} }))
      assert.strictEqual(none._tag, "Unauthorized")
    })
  )

  it.scopedLive("feedback after the window is a 409 FeedbackTooLate", () =>
    Effect.gen(function* () {
      const h = yield* start({ feedbackWindowMs: 1 })
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: spec })
      const execution = yield* admin.modules.execute({
        path: { id: "qa" },
        payload: { inputs: { question: "What is 4 + 4?" } }
      })
      yield* Effect.sleep("20 millis")
      const late = yield* raw(`${h.url}/feedback`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.keys.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ executionId: execution.executionId, outcome: { rating: 1 } })
      })
      assert.strictEqual(late.status, 409)
      const body = JSON.parse(late.text)
      assert.strictEqual(body._tag, "FeedbackTooLate")
      assert.strictEqual(body.windowMs, 1)
    })
  )
})
