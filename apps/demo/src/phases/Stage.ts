/**
 * The stage every phase of the demo plays on: the data splits, the registered module, the steady traffic and the
 * progress log, plus the helpers the phases share (a typed step failure, waiting on a condition, the module's
 * accuracy on the held-out questions).
 */
import { Evaluate, Example } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Application, ModuleManager } from "@effect-dspy/services"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Demo from "../Demo.js"
import * as Traffic from "../Traffic.js"

/** A step of the demo did not go as it must (the message says which and what was seen). */
export class DemoStepFailed extends Data.TaggedError("DemoStepFailed")<{ readonly message: string }> {}

/** Fails the demo with a step failure. */
export const fail = (message: string) => Effect.fail(new DemoStepFailed({ message }))

/** Waits (polling every 50 ms on Effect's Clock) until `check` holds, or fails after `within`. */
export const waitUntil = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  within: Duration.DurationInput
): Effect.Effect<void, E | DemoStepFailed, R> =>
  check.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (ok) => ok }),
    Effect.asVoid,
    Effect.timeoutFail({
      duration: within,
      onTimeout: () => new DemoStepFailed({ message: `timed out waiting for ${what}` })
    })
  )

/** What the phases share. */
export interface Stage {
  readonly settings: Demo.Settings
  readonly moduleId: string
  readonly signature: string
  /** A progress line, and a timestamped step heading. */
  readonly log: (line: string) => void
  readonly step: (text: string) => void
  /** The optimizers' training set, the swap decisions' validation set, the reported accuracy's test set. */
  readonly trainset: ReadonlyArray<Example.Any>
  readonly valset: ReadonlyArray<Example.Any>
  readonly testset: ReadonlyArray<Example.Any>
  /** The version registered at the start. */
  readonly firstVersion: number
  readonly requests: Traffic.Traffic
}

const since = (started: number) => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s`

/**
 * Sets the stage: the data (disjoint splits of the simulated arithmetic task, the same questions a real LM
 * gets), the application's tree printed, the module registered, and the traffic started in the `baseline` phase.
 */
export const start = (
  settings: Demo.Settings,
  moduleId: string,
  signature: string
): Effect.Effect<Stage, unknown, Application.Application | ModuleManager.ModuleManager | Scope.Scope> =>
  Effect.gen(function* () {
    const { log } = settings
    const started = performance.now()
    const step = (text: string) => log(`\n[${since(started)}] ${text}`)
    const app = yield* Application.Application
    const modules = yield* ModuleManager.ModuleManager

    const { train, dev, test } = SimTask.splits(Arithmetic.task, {
      seed: 11 + (settings.seed ?? 0),
      train: settings.sizes.train,
      dev: settings.sizes.val,
      test: settings.sizes.test
    })
    const traffic = SimTask.splits(Arithmetic.task, {
      seed: 97 + (settings.seed ?? 0),
      train: 0,
      dev: 0,
      test: settings.sizes.traffic
    }).test
    const asExamples = (rows: ReadonlyArray<Arithmetic.Example>) =>
      rows.map((row) => Example.make({ question: row.question, answer: row.answer }).withInputs("question"))

    step("The application's supervision tree:")
    log(yield* app.render)

    const created = yield* modules.create({ id: moduleId, kind: "chain_of_thought", signature })
    log(`Registered ${moduleId}: ChainOfThought(${signature}), version ${created.version}.`)

    const execute = (question: string) => Effect.map(modules.execute(moduleId, { question }), (e) => e.output)
    const requests = yield* Traffic.start({
      execute,
      hot: traffic.slice(0, 12),
      fresh: traffic.slice(12),
      hotShare: 0.3,
      ratePerSecond: settings.ratePerSecond,
      initialPhase: "baseline"
    })
    step(`Serving ${settings.ratePerSecond} requests/s (30% of them popular questions) through the ModuleManager.`)
    return {
      settings,
      moduleId,
      signature,
      log,
      step,
      trainset: asExamples(train),
      valset: asExamples(dev),
      testset: asExamples(test),
      firstVersion: created.version,
      requests
    }
  })

/** The serving module's accuracy (percent) on the held-out questions, through the ModuleManager. */
export const accuracy = (stage: Stage): Effect.Effect<number, unknown, ModuleManager.ModuleManager> =>
  Effect.flatMap(ModuleManager.ModuleManager, (modules) =>
    Effect.map(
      Evaluate.run({
        devset: stage.testset,
        program: (example: Example.Any) =>
          Effect.map(
            modules.execute(stage.moduleId, example.inputs().toRecord()),
            (e) => e.output as Evaluate.AnyPrediction
          ),
        metric: Evaluate.answerExactMatch,
        concurrency: 8,
        maxErrors: stage.testset.length,
        keepResults: false
      }),
      (result) => result.score
    )
  )
