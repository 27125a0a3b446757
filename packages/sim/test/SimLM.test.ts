import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { type Completion, LM, ProviderKind } from "@effect-dspy/core"
import { Config, ConfigSchema } from "@effect-dspy/foundation"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Embeddings from "../src/Embeddings.js"
import * as Faults from "../src/Faults.js"
import * as Latency from "../src/Latency.js"
import { Random } from "@effect-dspy/foundation"
import * as SimLM from "../src/SimLM.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const q = Task.generate(Arithmetic.task, 33, 1)[0]!
const request: Completion.CompletionRequest = { model: "sim-1", messages: P.chat(P.cotSig, { question: q.question }) }

describe("SimLM provider", () => {
  it.effect("completes with n choices and usage", () =>
    Effect.gen(function* () {
      const sim = SimLM.make()
      const r = yield* sim.complete({ ...request, n: 3, temperature: 0.9 })
      assert.strictEqual(r.choices.length, 3)
      assert.deepStrictEqual(
        r.choices.map((c) => c.index),
        [0, 1, 2]
      )
      assert.isAbove(r.usage.totalTokens, 0)
      assert.isFalse(r.cacheHit)
      assert.strictEqual((yield* sim.stats).calls, 1)
    })
  )

  it.effect("streams the same text as complete, with usage on the last chunk", () =>
    Effect.gen(function* () {
      const sim = SimLM.make({ chunkChars: 7 })
      const full = yield* sim.complete(request)
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(sim.stream(request)))
      assert.isAbove(chunks.length, 3)
      assert.strictEqual(chunks.map((c) => c.delta).join(""), full.choices[0]!.content)
      assert.deepStrictEqual(chunks[chunks.length - 1]!.usage, full.usage)
      assert.strictEqual(chunks[chunks.length - 1]!.finishReason, "stop")
    })
  )

  it.effect("fails bad requests with LMBadRequest", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(SimLM.make().complete({ ...request, n: -1 }))
      assert.strictEqual(e._tag, "LMBadRequest")
      assert.match(e.message, /n must be/)
    })
  )

  it("rejects unusable options with a typed error", () => {
    assert.throws(() => SimLM.make({ faults: { rates: { rate_limit: 2 } } }), /fault rate/)
    const r = Effect.runSync(Effect.either(SimLM.makeEffect({ latency: Latency.lognormal(50, 10) })))
    assert.isTrue(Either.isLeft(r) && r.left._tag === "SimConfigError" && /p99/.test(r.left.message))
  })

  it.effect("waits its latency on Effect's Clock", () =>
    Effect.gen(function* () {
      const sim = SimLM.make({ latency: Latency.fixed(2000) })
      const fiber = yield* Effect.fork(sim.complete(request))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("1 millis")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(r.choices.length, 1)
    })
  )

  it("lognormal latency has about the requested mean and p99", () => {
    const rng = Random.fromState(5)
    const xs = Array.from({ length: 20_000 }, () => Latency.sample(Latency.lognormal(50, 400), rng)).sort(
      (a, b) => a - b
    )
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    assert.closeTo(mean, 50, 6)
    assert.closeTo(xs[Math.floor(xs.length * 0.99)]!, 400, 60)
    assert.deepStrictEqual(Latency.parse("lognormal:50ms:400ms"), Latency.lognormal(50, 400))
    assert.deepStrictEqual(Latency.parse("50ms"), Latency.fixed(50))
    assert.match(Latency.parse("soon") as string, /cannot read latency/)
  })

  it.effect("injects each transport fault as the matching typed error", () =>
    Effect.gen(function* () {
      const expect = [
        ["rate_limit", "LMRateLimited"],
        ["server_error", "LMServerError"],
        ["unavailable", "LMServerError"],
        ["reset", "LMServerError"]
      ] as const
      for (const [kind, tag] of expect) {
        const sim = SimLM.make({ faults: { rates: { [kind]: 1 }, retryAfterSeconds: 2 } })
        const e = yield* Effect.flip(sim.complete(request))
        assert.strictEqual(e._tag, tag, kind)
        if (e._tag === "LMRateLimited") assert.strictEqual(e.retryAfterMs, 2000)
        assert.strictEqual((yield* sim.stats).faults[kind], 1)
      }
      const slow = SimLM.make({ faults: { rates: { timeout: 1 }, timeoutMs: 5000 } })
      const fiber = yield* Effect.fork(Effect.flip(slow.complete(request)))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "LMTimeout")
    })
  )

  it.effect("injects malformed and empty outputs", () =>
    Effect.gen(function* () {
      const clean = (yield* SimLM.make().complete(request)).choices[0]!.content
      const text = (kind: Faults.Kind) =>
        Effect.map(SimLM.make({ faults: { rates: { [kind]: 1 } } }).complete(request), (r) => r.choices[0]!.content)
      assert.strictEqual(yield* text("empty"), "")
      const missing = yield* text("missing_marker")
      assert.isBelow((missing.match(/\[\[ ## /g) ?? []).length, (clean.match(/\[\[ ## /g) ?? []).length)
      assert.isBelow((yield* text("truncated_json")).length, clean.length)
      assert.include(yield* text("extra_prose"), "Sure!")
    })
  )

  it.effect("faults are drawn per call at about their rate, so retries can succeed", () =>
    Effect.gen(function* () {
      const sim = SimLM.make({ faults: Faults.uniform(0.3, ["server_error"], 9) })
      const results = yield* Effect.forEach(Array.from({ length: 400 }), () => Effect.either(sim.complete(request)))
      const failed = results.filter(Either.isLeft).length
      assert.isTrue(failed > 80 && failed < 160, `failed ${failed}`)
    })
  )

  it.effect("truncated and slow streams", () =>
    Effect.gen(function* () {
      const truncated = SimLM.make({ faults: { rates: { truncated_stream: 1 } } })
      const e = yield* Effect.flip(Stream.runCollect(truncated.stream(request)))
      assert.strictEqual(e._tag, "LMServerError")
      const slow = SimLM.make({ faults: { rates: { slow_stream: 1 }, slowChunkMs: 100 }, chunkChars: 1000 })
      const fiber = yield* Effect.fork(Stream.runCollect(slow.stream(request)))
      yield* TestClock.adjust("99 millis")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("1 second")
      assert.isAbove(Chunk.size(yield* Fiber.join(fiber)), 0)
    })
  )

  it.effect("embeds deterministically into unit vectors; similar texts are closer", () =>
    Effect.gen(function* () {
      const sim = SimLM.make({ embeddingDimensions: 128 })
      const [a, b, c, d] = yield* sim.embed([
        "How many apples does Mia have now?",
        "How many apples does Liam have now?",
        "Summarize the report on quantum computing",
        ""
      ])
      assert.strictEqual(a!.length, 128)
      assert.closeTo(Math.hypot(...a!), 1, 1e-9)
      assert.closeTo(Math.hypot(...d!), 1, 1e-9)
      assert.isAbove(Embeddings.cosine(a!, b!), Embeddings.cosine(a!, c!) + 0.3)
      assert.deepStrictEqual((yield* sim.embed(["How many apples does Mia have now?"]))[0], a)
    })
  )

  it.effect("serves the LM service through its layer", () =>
    Effect.gen(function* () {
      const r = yield* LM.complete({ messages: request.messages })
      assert.strictEqual(r.model, "sim-1")
      assert.include(r.choices[0]!.content, "[[ ## completed ## ]]")
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it.effect("layerConfig builds the simulated LM from the default configuration (its kind through layerKind)", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      assert.strictEqual(lm.provider, "simulated")
      assert.strictEqual(lm.model, "sim-1")
      const response = yield* lm.complete({ messages: request.messages })
      assert.include(response.choices[0]!.content, "[[ ## completed ## ]]")
      assert.strictEqual((yield* lm.usage).calls, 1)
    }).pipe(Effect.provide(SimLM.layerConfig.pipe(Layer.provide(Config.layerTest({})))))
  )

  it.effect("the simulated kind joins kinds given by other layers, and the openai kind stays available", () =>
    Effect.gen(function* () {
      const kinds = yield* ProviderKind.ProviderKinds
      assert.isTrue(kinds.has("simulated"))
      const settings = Schema.decodeUnknownSync(ConfigSchema.ProviderSettings)({ kind: "openai" })
      const error = yield* Effect.flip(Effect.scoped(LM.providerFromSettings("real", settings)))
      assert.include(error.message, "OPENAI_API_KEY")
      const local = yield* Effect.scoped(
        LM.providerFromSettings("local", { ...settings, baseUrl: "http://127.0.0.1:9/v1" })
      )
      assert.strictEqual(local.name, "openai")
      const sim = yield* Effect.scoped(
        LM.providerFromSettings("default", Schema.decodeUnknownSync(ConfigSchema.ProviderSettings)({}))
      )
      assert.strictEqual(sim.name, "simulated")
    }).pipe(Effect.provide(SimLM.layerKind))
  )
})
