/** `tsx miproSeedMain.ts SEED`: prints {@link runSeed}'s result for SEED as one JSON line. */
import * as Effect from "effect/Effect"
import { runSeed } from "./miproSeed.js"

const seed = Number(process.argv[2] ?? "0")
Effect.runPromise(runSeed(seed)).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
