import { ChainOfThought, ChatAdapter, LM, Signature } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChaosServer from "./support/ChaosServer.js"
import { lmLayer } from "./support.js"
const signature = ChainOfThought.extendSignature(Signature.make("question -> answer: int"))
const adapter = ChatAdapter.make()
const N = Number(process.argv[2] ?? 500)
const main = Effect.gen(function* () {
  const server = yield* ChaosServer.serve({ dripMaxGapMs: 150, oversizedBytes: 256 * 1024, mix: JSON.parse(process.argv[3] ?? "null") ?? undefined })
  const t0 = Date.now()
  const iv = setInterval(() => console.log(Date.now() - t0, JSON.stringify(server.stats())), 1000)
  const out = yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => {
    const messages = adapter.format(signature, [], { question: "q" + i }).messages
    const eff = i % 5 === 4 ? LM.stream({ messages }).pipe(Stream.runFold("", (t, c) => t + c.delta)) : LM.complete({ messages })
    return Effect.either(eff).pipe(Effect.map((e) => (i % 5 === 4 ? "S:" : "C:") + (e._tag === "Right" ? "ok" : e.left._tag + (e.left._tag === "LMTimeout" ? e.left.message.slice(0, 30) : ""))))
  }, { concurrency: N }).pipe(Effect.provide(lmLayer(server.url, { timeoutMs: 3000, maxRetries: 0 })))
  clearInterval(iv)
  const by: Record<string, number> = {}
  for (const o of out) by[o] = (by[o] ?? 0) + 1
  console.log(Date.now() - t0, by, server.stats())
}).pipe(Effect.scoped)
Effect.runPromise(main)
