/**
 * Runs the privacy example on the simulated LM: `pnpm --filter @effect-dspy/example-privacy start`.
 */
import * as Effect from "effect/Effect"
import { layer, program } from "./Privacy.js"

Effect.runPromise(Effect.provide(program, layer)).then(
  () => undefined,
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
