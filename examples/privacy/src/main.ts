/**
 * Runs the privacy example on the simulated LM: `pnpm --filter @effect-dspy/example-privacy start`.
 */
import * as Effect from "effect/Effect"
import { run } from "./Privacy.js"

Effect.runPromise(run).then(
  () => undefined,
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
