/**
 * Privacy: a support predictor whose customers write their e-mail, phone and card numbers into their questions.
 * The policy comes from Config (`privacy`), as in a deployed application, and changes while the program runs:
 *
 * 1. `mask`: the LM sees `<EMAIL_1>`, `<CARD_1>`; the LM history holds only placeholders; the caller's answer is
 *    computed from the masked question.
 * 2. `block` for one module (`privacy.modules`): a typed `PrivacyBlocked` error naming the kinds, nothing sent.
 * 3. `Privacy.scrub`: what a store of the application (feedback, logs) calls before writing a record.
 *
 * Run: `pnpm --filter @effect-dspy/examples privacy`.
 */
import { Config, Events } from "@effect-dspy/foundation"
import { Completion, CoreEvents, LM, Module, Predict, Privacy } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const question =
  "Hi, I am Ada (ada.lovelace@example.com, +44 20 7946 0958). My card 4111 1111 1111 1111 was charged twice: what is 40 + 2?"

/** The program: a predictor, and the same predictor named as a module with a stricter policy. */
const support = Predict.make("question -> answer")
const billing = Module.make({
  name: "billing",
  parameters: { support },
  forward: ({ support }, inputs: { readonly question: string }) => support(inputs)
})

const program = Effect.gen(function* () {
  // 1. Masking: the LM's view and the caller's view.
  yield* Config.update("privacy", { mode: "mask", modules: { billing: "block" }, leakage: "flag" })
  const answer = yield* Module.call(support, { question })
  const lm = yield* LM.LM
  const sent = Completion.textOf((yield* lm.history).at(-1)!.request.messages.at(-1)!.content)
  yield* Effect.log(`the LM saw: ${sent.slice(0, 160)}...`)
  yield* Effect.log(`the caller got: ${String(answer.get("answer"))}`)
  if (sent.includes("ada.lovelace@example.com")) return yield* Effect.dieMessage("the e-mail left the process")

  // 2. The billing module blocks PII outright.
  const blocked = yield* Effect.flip(Module.call(billing, { question }))
  yield* Effect.log(`billing: ${blocked._tag}: ${blocked.message}`)

  // 3. A store applies the same policy before it writes (the `stores` mode: `mask` stores as `redact`).
  const record = yield* Privacy.scrub("feedback", { question, rating: 2 })
  yield* Effect.log(`stored feedback: ${JSON.stringify(record)}`)

  // The events hold the kinds found, never the values.
  const detected = yield* Events.queryOf(CoreEvents.PiiDetected, {})
  yield* Effect.log(`pii_detected events: ${JSON.stringify(detected.map((e) => e.data))}`)
  return { answer: answer.get("answer"), blocked: blocked._tag, record }
})

/** The application's layers: Config (the policy), the simulated LM from Config, an event store. */
const layer = SimLM.layerConfig.pipe(Layer.provideMerge(Config.layerTest({})), Layer.provideMerge(Events.layerMemory))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(Effect.provide(program, layer)).then(
    () => undefined,
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
