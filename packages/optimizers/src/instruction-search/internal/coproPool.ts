/**
 * Scoring many candidate programs at once in one bounded pool: every (candidate, example) pair is one unit
 * of the run (so the budget, checkpoints and the run's concurrency bound apply to the whole grid, with no
 * barrier between candidates). Used by COPRO (all candidates of a predictor) and MIPROv2 (minibatches).
 */
import { Evaluate, type Example, type LM, type Module } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Optimizer from "../../Optimizer.js"
import { type OptimizerError, TooManyErrors } from "../../OptimizerError.js"

/**
 * A candidate to score: its unit key prefix and its program.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly key: string
  readonly program: Module.Program
}

/**
 * The scores of every candidate, in candidate order.
 *
 * @since 0.1.0
 * @category scoring
 */
export const scoreAll = (
  run: Optimizer.Run,
  candidates: ReadonlyArray<Candidate>,
  examples: ReadonlyArray<Example.Any>
): Effect.Effect<Array<Optimizer.Evaluation>, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    const pairs: Array<readonly [number, number]> = []
    for (let c = 0; c < candidates.length; c++) for (let e = 0; e < examples.length; e++) pairs.push([c, e])
    const results = yield* run.forEach(pairs, ([c, e]) => {
      const candidate = candidates[c]!
      const example = examples[e]!
      return Effect.map(
        run.unit(
          `${candidate.key}/${e}`,
          Effect.matchEffect(
            Effect.flatMap(Optimizer.callProgram(candidate.program, example), (prediction) =>
              Optimizer.score(run.metric, example, prediction)
            ),
            {
              onFailure: (error) =>
                Effect.succeed({ score: 0, error: Optimizer.describeError(error) } as {
                  readonly score: number
                  readonly error?: string
                }),
              onSuccess: (score) => Effect.succeed({ score } as { readonly score: number; readonly error?: string })
            }
          )
        ),
        Option.getOrUndefined
      )
    })
    return candidates.map((_, c) => {
      const mine = results.slice(c * examples.length, (c + 1) * examples.length)
      const scores = mine.map((r) => r?.score)
      const scored = scores.filter((s): s is number => s !== undefined)
      const sum = scored.reduce((a, b) => a + b, 0)
      return {
        score: scored.length === 0 ? 0 : Evaluate.roundHalfEven((100 * sum) / scored.length),
        scores,
        errors: mine.filter((r) => r?.error !== undefined).length,
        complete: scored.length === examples.length
      }
    })
  })

/**
 * A failure of the prompt model while proposing instructions, as an optimizer error.
 *
 * @since 0.1.0
 * @category errors
 */
export const proposalFailed = (what: string, error: unknown): TooManyErrors => {
  const lastError = Optimizer.describeError(error)
  return new TooManyErrors({
    errors: 1,
    maxErrors: 1,
    lastError,
    message: `${what} failed: ${lastError}. Check the prompt model (it must answer the proposal signature's fields).`
  })
}
