/**
 * The application's PostgreSQL stores, opened from Config's `storage` section when `storage.backend` is
 * `postgres`: one client (pool) for the application's lifetime, and on it the release store, the experiment
 * store, the checkpoint store and the optimization jobs' table (the experience store, the metric history and the
 * routers' state open on the same client, with the application's options).
 */
import type { ConfigSchema } from "@effect-dspy/foundation"
import type { Checkpoint } from "@effect-dspy/optimizers"
import { RuntimeError } from "@effect-dspy/runtime"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as CheckpointPostgres from "../CheckpointPostgres.js"
import * as ExperimentStore from "../experiments/ExperimentStore.js"
import * as ReleaseStore from "../releases/ReleaseStore.js"
import * as Jobs from "./coordinator/postgresStore.js"
import type { JobStore } from "./coordinator/store.js"
import * as Pg from "./postgres.js"

/** The stores on PostgreSQL. */
export interface PostgresStores {
  /** The client (pool) the stores share, for the stores the application opens with its own options. */
  readonly client: Context.Context<SqlClient.SqlClient>
  readonly releases: ReleaseStore.Service
  readonly experiments: Layer.Layer<ExperimentStore.ExperimentStore>
  readonly checkpoints: Checkpoint.Service
  readonly jobs: JobStore
}

const startFailed = (what: string, reason: string, cause?: unknown) =>
  new RuntimeError.ChildStartFailed({
    childId: "module_manager",
    cause: cause ?? reason,
    message: `The ${what} did not open on PostgreSQL: ${reason}`
  })

/** Opens every store on the database of `settings` for the scope's lifetime. */
export const openPostgres = (
  settings: ConfigSchema.DSPyConfig["storage"],
  scope: Scope.Scope
): Effect.Effect<PostgresStores, RuntimeError.ChildStartFailed> =>
  Effect.gen(function* () {
    const url = settings.postgres.url
    if (url === undefined) {
      return yield* startFailed(
        "storage",
        "storage.backend is `postgres` but storage.postgres.url is not set: set it (EFFECT_DSPY__STORAGE__POSTGRES__URL=postgres://user:password@host:5432/database), or use storage.backend `sqlite`"
      )
    }
    const client = yield* Layer.buildWithScope(
      Pg.layerClient({ url, maxConnections: settings.postgres.maxConnections }),
      scope
    ).pipe(Effect.mapError((e) => startFailed("storage client", e.message, e)))
    const releases = yield* Effect.provide(ReleaseStore.makePostgres, client).pipe(
      Effect.mapError((e) => startFailed("release store", e.message, e))
    )
    const experiments = yield* Layer.buildWithScope(
      ExperimentStore.layerPostgres.pipe(Layer.provide(Layer.succeedContext(client))),
      scope
    ).pipe(
      Effect.map((context) =>
        Layer.succeed(ExperimentStore.ExperimentStore, Context.get(context, ExperimentStore.ExperimentStore))
      ),
      Effect.mapError((e) => startFailed("experiment store", e.message, e))
    )
    const checkpoints = yield* Effect.provide(CheckpointPostgres.make, client).pipe(
      Effect.mapError((e) => startFailed("checkpoint store", e.message, e))
    )
    const jobs = yield* Effect.provide(Jobs.open, client).pipe(
      Effect.mapError((reason) => startFailed("optimization job table", reason))
    )
    return { client, releases, experiments, checkpoints, jobs }
  })
