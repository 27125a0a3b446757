/**
 * The live smoke suite (`pnpm test:live`; opt-in, never part of `pnpm test` or CI): a Predict, a ChainOfThought, a
 * streamed call and a JSON-mode call against each real provider whose key is set: OpenAI with `OPENAI_API_KEY`
 * (and optionally `OPENAI_BASE_URL`, `OPENAI_MODEL`), Anthropic with `ANTHROPIC_API_KEY` (and optionally
 * `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`). Each provider's LM is built by the library's defaults from its own
 * variables only. It spends a few cents of tokens. With neither key set every test is skipped, saying so.
 */
import { Config } from "@effect-dspy/foundation"
import { ChainOfThought, JSONAdapter, LM, Module, Predict, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const vendors = [
  { kind: "openai", prefix: "OPENAI" },
  { kind: "anthropic", prefix: "ANTHROPIC" }
] as const

const configured = vendors.filter((v) => (process.env[`${v.prefix}_API_KEY`] ?? "") !== "")

/** The LM from the library's defaults over this vendor's variables alone (the other vendor's are left out). */
const lmFor = (prefix: string) => {
  const env = new Map(
    ["API_KEY", "BASE_URL", "MODEL"].flatMap((k) => {
      const value = process.env[`${prefix}_${k}`]
      return value === undefined || value === "" ? [] : [[`${prefix}_${k}`, value] as const]
    })
  )
  return LM.layer.pipe(
    Layer.provide(Config.layer({ defaults: { modules: { cacheEnabled: false } } })),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(env)))
  )
}

if (configured.length === 0) {
  console.warn(
    "pnpm test:live: skipped: neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set. Export one (and optionally *_BASE_URL, *_MODEL) to run the smoke suite against that provider."
  )
  describe("live providers", () => {
    it.skip("skipped: neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set (export one to run this suite)", () => {})
  })
}

for (const vendor of configured) {
  const live = <A, E>(effect: Effect.Effect<A, E, LM.LM>) =>
    Effect.provide(effect, lmFor(vendor.prefix)).pipe(Effect.timeout("90 seconds"))

  describe(`live: ${vendor.kind}`, () => {
    it.live("the library's defaults pick this provider and a real model", () =>
      live(
        Effect.gen(function* () {
          const lm = yield* LM.LM
          assert.strictEqual(lm.provider, vendor.kind)
          assert.notStrictEqual(lm.model, "sim-1")
          console.log(`live ${vendor.kind}: model ${lm.model}`)
        })
      )
    )

    it.live("Predict answers a typed field", () =>
      live(
        Effect.gen(function* () {
          const qa = Predict.make(Signature.make("question -> answer: int"))
          const prediction = yield* Module.call(qa, { question: "What is 2 + 3? Answer with the number only." })
          assert.strictEqual(prediction.get("answer"), 5)
        })
      )
    )

    it.live("ChainOfThought reasons, then answers", () =>
      live(
        Effect.gen(function* () {
          const cot = ChainOfThought.make(Signature.make("question -> answer: float"))
          const prediction = yield* Module.call(cot, {
            question: "Omar has 23 coins. He sells 4 coins, then buys 3 more. How many coins does he have now?"
          })
          assert.isString(prediction.get("reasoning"))
          assert.isAbove(String(prediction.get("reasoning")).length, 0)
          assert.strictEqual(prediction.get("answer"), 22)
        })
      )
    )

    it.live("a streamed call delivers text in pieces, with usage at the end", () =>
      live(
        Effect.gen(function* () {
          const chunks = yield* Stream.runCollect(
            LM.stream({ messages: [{ role: "user", content: "Count from 1 to 10, separated by spaces." }] })
          )
          const text = [...chunks].map((c) => c.delta).join("")
          assert.include(text, "10")
          assert.isAbove([...chunks].filter((c) => c.delta !== "").length, 1)
          const usage = [...chunks].flatMap((c) => (c.usage === undefined ? [] : [c.usage])).at(-1)
          assert.isAbove(usage?.totalTokens ?? 0, 0)
        })
      )
    )

    it.live("JSON mode: the JSONAdapter's request, in the mode the model takes, parses", () =>
      live(
        Effect.gen(function* () {
          const extract = Predict.make(Signature.make("text -> city: str, year: int"), { adapter: JSONAdapter.make() })
          const prediction = yield* Module.call(extract, { text: "The Eiffel Tower in Paris was finished in 1889." })
          assert.strictEqual(prediction.get("city"), "Paris")
          assert.strictEqual(prediction.get("year"), 1889)
          const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
          console.log(`live ${vendor.kind}: JSON mode ${history.at(-1)?.request.responseFormat?.type ?? "prompt-only"}`)
        })
      )
    )
  })
}
