/**
 * `streamify`: DSPy's `dspy.streamify` for any program. Running a program through it gives a Stream of its
 * progress: a status message when each predictor starts and around each ReAct tool call, the text of each output
 * field as the LM writes it (`FieldDelta`, read by the adapter that formatted the request: the ChatAdapter's
 * sections, the JSONAdapter's object, the XMLAdapter's elements), and last the program's output (`Final`).
 *
 * Under `streamify`, predictors call `LM.stream` instead of `LM.complete` (streams bypass the cache and are not
 * retried). When an answer does not parse, the adapter's fallback asks again (the ChatAdapter's JSON fallback):
 * a `lm_call` status announces the new call, whose deltas (`call` 1, 2, ...) supersede the earlier ones of that
 * predictor. The final output is exactly what `Module.call` returns. Ending the stream early (`Stream.take`,
 * interruption) interrupts the program and aborts its LM request.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Signature, Streamify } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const qa = ChainOfThought.make(Signature.make("question -> answer"))
 *
 * // prints the reasoning and the answer as they arrive, then returns the prediction
 * const run = Streamify.streamify(qa)({ question: "What is 2 + 3?" }).pipe(
 *   Stream.tap((event) =>
 *     Effect.sync(() => {
 *       if (event._tag === "FieldDelta") process.stdout.write(event.delta)
 *       if (event._tag === "Status") console.log(`\n${event.message}`)
 *     })
 *   ),
 *   Stream.runLast
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as LM from "../lm/LM.js"
import type * as Predict from "../predict/Predict.js"
import * as Module from "../primitives/Module.js"
import * as Listener from "./internal/listener.js"

/**
 * A status message: a predictor starts (`predictor` is its path in the program, `"self"` for a bare predictor), a
 * predictor makes another LM call (`call` counts from 0: the adapter's fallback, or a TwoStep extraction), a tool
 * call starts or ends (ReAct).
 *
 * @since 0.1.0
 * @category models
 */
export type Status =
  | { readonly _tag: "Status"; readonly kind: "predictor_start"; readonly predictor: string; readonly message: string }
  | {
      readonly _tag: "Status"
      readonly kind: "lm_call"
      readonly predictor: string
      readonly adapter: string
      readonly call: number
      readonly message: string
    }
  | {
      readonly _tag: "Status"
      readonly kind: "tool_start"
      readonly tool: string
      readonly args: unknown
      readonly message: string
    }
  | {
      readonly _tag: "Status"
      readonly kind: "tool_end"
      readonly tool: string
      readonly ok: boolean
      readonly message: string
    }

/**
 * Text arriving for an output field of a predictor. The deltas of one field in one call concatenate to the
 * field's text as the adapter reads it (trimmed, unescaped).
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldDelta {
  readonly _tag: "FieldDelta"
  /** The predictor's path in the program. */
  readonly predictor: string
  readonly field: string
  readonly delta: string
  /** The adapter reading the answer. */
  readonly adapter: string
  /** The LM call of this predictor call it belongs to (from 0); a later call supersedes earlier deltas. */
  readonly call: number
}

/**
 * The program's output: the last event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Final<A> {
  readonly _tag: "Final"
  readonly output: A
}

/**
 * An event of a streamed run.
 *
 * @since 0.1.0
 * @category models
 */
export type Event<A> = Status | FieldDelta | Final<A>

/**
 * Options of {@link streamify}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Emit status messages (default true); false gives field deltas and the output only. */
  readonly statusMessages?: boolean
}

const run = <A, E, R>(program: Effect.Effect<A, E, R>, options: Options | undefined): Stream.Stream<Event<A>, E, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const mailbox = yield* Mailbox.make<Event<A>, E>()
      const listener: Listener.Listener = {
        emit: (event) => Effect.asVoid(mailbox.offer(event)),
        status: options?.statusMessages !== false
      }
      yield* program.pipe(
        Effect.flatMap((output) => mailbox.offer({ _tag: "Final", output })),
        Effect.locally(Listener.current, listener),
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/**
 * A program as a function of its inputs giving a Stream of {@link Event}s (DSPy's `dspy.streamify(program)`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamify: {
  <P extends Module.Parameters, I, O, E, R>(
    program: Module.Module<P, I, O, E, R>,
    options?: Options
  ): (inputs: I) => Stream.Stream<Event<O>, E, R>
  <I, O>(
    program: Predict.Predict<I, O>,
    options?: Options
  ): (inputs: I) => Stream.Stream<Event<Predict.Output<O>>, Predict.PredictError, LM.LM>
} = ((program: Module.Program, options?: Options) => (inputs: unknown) =>
  run(
    (Module.call as (p: Module.Program, i: unknown) => Effect.Effect<unknown, unknown, unknown>)(program, inputs),
    options
  )) as never

/**
 * Streams any effect's predictor calls (a composition of programs, an `Evaluate` run): its events, then its
 * result as `Final`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamEffect = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: Options
): Stream.Stream<Event<A>, E, R> => run(effect, options)

/**
 * The output of a streamed run (its `Final` event), ignoring the rest.
 *
 * @since 0.1.0
 * @category combinators
 */
export const output = <A, E, R>(stream: Stream.Stream<Event<A>, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.map(
    Stream.runLast(Stream.filter(stream, (e): e is Final<A> => e._tag === "Final")),
    Option.map((e) => e.output)
  )
