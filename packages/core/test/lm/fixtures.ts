/** Test doubles shared by the LM and cache tests: a fake provider on the real Provider contract. */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Completion from "../../src/lm/Completion.js"
import type * as LMError from "../../src/lm/LMError.js"
import type * as Provider from "../../src/lm/Provider.js"

/** A response whose single choice echoes the last user message. */
export const echoResponse = (request: Completion.CompletionRequest, n = 1): Completion.CompletionResponse => {
  const last = request.messages[request.messages.length - 1]?.content ?? ""
  return {
    id: "cmpl-1",
    model: request.model,
    choices: Array.from({ length: request.n ?? n }, (_, index) => ({
      index,
      content: `echo: ${last}`,
      finishReason: "stop" as const
    })),
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    costUsd: 0.001,
    cacheHit: false
  }
}

/**
 * A fake provider on the real contract. `script` decides each attempt's outcome (attempt numbers from 1);
 * `calls` records the requests and the Clock time of each attempt.
 */
export const fakeProvider = (
  script: (
    request: Completion.CompletionRequest,
    attempt: number
  ) => Effect.Effect<Completion.CompletionResponse, LMError.LMError> = (r) => Effect.succeed(echoResponse(r))
): {
  readonly provider: Provider.Provider
  readonly calls: Array<{ readonly request: Completion.CompletionRequest; readonly at: number }>
} => {
  const calls: Array<{ readonly request: Completion.CompletionRequest; readonly at: number }> = []
  const provider: Provider.Provider = {
    name: "fake",
    complete: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        calls.push({ request, at })
        return script(request, calls.length)
      }),
    stream: (request) =>
      Stream.fromIterable<Completion.CompletionChunk>([
        { index: 0, delta: "echo: " },
        { index: 0, delta: (request.messages[request.messages.length - 1]?.content as string | undefined) ?? "" },
        {
          index: 0,
          delta: "",
          finishReason: "stop",
          usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 }
        }
      ]),
    embed: (inputs) => Effect.succeed(inputs.map((s) => [s.length, 1]))
  }
  return { provider, calls }
}
