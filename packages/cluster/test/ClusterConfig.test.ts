import { ClusterConfig, ClusterError } from "@effect-dspy/cluster"
import { ConfigSchema } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

describe("ClusterConfig", () => {
  it("reads cluster.* from the configuration, with the failover defaults", () => {
    const config = Schema.decodeUnknownSync(ConfigSchema.DSPyConfig)({
      cluster: { runnerHost: "10.0.0.11", runnerPort: 4000, jobWorkers: 3 }
    })
    const settings = Either.getOrThrow(ClusterConfig.fromConfig(config))
    assert.strictEqual(settings.runnerHost, "10.0.0.11")
    assert.strictEqual(settings.runnerPort, 4000)
    assert.strictEqual(settings.jobWorkers, 3)
    assert.strictEqual(settings.shardLockExpirationMs, ClusterConfig.defaults.shardLockExpirationMs)
    const sharding = ClusterConfig.shardingConfig(settings)
    // Row locks with a short expiry: a frozen runner's session cannot keep its shards.
    assert.isTrue(sharding.shardLockDisableAdvisory)
    assert.strictEqual(Duration.toMillis(Duration.decode(sharding.shardLockExpiration!)), 4000)
    assert.strictEqual(Duration.toMillis(Duration.decode(sharding.runnerHealthCheckInterval!)), 1000)
    assert.deepStrictEqual(
      Option.map(sharding.runnerAddress!, (a) => [a.host, a.port]),
      Option.some(["10.0.0.11", 4000])
    )
  })

  it("refuses settings a runner cannot work with, naming the field", () => {
    const expiry = ClusterConfig.make({ shardLockRefreshMs: 3000, shardLockExpirationMs: 4000 })
    assert.isTrue(Either.isLeft(expiry))
    const error = Either.getLeft(expiry).pipe(Option.getOrThrow)
    assert.isTrue(ClusterError.isClusterError(error))
    assert.strictEqual(error.field, "cluster.shardLockExpirationMs")
    assert.include(error.message, "at least twice")
    const workers = ClusterConfig.make({ jobWorkers: 0 })
    assert.strictEqual(Either.getLeft(workers).pipe(Option.getOrThrow).field, "cluster.jobWorkers")
    const port = ClusterConfig.make({ runnerPort: 70000 })
    assert.strictEqual(Either.getLeft(port).pipe(Option.getOrThrow).field, "cluster.runnerPort")
    const host = ClusterConfig.make({ runnerHost: " " })
    assert.strictEqual(Either.getLeft(host).pipe(Option.getOrThrow).field, "cluster.runnerHost")
  })
})
