/**
 * The persisted record of an experiment: which module, the baseline and arms, the status (running, concluded,
 * promoted, rolled back), the settings, every arm's statistics as of the last check, the last analysis (whose
 * sequential tests carry over to the next check) and the outcome. Plain JSON with a schema version;
 * {@link decode} upgrades an older record.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ExperimentStoreError } from "../ServicesError.js"
import * as Analysis from "./Analysis.js"
import * as ArmStats from "./ArmStats.js"
import * as TrafficPolicy from "./TrafficPolicy.js"

/**
 * The schema version of records written now.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SCHEMA_VERSION = 1

/**
 * An experiment's status: `running` takes observations; `concluded` no longer does and waits for a decision;
 * `promoted` and `rolled_back` are final.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Status = Schema.Literal("running", "concluded", "promoted", "rolled_back")

/**
 * An experiment's status.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * An experiment's settings: the analysis' settings, how many observations between checks, and whether the
 * recommendation is applied by itself (through the module's registered applier).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Settings = Schema.Struct({
  alpha: Schema.Number,
  qualityTau2: Schema.Number,
  errorTau2: Schema.Number,
  minRewards: Schema.Number,
  guardRails: Schema.optional(TrafficPolicy.GuardRails),
  checkEvery: Schema.Number,
  autoApply: Schema.Boolean
})

/**
 * An experiment's settings.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = typeof Settings.Type

/**
 * How an experiment ended: the decision (promote an arm, or roll back to the baseline), why, whether by itself,
 * and the guard rail broken if one was.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Outcome = Schema.Struct({
  decision: Schema.Literal("promote", "roll_back"),
  arm: Schema.String,
  reason: Schema.String,
  automatic: Schema.Boolean,
  breach: Schema.optional(TrafficPolicy.Breach),
  at: Schema.Number
})

/**
 * How an experiment ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * An experiment record (times in epoch milliseconds).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExperimentRecord = Schema.Struct({
  schemaVersion: Schema.Literal(SCHEMA_VERSION),
  id: Schema.String,
  moduleId: Schema.String,
  baseline: Schema.String,
  arms: Schema.Array(Schema.String),
  policy: Schema.optional(TrafficPolicy.Policy),
  status: Status,
  settings: Settings,
  stats: Schema.Record({ key: Schema.String, value: ArmStats.ArmStats }),
  analysis: Schema.optional(Analysis.Analysis),
  concludedReason: Schema.optional(Schema.String),
  outcome: Schema.optional(Outcome),
  createdAt: Schema.Number,
  updatedAt: Schema.Number
})

/**
 * An experiment record.
 *
 * @since 0.1.0
 * @category models
 */
export type ExperimentRecord = typeof ExperimentRecord.Type

const decodeCurrent = Schema.decodeUnknown(ExperimentRecord)

/**
 * Decodes a stored record (parsed JSON), upgrading an older schema version to the current one. A record of an
 * unknown or newer version, or one that does not decode, fails with `ExperimentStoreError` naming what was found.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Effect.Effect<ExperimentRecord, ExperimentStoreError> =>
  Effect.suspend(() => {
    const version = (input as { readonly schemaVersion?: unknown } | null)?.schemaVersion
    if (typeof version === "number" && version > SCHEMA_VERSION)
      return Effect.fail(
        storeError(
          "decode",
          `the record was written by a newer version (schema ${version}, this one reads up to ${SCHEMA_VERSION}); upgrade`
        )
      )
    return decodeCurrent(input).pipe(
      Effect.mapError((e) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
        const id = (input as { readonly id?: unknown } | null)?.id
        return storeError(
          "decode",
          `experiment record ${typeof id === "string" ? `'${id}' ` : ""}is corrupted at ${issue?.path.map(String).join(".") || "the top"}: ${issue?.message ?? "does not decode"}`
        )
      })
    )
  })

/**
 * An `ExperimentStoreError` for an operation.
 *
 * @since 0.1.0
 * @category errors
 */
export const storeError = (operation: string, reason: string): ExperimentStoreError =>
  new ExperimentStoreError({ message: `experiment store: ${operation}: ${reason}`, operation, reason })
