/**
 * A run's persisted record: where the statechart stands (state and context: the inputs and every finished step's
 * outputs), the outputs of finished children of parallel and map steps, one record per executed step (mode, arm,
 * attempts, time, cost, fallback, shadow), and the run's status. Written at each step boundary.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The version of the record's layout (`schemaVersion`); older records are migrated forward when read.
 *
 * @since 0.1.0
 * @category constants
 */
export const SCHEMA_VERSION: 1 = 1

const Outputs = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * The other arm of an `evaluation` step: run in the shadow and recorded, never served (or skipped past the cost
 * cap).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Shadow = Schema.Struct({
  arm: Schema.String,
  outputs: Schema.optional(Outputs),
  timeMs: Schema.Number,
  costUsd: Schema.Number,
  success: Schema.Boolean,
  error: Schema.optional(Schema.String),
  /** Why the shadow did not run (`cost_cap`). */
  skipped: Schema.optional(Schema.String)
})

/**
 * One executed step (or map item): how it ran and what it cost.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StepRecord = Schema.Struct({
  step: Schema.String,
  path: Schema.String,
  kind: Schema.String,
  mode: Schema.String,
  /** The arm that served (`traditional`, `optimized`) for module and prompt steps. */
  arm: Schema.optional(Schema.String),
  /** Why that arm served (`mode`, or the traffic policy's reason: `weighted`, `canary`, `bandit`, `shadow`). */
  reason: Schema.optional(Schema.String),
  attempts: Schema.Number,
  timeMs: Schema.Number,
  costUsd: Schema.Number,
  lmCalls: Schema.Number,
  success: Schema.Boolean,
  error: Schema.optional(Schema.String),
  /** What served after the step failed: `step:<id>`, `baseline` or `default`. */
  fallback: Schema.optional(Schema.String),
  outputs: Schema.optional(Outputs),
  shadow: Schema.optional(Shadow),
  /** A map item's index. */
  item: Schema.optional(Schema.Number)
})

/**
 * One executed step.
 *
 * @since 0.1.0
 * @category models
 */
export type StepRecord = typeof StepRecord.Type

/**
 * A run's status.
 *
 * @since 0.1.0
 * @category models
 */
export const Status = Schema.Literal("running", "succeeded", "failed")

/**
 * A run's status.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * A run's persisted record.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunRecord = Schema.Struct({
  schemaVersion: Schema.Literal(SCHEMA_VERSION),
  runId: Schema.String,
  workflow: Schema.String,
  file: Schema.String,
  fingerprint: Schema.String,
  status: Status,
  /** The statechart's state (a step id, `done` or `failed`). */
  state: Schema.String,
  inputs: Outputs,
  /** Each finished step's outputs, by id (the chart's context). */
  outputs: Schema.Record({ key: Schema.String, value: Outputs }),
  /** Finished children of parallel and map steps still in progress (`par.child`, `map[3]`). */
  partials: Schema.Record({ key: Schema.String, value: Outputs }),
  steps: Schema.Array(StepRecord),
  result: Schema.optional(Outputs),
  error: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  /** The end user the run is for (foundation's `Subject`), when one was set: what data rights find it by. */
  subject: Schema.optional(Schema.String),
  /** The tenant the run is for (foundation's `Tenant`), when one was set. */
  tenant: Schema.optional(Schema.String)
})

/**
 * A run's persisted record.
 *
 * @since 0.1.0
 * @category models
 */
export type RunRecord = typeof RunRecord.Type

/**
 * Reads a stored record (any layout version this package wrote), migrated to the current one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = Schema.decodeUnknownEither(RunRecord)
