/**
 * The events an optimizer run publishes (with an `Events` store in context), one typed definition each (see
 * foundation's `Events.define`); subscribers read them typed with `Events.subscribeTo(OptimizerEvents.Iteration)`.
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

const Settings = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * A run started: the optimizer, its settings, the student and the data sizes.
 *
 * @since 0.1.0
 * @category events
 */
export const Started = Events.define(
  "optimization_started",
  Schema.Struct({
    optimization_id: Schema.String,
    optimizer: Schema.String,
    student_module: Schema.String,
    trainset_size: Schema.Number,
    valset_size: Schema.Number,
    seed: Schema.Number,
    concurrency: Schema.Number,
    config: Settings
  })
)

/**
 * One trial of a run was scored.
 *
 * @since 0.1.0
 * @category events
 */
export const Iteration = Events.define(
  "optimization_iteration",
  Schema.Struct({
    optimization_id: Schema.String,
    optimizer: Schema.String,
    iteration: Schema.Number,
    trial_id: Schema.String,
    evaluation_score: Schema.Number,
    best_score: Schema.Number,
    details: Settings
  })
)

/**
 * A run failed (or was interrupted: `error` is then `"interrupted"`).
 *
 * @since 0.1.0
 * @category events
 */
export const Failed = Events.define(
  "optimization_failed",
  Schema.Struct({
    optimization_id: Schema.String,
    optimizer: Schema.String,
    error: Schema.String,
    lm_calls: Schema.Number
  })
)

/**
 * A run completed, with its scores and what it spent.
 *
 * @since 0.1.0
 * @category events
 */
export const Completed = Events.define(
  "optimization_completed",
  Schema.Struct({
    optimization_id: Schema.String,
    optimizer: Schema.String,
    final_score: Schema.NullOr(Schema.Number),
    baseline_score: Schema.NullOr(Schema.Number),
    iterations: Schema.Number,
    lm_calls: Schema.Number,
    cost_usd: Schema.Number,
    budget_exhausted: Schema.Boolean,
    wall_ms: Schema.Number
  })
)

/**
 * The adaptive optimizer chose an optimizer, by which rule and why.
 *
 * @since 0.1.0
 * @category events
 */
export const AdaptiveOptimizerSelected = Events.define(
  "adaptive_optimizer_selected",
  Schema.Struct({
    optimizer: Schema.String,
    rule: Schema.Literal("override", "history", "size"),
    reason: Schema.String,
    trainset_size: Schema.Number,
    program_fingerprint: Schema.String
  })
)
