/**
 * Programs over HTTP under failure, beyond single calls: Evaluate stopping at maxErrors while calls are in
 * flight (the in-flight HTTP requests are abandoned, nothing hangs), and executeProtected's call timeout
 * cutting a held request short (typed CallTimeout, counted by the breaker).
 */
import { Config, Protection } from "@effect-dspy/foundation"
import { ChainOfThought, Evaluate, LM, Module, Parallel, Signature } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { withServer } from "./support.js"

const QA = Signature.make("question -> answer: int")
const devset = SimTask.generate(Arithmetic.task, 23, 40)

describe("Evaluate over HTTP under faults", () => {
  it.live("stops with EvaluateMaxErrors after maxErrors failures and starts no more calls", () =>
    withServer(
      { faults: { rates: { server_error: 0.5, timeout: 0.2 }, seed: 2, timeoutMs: 10_000 } },
      { maxRetries: 0, timeoutMs: 2_000 },
      (server) =>
        Effect.gen(function* () {
          const cot = ChainOfThought.make(QA)
          const error = yield* Effect.flip(
            Evaluate.run({
              devset,
              program: (e: Arithmetic.Example) => Module.call(cot, { question: e.question }),
              metric: (e, p) => p.get("answer") === e.answer,
              concurrency: 4,
              maxErrors: 3
            })
          )
          assert.strictEqual(error._tag, "EvaluateMaxErrors")
          if (error._tag === "EvaluateMaxErrors") {
            assert.strictEqual(error.errors, 3)
            assert.include(error.lastError, "LMServerError")
          }
          const stats = server.stats()
          const attempts = stats.completions + (stats.faults.server_error ?? 0) + (stats.faults.timeout ?? 0)
          assert.isBelow(attempts, devset.length, "the run stopped early")
          // the calls still in flight when it stopped (some held by the server) were interrupted, not awaited
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          assert.isTrue(history.every((h) => h.error?.code !== "lm_timeout"))
        })
    ).pipe(Effect.scoped, Effect.timeout("15 seconds"))
  )
})

describe("executeProtected around LM calls", () => {
  it.live("a call timeout cuts a held request short with CallTimeout, which the breaker counts", () =>
    withServer(
      { faults: { rates: { timeout: 1 }, timeoutMs: 30_000 } },
      { maxRetries: 0, timeoutMs: 30_000 },
      (server) =>
        Effect.gen(function* () {
          const call = Protection.executeProtected(
            "lm.local",
            { breaker: "lm", timeout: "300 millis" },
            LM.complete({ messages: [{ role: "user", content: devset[0]!.question }] })
          )
          const first = yield* Effect.flip(call)
          assert.strictEqual(first._tag, "CallTimeout")
          const second = yield* Effect.flip(call)
          assert.strictEqual(second._tag, "CallTimeout")
          const breaker = yield* Effect.flatMap(Protection.Protection, (p) => p.breaker("lm"))
          assert.strictEqual(yield* breaker.state, "open")
          const third = yield* Effect.flip(call)
          assert.strictEqual(third._tag, "CircuitOpen")
          // at most the two timed-out calls reached the server (one cut short early may not have been read at
          // all): the open circuit kept the third off the wire
          assert.isAtMost(server.stats().faults.timeout ?? 0, 2)
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          assert.strictEqual(history.length, 2, "the LM service saw only the two calls the breaker let through")
        }).pipe(
          Effect.provide(
            Protection.layer.pipe(
              Layer.provide(
                Config.layerTest({
                  infrastructure: {
                    circuitBreakers: { lm: { failureThreshold: 2, windowMs: 60_000, recoveryTimeMs: 60_000 } }
                  }
                })
              )
            )
          )
        )
    ).pipe(Effect.scoped, Effect.timeout("15 seconds"))
  )
})

describe("Parallel over HTTP with a per-call timeout", () => {
  it.live("held calls end as ParallelTimeout (their requests aborted), the others answer; one outcome per input", () =>
    withServer(
      { faults: { rates: { timeout: 0.25 }, seed: 4, timeoutMs: 30_000 } },
      { maxRetries: 0, timeoutMs: 30_000 },
      (server) =>
        Effect.gen(function* () {
          const cot = ChainOfThought.make(QA)
          const inputs = devset.slice(0, 16)
          const outcomes = yield* Parallel.forEach(inputs, (e) => Module.call(cot, { question: e.question }), {
            concurrency: 16,
            maxErrors: 16,
            timeout: "2 seconds"
          })
          assert.strictEqual(outcomes.length, inputs.length)
          const timedOut = outcomes.filter((o) => o._tag === "Left" && o.left._tag === "ParallelTimeout").length
          const answered = outcomes.filter((o) => o._tag === "Right").length
          assert.strictEqual(timedOut + answered, inputs.length)
          // every held call timed out (on a loaded machine a slow answered call may time out too)
          assert.isAtLeast(timedOut, server.stats().faults.timeout ?? 0)
          assert.isAbove(timedOut, 0)
          assert.isAbove(answered, 0)
        })
    ).pipe(Effect.scoped, Effect.timeout("15 seconds"))
  )
})
