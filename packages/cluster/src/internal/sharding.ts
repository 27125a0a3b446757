/**
 * The `@effect/cluster` runtime of a runner: socket transport between runners, messages and runner/shard
 * registrations in PostgreSQL (`SqlMessageStorage` with a request's final reply saved in one statement:
 * `internal/messageStorage`; `SqlRunnerStorage`), and a health check that gives up on a
 * runner after two missed pings of `healthPingTimeoutMs` (the stock `RunnerHealth.layerPing` waits up to a minute
 * for a frozen runner: 10 s timeouts, 5 retries).
 */
import type * as ClusterMessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ClusterConfig from "../ClusterConfig.js"
import * as MessageStorage from "./messageStorage.js"

/** Runner health by ping, with a short deadline. */
const health = (settings: ClusterConfig.Settings): Layer.Layer<RunnerHealth.RunnerHealth, never, Runners.Runners> =>
  Layer.effect(
    RunnerHealth.RunnerHealth,
    Effect.map(Runners.Runners, (runners) =>
      RunnerHealth.RunnerHealth.of({
        isAlive: (address) =>
          runners
            .ping(address)
            .pipe(
              Effect.timeout(settings.healthPingTimeoutMs),
              Effect.retry({ times: 1, schedule: Schedule.spaced(100) }),
              Effect.isSuccess
            )
      })
    )
  )

/**
 * The cluster's tables, created when missing: retried, because runners starting together on a new database race
 * on `CREATE TABLE IF NOT EXISTS` (PostgreSQL fails all but one with a unique violation on its catalog).
 */
const retried = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, never, R> =>
  Layer.orDie(Layer.retry(layer, Schedule.intersect(Schedule.recurs(5), Schedule.spaced(250))))

/** The cluster runtime of a runner over the `SqlClient` in context. */
export const layer = (
  settings: ClusterConfig.Settings
): Layer.Layer<
  Sharding.Sharding | Runners.Runners | ClusterMessageStorage.MessageStorage,
  SocketServer.SocketServerError,
  SqlClient.SqlClient
> =>
  SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(
      health(settings).pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))
    ),
    Layer.provideMerge(retried(MessageStorage.layer)),
    Layer.provide(retried(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layer(ClusterConfig.shardingConfig(settings))),
    Layer.provide(RpcSerialization.layerMsgPack)
  )

/** A client-only node (submits jobs, runs none) over the `SqlClient` in context. */
export const layerClient = (
  settings: ClusterConfig.Settings
): Layer.Layer<
  Sharding.Sharding | Runners.Runners | ClusterMessageStorage.MessageStorage,
  never,
  SqlClient.SqlClient
> =>
  SocketRunner.layerClientOnly.pipe(
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provideMerge(retried(SqlMessageStorage.layer)),
    Layer.provide(retried(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layer({ ...ClusterConfig.shardingConfig(settings), runnerAddress: Option.none() })),
    Layer.provide(RpcSerialization.layerMsgPack)
  )
