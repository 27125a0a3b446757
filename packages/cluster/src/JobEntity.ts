/**
 * An optimization job as an `@effect/cluster` entity: the entity id is the job's id, so the job lives on the one
 * runner that holds its shard. Its one message, `Run`, is persisted (`SqlMessageStorage`): when the runner dies
 * or loses the shard before answering, the shard's next owner reads the message back and runs the job again,
 * from the checkpoints the first run committed.
 *
 * @since 0.1.0
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import * as Rpc from "@effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/**
 * Runs (or resumes) the job; answers the status it ended in (`swapped`, `rejected`, `failed`), or `superseded`
 * when another run took the job over meanwhile.
 *
 * @since 0.1.0
 * @category rpcs
 */
export const Run = Rpc.make("Run", {
  payload: { jobId: Schema.String },
  success: Schema.String
})

/**
 * The job entity (persisted messages).
 *
 * @since 0.1.0
 * @category entities
 */
export const OptimizationJob = Entity.make("OptimizationJob", [Run]).annotateRpcs(ClusterSchema.Persisted, true)
