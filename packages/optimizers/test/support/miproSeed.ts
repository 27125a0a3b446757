/**
 * One MIPROv2 run on the simulated LM, reduced to a JSON-able result, run both in the test process (vitest)
 * and in a `tsx` child process (`miproSeedMain.ts`): the two must agree, whatever each runner's transpiler does
 * to the program's source.
 */
import { Evaluate, Module } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as MIPROv2 from "../../src/instruction-search/MIPROv2.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric } from "./sim.js"

/** What one seed gives: the optimized instructions and demos, the scores and the call count. */
export interface SeedResult {
  readonly instructions: { readonly [path: string]: string }
  readonly demos: { readonly [path: string]: ReadonlyArray<unknown> }
  readonly baselineScore: number | undefined
  readonly bestScore: number | undefined
  readonly devScore: number
  readonly lmCalls: number
}

/** MIPROv2 (light, a small trainset) over ChainOfThought on arithmetic, with LM seed `seed`. */
export const runSeed = (seed: number): Effect.Effect<SeedResult, unknown> =>
  Effect.gen(function* () {
    const data = arithmetic({ seed: 5, train: 60, dev: 60 })
    const { program, report } = yield* Optimizer.compile(MIPROv2.make({ auto: "light" }), cot(), {
      trainset: data.train,
      metric,
      concurrency: 8
    })
    const dev = yield* Evaluate.run({ devset: data.dev, program, metric, concurrency: 8 })
    const demos: Record<string, ReadonlyArray<unknown>> = {}
    for (const [path, list] of Object.entries(Module.demos(program))) {
      demos[path] = list.map((d) => JSON.parse(JSON.stringify(d)))
    }
    return {
      instructions: Module.instructions(program),
      demos,
      baselineScore: report.baselineScore,
      bestScore: report.bestScore,
      devScore: dev.score,
      lmCalls: report.lmCalls
    }
  }).pipe(Effect.provide(SimLM.layer({ seed })))
