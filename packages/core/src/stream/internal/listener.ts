/**
 * The listener `streamify` installs for the program it runs (a fiber reference, so two streamed runs never see
 * each other's events), and what predictors and ReAct do under it: announce their start, stream their LM calls
 * and read field deltas from the text as it arrives, and announce tool calls.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Adapter from "../../adapters/Adapter.js"
import * as Completion from "../../lm/Completion.js"
import type * as LM from "../../lm/LM.js"
import type * as LMError from "../../lm/LMError.js"
import { AdapterParseError } from "../../CoreError.js"
import type * as Streamify from "../Streamify.js"

/** Receives the events of a streamed run. */
export interface Listener {
  readonly emit: (event: Streamify.Event<never>) => Effect.Effect<void>
  readonly status: boolean
}

/** The listener of the current streamed run, if any. */
export const current: FiberRef.FiberRef<Listener | undefined> = FiberRef.unsafeMake<Listener | undefined>(undefined)

/** Announces a predictor's start. */
export const predictorStart = (listener: Listener, predictor: string, name: string, signature: string) =>
  listener.status
    ? listener.emit({
        _tag: "Status",
        kind: "predictor_start",
        predictor,
        message: `Calling ${name} at ${predictor} (${signature})...`
      })
    : Effect.void

/** Runs a tool call between its start and end announcements (when a streamed run is listening). */
export const aroundTool = <A, E, R>(
  tool: string,
  args: unknown,
  call: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(FiberRef.get(current), (listener) =>
    listener === undefined || !listener.status
      ? call
      : Effect.zipRight(
          listener.emit({ _tag: "Status", kind: "tool_start", tool, args, message: `Calling tool ${tool}...` }),
          Effect.tap(Effect.exit(call), (exit) =>
            listener.emit({
              _tag: "Status",
              kind: "tool_end",
              tool,
              ok: exit._tag === "Success",
              message: exit._tag === "Success" ? `Tool ${tool} finished.` : `Tool ${tool} failed.`
            })
          ).pipe(Effect.flatten)
        )
  )

/**
 * One LM call of a predictor, streamed: choice 0's text goes through the adapter's field parser and each field
 * delta is emitted; every choice's text is collected. A field parser that gives up (the answer does not parse)
 * only stops the deltas: the stream is read to its end, and the adapter's own parse (and fallback) decides.
 */
export const streamedCall = (
  listener: Listener,
  lm: LM.Service,
  request: LM.Request,
  hint: Adapter.StreamHint | undefined,
  predictor: string,
  call: number
): Effect.Effect<{ readonly texts: ReadonlyArray<string>; readonly usage: Completion.Usage }, LMError.LMError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const contents = new Map<number, string>()
      let usage = Completion.emptyUsage
      let ended = false
      if (call > 0 && listener.status) {
        yield* listener.emit({
          _tag: "Status",
          kind: "lm_call",
          predictor,
          adapter: hint?.adapter ?? "",
          call,
          message: `${predictor}: LM call ${call + 1}${hint === undefined ? "" : ` (${hint.adapter})`}; the deltas of earlier calls are superseded.`
        })
      }
      const pull = yield* Stream.toPull(lm.stream(request))
      const next = Effect.suspend(() =>
        ended
          ? Effect.fail(Option.none<LMError.LMError>())
          : pull.pipe(
              Effect.tapError((e) =>
                Effect.sync(() => {
                  if (Option.isNone(e)) ended = true
                })
              ),
              Effect.tap((chunks) =>
                Effect.sync(() => {
                  for (const c of chunks) {
                    contents.set(c.index, (contents.get(c.index) ?? "") + c.delta)
                    if (c.usage !== undefined) usage = c.usage
                  }
                })
              )
            )
      )
      const chunks = Stream.repeatEffectChunkOption(next)
      if (hint !== undefined) {
        yield* chunks.pipe(
          Stream.filter((c) => c.index === 0 && c.delta.length > 0),
          Stream.map((c) => c.delta),
          hint.streamFields,
          Stream.runForEach((event) =>
            event._tag === "FieldDelta"
              ? listener.emit({
                  _tag: "FieldDelta",
                  predictor,
                  field: event.field,
                  delta: event.delta,
                  adapter: hint.adapter,
                  call
                })
              : Effect.void
          ),
          Effect.catchIf(
            (e): e is AdapterParseError => e instanceof AdapterParseError,
            () => Effect.void
          )
        )
      }
      yield* Stream.runDrain(chunks)
      const texts = [...contents.keys()].sort((a, b) => a - b).map((i) => contents.get(i)!)
      return { texts, usage }
    })
  )
