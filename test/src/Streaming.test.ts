/**
 * Streams and interruption over HTTP: n > 1 streamed choices, slow streams that still finish, transport faults
 * on a stream surfacing typed (streams are not retried), and interrupting an in-flight call that the server
 * holds (nothing hangs: the HTTP request is aborted).
 */
import { ChainOfThought, ChatAdapter, LM, Signature } from "@effect-dspy/core"
import { Arithmetic, type SimServer, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { withServer } from "./support.js"

const signature = ChainOfThought.extendSignature(Signature.make("question -> answer: int"))
const adapter = ChatAdapter.make()
const questions = SimTask.generate(Arithmetic.task, 17, 4).map((e) => e.question)
const messagesFor = (question: string) => adapter.format(signature, [], { question }).messages

/** Polls the server's counters (real time, bounded) until `done` holds. */
const until = (server: SimServer.Running, done: (s: SimServer.Stats) => boolean) =>
  Effect.repeat(Effect.sync(server.stats), {
    until: done,
    schedule: Schedule.spaced("10 millis")
  }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the server never saw the call") }))

describe("streaming over HTTP", () => {
  it.live("n > 1 streams every choice; the recorded response has each choice in full", () =>
    withServer({ chunkChars: 6 }, {}, (server) =>
      Effect.gen(function* () {
        const chunks = yield* LM.stream({ messages: messagesFor(questions[0]!), n: 3, temperature: 1 }).pipe(
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        const texts = new Map<number, string>()
        for (const c of chunks) texts.set(c.index, (texts.get(c.index) ?? "") + c.delta)
        assert.deepStrictEqual([...texts.keys()].sort(), [0, 1, 2])
        for (const text of texts.values()) {
          const parsed = adapter.parse(signature, text)
          assert.strictEqual(parsed._tag, "Right")
        }
        assert.isTrue(chunks.some((c) => c.usage !== undefined && c.usage.totalTokens > 0))
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.deepStrictEqual(
          history[0]!.response?.choices.map((c) => c.content),
          [0, 1, 2].map((i) => texts.get(i))
        )
        assert.strictEqual(server.stats().streams, 1)
      })
    ).pipe(Effect.scoped)
  )

  it.live("a slow stream (gaps between chunks) still delivers every field", () =>
    withServer({ faults: { rates: { slow_stream: 1 }, slowChunkMs: 5 }, chunkChars: 40 }, {}, (server) =>
      Effect.gen(function* () {
        const events = yield* LM.stream({ messages: messagesFor(questions[1]!) }).pipe(
          Stream.map((c) => c.delta),
          adapter.streamFields(signature),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        const values = events.filter((e) => e._tag === "FieldValue").map((e) => e.field)
        assert.deepStrictEqual(values, ["reasoning", "answer"])
        assert.strictEqual(server.stats().faults.slow_stream, 1)
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )

  for (const [kind, tag] of [
    ["rate_limit", "LMRateLimited"],
    ["unavailable", "LMServerError"],
    ["reset", "LMServerError"],
    ["timeout", "LMTimeout"]
  ] as const) {
    it.live(`a ${kind} fault on a stream fails it with ${tag} and is not retried`, () =>
      withServer(
        { faults: { rates: { [kind]: 1 }, retryAfterSeconds: 0, timeoutMs: 5_000 } },
        // a short client timeout only where the server holds the call (a loaded machine may answer slower)
        { maxRetries: 3, timeoutMs: kind === "timeout" ? 500 : 10_000 },
        (server) =>
          Effect.gen(function* () {
            const error = yield* LM.stream({ messages: messagesFor(questions[2]!) }).pipe(Stream.runDrain, Effect.flip)
            assert.strictEqual(error._tag, tag)
            assert.strictEqual(server.stats().faults[kind], 1, "a stream is never replayed")
            const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
            assert.strictEqual(history.length, 1)
            assert.strictEqual(history[0]!.error?.code, error.code)
          })
      ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
    )
  }
})

describe("interruption over HTTP", () => {
  it.live("interrupting a call the server holds ends it at once and records nothing as a success", () =>
    withServer({ faults: { rates: { timeout: 1 }, timeoutMs: 60_000 } }, { timeoutMs: 60_000 }, (server) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(LM.complete({ messages: messagesFor(questions[3]!) }))
        yield* until(server, (s) => (s.faults.timeout ?? 0) === 1)
        yield* Fiber.interrupt(fiber).pipe(
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("interrupt did not end the call") })
        )
        const exit = yield* Fiber.await(fiber)
        assert.strictEqual(exit._tag, "Failure")
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.isTrue(history.every((h) => h.response === undefined))
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )

  it.live("interrupting a stream mid-way (a slow stream) ends it and the server keeps serving", () =>
    withServer({ faults: { rates: { slow_stream: 0.5 }, seed: 1, slowChunkMs: 400 }, chunkChars: 4 }, {}, (server) =>
      Effect.gen(function* () {
        // call 0 of seed 1 draws a slow stream (see the fault draw): its ~40 events 400 ms apart would outlast the
        // 10 s bound below; take the first text chunk and stop
        const first = yield* LM.stream({ messages: messagesFor(questions[0]!) }).pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no first chunk") })
        )
        assert.strictEqual(Chunk.size(first), 1)
        const next = yield* LM.complete({ messages: messagesFor(questions[1]!) })
        assert.isAbove(next.choices[0]!.content.length, 0)
        assert.strictEqual(server.stats().faults.slow_stream, 1)
      })
    ).pipe(Effect.scoped, Effect.timeout("10 seconds"))
  )

  // Ending a stream aborts its request first (OpenAIProvider.stream): an async generator would queue the
  // iterator's `return()` behind the pending `next()`, and a server gone quiet would hold the interruption.
  it.live("interrupting a stalled stream aborts it at once", () =>
    withServer({ faults: { rates: { slow_stream: 1 }, slowChunkMs: 4_000 } }, {}, (server) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(LM.stream({ messages: messagesFor(questions[0]!) }).pipe(Stream.runDrain))
        yield* until(server, (s) => (s.faults.slow_stream ?? 0) === 1)
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(fiber).pipe(
          Effect.timeoutFail({ duration: "1500 millis", onTimeout: () => new Error("the interruption waited") })
        )
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})

describe("stalled streams", () => {
  // The SDK's timeout ends at the response headers; OpenAIProvider.stream also fails a streamed body that stays
  // silent for timeoutMs (before, a server gone quiet hung the consumer for as long as it stayed quiet).
  it.live("a stream silent for longer than timeoutMs fails with LMTimeout", () =>
    withServer({ faults: { rates: { slow_stream: 1 }, slowChunkMs: 4_000 } }, { timeoutMs: 300 }, () =>
      Effect.gen(function* () {
        const error = yield* LM.stream({ messages: messagesFor(questions[1]!) }).pipe(
          Stream.runDrain,
          Effect.flip,
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("the silent stream hung") })
        )
        assert.strictEqual(error._tag, "LMTimeout")
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
