/**
 * The errors of cluster mode, members of the project's error family (`Errors.TaggedError`: a stable `code` and
 * `retryable`); messages say what to fix. {@link isClusterError} tells this package's errors from the others.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * No cluster job has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterJobNotFound extends Errors.TaggedError<ClusterJobNotFound>()(
  "ClusterJobNotFound",
  { jobId: Schema.String },
  { code: "cluster_job_not_found", retryable: false }
) {}

/**
 * A job request that cannot run as given (an unknown module, optimizer or metric, empty data): nothing was stored.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterJobInvalid extends Errors.TaggedError<ClusterJobInvalid>()(
  "ClusterJobInvalid",
  { field: Schema.String },
  { code: "cluster_job_invalid", retryable: false }
) {}

/**
 * The cluster's job table (PostgreSQL) or its messaging failed: the server is down or refused the statement.
 * Retry when it is back.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterStoreError extends Errors.TaggedError<ClusterStoreError>()(
  "ClusterStoreError",
  { operation: Schema.String },
  { code: "cluster_store_error", retryable: true }
) {}

/**
 * The cluster settings (`cluster.*`) cannot run a runner: the field says which one and how to fix it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterConfigInvalid extends Errors.TaggedError<ClusterConfigInvalid>()(
  "ClusterConfigInvalid",
  { field: Schema.String },
  { code: "cluster_config_invalid", retryable: false }
) {}

/**
 * Every error of this package.
 *
 * @since 0.1.0
 * @category errors
 */
export type ClusterError = ClusterJobNotFound | ClusterJobInvalid | ClusterStoreError | ClusterConfigInvalid

const tags: ReadonlySet<string> = new Set([
  "ClusterJobNotFound",
  "ClusterJobInvalid",
  "ClusterStoreError",
  "ClusterConfigInvalid"
])

/**
 * Whether a value is one of this package's errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isClusterError = (u: unknown): u is ClusterError => Errors.isDSPyError(u) && tags.has(u._tag)
