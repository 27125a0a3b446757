import { assert, describe, it } from "@effect/vitest"
import { ownersOf, RoundRobin } from "../src/internal/placement.js"

/** Ids `job_0`, `job_1`, ... and a shard function spreading them like a hash (6 shards). */
const ids = () => {
  let n = 0
  return () => `job_${n++}`
}
const shardOf = (id: string) => {
  let h = 0
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) | 0
  return `default:${(Math.abs(h) % 6) + 1}`
}

describe("job placement", () => {
  it("spreads a burst evenly over the runners holding shards, whatever the ids' hash", () => {
    const owners = ownersOf([
      { shardId: "default:1", address: "b:2" },
      { shardId: "default:2", address: "a:1" },
      { shardId: "default:3", address: "c:3" },
      { shardId: "default:4", address: "a:1" },
      { shardId: "default:5", address: "b:2" },
      { shardId: "default:6", address: "c:3" }
    ])
    const placement = new RoundRobin()
    const draw = ids()
    const count = new Map<string, number>()
    for (let i = 0; i < 90; i++) {
      const shard = shardOf(placement.pick(owners, draw, shardOf))
      const owner = [...owners].find(([, shards]) => shards.has(shard))![0]
      count.set(owner, (count.get(owner) ?? 0) + 1)
    }
    assert.deepStrictEqual(Object.fromEntries(count), { "a:1": 30, "b:2": 30, "c:3": 30 })
  })

  it("takes the first id when no runner is known, and the last draw when no id falls on the target", () => {
    const placement = new RoundRobin()
    assert.strictEqual(placement.pick(new Map(), ids(), shardOf), "job_0")
    const nowhere = ownersOf([{ shardId: "other:1", address: "a:1" }])
    assert.strictEqual(placement.pick(nowhere, ids(), shardOf, 5), "job_4")
  })
})
