/**
 * Runs the multimodal example and prints its report.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { layer, run } from "./Multimodal.js"

Effect.runPromise(run().pipe(Effect.provide(layer))).then(
  (report) => {
    console.log(`Counting shapes in pictures (simulated LM, 100 dev pictures):`)
    console.log(`  plain Predict:              ${report.baseline.toFixed(1)}%`)
    console.log(`  BootstrapFewShot (${report.demos} demos): ${report.optimized.toFixed(1)}%`)
    console.log(`  a picture read from a file: ${report.fromFile} shapes`)
    console.log(`  a URL while fetching is off: MediaError ${report.urlRefused}`)
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
