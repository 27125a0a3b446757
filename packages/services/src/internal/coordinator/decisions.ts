/**
 * A job's decisions: which program it optimizes (after a restart, its saved student, or a re-base on the serving
 * version), and whether its result is swapped in (scored against the version serving now, swapped with a
 * compare-and-swap, decided again after a conflict).
 */
import { Evaluate, type Example, type LM, Module } from "@effect-dspy/core"
import { Optimizer } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type Env, finish, patch } from "./env.js"
import { dedupeKeyOf, type Live, swapAttempts } from "./jobs.js"
import type * as ModuleManager from "../../ModuleManager.js"
import type { ModuleNotFound } from "../../ServicesError.js"
import { Events } from "@effect-dspy/foundation"
import * as ServicesEvents from "../../ServicesEvents.js"

/** The program's score (Evaluate's 0-100) on the job's valset (its trainset when it has none). */
const score = (env: Env, program: Parameters<typeof Optimizer.callProgram>[0], live: Live) =>
  Effect.map(
    Evaluate.run({
      devset: live.valset ?? live.trainset,
      program: (example: Example.Any) => Optimizer.callProgram(program, example),
      metric: env.metrics[live.row.metric]!,
      keepResults: false
    }),
    (result) => result.score
  )

/**
 * The program a job optimizes. A job started in this coordinator takes its module version. A recovered one
 * cannot trust version numbers (the restarted ModuleManager numbers its versions from 1 again): it loads the
 * state it saved at start into the module serving now, so it compiles the same student as before the restart
 * (and resumes from its checkpoints). When that state does not fit the module (another shape) or was never
 * saved, the job re-bases on the serving version: recorded on the row and in `optimization_rebased`.
 */
export const studentOf = (env: Env, live: Live) =>
  Effect.gen(function* () {
    const modules = env.deps.modules
    const row = live.row
    if (!live.recovered) return yield* modules.program(row.moduleId, row.moduleVersion)
    const info = yield* modules.describe(row.moduleId)
    const serving = yield* modules.program(row.moduleId, info.version)
    const restored =
      row.studentState === null
        ? Either.left("the job has no saved student state (it was queued by an older coordinator)")
        : Either.mapLeft(
            Module.loadState(serving, JSON.parse(row.studentState) as unknown),
            (e) => `its saved student does not fit the module: ${e.message}`
          )
    if (Either.isRight(restored)) return restored.right
    const student = Module.dumpState(serving)
    const dedupeKey = dedupeKeyOf({
      moduleId: row.moduleId,
      student,
      optimizer: row.optimizer,
      settings: live.optimizer.settings,
      data: JSON.parse(row.data) as unknown,
      metric: row.metric,
      seed: row.seed,
      budget: JSON.parse(row.budget) as unknown
    })
    yield* patch(env, live, { moduleVersion: info.version, studentState: JSON.stringify(student), dedupeKey })
    yield* Events.publishOrLog(
      ServicesEvents.OptimizationRebased,
      {
        optimization_id: row.id,
        module_id: row.moduleId,
        from_version: row.moduleVersion,
        to_version: info.version,
        reason: restored.left
      },
      { events: env.deps.events }
    )
    return serving
  })

/**
 * The swap decision: score the version serving now against the optimized program and, if it gains the
 * margin, swap it in with `ifVersion` = that version (compare-and-swap). A change that landed meanwhile (a
 * manual swap, another job's) is a `ModuleVersionConflict`: recorded (`optimization_swap_conflict`), then
 * the version serving now is scored and the decision made again, at most `swapAttempts` times.
 */
export const decide = (
  env: Env,
  live: Live,
  optimized: Module.Program
): Effect.Effect<
  void,
  ModuleNotFound | ModuleManager.MutationError | Evaluate.EvaluateMaxErrors | Evaluate.EvaluateConfigError,
  LM.LM
> =>
  Effect.gen(function* () {
    const modules = env.deps.modules
    const row = live.row
    let optimizedScore: number | undefined
    for (let attempt = 1; ; attempt++) {
      const servingVersion = (yield* modules.describe(row.moduleId)).version
      const serving = yield* modules.program(row.moduleId, servingVersion)
      const servingScore = yield* score(env, serving, live)
      // The optimized program's score does not depend on what serves: scored once.
      if (optimizedScore === undefined) optimizedScore = yield* score(env, optimized, live)
      const optimizedValue = optimizedScore
      const margin = (yield* env.deps.config.current).optimization.swapMargin
      const gain = optimizedValue - servingScore
      const scores = { servingScore, optimizedScore: optimizedValue, servingVersion }
      const data = {
        optimization_id: row.id,
        module_id: row.moduleId,
        serving_score: servingScore,
        optimized_score: optimizedValue,
        serving_version: servingVersion,
        gain,
        margin,
        attempt
      }
      if (gain < margin) {
        yield* finish(env, live, { status: "rejected", ...scores })
        yield* Events.publishOrLog(
          ServicesEvents.OptimizationRejected,
          { ...data, reason: "margin" },
          { events: env.deps.events }
        )
        return
      }
      const swapped = yield* Effect.either(
        modules.swap(row.moduleId, {
          program: optimized,
          ifVersion: servingVersion,
          lineage: {
            jobId: row.id,
            optimizer: row.optimizer,
            scores: { serving: servingScore, optimized: optimizedValue }
          }
        })
      )
      if (Either.isRight(swapped)) {
        yield* finish(env, live, { status: "swapped", ...scores, swappedVersion: swapped.right.version })
        yield* Events.publishOrLog(
          ServicesEvents.OptimizationSwapped,
          { ...data, version: swapped.right.version },
          { events: env.deps.events }
        )
        return
      }
      const error = swapped.left
      if (error._tag !== "ModuleVersionConflict") return yield* error
      yield* Events.publishOrLog(
        ServicesEvents.OptimizationSwapConflict,
        {
          optimization_id: row.id,
          module_id: row.moduleId,
          expected_version: error.expected,
          actual_version: error.actual,
          attempt,
          max_attempts: swapAttempts
        },
        { events: env.deps.events }
      )
      if (attempt >= swapAttempts) {
        const message = `Not swapped: module "${row.moduleId}" changed under the decision ${attempt} times in a row (last: version ${error.expected} was scored, version ${error.actual} was serving at the swap). The module is being changed too often for a safe swap; start the optimization again once it settles.`
        yield* finish(env, live, { status: "rejected", ...scores, error: message })
        yield* Events.publishOrLog(
          ServicesEvents.OptimizationRejected,
          {
            ...data,
            reason: "swap_conflicts",
            current_version: error.actual,
            error: message
          },
          { events: env.deps.events }
        )
        return
      }
    }
  })
