import { Config, Events, Metrics } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as LMCache from "../../src/cache/LMCache.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import * as ProviderKind from "../../src/lm/ProviderKind.js"
import * as Detector from "../../src/privacy/Detector.js"
import * as Privacy from "../../src/privacy/Privacy.js"
import * as CoreEvents from "../../src/CoreEvents.js"
import { echoResponse, fakeProvider } from "../lm/fixtures.js"

const EMAIL = "ada.lovelace@example.com"
const CARD = "4111 1111 1111 1111"
const PHONE = "+44 20 7946 0958"
const ask = (content: string): LM.Request => ({ messages: [{ role: "user", content }] })
const planted = `Customer ${EMAIL} paid with ${CARD}; call ${PHONE}.`
const plantedValues = [EMAIL, CARD, PHONE]

const assertClean = (text: string, where: string) => {
  for (const v of plantedValues) assert.notInclude(text, v, `${v} leaked into ${where}`)
}

/** An LM over a fake echo provider with the policy and a memory cache. */
const lmWith = (settings: Partial<Privacy.Settings>, script?: Parameters<typeof fakeProvider>[0]) =>
  Effect.gen(function* () {
    const { provider, calls } = fakeProvider(script)
    const cache = yield* LMCache.make({})
    const lm = yield* LM.make({
      provider,
      model: "m",
      cache,
      privacy: Privacy.make(Effect.succeed({ ...Privacy.defaults, ...settings }))
    })
    return { lm, calls, cache }
  })

describe("Privacy", () => {
  it("masking round trip: the same value gets the same placeholder, unmask restores every original", () => {
    const engine = Privacy.engine({ ...Privacy.defaults, mode: "mask" })
    const masking = Privacy.masking(engine)
    const masked = masking.mask(`${planted} Again: ${EMAIL}`)
    assert.strictEqual(masked, "Customer <EMAIL_1> paid with <CARD_1>; call <PHONE_1>. Again: <EMAIL_1>")
    assert.strictEqual(masking.unmask(masked), `${planted} Again: ${EMAIL}`)
    assert.strictEqual(
      masking.unmask("<EMAIL_2> and <NOT_A_PLACEHOLDER> stay"),
      "<EMAIL_2> and <NOT_A_PLACEHOLDER> stay"
    )
  })

  it("property: unmask(mask(text)) is the text, and the masked text holds none of the findings", () =>
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...plantedValues, "bob@mail.example.org", "192.168.0.12"), fc.string()), {
          maxLength: 8
        }),
        (parts) => {
          const text = parts.join(" ")
          const engine = Privacy.engine({ ...Privacy.defaults, mode: "mask" })
          const masking = Privacy.masking(engine)
          const masked = masking.mask(text)
          assert.strictEqual(masking.unmask(masked), text)
          for (const f of engine.scan(text)) assert.notInclude(masked, text.slice(f.start, f.end))
        }
      ),
      { numRuns: 300 }
    ))

  it("modes resolve per module (innermost configured wins) and providers only make them stricter", () => {
    const engine = Privacy.engine({
      ...Privacy.defaults,
      mode: "detect",
      modules: { support: "mask", internal: "off" },
      providers: { openai: "redact" }
    })
    assert.strictEqual(engine.modeFor([], undefined), "detect")
    assert.strictEqual(engine.modeFor(["support", "Predict"], undefined), "mask")
    assert.strictEqual(engine.modeFor(["support", "internal"], undefined), "off")
    assert.strictEqual(engine.modeFor(["internal"], "openai"), "redact")
    assert.strictEqual(engine.modeFor(["support"], "local"), "mask")
    assert.strictEqual(engine.storeMode, "detect")
    assert.strictEqual(Privacy.engine({ ...Privacy.defaults, mode: "mask" }).storeMode, "redact")
    assert.isTrue(Privacy.engine(Privacy.defaults).inactive)
  })

  describe("at the LM boundary", () => {
    it.scoped("mask: the provider, cache and history see placeholders; the caller gets the originals back", () =>
      Effect.gen(function* () {
        const { lm, calls } = yield* lmWith({ mode: "mask" })
        const response = yield* lm.complete(ask(planted))
        assert.strictEqual(response.choices[0]!.content, `echo: ${planted}`)
        assert.strictEqual(
          calls[0]!.request.messages[0]!.content,
          "Customer <EMAIL_1> paid with <CARD_1>; call <PHONE_1>."
        )
        const again = yield* lm.complete(ask(planted))
        assert.isTrue(again.cacheHit, "the cache key is the masked request")
        assert.strictEqual(again.choices[0]!.content, `echo: ${planted}`)
        const other = yield* lm.complete(ask(planted.replace(EMAIL, "grace@example.org")))
        assert.isTrue(other.cacheHit, "another customer's e-mail masks to the same prompt")
        assert.include(other.choices[0]!.content, "grace@example.org", "unmasked with this call's own map")
        assertClean(JSON.stringify(yield* lm.history), "the history")
        assertClean(yield* lm.inspectHistory(10), "inspectHistory")
      })
    )

    it.scoped("redact: irreversible placeholders everywhere, the answer included", () =>
      Effect.gen(function* () {
        const { lm, calls } = yield* lmWith({ mode: "redact" })
        const response = yield* lm.complete(ask(planted))
        assert.strictEqual(response.choices[0]!.content, "echo: Customer [EMAIL] paid with [CARD]; call [PHONE].")
        assertClean(JSON.stringify(calls), "the provider's request")
        assertClean(JSON.stringify(yield* lm.history), "the history")
      })
    )

    it.scoped("block: a typed error naming the kinds; nothing sent, nothing recorded", () =>
      Effect.gen(function* () {
        const { lm, calls } = yield* lmWith({ mode: "block" })
        const error = yield* Effect.flip(lm.complete(ask(planted)))
        assert.strictEqual(error._tag, "PrivacyBlocked")
        assert.deepStrictEqual((error as Privacy.PrivacyBlocked).kinds, ["card", "email", "phone"])
        assert.include(error.message, "card, email, phone")
        assertClean(`${error.message} ${JSON.stringify(error)}`, "the error")
        assert.strictEqual(calls.length, 0)
        assert.strictEqual((yield* lm.history).length, 0)
        const clean = yield* lm.complete(ask("What is 2 + 2?"))
        assert.strictEqual(clean.choices[0]!.content, "echo: What is 2 + 2?")
      })
    )

    it.scoped("detect: the request goes as is; a pii_detected event and metric record the kinds, never values", () =>
      Effect.gen(function* () {
        const { lm, calls } = yield* lmWith({ mode: "detect" })
        const labels = [
          MetricLabel.make("kind", "email"),
          MetricLabel.make("target", "lm_request"),
          MetricLabel.make("mode", "detect")
        ]
        const counter = Metrics.privacyFindings.pipe(Metric.taggedWithLabels(labels))
        const before = (yield* Metric.value(counter)).count
        yield* lm.complete(ask(planted))
        assert.strictEqual(calls[0]!.request.messages[0]!.content, planted)
        const events = yield* Events.queryOf(CoreEvents.PiiDetected, {})
        assert.strictEqual(events.length, 1)
        assert.deepStrictEqual(events[0]!.data.kinds, { email: 1, card: 1, phone: 1 })
        assert.strictEqual(events[0]!.data.mode, "detect")
        assertClean(JSON.stringify(events), "events")
        assert.strictEqual((yield* Metric.value(counter)).count - before, 1)
      }).pipe(Effect.provide(Events.layerMemory))
    )

    it.scoped("off: nothing scanned, nothing changed", () =>
      Effect.gen(function* () {
        const { lm, calls } = yield* lmWith({ mode: "off" })
        yield* lm.complete(ask(planted))
        assert.strictEqual(calls[0]!.request.messages[0]!.content, planted)
        assert.strictEqual((yield* Events.queryOf(CoreEvents.PiiDetected, {})).length, 0)
      }).pipe(Effect.provide(Events.layerMemory))
    )

    it.scoped("streams: masked request, placeholders split across chunks come back whole", () =>
      Effect.gen(function* () {
        const { provider, calls } = fakeProvider()
        const chunks: Array<Completion.CompletionChunk> = [
          { index: 0, delta: "Mail <EMA" },
          { index: 0, delta: "IL_1> now" },
          { index: 0, delta: " <EMAIL_1" },
          { index: 0, delta: ">", finishReason: "stop" }
        ]
        const lm = yield* LM.make({
          provider: {
            ...provider,
            stream: (request) => {
              calls.push({ request, at: 0 })
              return Stream.fromIterable(chunks)
            }
          },
          model: "m",
          privacy: Privacy.make(Effect.succeed({ ...Privacy.defaults, mode: "mask" }))
        })
        const out = yield* Stream.runCollect(lm.stream(ask(`Write to ${EMAIL}`)))
        assert.strictEqual(
          Chunk.toReadonlyArray(out)
            .map((c) => c.delta)
            .join(""),
          `Mail ${EMAIL} now ${EMAIL}`
        )
        assert.strictEqual(calls[0]!.request.messages[0]!.content, "Write to <EMAIL_1>")
      })
    )

    it.scoped("embeddings: PII is redacted before it is embedded", () =>
      Effect.gen(function* () {
        const seen: Array<ReadonlyArray<string>> = []
        const { provider } = fakeProvider()
        const lm = yield* LM.make({
          provider: {
            ...provider,
            embed: (inputs) =>
              Effect.sync(() => {
                seen.push(inputs)
                return inputs.map(() => [1])
              })
          },
          privacy: Privacy.make(Effect.succeed({ ...Privacy.defaults, mode: "mask" }))
        })
        yield* lm.embed([planted])
        assertClean(JSON.stringify(seen), "the embedding request")
      })
    )

    describe("leakage check", () => {
      const leaking = (r: Completion.CompletionRequest) =>
        Effect.succeed({
          ...echoResponse(r),
          choices: [{ index: 0, content: "Ask grace@example.org or bob@example.net", finishReason: "stop" as const }]
        })

      it.scoped("flag: PII in the answer that the caller did not give is an event and a metric", () =>
        Effect.gen(function* () {
          const { lm } = yield* lmWith({ leakage: "flag" }, leaking)
          const counter = Metrics.privacyLeaks.pipe(Metric.taggedWithLabels([MetricLabel.make("kind", "email")]))
          const before = (yield* Metric.value(counter)).count
          const response = yield* lm.complete(ask("Who can help me?"))
          assert.include(response.choices[0]!.content, "grace@example.org")
          const leaks = yield* Events.queryOf(CoreEvents.PiiLeak, {})
          assert.strictEqual(leaks.length, 1)
          assert.deepStrictEqual(leaks[0]!.data.kinds, { email: 2 })
          assert.isFalse(leaks[0]!.data.blocked)
          assert.notInclude(JSON.stringify(leaks), "grace@example.org")
          assert.strictEqual((yield* Metric.value(counter)).count - before, 2)
        }).pipe(Effect.provide(Events.layerMemory))
      )

      it.scoped("the caller's own data echoed back is not a leak (masked and restored included)", () =>
        Effect.gen(function* () {
          const { lm } = yield* lmWith({ mode: "mask", leakage: "block" })
          const response = yield* lm.complete(ask(planted))
          assert.include(response.choices[0]!.content, EMAIL)
          assert.strictEqual((yield* Events.queryOf(CoreEvents.PiiLeak, {})).length, 0)
        }).pipe(Effect.provide(Events.layerMemory))
      )

      it.scoped("block: the answer is withheld with PrivacyLeak naming the kinds", () =>
        Effect.gen(function* () {
          const { lm } = yield* lmWith({ leakage: "block" }, leaking)
          const error = yield* Effect.flip(lm.complete(ask("Who can help me?")))
          assert.strictEqual(error._tag, "PrivacyLeak")
          assert.deepStrictEqual((error as Privacy.PrivacyLeak).kinds, ["email"])
          assert.notInclude(error.message, "grace@example.org")
        })
      )
    })

    it.scoped("policies from Config follow run-time updates; per-provider policies use the configured name", () =>
      Effect.gen(function* () {
        const { provider, calls } = fakeProvider()
        yield* Effect.gen(function* () {
          yield* LM.complete(ask(planted))
          assert.strictEqual(calls.at(-1)!.request.messages[0]!.content, planted)
          yield* Config.update("privacy", { mode: "mask" })
          yield* LM.complete(ask(planted))
          assert.include(calls.at(-1)!.request.messages[0]!.content, "<EMAIL_1>")
          yield* Config.update("privacy", { mode: "detect", providers: { default: "block" } })
          const blocked = yield* Effect.flip(LM.complete(ask(planted)))
          assert.strictEqual(blocked._tag, "PrivacyBlocked")
          yield* Config.update("privacy", { mode: "detect", providers: { elsewhere: "block" } })
          yield* LM.complete(ask(planted))
          assert.strictEqual(calls.at(-1)!.request.messages[0]!.content, planted)
          const invalid = yield* Effect.flip(Config.update("privacy.mode", "sometimes"))
          assert.strictEqual(invalid._tag, "ConfigInvalid")
        }).pipe(
          Effect.provide(
            LM.layer.pipe(
              Layer.provide(ProviderKind.layer("simulated", () => Effect.succeed(provider))),
              Layer.provideMerge(Config.layerTest({}))
            )
          )
        )
      })
    )
  })

  it.scoped("layerEvents: every event's strings are redacted before they are stored (the foundation hook)", () =>
    Effect.gen(function* () {
      const Note = Events.define("test_note", Schema.Struct({ text: Schema.String }))
      yield* Events.emit(Note, { text: `failed for ${EMAIL}` })
      yield* Events.emit(Note, { text: "no personal data" })
      const stored = yield* Events.queryOf(Note, {})
      assert.deepStrictEqual(
        stored.map((e) => e.data.text),
        ["failed for [EMAIL]", "no personal data"]
      )
    }).pipe(
      Effect.provide(
        Privacy.layerEvents.pipe(Layer.provide(Events.layerMemory), Layer.provide(Privacy.layerTest({ mode: "mask" })))
      )
    )
  )

  it.scoped("layerEvents over Config: the policy in force when a publish runs applies (read synchronously)", () =>
    Effect.gen(function* () {
      const Note = Events.define("test_note", Schema.Struct({ text: Schema.String }))
      // Built before the update, run after it: the redaction is decided at run time.
      const publish = Events.emit(Note, { text: `failed for ${EMAIL}` })
      yield* publish
      yield* Config.update("privacy", { mode: "mask" })
      yield* publish
      yield* Config.update("privacy", { mode: "detect" })
      yield* publish
      const stored = yield* Events.queryOf(Note, {})
      assert.deepStrictEqual(
        stored.map((e) => e.data.text),
        [`failed for ${EMAIL}`, "failed for [EMAIL]", `failed for ${EMAIL}`]
      )
    }).pipe(
      Effect.provide(
        Privacy.layerEvents.pipe(
          Layer.provide(Events.layerMemory),
          Layer.provide(Privacy.layer()),
          Layer.provideMerge(Config.layerTest({}))
        )
      )
    )
  )

  describe("scrub (stores)", () => {
    const value = { demos: [{ question: `mail ${EMAIL}`, answer: "ok" }], [EMAIL]: 1 }

    it.scoped("redacts under mask and redact, refuses under block, passes under detect and off", () =>
      Effect.gen(function* () {
        const redacted = yield* Privacy.scrub("test_store", value).pipe(
          Effect.provide(Privacy.layerTest({ mode: "mask" }))
        )
        assert.deepStrictEqual(redacted as unknown, {
          demos: [{ question: "mail [EMAIL]", answer: "ok" }],
          "[EMAIL]": 1
        })
        const blocked = yield* Effect.flip(
          Privacy.scrub("test_store", value).pipe(Effect.provide(Privacy.layerTest({ stores: "block" })))
        )
        assert.deepStrictEqual(blocked.kinds, ["email"])
        assert.include(blocked.message, "test_store")
        const kept = yield* Privacy.scrub("test_store", value).pipe(
          Effect.provide(Privacy.layerTest({ mode: "detect" }))
        )
        assert.strictEqual(kept, value)
        assert.strictEqual(yield* Privacy.scrub("test_store", value), value, "no policy in context")
        const allowed = yield* Privacy.scrub("test_store", value).pipe(
          Effect.provide(Privacy.layerTest({ stores: "redact", allow: [EMAIL] }))
        )
        assert.deepStrictEqual(allowed, value)
      })
    )

    it.scoped("takes the policy from Config when no Privacy service is given; custom detectors apply", () =>
      Effect.gen(function* () {
        const fromConfig = yield* Privacy.scrub("test_store", { note: `mail ${EMAIL}` }).pipe(
          Effect.provide(Config.layerTest({ privacy: { stores: "redact" } }))
        )
        assert.deepStrictEqual(fromConfig, { note: "mail [EMAIL]" })
        const custom = yield* Privacy.scrub("test_store", { note: "badge EMP-123456" }).pipe(
          Effect.provide(Privacy.layerTest({ mode: "redact" }, [Detector.regex("employee_id", /EMP-[0-9]{6}/)]))
        )
        assert.deepStrictEqual(custom, { note: "badge [EMPLOYEE_ID]" })
        assert.isTrue(Option.isNone(yield* Privacy.current))
      })
    )
  })
})
