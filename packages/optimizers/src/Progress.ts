/**
 * Progress of an optimizer run: `Started`, one `Step` per finished unit of LM work (a teacher run, a scored
 * example; `resumed` when read from a checkpoint), one `Trial` per scored candidate program, then `Completed`
 * or `Failed`. Get them with `onProgress` or as a Stream with `Optimizer.compileWithProgress`. The same run
 * also publishes the design's `optimization_started` / `optimization_iteration` / `optimization_completed` /
 * `optimization_failed` events when the `Events` service is present.
 *
 * @since 0.1.0
 */

/**
 * A scored candidate: an id unique within the run, its score (percentage) and what it was.
 *
 * @since 0.1.0
 * @category models
 */
export interface Trial {
  readonly id: string
  readonly score: number
  readonly details: { readonly [key: string]: unknown }
}

/**
 * A progress event.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | {
      readonly _tag: "Started"
      readonly optimizer: string
      readonly runId: string | undefined
      readonly trainsetSize: number
      readonly valsetSize: number
    }
  | {
      readonly _tag: "Step"
      readonly key: string
      readonly resumed: boolean
      readonly lmCalls: number
    }
  | {
      readonly _tag: "Trial"
      readonly iteration: number
      readonly trial: Trial
      readonly bestScore: number
    }
  | { readonly _tag: "BudgetExhausted"; readonly lmCalls: number; readonly costUsd: number }
  | {
      readonly _tag: "Completed"
      readonly bestScore: number | undefined
      readonly trials: number
      readonly lmCalls: number
    }
  | { readonly _tag: "Failed"; readonly error: string }

/**
 * A one-line rendering of an event (for logs and CLIs).
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (event: Event): string => {
  switch (event._tag) {
    case "Started":
      return `started ${event.optimizer} (train ${event.trainsetSize}, val ${event.valsetSize})`
    case "Step":
      return `step ${event.key}${event.resumed ? " (resumed)" : ""}, ${event.lmCalls} LM calls`
    case "Trial":
      return `trial ${event.iteration} ${event.trial.id}: ${event.trial.score.toFixed(2)} (best ${event.bestScore.toFixed(2)})`
    case "BudgetExhausted":
      return `budget exhausted after ${event.lmCalls} LM calls ($${event.costUsd.toFixed(4)})`
    case "Completed":
      return `completed: best ${event.bestScore === undefined ? "-" : event.bestScore.toFixed(2)} over ${event.trials} trials, ${event.lmCalls} LM calls`
    case "Failed":
      return `failed: ${event.error}`
  }
}
