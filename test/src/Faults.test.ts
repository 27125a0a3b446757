/**
 * Every fault kind the local server injects, seen through the real `openai` SDK and the LM service from
 * Config: retryable faults are retried (the server sees more requests than calls) and calls succeed at modest
 * rates; with retries exhausted the typed LM error surfaces; malformed output goes through the adapter's JSON
 * fallback or surfaces as AdapterParseError with the raw completion; a 30% fault mix over 100 concurrent calls
 * ends every call; a circuit breaker (foundation's executeProtected) opens on a burst of 5xx and closes again.
 * Servers and retries run in real time: latencies and delays are kept small and every wait is bounded.
 */
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Adapter, ChainOfThought, ChatAdapter, LM, Module, Predict, Signature } from "@effect-dspy/core"
import { Arithmetic, SimFaults, SimLatency, SimServer, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { chatRequests, lmLayer, withServer } from "./support.js"

const questions = SimTask.generate(Arithmetic.task, 5, 100).map((e) => e.question)
const QA = Signature.make("question -> answer: int")
const ask = (i: number): LM.Request => ({ messages: [{ role: "user", content: questions[i % questions.length]! }] })

/** A profile with one fault kind at `rate` (Retry-After 0 s, timeouts held 5 s by the server). */
const only = (kind: SimFaults.Kind, rate: number, seed = 3): SimFaults.Profile => ({
  rates: { [kind]: rate },
  seed,
  retryAfterSeconds: 0,
  timeoutMs: 5_000
})

/** The transport faults and the typed error each one becomes. */
const transport: ReadonlyArray<readonly [SimFaults.Kind, string, number | undefined]> = [
  ["rate_limit", "LMRateLimited", undefined],
  ["server_error", "LMServerError", 500],
  ["unavailable", "LMServerError", 503],
  ["timeout", "LMTimeout", undefined],
  ["reset", "LMServerError", undefined]
]

/**
 * The client gives up on a held (timeout) request after 500 ms. Only the `timeout` kind uses so short a
 * client timeout: on a loaded machine an answered request can take longer than that, and the client would
 * then time out and retry a call the server did answer.
 */
const clientTimeoutMs = 500
const timeoutFor = (kind: SimFaults.Kind) => (kind === "timeout" ? clientTimeoutMs : 10_000)

describe.concurrent("injected transport faults", () => {
  for (const [kind, tag, status] of transport) {
    it.live(`${kind}: retried until success at a 30% rate; more requests reach the server than calls`, () =>
      withServer({ faults: only(kind, 0.3) }, { maxRetries: 5, timeoutMs: timeoutFor(kind) }, (server) =>
        Effect.gen(function* () {
          const calls = 8
          const responses = yield* Effect.forEach(
            Array.from({ length: calls }, (_, i) => i),
            (i) => LM.complete(ask(i)),
            { concurrency: calls }
          )
          assert.strictEqual(responses.length, calls)
          assert.isTrue(responses.every((r) => r.choices[0]!.content.length > 0))
          const stats = server.stats()
          assert.isAbove(stats.faults[kind] ?? 0, 0, `${kind} was injected`)
          // each fault costs one more request (a timed-out attempt may also have been answered late, so at least)
          if (kind === "timeout") assert.isAtLeast(chatRequests(stats), calls + (stats.faults[kind] ?? 0))
          else assert.strictEqual(chatRequests(stats), calls + (stats.faults[kind] ?? 0))
          assert.isAbove(chatRequests(stats), calls)
        })
      ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
    )

    it.live(`${kind}: with retries exhausted the call fails with ${tag}`, () =>
      withServer({ faults: only(kind, 1) }, { maxRetries: 1, timeoutMs: timeoutFor(kind) }, (server) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(LM.complete(ask(0)))
          assert.strictEqual(error._tag, tag)
          assert.isTrue(error.retryable)
          if (status !== undefined) assert.strictEqual((error as { status?: number }).status, status)
          if (error._tag === "LMTimeout") assert.strictEqual(error.timeoutMs, clientTimeoutMs)
          if (error._tag === "LMRateLimited") assert.strictEqual(error.retryAfterMs, 0)
          // one attempt and one retry
          assert.strictEqual(server.stats().faults[kind], 2)
          // the failure is recorded in the history with its code
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          assert.strictEqual(history.length, 1)
          assert.strictEqual(history[0]!.error?.code, error.code)
        })
      ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
    )
  }

  it.live("a 429 Retry-After header reaches the typed error (retryAfterMs) and the retry still happens", () =>
    withServer({ faults: { ...only("rate_limit", 1), retryAfterSeconds: 1 } }, { maxRetries: 1 }, (server) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(LM.complete(ask(0)))
        assert.strictEqual(error._tag, "LMRateLimited")
        assert.strictEqual((error as { retryAfterMs?: number }).retryAfterMs, 1000)
        assert.strictEqual(server.stats().faults.rate_limit, 2)
      })
    ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
  )
})

describe("failures in the record", () => {
  it.live("a failed predictor call is recorded: lm_request events with the error code, module events with status", () =>
    withServer({ faults: only("server_error", 1) }, { maxRetries: 1 }, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Module.call(ChainOfThought.make(QA), { question: questions[5]! }))
        assert.strictEqual(error._tag, "LMServerError")
        const requests = yield* Events.query({ types: ["lm_request"] })
        // one event per LM call (the call retried inside it once), with the failure's code
        assert.strictEqual(requests.length, 1)
        assert.strictEqual(requests[0]!.data.error, "lm_server")
        const completes = yield* Events.query({ types: ["module_execution_complete"] })
        assert.isAbove(completes.length, 0)
        assert.isTrue(completes.every((e) => e.data.status === "error"))
        assert.isTrue(completes.every((e) => String(e.data.error).includes("LMServerError")))
      })
    ).pipe(Effect.provide(Events.layerMemory), Effect.scoped)
  )
})

describe("injected output faults", () => {
  it.live("missing markers: the ChatAdapter's answer does not parse and the JSON fallback answers", () =>
    withServer({ faults: only("missing_marker", 1) }, {}, (server) =>
      Effect.gen(function* () {
        const prediction = yield* Module.call(ChainOfThought.make(QA), { question: questions[0]! })
        assert.isNumber(prediction.get("answer"))
        assert.strictEqual(prediction.lmCalls, 2, "one ChatAdapter call, one JSONAdapter call")
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.strictEqual(history.length, 2)
        assert.isDefined(history[1]!.request.responseFormat)
        assert.strictEqual(server.stats().faults.missing_marker, 2)
      })
    ).pipe(Effect.scoped)
  )

  it.live("truncated output without fallback surfaces as AdapterParseError carrying the raw completion", () =>
    withServer({ faults: only("truncated_json", 1) }, {}, () =>
      Effect.gen(function* () {
        const predict = Predict.make(ChainOfThought.extendSignature(QA), {
          adapter: ChatAdapter.make({ jsonFallback: false })
        })
        const error = yield* Effect.flip(Module.call(predict, { question: questions[1]! }))
        assert.strictEqual(error._tag, "AdapterParseError")
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        const raw = history[0]!.response!.choices[0]!.content
        assert.isTrue(error instanceof Adapter.AdapterParseError)
        if (error instanceof Adapter.AdapterParseError) {
          assert.strictEqual(error.completion, raw)
          assert.isAbove(error.missing.length + error.invalid.length, 0)
        }
      })
    ).pipe(Effect.scoped)
  )

  it.live("empty output fails both adapters: AdapterParseError with the empty completion, nothing retried", () =>
    withServer({ faults: only("empty", 1) }, {}, (server) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Module.call(ChainOfThought.make(QA), { question: questions[2]! }))
        assert.strictEqual(error._tag, "AdapterParseError")
        if (error instanceof Adapter.AdapterParseError) {
          assert.strictEqual(error.completion, "")
          assert.deepStrictEqual([...error.missing].sort(), ["answer", "reasoning"])
        }
        assert.strictEqual(server.stats().completions, 2, "the ChatAdapter's call and the JSON fallback's")
      })
    ).pipe(Effect.scoped)
  )

  it.live("extra prose around the sections still parses", () =>
    withServer({ faults: only("extra_prose", 1) }, {}, () =>
      Effect.gen(function* () {
        const prediction = yield* Module.call(ChainOfThought.make(QA), { question: questions[3]! })
        assert.isNumber(prediction.get("answer"))
        assert.isString(prediction.get("reasoning"))
      })
    ).pipe(Effect.scoped)
  )

  it.live("a truncated SSE stream fails with a typed error, not a silently short answer", () =>
    withServer({ faults: only("truncated_stream", 1), chunkChars: 8 }, {}, (server) =>
      Effect.gen(function* () {
        const signature = ChainOfThought.extendSignature(QA)
        const adapter = ChatAdapter.make()
        const formatted = adapter.format(signature, [], { question: questions[4]! })
        const error = yield* LM.stream({ messages: formatted.messages }).pipe(
          Stream.map((c) => c.delta),
          adapter.streamFields(signature),
          Stream.runDrain,
          Effect.flip
        )
        assert.include(["LMServerError", "AdapterParseError"], error._tag)
        assert.strictEqual(error._tag, "LMServerError")
        assert.strictEqual(server.stats().faults.truncated_stream, 1)
        // the broken stream is recorded as a failed call
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.strictEqual(history[0]!.error?.code, "lm_server")
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})

describe("a 30% fault mix under load", () => {
  it.live("100 concurrent predictor calls each end in a result or a typed error, within a bounded time", () => {
    const kinds: ReadonlyArray<SimFaults.Kind> = [
      "rate_limit",
      "server_error",
      "unavailable",
      "timeout",
      "reset",
      "missing_marker",
      "truncated_json",
      "empty"
    ]
    const faults: SimFaults.Profile = { ...SimFaults.uniform(0.3, kinds, 11), retryAfterSeconds: 0, timeoutMs: 5_000 }
    return withServer({ faults, latency: SimLatency.fixed(2) }, { maxRetries: 2, timeoutMs: 1_000 }, (server) =>
      Effect.gen(function* () {
        const calls = 100
        const cot = ChainOfThought.make(QA)
        const outcomes = yield* Effect.forEach(
          Array.from({ length: calls }, (_, i) => i),
          (i) => Effect.either(Module.call(cot, { question: questions[i]! })),
          { concurrency: calls }
        )
        const results = outcomes.filter((o) => o._tag === "Right").length
        const errors = outcomes.flatMap((o) => (o._tag === "Left" ? [o.left] : []))
        assert.strictEqual(results + errors.length, calls)
        const typed = new Set([
          "LMRateLimited",
          "LMServerError",
          "LMTimeout",
          "AdapterParseError",
          "LMBadRequest",
          "LMContextWindowExceeded",
          "LMAuthError"
        ])
        for (const e of errors) assert.isTrue(typed.has(e._tag), `untyped failure: ${e._tag}`)
        // retries absorb most transport faults: the large majority of calls succeed
        assert.isAtLeast(results, 70, `results ${results}, errors ${errors.map((e) => e._tag).join(",")}`)
        const stats = server.stats()
        const injected = Object.values(stats.faults).reduce((a, b) => a + (b ?? 0), 0)
        assert.isAbove(injected, 15)
        assert.isAbove(chatRequests(stats), calls)
      })
    ).pipe(
      Effect.scoped,
      Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => new Error("the fault mix run hung") })
    )
  })
})

describe("circuit breaker around LM calls (executeProtected)", () => {
  it.live("a burst of 5xx opens it; after the recovery time it half-opens and closes once faults stop", () =>
    Effect.gen(function* () {
      const faulty = yield* SimServer.serve({ faults: only("server_error", 1) })
      const healthy = yield* SimServer.serve()
      const protection = Protection.layer.pipe(
        Layer.provide(
          Config.layerTest({
            infrastructure: {
              circuitBreakers: { lm: { failureThreshold: 5, windowMs: 60_000, recoveryTimeMs: 1_000 } }
            }
          })
        )
      )
      const call = (i: number) => Protection.executeProtected("lm.local", { breaker: "lm" }, LM.complete(ask(i)))
      yield* Effect.gen(function* () {
        // phase 1: the provider fails (no LM-level retries, so every 5xx reaches the breaker)
        const burst = yield* Effect.forEach([0, 1, 2, 3, 4], (i) =>
          Effect.flip(call(i).pipe(Effect.provide(lmLayer(faulty.url, { maxRetries: 0 }))))
        )
        assert.deepStrictEqual(
          burst.map((e) => e._tag),
          Array(5).fill("LMServerError")
        )
        const rejected = yield* Effect.flip(call(5).pipe(Effect.provide(lmLayer(faulty.url, { maxRetries: 0 }))))
        assert.strictEqual(rejected._tag, "CircuitOpen")
        assert.strictEqual(faulty.stats().faults.server_error, 5, "the open circuit kept the 6th call off the wire")
        // phase 2: the faults stop (the provider now answers), but the circuit is still open
        const still = yield* Effect.flip(call(6).pipe(Effect.provide(lmLayer(healthy.url, { maxRetries: 0 }))))
        assert.strictEqual(still._tag, "CircuitOpen")
        assert.strictEqual(healthy.stats().completions, 0)
        const breaker = yield* Effect.flatMap(Protection.Protection, (p) => p.breaker("lm"))
        assert.strictEqual(yield* breaker.state, "open")
        // after the recovery time (1 s, long enough that a stalled machine does not reach it between the calls
        // above) a trial call goes through and closes the circuit
        yield* Effect.sleep("1200 millis")
        const answered = yield* call(7).pipe(Effect.provide(lmLayer(healthy.url, { maxRetries: 0 })))
        assert.isAbove(answered.choices.length, 0)
        assert.strictEqual(yield* breaker.state, "closed")
        const more = yield* Effect.forEach([8, 9, 10], (i) =>
          call(i).pipe(Effect.provide(lmLayer(healthy.url, { maxRetries: 0 })))
        )
        assert.strictEqual(more.length, 3)
        assert.strictEqual(healthy.stats().completions, 4)
        const transitions = (yield* Events.query({ types: ["circuit_breaker_state_changed"] })).map(
          (e) => `${String(e.data.from)}->${String(e.data.to)}`
        )
        assert.deepStrictEqual(transitions, ["closed->open", "open->half-open", "half-open->closed"])
      }).pipe(Effect.provide(Layer.merge(protection, Events.layerMemory)))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
