/**
 * The demo's steps as one Effect, so the test can run exactly what `pnpm demo` runs.
 */
import {
  Arithmetic,
  ChainOfThought,
  Evaluate,
  Example,
  LM,
  Module,
  Predict,
  Signature,
  SimTask
} from "@effect-dspy/core"
import { Actor, Process, Supervisor } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** What the demo reports at the end. */
export interface Summary {
  readonly provider: string
  readonly predictAccuracy: number
  readonly chainOfThoughtAccuracy: number
  readonly requestsServed: number
  readonly requestErrors: number
  readonly restarts: number
  readonly lmCalls: number
  readonly tokens: number
  readonly costUsd: number
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
}

/** Options: where progress lines go, and the dev split size. */
export interface Options {
  readonly log: (line: string) => void
  readonly devSize: number
}

const signature = Signature.make("question -> answer: float")

type Question = { readonly question: string }
type QA =
  | Predict.Predict<Question, { readonly answer: number }>
  | ChainOfThought.ChainOfThought<Question, { readonly answer: number }>

/** Answers a question with a program (a Predict or a ChainOfThought over the demo signature). */
const answer = (program: QA, request: Question) =>
  (Module.call as (p: QA, i: Question) => Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM>)(program, request)

/** The serving actor: answers questions with the program it was started with. */
const server = Actor.make({
  name: "qa-server",
  init: (program: QA) => Effect.succeed(program),
  handleCall: (request: Question, program: QA) =>
    Effect.map(answer(program, request), (p) => Actor.reply(p.get("answer") as number, program))
})

const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  if (samples.length === 0) return 0
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** Runs the demo and returns its summary. */
export const runDemo = (options: Options): Effect.Effect<Summary, unknown, LM.LM | Scope.Scope> =>
  Effect.gen(function* () {
    const { log } = options
    const { dev } = SimTask.splits(Arithmetic.task, { seed: 7, train: 0, dev: options.devSize, test: 0 })
    const devset = dev.map((e) => Example.make(e).withInputs("question"))
    const predict = Predict.make(signature)
    const cot = ChainOfThought.make(signature)

    const { result: summary, usage } = yield* LM.trackUsage(
      Effect.gen(function* () {
        // 1. A supervision tree with the serving actor under it.
        const root = yield* Supervisor.start({
          strategy: "one_for_one",
          children: [Supervisor.worker("qa-server", Actor.spawn(server, cot as QA))]
        })
        log("Supervision tree:")
        log(Supervisor.render(yield* Supervisor.describe(root, "root")))

        // 2. Accuracy of Predict and ChainOfThought on the dev split.
        const predictScore = yield* Evaluate.run({
          devset,
          program: (x) => answer(predict, x.inputs().toRecord() as Question),
          metric: Evaluate.answerExactMatch,
          concurrency: 16
        })
        const cotScore = yield* Evaluate.run({
          devset,
          program: (x) => answer(cot, x.inputs().toRecord() as Question),
          metric: Evaluate.answerExactMatch,
          concurrency: 16
        })
        log(`Predict accuracy:        ${predictScore.score}%`)
        log(`ChainOfThought accuracy: ${cotScore.score}%`)

        // 3. Serve requests through the actor, crash it half way, keep serving.
        const serverRef = () =>
          Effect.map(Supervisor.whichChildren(root), (children) => {
            const child = children.find((c) => c.id === "qa-server")
            return child?.process as Actor.ActorRef<Question, number> | undefined
          })
        const latencies: Array<number> = []
        let served = 0
        let errors = 0
        let restarts = 0
        for (let i = 0; i < devset.length; i++) {
          if (i === Math.floor(devset.length / 2)) {
            const before = yield* serverRef()
            if (before !== undefined) {
              yield* Process.kill(before)
              yield* Process.await(before)
            }
            let after = yield* serverRef()
            while (after === undefined || after.pid === before?.pid) {
              yield* Effect.yieldNow()
              after = yield* serverRef()
            }
            restarts++
            log(`Crashed the qa-server actor (pid ${before?.pid}); its supervisor restarted it as pid ${after.pid}:`)
            log(Supervisor.render(yield* Supervisor.describe(root, "root")))
          }
          const ref = yield* serverRef()
          const started = performance.now()
          const outcome =
            ref === undefined ? undefined : yield* Effect.either(Actor.call(ref, { question: dev[i]!.question }))
          latencies.push(performance.now() - started)
          if (outcome !== undefined && outcome._tag === "Right") served++
          else errors++
        }
        log(`Served ${served} requests through the supervised actor (${errors} errors).`)
        return {
          predictAccuracy: predictScore.score,
          chainOfThoughtAccuracy: cotScore.score,
          requestsServed: served,
          requestErrors: errors,
          restarts,
          latencyP50Ms: quantile(latencies, 0.5),
          latencyP99Ms: quantile(latencies, 0.99)
        }
      })
    )
    const lm = yield* LM.LM
    const result: Summary = {
      provider: lm.provider,
      ...summary,
      lmCalls: usage.calls,
      tokens: usage.totalTokens,
      costUsd: usage.costUsd
    }
    log("")
    log("Summary")
    for (const [key, value] of Object.entries(result))
      log(`  ${key.padEnd(24)} ${typeof value === "number" ? Math.round(value * 1000) / 1000 : value}`)
    return result
  })
