/**
 * The body of a streamed (SSE) answer as a Stream of completion chunks, shared by the OpenAI and Anthropic
 * providers: their event readers differ (the wire formats), the bounds and the clean-up do not.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Completion from "../Completion.js"
import type * as LMError from "../LMError.js"

/** What an event reader gives per piece of the body: the chunks it completed, and whether the answer ended. */
export interface Batch {
  readonly chunks: Array<Completion.CompletionChunk>
  readonly done: boolean
}

/** A provider's reader of its wire format's events. */
export interface EventReader {
  readonly push: (bytes: Uint8Array) => Effect.Effect<Batch, LMError.LMError>
  readonly end: () => Effect.Effect<Batch, LMError.LMError>
}

/**
 * Reads `body` through `events`. `timeout` bounds each silence of the stream and `deadline` the whole answer,
 * however steadily it drips; closing the scope (the stream ended, failed or was interrupted) aborts the request.
 */
export const fromBody = (options: {
  readonly body: ReadableStream<Uint8Array>
  readonly controller: AbortController
  readonly events: EventReader
  /** The provider's name, as its messages say it. */
  readonly name: string
  /** The provider's name under `providers.` in the configuration. */
  readonly settingsName: string
  readonly timeout: number
  readonly deadline: number
  readonly readFailure: (error: unknown) => LMError.LMError
  readonly timedOut: (message: string, ms: number) => LMError.LMError
}): Effect.Effect<Stream.Stream<Completion.CompletionChunk, LMError.LMError>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { controller, deadline, events, name, timedOut, timeout } = options
    const reader = options.body.getReader()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        controller.abort()
        reader.cancel().catch(() => undefined)
      })
    )
    const pull = Effect.tryPromise({ try: () => reader.read(), catch: options.readFailure }).pipe(
      Effect.mapError(Option.some),
      Effect.flatMap((r) => (r.done ? Effect.fail(Option.none()) : Effect.succeed(r.value)))
    )
    return Stream.repeatEffectOption(pull).pipe(
      Stream.timeoutFail(
        () =>
          timedOut(
            `${name} sent nothing on the stream for ${timeout} ms: raise the provider's timeoutMs or retry later`,
            timeout
          ),
        timeout
      ),
      Stream.mapEffect((bytes) => events.push(bytes)),
      Stream.concat(Stream.fromEffect(Effect.suspend(() => events.end()))),
      Stream.takeUntil((batch) => batch.done),
      Stream.mapConcat((batch) => batch.chunks),
      Stream.interruptWhen(
        Effect.sleep(deadline).pipe(
          Effect.zipRight(
            Effect.fail(
              timedOut(
                `${name}'s stream was still going after streamDeadlineMs (${deadline} ms): raise providers.${options.settingsName}.streamDeadlineMs or ask for less`,
                deadline
              )
            )
          )
        )
      )
    )
  })
