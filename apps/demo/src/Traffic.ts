/**
 * A steady stream of requests against a module, as production traffic would be: one request every
 * `1000 / ratePerSecond` ms, each in its own fiber (a slow answer never holds the next one back), drawn from a
 * small set of popular questions (`hotShare` of the time: the cache's share) and otherwise from fresh ones.
 * Every request ends in an outcome (an answer, right or wrong, or a typed error by tag), recorded under the
 * phase in force when it was sent, with its latency; `stop` stops sending and waits for every request still
 * in flight, so `sent === answered + failed` at the end: nothing is lost.
 */
import { Evaluate, Example, Prediction } from "@effect-dspy/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"

/** A question with its gold answer. */
export interface Question {
  readonly question: string
  readonly answer: number
}

/** What one phase of the traffic saw. */
export interface PhaseStats {
  readonly phase: string
  readonly sent: number
  readonly answered: number
  readonly correct: number
  readonly failed: number
  readonly errors: { readonly [tag: string]: number }
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
}

/** The running traffic. */
export interface Traffic {
  /** Labels the requests sent from now on. */
  readonly setPhase: (phase: string) => Effect.Effect<void>
  /** Requests sent and still in flight. */
  readonly counts: Effect.Effect<{ readonly sent: number; readonly inFlight: number }>
  /** One phase's figures so far. */
  readonly phase: (phase: string) => Effect.Effect<PhaseStats>
  /** Every phase's figures, in the order the phases started, and the total. */
  readonly report: Effect.Effect<{ readonly phases: ReadonlyArray<PhaseStats>; readonly total: PhaseStats }>
  /** Stops sending, then waits for every request in flight to end. */
  readonly stop: Effect.Effect<void>
  /**
   * Stops sending, then waits up to `grace` for the requests in flight to end; those still running then are
   * interrupted and count as failed with the tag `Interrupted` (so nothing is lost either way).
   */
  readonly drain: (grace: Duration.DurationInput) => Effect.Effect<void>
}

/** How the traffic runs. */
export interface Options<E> {
  /** Answers a question (the module execution under test). */
  readonly execute: (question: string) => Effect.Effect<unknown, E>
  /** The popular questions (asked again and again). */
  readonly hot: ReadonlyArray<Question>
  /** Fresh questions, asked in turn (wrapping around). */
  readonly fresh: ReadonlyArray<Question>
  /** The share of requests that ask a popular question (0 to 1). */
  readonly hotShare: number
  readonly ratePerSecond: number
  /** A request still unanswered after this long ends as `RequestTimeout` (default 30 s). */
  readonly requestTimeout?: Duration.DurationInput
  readonly initialPhase: string
}

interface Recorder {
  sent: number
  answered: number
  correct: number
  failed: number
  readonly errors: Map<string, number>
  readonly latencies: Array<number>
}

const recorder = (): Recorder => ({ sent: 0, answered: 0, correct: 0, failed: 0, errors: new Map(), latencies: [] })

/** The `q` quantile (nearest rank) of samples sorted in ascending order; 0 when there are none. */
const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

/** Milliseconds to two decimals (the summary's precision). */
const round2 = (ms: number) => Math.round(ms * 100) / 100

const statsOf = (phase: string, r: Recorder): PhaseStats => {
  const sorted = Float64Array.from(r.latencies).sort()
  return {
    phase,
    sent: r.sent,
    answered: r.answered,
    correct: r.correct,
    failed: r.failed,
    errors: Object.fromEntries(r.errors),
    latencyP50Ms: round2(quantile(sorted, 0.5)),
    latencyP99Ms: round2(quantile(sorted, 0.99))
  }
}

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "UnknownError"

const isCorrect = (question: Question, output: unknown): boolean =>
  Prediction.isPrediction(output) &&
  Evaluate.answerExactMatch(Example.make({ question: question.question, answer: question.answer }), output)

/** Starts the traffic in the enclosing scope (closing it interrupts whatever is still running). */
export const start = <E>(options: Options<E>): Effect.Effect<Traffic, never, Scope.Scope> =>
  Effect.gen(function* () {
    const requests = yield* FiberSet.make<void, never>()
    const phases = new Map<string, Recorder>()
    let current = options.initialPhase
    let inFlight = 0
    let sent = 0
    let next = 0
    // A fixed draw sequence, so two runs send the same questions in the same order.
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fff_ffff
      return seed / 0x8000_0000
    }
    const recorderOf = (phase: string) => {
      let r = phases.get(phase)
      if (r === undefined) {
        r = recorder()
        phases.set(phase, r)
      }
      return r
    }
    recorderOf(current)
    const timeout = Duration.decode(options.requestTimeout ?? "30 seconds")

    const one = (question: Question, r: Recorder) =>
      Effect.gen(function* () {
        const started = performance.now()
        const outcome = yield* options.execute(question.question).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => ({ _tag: "RequestTimeout" }) as const
          }),
          Effect.either
        )
        r.latencies.push(performance.now() - started)
        if (outcome._tag === "Right") {
          r.answered++
          if (isCorrect(question, outcome.right)) r.correct++
        } else {
          r.failed++
          const tag = tagOf(outcome.left)
          r.errors.set(tag, (r.errors.get(tag) ?? 0) + 1)
        }
      }).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            r.failed++
            r.errors.set("Interrupted", (r.errors.get("Interrupted") ?? 0) + 1)
          })
        ),
        Effect.ensuring(
          Effect.sync(() => {
            inFlight--
          })
        )
      )

    const launch = Effect.suspend(() => {
      const hot = options.hot.length > 0 && random() < options.hotShare
      const question = hot
        ? options.hot[Math.floor(random() * options.hot.length)]!
        : options.fresh[next++ % options.fresh.length]!
      const r = recorderOf(current)
      r.sent++
      sent++
      inFlight++
      return FiberSet.run(requests, one(question, r))
    })

    const interval = Duration.millis(1000 / options.ratePerSecond)
    const sender = yield* Effect.forkScoped(Effect.forever(Effect.zipRight(launch, Effect.sleep(interval))))

    return {
      setPhase: (phase) =>
        Effect.sync(() => {
          current = phase
          recorderOf(phase)
        }),
      counts: Effect.sync(() => ({ sent, inFlight })),
      phase: (phase) => Effect.sync(() => statsOf(phase, recorderOf(phase))),
      report: Effect.sync(() => {
        const total = recorder()
        for (const r of phases.values()) {
          total.sent += r.sent
          total.answered += r.answered
          total.correct += r.correct
          total.failed += r.failed
          for (const [tag, n] of r.errors) total.errors.set(tag, (total.errors.get(tag) ?? 0) + n)
          for (const l of r.latencies) total.latencies.push(l)
        }
        return {
          phases: Array.from(phases, ([phase, r]) => statsOf(phase, r)),
          total: statsOf("total", total)
        }
      }),
      stop: Effect.zipRight(Fiber.interrupt(sender), FiberSet.awaitEmpty(requests)),
      drain: (grace) =>
        Fiber.interrupt(sender).pipe(
          Effect.zipRight(
            FiberSet.awaitEmpty(requests).pipe(
              Effect.timeoutTo({ duration: grace, onSuccess: () => true, onTimeout: () => false })
            )
          ),
          Effect.flatMap((drained) => (drained ? Effect.void : FiberSet.clear(requests)))
        )
    } satisfies Traffic
  })
