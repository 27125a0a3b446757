/**
 * The fault suite of `Faults.test.ts`, run against the native Anthropic provider: the LM service from Config with
 * a provider of kind `anthropic` (the real AnthropicProvider on the real `@anthropic-ai/sdk`) pointed at a local
 * fake of the Messages API that answers with the simulated LM and injects the same fault kinds (a 529 overloaded
 * for `unavailable`). Retryable faults are retried; with retries exhausted the typed error surfaces; malformed
 * output goes through the adapter's JSON fallback or surfaces as AdapterParseError; a cut stream is a typed
 * error; a 30% mix over 100 concurrent calls ends every call. Last, the same kind serves a supervised
 * application's provider pool. Servers and retries run in real time, with small delays and bounded waits.
 */
import { Config, Events } from "@effect-dspy/foundation"
import { Adapter, ChainOfThought, ChatAdapter, LM, Module, Predict, Signature } from "@effect-dspy/core"
import { Application, LMProviders, ModuleManager } from "@effect-dspy/services"
import { Arithmetic, SimFaults, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AnthropicFake from "./anthropicFake.js"
import { SECRET } from "./support.js"

const questions = SimTask.generate(Arithmetic.task, 5, 100).map((e) => e.question)
const QA = Signature.make("question -> answer: int")
const ask = (i: number): LM.Request => ({ messages: [{ role: "user", content: questions[i % questions.length]! }] })

const only = (kind: SimFaults.Kind, rate: number, seed = 3): SimFaults.Profile => ({
  rates: { [kind]: rate },
  seed,
  retryAfterSeconds: 0,
  timeoutMs: 5_000
})

const configFor = (url: string, overrides: { readonly maxRetries?: number; readonly timeoutMs?: number } = {}) => ({
  modules: { defaultLmProvider: "claude", cacheEnabled: false },
  providers: {
    claude: {
      kind: "anthropic",
      baseUrl: url,
      apiKey: SECRET,
      maxRetries: overrides.maxRetries ?? 3,
      timeoutMs: overrides.timeoutMs ?? 10_000
    }
  }
})

/** Starts the fake, then runs `body` with the LM service configured for it. */
const withFake = <A, E, R>(
  options: Parameters<typeof AnthropicFake.serve>[0],
  overrides: { readonly maxRetries?: number; readonly timeoutMs?: number },
  body: (fake: AnthropicFake.Running) => Effect.Effect<A, E, R>
) =>
  Effect.flatMap(AnthropicFake.serve(options), (fake) =>
    Effect.provide(body(fake), LM.layer.pipe(Layer.provide(Config.layerTest(configFor(fake.url, overrides)))))
  )

const requests = (stats: AnthropicFake.Stats): number =>
  stats.completions +
  stats.streams +
  Object.values(stats.faults).reduce((a, b) => a + (b ?? 0), 0) -
  (["missing_marker", "truncated_json", "extra_prose", "empty", "truncated_stream"] as const).reduce(
    (a, k) => a + (stats.faults[k] ?? 0),
    0
  )

const transport: ReadonlyArray<readonly [SimFaults.Kind, string, number | undefined]> = [
  ["rate_limit", "LMRateLimited", undefined],
  ["server_error", "LMServerError", 500],
  ["unavailable", "LMServerError", 529],
  ["timeout", "LMTimeout", undefined],
  ["reset", "LMServerError", undefined]
]
const clientTimeoutMs = 500
const timeoutFor = (kind: SimFaults.Kind) => (kind === "timeout" ? clientTimeoutMs : 10_000)

describe.concurrent("anthropic: injected transport faults", () => {
  for (const [kind, tag, status] of transport) {
    it.live(`${kind}: retried until success at a 30% rate; more requests reach the server than calls`, () =>
      withFake({ faults: only(kind, 0.3) }, { maxRetries: 5, timeoutMs: timeoutFor(kind) }, (fake) =>
        Effect.gen(function* () {
          const calls = 8
          const responses = yield* Effect.forEach(
            Array.from({ length: calls }, (_, i) => i),
            (i) => LM.complete(ask(i)),
            { concurrency: calls }
          )
          assert.isTrue(responses.every((r) => r.choices[0]!.content.length > 0))
          const stats = fake.stats()
          assert.isAbove(stats.faults[kind] ?? 0, 0, `${kind} was injected`)
          if (kind === "timeout") assert.isAtLeast(requests(stats), calls + (stats.faults[kind] ?? 0))
          else assert.strictEqual(requests(stats), calls + (stats.faults[kind] ?? 0))
        })
      ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
    )

    it.live(`${kind}: with retries exhausted the call fails with ${tag}`, () =>
      withFake({ faults: only(kind, 1) }, { maxRetries: 1, timeoutMs: timeoutFor(kind) }, (fake) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(LM.complete(ask(0)))
          assert.strictEqual(error._tag, tag)
          assert.isTrue(error.retryable)
          assert.strictEqual(error.provider, "anthropic")
          if (status !== undefined) assert.strictEqual((error as { status?: number }).status, status)
          if (error._tag === "LMTimeout") assert.strictEqual(error.timeoutMs, clientTimeoutMs)
          if (error._tag === "LMRateLimited") assert.strictEqual(error.retryAfterMs, 0)
          assert.strictEqual(fake.stats().faults[kind], 2)
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          assert.strictEqual(history.length, 1)
          assert.strictEqual(history[0]!.error?.code, error.code)
          assert.notInclude(JSON.stringify(history), SECRET)
        })
      ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
    )
  }

  it.live("a 429 Retry-After header reaches the typed error (retryAfterMs) and the retry still happens", () =>
    withFake({ faults: { ...only("rate_limit", 1), retryAfterSeconds: 1 } }, { maxRetries: 1 }, (fake) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(LM.complete(ask(0)))
        assert.strictEqual(error._tag, "LMRateLimited")
        assert.strictEqual((error as { retryAfterMs?: number }).retryAfterMs, 1000)
        assert.strictEqual(fake.stats().faults.rate_limit, 2)
      })
    ).pipe(Effect.scoped, Effect.timeout("30 seconds"))
  )
})

describe("anthropic: injected output faults", () => {
  it.live("missing markers: the ChatAdapter's answer does not parse and the JSON fallback answers", () =>
    withFake({ faults: only("missing_marker", 1) }, {}, (fake) =>
      Effect.gen(function* () {
        const prediction = yield* Module.call(ChainOfThought.make(QA), { question: questions[0]! })
        assert.isNumber(prediction.get("answer"))
        assert.strictEqual(prediction.lmCalls, 2, "one ChatAdapter call, one JSONAdapter call")
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        // claude-haiku-4-5 takes structured outputs: the fallback asked for a JSON schema
        assert.strictEqual(history[1]!.request.responseFormat?.type, "json_schema")
        assert.strictEqual(fake.stats().faults.missing_marker, 2)
      })
    ).pipe(Effect.scoped)
  )

  it.live("truncated output without fallback surfaces as AdapterParseError carrying the raw completion", () =>
    withFake({ faults: only("truncated_json", 1) }, {}, () =>
      Effect.gen(function* () {
        const predict = Predict.make(ChainOfThought.extendSignature(QA), {
          adapter: ChatAdapter.make({ jsonFallback: false })
        })
        const error = yield* Effect.flip(Module.call(predict, { question: questions[1]! }))
        assert.strictEqual(error._tag, "AdapterParseError")
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        if (error instanceof Adapter.AdapterParseError) {
          assert.strictEqual(error.completion, history[0]!.response!.choices[0]!.content)
        }
      })
    ).pipe(Effect.scoped)
  )

  it.live("empty output fails both adapters: AdapterParseError with the empty completion", () =>
    withFake({ faults: only("empty", 1) }, {}, (fake) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Module.call(ChainOfThought.make(QA), { question: questions[2]! }))
        assert.strictEqual(error._tag, "AdapterParseError")
        if (error instanceof Adapter.AdapterParseError) assert.strictEqual(error.completion, "")
        assert.strictEqual(fake.stats().completions, 2)
      })
    ).pipe(Effect.scoped)
  )

  it.live("extra prose around the sections still parses", () =>
    withFake({ faults: only("extra_prose", 1) }, {}, () =>
      Effect.gen(function* () {
        const prediction = yield* Module.call(ChainOfThought.make(QA), { question: questions[3]! })
        assert.isNumber(prediction.get("answer"))
      })
    ).pipe(Effect.scoped)
  )

  it.live("a streamed answer arrives field by field; a cut stream fails with a typed error", () =>
    Effect.gen(function* () {
      const signature = ChainOfThought.extendSignature(QA)
      const adapter = ChatAdapter.make()
      const formatted = adapter.format(signature, [], { question: questions[4]! })
      const fields = (request: LM.Request) =>
        LM.stream(request).pipe(
          Stream.map((c) => c.delta),
          adapter.streamFields(signature),
          Stream.runCollect
        )
      const whole = yield* withFake({ chunkChars: 8 }, {}, () => fields({ messages: formatted.messages }))
      assert.isTrue([...whole].some((e) => e._tag === "FieldValue" && e.field === "answer"))
      const error = yield* withFake({ faults: only("truncated_stream", 1), chunkChars: 8 }, {}, (fake) =>
        Effect.gen(function* () {
          const e = yield* Effect.flip(fields({ messages: formatted.messages }))
          assert.strictEqual(fake.stats().faults.truncated_stream, 1)
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          assert.strictEqual(history[0]!.error?.code, "lm_server")
          return e
        })
      )
      assert.strictEqual(error._tag, "LMServerError")
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})

describe("anthropic: a 30% fault mix under load", () => {
  it.live("100 concurrent predictor calls each end in a result or a typed error", () => {
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
    return withFake({ faults }, { maxRetries: 2, timeoutMs: 1_000 }, (fake) =>
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
        const typed = new Set(["LMRateLimited", "LMServerError", "LMTimeout", "AdapterParseError"])
        for (const e of errors) assert.isTrue(typed.has(e._tag), `untyped failure: ${e._tag}`)
        assert.isAtLeast(results, 70, `results ${results}, errors ${errors.map((e) => e._tag).join(",")}`)
        assert.isAbove(
          Object.values(fake.stats().faults).reduce((a, b) => a + (b ?? 0), 0),
          15
        )
      })
    ).pipe(Effect.scoped, Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => new Error("the mix hung") }))
  })
})

describe("anthropic: a supervised application's provider pool", () => {
  it.live("providers of kind anthropic serve the ModuleManager, with status and usage per provider", () =>
    Effect.gen(function* () {
      const fake = yield* AnthropicFake.serve({})
      const app = Application.layerDefault({ config: { defaults: configFor(fake.url), env: false } })
      yield* Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer: int" })
        const { output } = yield* modules.execute("qa", { question: questions[0]! })
        const prediction = output as { readonly get?: (field: string) => unknown; readonly answer?: unknown }
        assert.isNumber(prediction.get?.("answer") ?? prediction.answer)
        const status = yield* Effect.flatMap(LMProviders.LMProviders, (p) => p.status)
        assert.deepStrictEqual(
          status.map((s) => [s.name, s.kind]),
          [["claude", "anthropic"]]
        )
        assert.strictEqual(status[0]!.calls, 1)
        assert.isAbove(status[0]!.costUsd, 0)
        assert.strictEqual(fake.stats().completions, 1)
        const requests = yield* Events.query({ types: ["lm_request"] })
        assert.strictEqual(requests[0]!.data.model, "claude-haiku-4-5")
      }).pipe(Effect.provide(app))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
