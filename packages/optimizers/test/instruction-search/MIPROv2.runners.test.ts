import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runSeed, type SeedResult } from "../support/miproSeed.js"

/** Runs `miproSeedMain.ts` for a seed in a `tsx` child process and reads its JSON line. */
const inTsx = (seed: number): Effect.Effect<SeedResult, Error> =>
  Effect.async<SeedResult, Error>((resume) => {
    const main = fileURLToPath(new URL("../support/miproSeedMain.ts", import.meta.url))
    const child = spawn(process.execPath, ["--conditions=@effect-dspy/source", "--import", "tsx", main, String(seed)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString()
    })
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString()
    })
    child.once("error", (e) => resume(Effect.fail(e)))
    child.once("exit", (code) => {
      if (code !== 0) resume(Effect.fail(new Error(`tsx child exited with ${code}: ${err}`)))
      else resume(Effect.try({ try: () => JSON.parse(out) as SeedResult, catch: (e) => new Error(String(e)) }))
    })
    return Effect.sync(() => child.kill())
  })

describe("MIPROv2 under any runner", () => {
  it.effect(
    "one seed gives identical results in a tsx child process and in vitest (the proposer never reads source text)",
    () =>
      Effect.gen(function* () {
        const [child, here] = yield* Effect.all([inTsx(3), runSeed(3)], { concurrency: 2 })
        // The run did real work: proposals replaced the instruction and demos were chosen.
        assert.isAbove(Object.values(here.demos).flat().length, 0)
        assert.deepStrictEqual(JSON.parse(JSON.stringify(here)), child)
      }),
    120_000
  )
})
