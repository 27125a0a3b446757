/**
 * Evaluation shards as an `@effect/cluster` entity: a job's runner sends each shard of an evaluation (a candidate
 * program and some of the valset's examples) to an entity of its own id, so the shards spread over the runners
 * by their shard hash; the runner that receives one scores it with its own LM (within its `lmConcurrency`) and
 * answers the scores and the LM usage. Messages are not persisted: a shard whose runner goes away fails, and the
 * job scores it itself (`CompileOptions.remoteScoring`).
 *
 * @since 0.1.0
 */
import * as Entity from "@effect/cluster/Entity"
import * as Rpc from "@effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/**
 * One example's outcome: its score, and the program's failure when it failed (scored 0).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Outcome = Schema.Struct({
  score: Schema.Number,
  error: Schema.optionalWith(Schema.String, { exact: true })
})

/**
 * The LM usage a shard spent (`LM.UsageTotals`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Usage = Schema.Struct({
  calls: Schema.Number,
  cacheHits: Schema.Number,
  failures: Schema.Number,
  promptTokens: Schema.Number,
  completionTokens: Schema.Number,
  totalTokens: Schema.Number,
  costUsd: Schema.Number
})

/**
 * Scores a program on examples: the module's spec and the candidate's saved state rebuild the program; the
 * metric is a name in the runners' registry; the examples are in their saved form (`Example.toJSON`).
 *
 * @since 0.1.0
 * @category rpcs
 */
export const Score = Rpc.make("Score", {
  payload: {
    jobId: Schema.String,
    spec: Schema.Unknown,
    state: Schema.Unknown,
    metric: Schema.String,
    examples: Schema.Array(Schema.Unknown)
  },
  success: Schema.Struct({ outcomes: Schema.Array(Outcome), usage: Usage }),
  error: Schema.String
})

/**
 * The evaluation shard entity (volatile messages).
 *
 * @since 0.1.0
 * @category entities
 */
export const EvaluationShard = Entity.make("EvaluationShard", [Score])
