/** Test doubles shared by the LM and cache tests: a recording Events service and a fake provider. */
import type { Events } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Completion from "../../src/lm/Completion.js"
import type * as LMError from "../../src/lm/LMError.js"
import type * as Provider from "../../src/lm/Provider.js"

/** An Events service that keeps what is published in an array. */
export const recordingEvents = (): { readonly service: Events.Service; readonly published: Array<Events.Event> } => {
  const published: Array<Events.Event> = []
  const service: Events.Service = {
    publish: (input) =>
      Effect.map(Clock.currentTimeMillis, (timestamp) => {
        const event: Events.Event = {
          id: `ev_${published.length}`,
          type: input.type,
          timestamp,
          correlationId: input.correlationId,
          parentId: input.parentId,
          data: input.data ?? {}
        }
        published.push(event)
        return event
      }),
    query: (q) => Effect.succeed(published.filter((e) => q.types === undefined || q.types.includes(e.type))),
    subscribe: () => Stream.empty,
    prune: Effect.succeed(0),
    count: Effect.sync(() => published.length)
  }
  return { service, published }
}

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
        { index: 0, delta: request.messages[request.messages.length - 1]?.content ?? "" },
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
