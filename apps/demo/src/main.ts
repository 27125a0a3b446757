/**
 * The effect-dspy demo (interim: the runtime and DSPy core; the full supervised application with background
 * optimization and fail-over arrives with the services package).
 *
 * It starts a supervision tree, registers a ChainOfThought program on the simulated LM's arithmetic task in
 * a supervised actor, measures Predict and ChainOfThought accuracy, crashes the serving actor to show the
 * restart, and ends with a summary. Offline by default; with `OPENAI_API_KEY` set the same program runs
 * against that provider. `--json` prints the summary as one JSON object on stdout (progress goes to stderr).
 */
import { Config } from "@effect-dspy/foundation"
import { LM } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runDemo, type Summary } from "./Demo.js"

const json = process.argv.includes("--json")
const log = (line: string) => process.stderr.write(`${line}\n`)

const program = runDemo({ log, devSize: 100 }).pipe(
  Effect.tap((summary: Summary) =>
    Effect.sync(() => {
      if (json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    })
  ),
  Effect.provide(LM.layer.pipe(Layer.provide(Config.layer()))),
  Effect.scoped
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`demo failed: ${error}\n`)
    process.exit(1)
  }
)
