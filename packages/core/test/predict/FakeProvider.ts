import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import type * as LMError from "../../src/lm/LMError.js"
import type * as Provider from "../../src/lm/Provider.js"

/** What the fake answers: the text of choice `index`, or a failure. */
export type Answer = (
  request: Completion.CompletionRequest,
  index: number
) => string | Effect.Effect<string, LMError.LMError>

/** A fake provider built on the real Provider contract, recording every request it receives. */
export const make = (answer: Answer) => {
  const requests: Array<Completion.CompletionRequest> = []
  const provider: Provider.Provider = {
    name: "fake",
    complete: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        return Effect.forEach(
          Array.from({ length: request.n ?? 1 }, (_, i) => i),
          (i) => {
            const a = answer(request, i)
            return typeof a === "string" ? Effect.succeed(a) : a
          }
        )
      }).pipe(
        Effect.map(
          (texts): Completion.CompletionResponse => ({
            id: `fake-${requests.length}`,
            model: request.model,
            choices: texts.map((content, index) => ({ index, content, finishReason: "stop" })),
            usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
            costUsd: 0.001,
            cacheHit: false
          })
        )
      ),
    stream: () => Stream.empty,
    embed: (inputs) => Effect.succeed(inputs.map(() => [0]))
  }
  const layer: Layer.Layer<LM.LM> = LM.layerProvider(provider, { retry: { maxRetries: 0 } })
  return { provider, requests, layer }
}

/** A ChatAdapter answer with the given output fields. */
export const chat = (fields: { readonly [key: string]: string }): string =>
  `${Object.entries(fields)
    .map(([k, v]) => `[[ ## ${k} ## ]]\n${v}`)
    .join("\n\n")}\n\n[[ ## completed ## ]]`

/** The text of the last user message of a request. */
export const lastUser = (request: Completion.CompletionRequest): string =>
  ([...request.messages].reverse().find((m) => m.role === "user")?.content as string | undefined) ?? ""

/** The system message of a request. */
export const system = (request: Completion.CompletionRequest): string =>
  (request.messages.find((m) => m.role === "system")?.content as string | undefined) ?? ""

/** A ChatAdapter input section's value in a user message. */
export const field = (text: string, name: string): string | undefined => {
  const match = new RegExp(`\\[\\[ ## ${name} ## \\]\\]\\n([\\s\\S]*?)(?=\\n\\n\\[\\[ ## |\\n\\nRespond|$)`).exec(text)
  return match?.[1]
}
