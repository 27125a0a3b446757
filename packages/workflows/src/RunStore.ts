/**
 * Where runs are persisted at each step boundary: in memory (tests), SQLite in WAL mode, or PostgreSQL
 * ({@link layerPostgres}; {@link layerConfig} follows Config's `storage.backend`), so a run interrupted by a crash
 * or restart resumes where it stopped. A run is one row (its record as it started, or as last compacted) and
 * one small appended row per step boundary (what the boundary changed: the chart's state, the finished step's
 * outputs, its step records); reading a run folds its boundaries onto its row. Appending a boundary is one
 * prepared `INSERT` in its own transaction: with `synchronous = NORMAL` in WAL mode a committed boundary survives a
 * process crash (an OS crash or power loss can lose the last boundaries, which a resume then runs again). In SQLite
 * a boundary's row is keyed by its run's key and its index in the run (one integer key, no secondary index: a
 * commit writes one table page).
 *
 * @example
 * ```ts
 * import { RunStore } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RunStore.RunStore
 *   return yield* store.list()
 * }).pipe(Effect.provide(RunStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import { Config, DatabaseFile } from "@effect-dspy/foundation"
import { DataRights, Storage } from "@effect-dspy/services"
import type * as SqlClient from "@effect/sql/SqlClient"
import Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import * as codec from "./internal/runRows.js"
import * as postgres from "./internal/runStorePostgres.js"
import type * as RunRecord from "./RunRecord.js"
import type { RunStoreError } from "./WorkflowError.js"

/**
 * A run in a listing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly runId: string
  readonly workflow: string
  readonly status: RunRecord.Status
  readonly updatedAt: number
}

/**
 * What one step boundary changed in a run (appended, never rewriting the run): folded onto the run's record in
 * order when it is read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Boundary {
  /** When (epoch ms): the record's `updatedAt`. */
  readonly at: number
  /** The run's status after the boundary (a change also updates the run's row, which listings read). */
  readonly status: RunRecord.Status
  /** The chart's state after the boundary. */
  readonly state?: string
  /** Finished steps' outputs added to the chart's context, by step id. */
  readonly outputs?: { readonly [step: string]: { readonly [field: string]: unknown } }
  /** Finished children of a parallel or map step, by key. */
  readonly partials?: { readonly [key: string]: { readonly [field: string]: unknown } }
  /** The partials are cleared (their step finished) before this boundary's are added. */
  readonly clearPartials?: boolean
  /** Step records executed since the previous boundary. */
  readonly steps?: ReadonlyArray<RunRecord.StepRecord>
  /** The run's error (a failed run); absent clears it. */
  readonly error?: string
  /** The workflow's outputs (a succeeded run). */
  readonly result?: { readonly [field: string]: unknown }
}

/**
 * Folds a boundary onto a record (what reading a run does).
 *
 * @since 0.1.0
 * @category combinators
 */
export const applyBoundary: (record: RunRecord.RunRecord, b: Boundary) => RunRecord.RunRecord = codec.applyBoundary

/**
 * The run store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Writes a run's whole record, replacing its boundaries (durably, for SQLite, when it returns). */
  readonly save: (record: RunRecord.RunRecord) => Effect.Effect<void, RunStoreError>
  /** Appends one step boundary to a saved run (durably, for SQLite, when it returns). */
  readonly append: (runId: string, boundary: Boundary) => Effect.Effect<void, RunStoreError>
  /** A run's record, `undefined` when there is none. */
  readonly get: (runId: string) => Effect.Effect<RunRecord.RunRecord | undefined, RunStoreError>
  /**
   * Writes the state of traffic routers (hybrid and evaluation steps' policies, `TrafficPolicy.Router.state()`), by
   * key, replacing what was there: a bandit keeps what it learnt across restarts.
   */
  readonly saveRouters: (
    states: ReadonlyArray<{ readonly key: string; readonly state: unknown }>
  ) => Effect.Effect<void, RunStoreError>
  /** A router's stored state (as written), `undefined` when there is none. */
  readonly getRouter: (key: string) => Effect.Effect<unknown, RunStoreError>
  /** The runs (of one workflow, when given), most recent first. */
  readonly list: (workflow?: string) => Effect.Effect<ReadonlyArray<Summary>, RunStoreError>
  /** Removes runs, their step boundaries included (an erasure: see {@link rightsSource}); returns how many. */
  readonly remove: (runIds: ReadonlyArray<string>) => Effect.Effect<number, RunStoreError>
}

/**
 * The run store tag.
 *
 * @since 0.1.0
 * @category services
 */
export class RunStore extends Context.Tag("@effect-dspy/workflows/RunStore")<RunStore, Service>() {}

/**
 * The layout version of the SQLite file (`PRAGMA user_version`).
 *
 * @since 0.1.0
 * @category constants
 */
export const LAYOUT_VERSION = 3

/**
 * Layout 3: a boundary's row key is its run's key (`workflow_runs.run_key`) times this plus its index in the run,
 * so a run's boundaries are one key range of `workflow_boundaries` (an `INTEGER PRIMARY KEY`, no index to update).
 */
const BOUNDARIES_PER_RUN = 2 ** 24

/**
 * A store in memory (records are copied through JSON, as a database would).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Service => {
  const rows = new Map<string, { readonly text: string; readonly boundaries: Array<string> }>()
  const current = (runId: string) => {
    const row = rows.get(runId)
    return row === undefined
      ? undefined
      : (codec.decodeText(row.text, row.boundaries) as Either.Either<RunRecord.RunRecord>)
  }
  const routers = new Map<string, string>()
  return {
    save: (record) => Effect.sync(() => void rows.set(record.runId, { text: JSON.stringify(record), boundaries: [] })),
    saveRouters: (states) =>
      Effect.sync(() => {
        for (const { key, state } of states) routers.set(key, JSON.stringify(state))
      }),
    getRouter: (key) =>
      Effect.sync(() => {
        const text = routers.get(key)
        return text === undefined ? undefined : (JSON.parse(text) as unknown)
      }),
    append: (runId, boundary) =>
      Effect.suspend(() => {
        const row = rows.get(runId)
        if (row === undefined)
          return Effect.fail(codec.storeError("append", `there is no run "${runId}" (save it first)`))
        row.boundaries.push(JSON.stringify(boundary))
        return Effect.void
      }),
    get: (runId) =>
      Effect.suspend(() => {
        const row = rows.get(runId)
        if (row === undefined) return Effect.succeed(undefined)
        return Either.match(codec.decodeText(row.text, row.boundaries), {
          onLeft: (reason) => Effect.fail(codec.storeError("get", reason)),
          onRight: Effect.succeed
        })
      }),
    remove: (runIds) =>
      Effect.sync(() => {
        let n = 0
        for (const id of runIds) if (rows.delete(id)) n++
        return n
      }),
    list: (workflow) =>
      Effect.sync(() =>
        [...rows.keys()]
          .flatMap((runId) => {
            const r = current(runId)
            return r !== undefined && Either.isRight(r) ? [r.right] : []
          })
          .filter((r) => workflow === undefined || r.workflow === workflow)
          .sort((a, b) => b.updatedAt - a.updatedAt)
          .map((r) => ({ runId: r.runId, workflow: r.workflow, status: r.status, updatedAt: r.updatedAt }))
      )
  }
}

/**
 * Opens the SQLite store at `filename` (creating the folder and file), in WAL mode with `synchronous = NORMAL`
 * (a committed step survives a process crash; the OS crash window is WAL's).
 *
 * The store is a lean writer on the driver itself (better-sqlite3, the driver `@effect/sql-sqlite-node` wraps):
 * its statements are prepared once, when the store opens, and a boundary is one synchronous `run` of the prepared
 * insert (no statement cache lookup, no fiber). The driver is synchronous, so a transaction (a run saved, a status
 * change) is never interleaved with another statement of this process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite = (filename: string): Effect.Effect<Service, RunStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const fail = (operation: string) => (e: unknown) => codec.storeError(operation, codec.describe(e))
    if (filename !== ":memory:") {
      yield* Effect.try({
        try: () => fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true }),
        catch: fail("open")
      })
    }
    const db = yield* Effect.acquireRelease(
      Effect.try({ try: () => new Sqlite(filename), catch: fail("open") }),
      (db) => Effect.sync(() => db.close())
    )
    const statements = yield* Effect.try({
      try: () => {
        db.exec(DatabaseFile.busyTimeoutPragma)
        db.pragma("journal_mode = WAL")
        // Durable across a process crash in WAL mode (a commit is in the WAL file when it returns); `FULL` would
        // also fsync the WAL at each commit, to survive an OS crash or power loss, at ~10x the cost of a boundary.
        db.pragma("synchronous = NORMAL")
        const version = Number(db.pragma("user_version", { simple: true }) ?? 0)
        if (version > LAYOUT_VERSION) {
          throw new Error(
            `'${filename}' was written by a newer version (layout ${version}; this one reads up to ${LAYOUT_VERSION}): upgrade`
          )
        }
        if (version < LAYOUT_VERSION) migrate(db)
        return {
          // A new run: one statement (its own transaction), no boundaries to delete; nothing when the run exists.
          insertRun: db
            .prepare<[string, string, string, number, string], number>(
              "INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record, run_key) VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(run_key), 0) + 1 FROM workflow_runs)) ON CONFLICT (run_id) DO NOTHING RETURNING run_key"
            )
            .pluck(),
          // A new run at the run key this store expects to be next (no key to read, nothing to return); nothing when
          // the run exists, a unique-constraint error when another writer took the key.
          insertRunAt: db.prepare<[string, string, string, number, string, number]>(
            "INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record, run_key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING"
          ),
          // A new run takes the next run key; a run saved again keeps its own.
          upsertRun: db
            .prepare<[string, string, string, number, string], number>(
              "INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record, run_key) VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(run_key), 0) + 1 FROM workflow_runs)) ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record RETURNING run_key"
            )
            .pluck(),
          deleteBoundaries: db.prepare<[number, number]>("DELETE FROM workflow_boundaries WHERE key >= ? AND key < ?"),
          deleteRun: db.prepare("DELETE FROM workflow_runs WHERE run_id = ?"),
          insertBoundary: db.prepare<[number, string]>("INSERT INTO workflow_boundaries (key, boundary) VALUES (?, ?)"),
          selectKey: db.prepare<[string], { readonly run_key: number; readonly status: RunRecord.Status }>(
            "SELECT run_key, status FROM workflow_runs WHERE run_id = ?"
          ),
          lastBoundary: db
            .prepare<[number, number], number | null>(
              "SELECT max(key) FROM workflow_boundaries WHERE key >= ? AND key < ?"
            )
            .pluck(),
          updateStatus: db.prepare("UPDATE workflow_runs SET status = ?, updated_at = ? WHERE run_id = ?"),
          upsertRouter: db.prepare(
            "INSERT INTO workflow_routers (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state"
          ),
          selectRouter: db.prepare<[string], { readonly state: string }>(
            "SELECT state FROM workflow_routers WHERE key = ?"
          ),
          selectRun: db.prepare<[string], { readonly record: string; readonly run_key: number }>(
            "SELECT record, run_key FROM workflow_runs WHERE run_id = ?"
          ),
          selectBoundaries: db
            .prepare<[number, number], string>(
              "SELECT boundary FROM workflow_boundaries WHERE key >= ? AND key < ? ORDER BY key"
            )
            .pluck(),
          listAll: db.prepare<[], ListRow>(
            "SELECT run_id, workflow, status, updated_at FROM workflow_runs ORDER BY updated_at DESC"
          ),
          listOf: db.prepare<[string], ListRow>(
            "SELECT run_id, workflow, status, updated_at FROM workflow_runs WHERE workflow = ? ORDER BY updated_at DESC"
          )
        }
      },
      catch: fail("open")
    })
    const save = db.transaction((record: RunRecord.RunRecord, text: string): number => {
      const key = statements.upsertRun.get(record.runId, record.workflow, record.status, record.updatedAt, text)!
      statements.deleteBoundaries.run(key * BOUNDARIES_PER_RUN, (key + 1) * BOUNDARIES_PER_RUN)
      return key
    })
    const remove = db.transaction((runIds: ReadonlyArray<string>) => {
      let n = 0
      for (const runId of runIds) {
        const row = statements.selectKey.get(runId)
        if (row === undefined) continue
        statements.deleteBoundaries.run(row.run_key * BOUNDARIES_PER_RUN, (row.run_key + 1) * BOUNDARIES_PER_RUN)
        n += statements.deleteRun.run(runId).changes
      }
      return n
    })
    const appendWithStatus = db.transaction((runId: string, key: number, text: string, boundary: Boundary) => {
      statements.insertBoundary.run(key, text)
      statements.updateStatus.run(boundary.status, boundary.at, runId)
    })
    const saveRouters = db.transaction((states: ReadonlyArray<{ readonly key: string; readonly state: unknown }>) => {
      for (const { key, state } of states) statements.upsertRouter.run(key, JSON.stringify(state))
    })
    /**
     * Per unfinished run this store writes: its run key, the key of its next boundary, and the status column as last
     * written (a change updates the row). A run it does not know (resumed after a restart) is looked up once.
     */
    const live = new Map<string, Live>()
    const remember = (runId: string, entry: Live) => {
      if (entry.status === "running") live.set(runId, entry)
      else live.delete(runId)
    }
    const liveOf = (runId: string): Live | undefined => {
      const known = live.get(runId)
      if (known !== undefined) return known
      const row = statements.selectKey.get(runId)
      if (row === undefined) return undefined
      const first = row.run_key * BOUNDARIES_PER_RUN
      const last = statements.lastBoundary.get(first, first + BOUNDARIES_PER_RUN)
      return {
        next: last === null || last === undefined ? first : last + 1,
        end: first + BOUNDARIES_PER_RUN,
        status: row.status
      }
    }
    /**
     * The run key this store gives its next new run (one past the last it gave): a hint that spares reading the
     * largest key. The run keys' unique index checks it: when another writer on the file took it, the insert that
     * reads the largest key serves, and the hint follows.
     */
    let nextKey: number | undefined
    /** Inserts a new run; `undefined` when it exists already. */
    const insertNew = (record: RunRecord.RunRecord, text: string): number | undefined => {
      if (nextKey !== undefined) {
        try {
          const key = nextKey
          const inserted =
            statements.insertRunAt.run(record.runId, record.workflow, record.status, record.updatedAt, text, key)
              .changes === 1
          if (!inserted) return undefined
          nextKey = key + 1
          return key
        } catch (e) {
          if ((e as { readonly code?: unknown }).code !== "SQLITE_CONSTRAINT_UNIQUE") throw e
        }
      }
      const key = statements.insertRun.get(record.runId, record.workflow, record.status, record.updatedAt, text)
      if (key !== undefined) nextKey = key + 1
      return key
    }
    /** Runs a synchronous statement as an effect, its failure a `RunStoreError` of `operation`. */
    const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, RunStoreError> =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(f())
        } catch (e) {
          return Effect.fail(codec.storeError(operation, codec.describe(e)))
        }
      })
    return {
      save: (record) =>
        attempt("save", () => {
          const text = JSON.stringify(record)
          const key = insertNew(record, text) ?? save.immediate(record, text)
          remember(record.runId, {
            next: key * BOUNDARIES_PER_RUN,
            end: (key + 1) * BOUNDARIES_PER_RUN,
            status: record.status
          })
        }),
      remove: (runIds) =>
        attempt("remove", () => {
          const n = remove.immediate(runIds)
          for (const runId of runIds) live.delete(runId)
          return n
        }),
      append: (runId, boundary) =>
        Effect.suspend(() => {
          try {
            const entry = liveOf(runId)
            if (entry === undefined) {
              return Effect.fail(codec.storeError("append", `there is no run "${runId}" (save it first)`))
            }
            if (entry.next >= entry.end) {
              return Effect.fail(
                codec.storeError(
                  "append",
                  `run "${runId}" has ${BOUNDARIES_PER_RUN} step boundaries, the most a run keeps`
                )
              )
            }
            const text = JSON.stringify(boundary)
            // The common boundary (a step finished, the run still running) is one small insert, its own transaction.
            if (entry.status === boundary.status) {
              statements.insertBoundary.run(entry.next, text)
              entry.next++
              if (!live.has(runId)) live.set(runId, entry)
              return Effect.void
            }
            appendWithStatus.immediate(runId, entry.next, text, boundary)
            remember(runId, { next: entry.next + 1, end: entry.end, status: boundary.status })
            return Effect.void
          } catch (e) {
            return Effect.fail(codec.storeError("append", codec.describe(e)))
          }
        }),
      saveRouters: (states) =>
        states.length === 0 ? Effect.void : attempt("saveRouters", () => saveRouters.immediate(states)),
      getRouter: (key) =>
        Effect.flatMap(
          attempt("getRouter", () => statements.selectRouter.get(key)),
          (row) =>
            row === undefined
              ? Effect.succeed(undefined)
              : Effect.try({
                  try: () => JSON.parse(row.state) as unknown,
                  catch: (e) =>
                    codec.storeError("getRouter", `router "${key}"'s stored state is not JSON: ${String(e)}`)
                })
        ),
      get: (runId) =>
        Effect.flatMap(
          attempt("get", () => {
            const row = statements.selectRun.get(runId)
            return row === undefined
              ? undefined
              : {
                  record: row.record,
                  boundaries: statements.selectBoundaries.all(
                    row.run_key * BOUNDARIES_PER_RUN,
                    (row.run_key + 1) * BOUNDARIES_PER_RUN
                  )
                }
          }),
          (row) =>
            row === undefined
              ? Effect.succeed(undefined)
              : Either.match(codec.decodeText(row.record, row.boundaries), {
                  onLeft: (reason) => Effect.fail(codec.storeError("get", reason)),
                  onRight: Effect.succeed
                })
        ),
      list: (workflow) =>
        attempt("list", () =>
          (workflow === undefined ? statements.listAll.all() : statements.listOf.all(workflow)).map((r) => ({
            runId: r.run_id,
            workflow: r.workflow,
            status: r.status,
            updatedAt: Number(r.updated_at)
          }))
        )
    } satisfies Service
  })

/** What the SQLite store keeps per unfinished run it writes. */
interface Live {
  /** The key of the run's next boundary. */
  next: number
  /** The first key past the run's range. */
  readonly end: number
  /** The status column as last written. */
  readonly status: RunRecord.Status
}

/**
 * Brings an SQLite file of an older layout (or a new one) to the current layout, in one transaction. Layout 1: the
 * runs' rows only; layout 2 added `workflow_run_boundaries` (one row per boundary, by a global `seq`, with an index
 * by run) and `workflow_routers`; layout 3 gives each run a key (`run_key`) and keeps its boundaries in
 * `workflow_boundaries` under keys of its range (their order kept), without an index to update at each boundary.
 */
const migrate = (db: Sqlite.Database): void => {
  db.transaction(() => {
    db.exec(
      "CREATE TABLE IF NOT EXISTS workflow_runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL, record TEXT NOT NULL, run_key INTEGER)"
    )
    db.exec("CREATE INDEX IF NOT EXISTS workflow_runs_by_workflow ON workflow_runs (workflow, updated_at)")
    const columns = db.prepare<[], { readonly name: string }>("PRAGMA table_info(workflow_runs)").all()
    if (!columns.some((c) => c.name === "run_key")) {
      db.exec("ALTER TABLE workflow_runs ADD COLUMN run_key INTEGER")
    }
    // Runs written before layout 3 take their row's rowid as their key (unique; stable from now on: a column).
    db.exec("UPDATE workflow_runs SET run_key = rowid WHERE run_key IS NULL")
    db.exec("CREATE UNIQUE INDEX IF NOT EXISTS workflow_runs_by_key ON workflow_runs (run_key)")
    db.exec("CREATE TABLE IF NOT EXISTS workflow_boundaries (key INTEGER PRIMARY KEY, boundary TEXT NOT NULL)")
    const old = db
      .prepare<[], number>(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'workflow_run_boundaries'"
      )
      .pluck()
      .get()
    if (old !== undefined && old > 0) {
      db.exec(
        `INSERT INTO workflow_boundaries (key, boundary) SELECT r.run_key * ${BOUNDARIES_PER_RUN} + (row_number() OVER (PARTITION BY b.run_id ORDER BY b.seq)) - 1, b.boundary FROM workflow_run_boundaries b JOIN workflow_runs r ON r.run_id = b.run_id`
      )
      db.exec("DROP TABLE workflow_run_boundaries")
    }
    // Traffic routers' state (a hybrid step's bandit), by key (layout 2).
    db.exec("CREATE TABLE IF NOT EXISTS workflow_routers (key TEXT PRIMARY KEY, state TEXT NOT NULL)")
    db.pragma(`user_version = ${LAYOUT_VERSION}`)
  }).immediate()
}

interface ListRow {
  readonly run_id: string
  readonly workflow: string
  readonly status: RunRecord.Status
  readonly updated_at: number
}

/**
 * The store in memory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RunStore> = Layer.sync(RunStore, makeMemory)

/**
 * The store in an SQLite file.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string): Layer.Layer<RunStore, RunStoreError> =>
  Layer.scoped(RunStore, makeSqlite(filename))

/**
 * Opens the PostgreSQL store over the `SqlClient` in context (`Storage.layerPostgresClient` from
 * `@effect-dspy/services` gives one): the SQLite store's tables, its schema version in `dspy_schema_versions` under
 * `workflow_runs` (migrated forward; a newer one refused). A committed boundary survives a crash of the process
 * (and of the server, with its default durability); runs are shared by every process on the database.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePostgres: Effect.Effect<Service, RunStoreError, SqlClient.SqlClient> = postgres.open

/**
 * The store in PostgreSQL (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres: Layer.Layer<RunStore, RunStoreError, SqlClient.SqlClient> = Layer.effect(
  RunStore,
  makePostgres
)

/**
 * The store Config's `storage` section names: with `storage.backend: postgres`, PostgreSQL at
 * `storage.postgres.url` (a pool of its own, 2 connections); else the SQLite file `filename` when given, else
 * memory. What a program serving workflows next to `Application.layerDefault` uses to follow the same setting.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly filename?: string } = {}
): Layer.Layer<RunStore, RunStoreError, Config.Config> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const { storage } = yield* (yield* Config.Config).current
      if (storage.backend === "postgres") {
        const url = storage.postgres.url
        if (url === undefined) {
          return Layer.fail(
            codec.storeError(
              "open",
              "storage.backend is `postgres` but storage.postgres.url is not set: set it (EFFECT_DSPY__STORAGE__POSTGRES__URL=postgres://user:password@host:5432/database), or use storage.backend `sqlite`"
            )
          )
        }
        return layerPostgres.pipe(
          Layer.provide(
            Layer.mapError(Storage.layerPostgresClient({ url, maxConnections: 2 }), (e) =>
              codec.storeError("open", codec.describe(e))
            )
          )
        )
      }
      return options.filename === undefined ? layerMemory : layerSqlite(options.filename)
    })
  )

/**
 * The test layer (memory).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<RunStore> = layerMemory

/**
 * The workflow runs as a data-rights source (give it to `DataRights.layerWith`): the runs made for the selector's
 * end user and tenant (the record's `subject` and `tenant`; with `before`, last updated before it), exported whole
 * and erased with their step boundaries. Their inputs are what demos made from them would hold.
 *
 * @since 0.1.0
 * @category data rights
 */
export const rightsSource = (store: Service): DataRights.Source => {
  const incomplete = (operation: string) => (e: RunStoreError) =>
    new DataRights.DataRightsIncomplete({
      source: "workflow runs",
      operation,
      message: `Data rights: the workflow run store could not ${operation} (${e.message}); run it again once it is back.`
    })
  return {
    name: "workflow_runs",
    stage: "primary",
    find: (selector) =>
      Effect.gen(function* () {
        const records: Array<RunRecord.RunRecord> = []
        for (const summary of yield* store.list()) {
          if (selector.before !== undefined && summary.updatedAt >= selector.before) continue
          const r = yield* store.get(summary.runId)
          if (r === undefined) continue
          if (selector.subject !== undefined && r.subject !== selector.subject) continue
          if (selector.tenant !== undefined && r.tenant !== selector.tenant) continue
          records.push(r)
        }
        return {
          entries: records.map((r) => ({ source: "workflow_runs", id: r.runId, data: r })),
          values: records.flatMap((r) => DataRights.valuesOf(r.inputs))
        }
      }).pipe(Effect.mapError(incomplete("read"))),
    erase: (_selector, _trace, found) =>
      Effect.mapError(store.remove(found.entries.map((e) => e.id)), incomplete("erase"))
  }
}
