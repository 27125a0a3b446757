/**
 * Where a job goes. A job runs on the runner that holds its entity's shard, and the shard is a hash of the job's
 * id: with random ids, a burst of jobs spreads over the runners as the dice fall (30 jobs each on 3 runners came
 * out as 26, 35 and 29, and the runner with 35 set the burst's end). So the submitter draws ids until one falls on
 * a shard of the next runner in turn (the runners as the shard locks name them), and a burst spreads evenly. Only
 * the id is chosen: the job runs, fails over and resumes exactly as any other.
 */

/** The shards each runner holds (address -> shard ids, as `ShardId.toString` writes them). */
export type Owners = ReadonlyMap<string, ReadonlySet<string>>

/** The owners from the shard lock rows. */
export const ownersOf = (rows: ReadonlyArray<{ readonly shardId: string; readonly address: string }>): Owners => {
  const owners = new Map<string, Set<string>>()
  for (const row of rows) {
    let shards = owners.get(row.address)
    if (shards === undefined) {
      shards = new Set()
      owners.set(row.address, shards)
    }
    shards.add(row.shardId)
  }
  return owners
}

/** Round-robin placement over the runners holding shards. */
export class RoundRobin {
  private turn = 0

  /**
   * An id from `draw` that falls (by `shardOf`) on a shard of the next runner in turn; the last draw when none
   * does within `maxDraws`, or the first when no runner is known.
   */
  pick(owners: Owners, draw: () => string, shardOf: (id: string) => string, maxDraws = 64): string {
    if (owners.size === 0) return draw()
    const addresses = [...owners.keys()].sort()
    const target = owners.get(addresses[this.turn++ % addresses.length] as string) as ReadonlySet<string>
    let id = draw()
    for (let i = 1; i < maxDraws && !target.has(shardOf(id)); i++) id = draw()
    return id
  }
}
