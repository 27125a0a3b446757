/**
 * The learned routers' state in SQLite or PostgreSQL: one set of statements and one row codec over a `Db` (only the
 * tables' DDL differs), several routers per database by router id. Every change is one transaction.
 *
 * SQLite layout versions (`PRAGMA user_version`): 1 is the first; 2 adds the decisions' `execution_id` (the loop's
 * feedback links). A file written by a newer version is refused. PostgreSQL: version 1 in `dspy_schema_versions`
 * under `routers` (the SQLite layout 2).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Pg from "../../internal/postgres.js"
import * as Db from "../../internal/sqlDb.js"
import * as Sqlite from "../../internal/sqlite.js"
import { RouterStoreError } from "../../ServicesError.js"
import type { DecisionRow, OpenOptions, RouterState, Service } from "../RouterStore.js"

/** The layout version written now. */
export const LAYOUT_VERSION = 2

const failure = (router: string, target: string, operation: string) => (reason: string) =>
  new RouterStoreError({
    router,
    operation,
    reason,
    message: `Router "${router}" could not ${operation} its state in '${target}': ${reason}`
  })

const failWith =
  (router: string, target: string, operation: string) =>
  <A, R>(self: Effect.Effect<A, unknown, R>): Effect.Effect<A, RouterStoreError, R> =>
    Effect.mapError(Sqlite.oneLine(self), failure(router, target, operation))

/** The row codec of a decision. */
const decisionOf = (r: Db.Row): DecisionRow => ({
  id: String(r.id),
  seq: Db.num(r.seq),
  segment: String(r.segment),
  handler: String(r.handler),
  confidence: Db.num(r.confidence),
  reward: r.reward === null || r.reward === undefined ? null : Db.num(r.reward)
})

/** One router's state over a database whose tables are ready (the statements SQLite and PostgreSQL share). */
const stateOn = (db: Db.Db, target: string, router: string, options: OpenOptions): RouterState => {
  const fail = (operation: string) => failWith(router, target, operation)
  return {
    load: fail("load")(
      Effect.gen(function* () {
        const arms = yield* db.query(
          `SELECT segment, handler, pulls, reward_n, reward_sum, reward_sum_sq FROM dspy_router_arms
            WHERE router = ? ORDER BY segment, handler`,
          [router]
        )
        const max = yield* db.query("SELECT MAX(seq) AS seq FROM dspy_router_decisions WHERE router = ?", [router])
        const bins = yield* db.query(
          `SELECT bin, n, confidence_sum, reward_sum, squared_error_sum FROM dspy_router_calibration
            WHERE router = ? AND bins = ? ORDER BY bin`,
          [router, options.bins]
        )
        const links = yield* db.query(
          `SELECT id, execution_id FROM dspy_router_decisions
            WHERE router = ? AND execution_id IS NOT NULL AND reward IS NULL ORDER BY seq`,
          [router]
        )
        const last = max[0]?.seq
        return {
          arms: arms.map((r) => ({
            segment: String(r.segment),
            handler: String(r.handler),
            pulls: Db.num(r.pulls),
            rewardN: Db.num(r.reward_n),
            rewardSum: Db.num(r.reward_sum),
            rewardSumSq: Db.num(r.reward_sum_sq)
          })),
          nextSeq: last === null || last === undefined ? 0 : Db.num(last) + 1,
          bins: bins.map((r) => ({
            bin: Db.num(r.bin),
            n: Db.num(r.n),
            confidenceSum: Db.num(r.confidence_sum),
            rewardSum: Db.num(r.reward_sum),
            squaredErrorSum: Db.num(r.squared_error_sum)
          })),
          links: links.map((r) => ({ decisionId: String(r.id), executionId: String(r.execution_id) }))
        }
      })
    ),
    decide: (d) =>
      fail("record a decision in")(
        db.transaction((query) =>
          Effect.gen(function* () {
            yield* query(
              `INSERT INTO dspy_router_decisions (router, id, seq, segment, handler, confidence, explored, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
              [router, d.id, d.seq, d.segment, d.handler, d.confidence, d.explored ? 1 : 0, d.createdAt]
            )
            yield* query(
              `INSERT INTO dspy_router_arms (router, segment, handler, pulls, reward_n, reward_sum, reward_sum_sq)
                VALUES (?, ?, ?, 1, 0, 0, 0)
                ON CONFLICT (router, segment, handler) DO UPDATE SET pulls = dspy_router_arms.pulls + 1`,
              [router, d.segment, d.handler]
            )
            if (d.seq % 256 === 0 && d.seq >= options.maxDecisions) {
              yield* query("DELETE FROM dspy_router_decisions WHERE router = ? AND seq <= ?", [
                router,
                d.seq - options.maxDecisions
              ])
            }
          })
        )
      ),
    decision: (id) =>
      fail("read a decision from")(
        Effect.map(
          db.query(
            "SELECT id, seq, segment, handler, confidence, reward FROM dspy_router_decisions WHERE router = ? AND id = ?",
            [router, id]
          ),
          (rows) => (rows[0] === undefined ? undefined : decisionOf(rows[0]))
        )
      ),
    link: (decisionId, executionId) =>
      fail("link a decision in")(
        db.query("UPDATE dspy_router_decisions SET execution_id = ? WHERE router = ? AND id = ?", [
          executionId,
          router,
          decisionId
        ])
      ).pipe(Effect.asVoid),
    reward: (r) =>
      fail("record a reward in")(
        db.transaction((query) =>
          Effect.gen(function* () {
            yield* query("UPDATE dspy_router_decisions SET reward = ? WHERE router = ? AND id = ?", [
              r.value,
              router,
              r.id
            ])
            yield* query(
              `INSERT INTO dspy_router_arms (router, segment, handler, pulls, reward_n, reward_sum, reward_sum_sq)
                VALUES (?, ?, ?, 0, 1, ?, ?)
                ON CONFLICT (router, segment, handler) DO UPDATE SET reward_n = dspy_router_arms.reward_n + 1,
                reward_sum = dspy_router_arms.reward_sum + excluded.reward_sum,
                reward_sum_sq = dspy_router_arms.reward_sum_sq + excluded.reward_sum_sq`,
              [router, r.segment, r.handler, r.value, r.value * r.value]
            )
            const squared = (r.confidence - r.value) ** 2
            yield* query(
              `INSERT INTO dspy_router_calibration (router, bins, bin, n, confidence_sum, reward_sum, squared_error_sum)
                VALUES (?, ?, ?, 1, ?, ?, ?)
                ON CONFLICT (router, bins, bin) DO UPDATE SET n = dspy_router_calibration.n + 1,
                confidence_sum = dspy_router_calibration.confidence_sum + excluded.confidence_sum,
                reward_sum = dspy_router_calibration.reward_sum + excluded.reward_sum,
                squared_error_sum = dspy_router_calibration.squared_error_sum + excluded.squared_error_sum`,
              [router, options.bins, r.bin, r.confidence, r.value, squared]
            )
          })
        )
      )
  }
}

/** The DDL of layout 2 (`real`/`bigint`: the dialect's number types). */
const tables = (real: string, bigint: string, ifNotExists: string): ReadonlyArray<string> => [
  `CREATE TABLE ${ifNotExists}dspy_router_arms (router TEXT NOT NULL, segment TEXT NOT NULL,
    handler TEXT NOT NULL, pulls ${bigint} NOT NULL, reward_n ${bigint} NOT NULL, reward_sum ${real} NOT NULL,
    reward_sum_sq ${real} NOT NULL, PRIMARY KEY (router, segment, handler))`,
  `CREATE TABLE ${ifNotExists}dspy_router_decisions (router TEXT NOT NULL, id TEXT NOT NULL,
    seq ${bigint} NOT NULL, segment TEXT NOT NULL, handler TEXT NOT NULL, confidence ${real} NOT NULL,
    explored INTEGER NOT NULL, created_at ${bigint} NOT NULL, reward ${real}, execution_id TEXT,
    PRIMARY KEY (router, id))`,
  `CREATE INDEX ${ifNotExists}dspy_router_decisions_seq ON dspy_router_decisions (router, seq)`,
  `CREATE TABLE ${ifNotExists}dspy_router_calibration (router TEXT NOT NULL, bins INTEGER NOT NULL,
    bin INTEGER NOT NULL, n ${bigint} NOT NULL, confidence_sum ${real} NOT NULL, reward_sum ${real} NOT NULL,
    squared_error_sum ${real} NOT NULL, PRIMARY KEY (router, bins, bin))`
]

/**
 * Opens (creating or migrating when needed) the SQLite file; `router` names the router in errors of the opening
 * (`*` for a file shared by several).
 */
const openSqlite = (filename: string, router: string): Effect.Effect<Db.Db, RouterStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const run = yield* failWith(router, filename, "open")(Sqlite.openReserved(filename))
    const db = yield* Db.sqlite(run)
    yield* failWith(
      router,
      filename,
      "open"
    )(
      Effect.gen(function* () {
        const rows = yield* db.query("PRAGMA user_version")
        const version = Db.num(rows[0]?.user_version ?? 0)
        if (version > LAYOUT_VERSION) {
          return yield* Effect.fail(
            `the file was written by a newer version (router layout ${version}, this one reads up to ${LAYOUT_VERSION}); upgrade`
          )
        }
        if (version === LAYOUT_VERSION) return
        yield* db.transaction((query) =>
          Effect.gen(function* () {
            // Layout 1 -> 2: the decisions' execution links. An empty file: layout 2's tables.
            if (version === 1) yield* query("ALTER TABLE dspy_router_decisions ADD COLUMN execution_id TEXT")
            else for (const statement of tables("REAL", "INTEGER", "IF NOT EXISTS ")) yield* query(statement)
            yield* query(`PRAGMA user_version = ${LAYOUT_VERSION}`)
          })
        )
      })
    )
    return db
  })

/** Every router's state in one SQLite file. */
export const makeSqlite = (filename: string): Effect.Effect<Service, RouterStoreError, Scope.Scope> =>
  Effect.map(openSqlite(filename, "*"), (db) => ({
    target: filename,
    open: (router, options) => Effect.succeed(stateOn(db, filename, router, options))
  }))

/** One router's state in its own SQLite file (`Router.make`'s `filename`). */
export const openFile = (
  filename: string,
  router: string,
  options: OpenOptions
): Effect.Effect<RouterState, RouterStoreError, Scope.Scope> =>
  Effect.map(openSqlite(filename, router), (db) => stateOn(db, filename, router, options))

/** Each router's state in a private in-memory database. */
export const makeMemory = (): Service => ({
  target: "memory",
  open: (router, options) => openFile(":memory:", router, options)
})

/** The PostgreSQL migration steps (index 0: an empty database to version 1, the SQLite layout 2). */
const postgresMigrations: ReadonlyArray<ReadonlyArray<string>> = [tables("DOUBLE PRECISION", "BIGINT", "")]

/** Every router's state in PostgreSQL over the `SqlClient` in context. */
export const makePostgres: Effect.Effect<Service, RouterStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const target = "postgresql (routers)"
  const migrated = yield* failWith("*", target, "open")(Pg.migrate("routers", postgresMigrations))
  if (migrated.newer) {
    return yield* failure(
      "*",
      target,
      "open"
    )(
      `the database was written by a newer version (schema version ${migrated.found}, this one reads up to ${postgresMigrations.length}); upgrade, or use another database`
    )
  }
  const db = yield* Db.postgres
  return { target, open: (router, options) => Effect.succeed(stateOn(db, target, router, options)) } satisfies Service
})
