/**
 * The SQLite state of the learned routers (one file may hold several, by router id): each segment's arm
 * statistics, the decisions (the newest `maxDecisions` of each router, with their reward once it came) and the
 * calibration sums. Every change is one transaction, so a restarted router resumes exactly where the last
 * committed change left it.
 *
 * Layout versions (`PRAGMA user_version`): 1 is the first. A file written by a newer version is refused.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Sqlite from "../../internal/sqlite.js"
import { RouterStoreError } from "../../ServicesError.js"

/** The layout version written now. */
export const LAYOUT_VERSION = 1

/** One arm's persisted statistics. */
export interface ArmRow {
  readonly segment: string
  readonly handler: string
  readonly pulls: number
  readonly rewardN: number
  readonly rewardSum: number
  readonly rewardSumSq: number
}

/** One decision as stored. */
export interface DecisionRow {
  readonly id: string
  readonly seq: number
  readonly segment: string
  readonly handler: string
  readonly confidence: number
  readonly reward: number | null
}

/** One calibration bin's sums. */
export interface BinRow {
  readonly bin: number
  readonly n: number
  readonly confidenceSum: number
  readonly rewardSum: number
  readonly squaredErrorSum: number
}

/** What a router reads at start. */
export interface Loaded {
  readonly arms: ReadonlyArray<ArmRow>
  /** The next decision's sequence number. */
  readonly nextSeq: number
  readonly bins: ReadonlyArray<BinRow>
}

/** A router's view of the store. */
export interface RouterStore {
  readonly load: Effect.Effect<Loaded, RouterStoreError>
  /** Records a decision and its arm's pull (one transaction); prunes decisions older than `maxDecisions`. */
  readonly decide: (decision: {
    readonly id: string
    readonly seq: number
    readonly segment: string
    readonly handler: string
    readonly confidence: number
    readonly explored: boolean
    readonly createdAt: number
  }) => Effect.Effect<void, RouterStoreError>
  readonly decision: (id: string) => Effect.Effect<DecisionRow | undefined, RouterStoreError>
  /** Records a reward: the decision's, its arm's and its calibration bin's (one transaction). */
  readonly reward: (reward: {
    readonly id: string
    readonly segment: string
    readonly handler: string
    readonly value: number
    readonly bin: number
    readonly confidence: number
  }) => Effect.Effect<void, RouterStoreError>
}

/** Opens (creating when needed) the store of router `router` in `filename`. */
export const open = (
  filename: string,
  router: string,
  options: { readonly bins: number; readonly maxDecisions: number }
): Effect.Effect<RouterStore, RouterStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const failWith =
      (operation: string) =>
      <A, R>(self: Effect.Effect<A, unknown, R>): Effect.Effect<A, RouterStoreError, R> =>
        Sqlite.oneLine(self).pipe(
          Effect.mapError(
            (reason) =>
              new RouterStoreError({
                router,
                operation,
                reason,
                message: `Router "${router}" could not ${operation} its state in '${filename}': ${reason}`
              })
          )
        )
    const run = yield* failWith("open")(Sqlite.openReserved(filename))
    // Transactions must not interleave on the one connection.
    const lock = yield* Effect.makeSemaphore(1)
    const transaction = <A, E, R>(work: Effect.Effect<A, E, R>) =>
      lock.withPermits(1)(
        Effect.zipRight(
          run("BEGIN IMMEDIATE", []),
          Effect.zipLeft(work, run("COMMIT", [])).pipe(Effect.tapError(() => Effect.ignore(run("ROLLBACK", []))))
        )
      )
    yield* failWith("open")(
      Effect.gen(function* () {
        const rows = yield* run("PRAGMA user_version", [])
        const version = Number((rows[0] as { readonly user_version?: unknown } | undefined)?.user_version ?? 0)
        if (version > LAYOUT_VERSION) {
          return yield* Effect.fail(
            `the file was written by a newer version (router layout ${version}, this one reads up to ${LAYOUT_VERSION}); upgrade`
          )
        }
        yield* run(
          `CREATE TABLE IF NOT EXISTS dspy_router_arms (router TEXT NOT NULL, segment TEXT NOT NULL,
            handler TEXT NOT NULL, pulls INTEGER NOT NULL, reward_n INTEGER NOT NULL, reward_sum REAL NOT NULL,
            reward_sum_sq REAL NOT NULL, PRIMARY KEY (router, segment, handler))`,
          []
        )
        yield* run(
          `CREATE TABLE IF NOT EXISTS dspy_router_decisions (router TEXT NOT NULL, id TEXT NOT NULL,
            seq INTEGER NOT NULL, segment TEXT NOT NULL, handler TEXT NOT NULL, confidence REAL NOT NULL,
            explored INTEGER NOT NULL, created_at INTEGER NOT NULL, reward REAL, PRIMARY KEY (router, id))`,
          []
        )
        yield* run("CREATE INDEX IF NOT EXISTS dspy_router_decisions_seq ON dspy_router_decisions (router, seq)", [])
        yield* run(
          `CREATE TABLE IF NOT EXISTS dspy_router_calibration (router TEXT NOT NULL, bins INTEGER NOT NULL,
            bin INTEGER NOT NULL, n INTEGER NOT NULL, confidence_sum REAL NOT NULL, reward_sum REAL NOT NULL,
            squared_error_sum REAL NOT NULL, PRIMARY KEY (router, bins, bin))`,
          []
        )
        yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
      })
    )
    const store: RouterStore = {
      load: failWith("load")(
        Effect.gen(function* () {
          const arms = (yield* run(
            `SELECT segment, handler, pulls, reward_n, reward_sum, reward_sum_sq FROM dspy_router_arms
              WHERE router = ? ORDER BY segment, handler`,
            [router]
          )) as ReadonlyArray<Record<string, unknown>>
          const max = (yield* run("SELECT MAX(seq) AS seq FROM dspy_router_decisions WHERE router = ?", [
            router
          ])) as ReadonlyArray<Record<string, unknown>>
          const bins = (yield* run(
            `SELECT bin, n, confidence_sum, reward_sum, squared_error_sum FROM dspy_router_calibration
              WHERE router = ? AND bins = ? ORDER BY bin`,
            [router, options.bins]
          )) as ReadonlyArray<Record<string, unknown>>
          const last = max[0]?.seq
          return {
            arms: arms.map((r) => ({
              segment: String(r.segment),
              handler: String(r.handler),
              pulls: Number(r.pulls),
              rewardN: Number(r.reward_n),
              rewardSum: Number(r.reward_sum),
              rewardSumSq: Number(r.reward_sum_sq)
            })),
            nextSeq: last === null || last === undefined ? 0 : Number(last) + 1,
            bins: bins.map((r) => ({
              bin: Number(r.bin),
              n: Number(r.n),
              confidenceSum: Number(r.confidence_sum),
              rewardSum: Number(r.reward_sum),
              squaredErrorSum: Number(r.squared_error_sum)
            }))
          }
        })
      ),
      decide: (d) =>
        failWith("record a decision in")(
          transaction(
            Effect.gen(function* () {
              yield* run(
                `INSERT INTO dspy_router_decisions (router, id, seq, segment, handler, confidence, explored, created_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
                [router, d.id, d.seq, d.segment, d.handler, d.confidence, d.explored ? 1 : 0, d.createdAt]
              )
              yield* run(
                `INSERT INTO dspy_router_arms (router, segment, handler, pulls, reward_n, reward_sum, reward_sum_sq)
                  VALUES (?, ?, ?, 1, 0, 0, 0)
                  ON CONFLICT (router, segment, handler) DO UPDATE SET pulls = pulls + 1`,
                [router, d.segment, d.handler]
              )
              if (d.seq % 256 === 0 && d.seq >= options.maxDecisions) {
                yield* run("DELETE FROM dspy_router_decisions WHERE router = ? AND seq <= ?", [
                  router,
                  d.seq - options.maxDecisions
                ])
              }
            })
          )
        ),
      decision: (id) =>
        failWith("read a decision from")(
          Effect.map(
            run(
              "SELECT id, seq, segment, handler, confidence, reward FROM dspy_router_decisions WHERE router = ? AND id = ?",
              [router, id]
            ),
            (rows) => {
              const r = rows[0] as Record<string, unknown> | undefined
              if (r === undefined) return undefined
              const row: DecisionRow = {
                id: String(r.id),
                seq: Number(r.seq),
                segment: String(r.segment),
                handler: String(r.handler),
                confidence: Number(r.confidence),
                reward: r.reward === null || r.reward === undefined ? null : Number(r.reward)
              }
              return row
            }
          )
        ),
      reward: (r) =>
        failWith("record a reward in")(
          transaction(
            Effect.gen(function* () {
              yield* run("UPDATE dspy_router_decisions SET reward = ? WHERE router = ? AND id = ?", [
                r.value,
                router,
                r.id
              ])
              yield* run(
                `INSERT INTO dspy_router_arms (router, segment, handler, pulls, reward_n, reward_sum, reward_sum_sq)
                  VALUES (?, ?, ?, 0, 1, ?, ?)
                  ON CONFLICT (router, segment, handler) DO UPDATE SET reward_n = reward_n + 1,
                  reward_sum = reward_sum + excluded.reward_sum, reward_sum_sq = reward_sum_sq + excluded.reward_sum_sq`,
                [router, r.segment, r.handler, r.value, r.value * r.value]
              )
              const squared = (r.confidence - r.value) ** 2
              yield* run(
                `INSERT INTO dspy_router_calibration (router, bins, bin, n, confidence_sum, reward_sum, squared_error_sum)
                  VALUES (?, ?, ?, 1, ?, ?, ?)
                  ON CONFLICT (router, bins, bin) DO UPDATE SET n = n + 1,
                  confidence_sum = confidence_sum + excluded.confidence_sum,
                  reward_sum = reward_sum + excluded.reward_sum,
                  squared_error_sum = squared_error_sum + excluded.squared_error_sum`,
                [router, options.bins, r.bin, r.confidence, r.value, squared]
              )
            })
          )
        )
    }
    return store
  })
