/**
 * Where runs are persisted at each step boundary: in memory (tests) or SQLite in WAL mode, so a run interrupted by a
 * crash or restart resumes where it stopped. A run is one row (its record as it started, or as last compacted) and
 * one small appended row per step boundary (what the boundary changed: the chart's state, the finished step's
 * outputs, its step records); reading a run folds its boundaries onto its row. Appending a boundary is one
 * prepared `INSERT` in its own transaction: with `synchronous = NORMAL` in WAL mode a committed boundary survives a
 * process crash (an OS crash or power loss can lose the last boundaries, which a resume then runs again).
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
import { DatabaseFile } from "@effect-dspy/foundation"
import { DataRights } from "@effect-dspy/services"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import * as RunRecord from "./RunRecord.js"
import { RunStoreError } from "./WorkflowError.js"

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
export const applyBoundary = (record: RunRecord.RunRecord, b: Boundary): RunRecord.RunRecord => {
  const { error: _error, ...rest } = record
  return {
    ...rest,
    status: b.status,
    updatedAt: b.at,
    ...(b.state === undefined ? {} : { state: b.state }),
    ...(b.outputs === undefined ? {} : { outputs: { ...record.outputs, ...b.outputs } }),
    ...(b.clearPartials === true || b.partials !== undefined
      ? { partials: { ...(b.clearPartials === true ? {} : record.partials), ...b.partials } }
      : {}),
    ...(b.steps === undefined || b.steps.length === 0 ? {} : { steps: [...record.steps, ...b.steps] }),
    ...(b.error === undefined ? {} : { error: b.error }),
    ...(b.result === undefined ? {} : { result: b.result })
  }
}

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
export const LAYOUT_VERSION = 2

const storeError = (operation: string, reason: string) =>
  new RunStoreError({ operation, message: `run store ${operation} failed: ${reason}` })

const decodeText = (
  text: string,
  boundaries: ReadonlyArray<string> = []
): Either.Either<RunRecord.RunRecord, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(`a stored run is not JSON: ${String(e)}`)
  }
  if (boundaries.length > 0) {
    if (typeof json !== "object" || json === null) return Either.left("a stored run is not an object")
    let folded = json as RunRecord.RunRecord
    for (const [i, b] of boundaries.entries()) {
      let boundary: unknown
      try {
        boundary = JSON.parse(b)
      } catch (e) {
        return Either.left(`the run's step boundary ${i + 1} is not JSON: ${String(e)}`)
      }
      if (typeof boundary !== "object" || boundary === null) {
        return Either.left(`the run's step boundary ${i + 1} is not an object`)
      }
      folded = applyBoundary(folded, boundary as Boundary)
    }
    json = folded
  }
  // Validated once, when read: the hot path (each boundary) writes what the executor built, unencoded.
  return Either.mapLeft(RunRecord.decode(json), (e) => `a stored run does not match its schema: ${e.message}`)
}

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
    return row === undefined ? undefined : (decodeText(row.text, row.boundaries) as Either.Either<RunRecord.RunRecord>)
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
        if (row === undefined) return Effect.fail(storeError("append", `there is no run "${runId}" (save it first)`))
        row.boundaries.push(JSON.stringify(boundary))
        return Effect.void
      }),
    get: (runId) =>
      Effect.suspend(() => {
        const row = rows.get(runId)
        if (row === undefined) return Effect.succeed(undefined)
        return Either.match(decodeText(row.text, row.boundaries), {
          onLeft: (reason) => Effect.fail(storeError("get", reason)),
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
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite = (filename: string): Effect.Effect<Service, RunStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const fail = (operation: string) => (e: unknown) => storeError(operation, describe(e))
    if (filename !== ":memory:") {
      yield* Effect.try({
        try: () => fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true }),
        catch: fail("open")
      })
    }
    const context = yield* Layer.build(SqliteClient.layer({ filename })).pipe(Effect.mapError(fail("open")))
    const client = Context.get(context, SqliteClient.SqliteClient)
    const conn = yield* client.reserve.pipe(Effect.mapError(fail("open")))
    const run = (sql: string, params: ReadonlyArray<unknown>) => conn.executeRaw(sql, params)
    yield* Effect.gen(function* () {
      yield* run(DatabaseFile.busyTimeoutPragma, [])
      yield* run("PRAGMA journal_mode = WAL", [])
      yield* run("PRAGMA synchronous = NORMAL", [])
      const rows = (yield* run("PRAGMA user_version", [])) as ReadonlyArray<{ readonly user_version?: unknown }>
      const version = Number(rows[0]?.user_version ?? 0)
      if (version > LAYOUT_VERSION) {
        return yield* Effect.fail(
          `'${filename}' was written by a newer version (layout ${version}; this one reads up to ${LAYOUT_VERSION}): upgrade`
        )
      }
      yield* run(
        "CREATE TABLE IF NOT EXISTS workflow_runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL, record TEXT NOT NULL)",
        []
      )
      yield* run("CREATE INDEX IF NOT EXISTS workflow_runs_by_workflow ON workflow_runs (workflow, updated_at)", [])
      // Layout 2 (from 1: the table is added, layout-1 runs have no boundaries): one row per step boundary.
      yield* run(
        "CREATE TABLE IF NOT EXISTS workflow_run_boundaries (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, boundary TEXT NOT NULL)",
        []
      )
      yield* run(
        "CREATE INDEX IF NOT EXISTS workflow_run_boundaries_by_run ON workflow_run_boundaries (run_id, seq)",
        []
      )
      // Layout 2: traffic routers' state (a hybrid step's bandit), by key.
      yield* run("CREATE TABLE IF NOT EXISTS workflow_routers (key TEXT PRIMARY KEY, state TEXT NOT NULL)", [])
      yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
    }).pipe(Effect.mapError(fail("open")))
    // Transactions span several statements on the one connection: one at a time (two runs' fibers, or a parallel
    // step's children, may commit at once). A plain boundary insert needs no lock: it is one statement.
    const lock = yield* Effect.makeSemaphore(1)
    /** Whether a transaction is open (a plain insert then waits for it rather than join it). */
    let open = false
    const transaction = <A, E>(self: Effect.Effect<A, E>) =>
      lock.withPermits(1)(
        Effect.uninterruptible(
          Effect.zipRight(
            run("BEGIN IMMEDIATE", []),
            Effect.tapErrorCause(self, () => Effect.ignore(run("ROLLBACK", [])))
          ).pipe(Effect.zipLeft(run("COMMIT", [])), Effect.ensuring(Effect.sync(() => void (open = false))), (body) =>
            Effect.zipRight(
              Effect.sync(() => void (open = true)),
              body
            )
          )
        )
      )
    /** The status column as last written by this store, per unfinished run (a change updates the row). */
    const statusOf = new Map<string, RunRecord.Status>()
    const INSERT_BOUNDARY = "INSERT INTO workflow_run_boundaries (run_id, boundary) VALUES (?, ?)"
    const UPDATE_STATUS = "UPDATE workflow_runs SET status = ?, updated_at = ? WHERE run_id = ?"
    const failAppend = fail("append")
    const remember = (runId: string, status: RunRecord.Status) => {
      if (status === "running") statusOf.set(runId, status)
      else statusOf.delete(runId)
    }
    return {
      save: (record) =>
        transaction(
          Effect.zipRight(
            run(
              "INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record",
              [record.runId, record.workflow, record.status, record.updatedAt, JSON.stringify(record)]
            ),
            run("DELETE FROM workflow_run_boundaries WHERE run_id = ?", [record.runId])
          )
        ).pipe(
          Effect.mapError(fail("save")),
          Effect.tap(() => Effect.sync(() => remember(record.runId, record.status)))
        ),
      remove: (runIds) =>
        transaction(
          Effect.gen(function* () {
            let n = 0
            for (const runId of runIds) {
              yield* run("DELETE FROM workflow_run_boundaries WHERE run_id = ?", [runId])
              const removed = (yield* run("DELETE FROM workflow_runs WHERE run_id = ? RETURNING run_id", [
                runId
              ])) as ReadonlyArray<unknown>
              n += removed.length
              statusOf.delete(runId)
            }
            return n
          })
        ).pipe(Effect.mapError(fail("remove"))),
      append: (runId, boundary) =>
        Effect.suspend(() => {
          const text = JSON.stringify(boundary)
          // The common boundary (a step finished, the run still running) is one small insert.
          if (statusOf.get(runId) === boundary.status) {
            const insert = Effect.asVoid(run(INSERT_BOUNDARY, [runId, text]))
            return open ? lock.withPermits(1)(insert) : insert
          }
          return transaction(
            Effect.zipRight(
              run(INSERT_BOUNDARY, [runId, text]),
              run(UPDATE_STATUS, [boundary.status, boundary.at, runId])
            )
          ).pipe(Effect.tap(() => Effect.sync(() => remember(runId, boundary.status))))
        }).pipe(Effect.mapError(failAppend)),
      saveRouters: (states) =>
        states.length === 0
          ? Effect.void
          : transaction(
              Effect.forEach(
                states,
                ({ key, state }) =>
                  run(
                    "INSERT INTO workflow_routers (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                    [key, JSON.stringify(state)]
                  ),
                { discard: true }
              )
            ).pipe(Effect.mapError(fail("saveRouters"))),
      getRouter: (key) =>
        run("SELECT state FROM workflow_routers WHERE key = ?", [key]).pipe(
          Effect.mapError(fail("getRouter")),
          Effect.flatMap((rows) => {
            const row = (rows as ReadonlyArray<{ readonly state: string }>)[0]
            if (row === undefined) return Effect.succeed(undefined)
            return Effect.try({
              try: () => JSON.parse(row.state) as unknown,
              catch: (e) => storeError("getRouter", `router "${key}"'s stored state is not JSON: ${String(e)}`)
            })
          })
        ),
      get: (runId) =>
        Effect.all([
          run("SELECT record FROM workflow_runs WHERE run_id = ?", [runId]),
          run("SELECT boundary FROM workflow_run_boundaries WHERE run_id = ? ORDER BY seq", [runId])
        ]).pipe(
          Effect.mapError(fail("get")),
          Effect.flatMap(([rows, boundaries]) => {
            const row = (rows as ReadonlyArray<{ readonly record: string }>)[0]
            if (row === undefined) return Effect.succeed(undefined)
            const folded = (boundaries as ReadonlyArray<{ readonly boundary: string }>).map((b) => b.boundary)
            return Either.match(decodeText(row.record, folded), {
              onLeft: (reason) => Effect.fail(storeError("get", reason)),
              onRight: Effect.succeed
            })
          })
        ),
      list: (workflow) =>
        run(
          workflow === undefined
            ? "SELECT run_id, workflow, status, updated_at FROM workflow_runs ORDER BY updated_at DESC"
            : "SELECT run_id, workflow, status, updated_at FROM workflow_runs WHERE workflow = ? ORDER BY updated_at DESC",
          workflow === undefined ? [] : [workflow]
        ).pipe(
          Effect.mapError(fail("list")),
          Effect.map((rows) =>
            (
              rows as ReadonlyArray<{
                readonly run_id: string
                readonly workflow: string
                readonly status: RunRecord.Status
                readonly updated_at: number
              }>
            ).map((r) => ({ runId: r.run_id, workflow: r.workflow, status: r.status, updatedAt: Number(r.updated_at) }))
          )
        )
    } satisfies Service
  })

const describe = (e: unknown): string => {
  if (typeof e === "string") return e
  if (!(e instanceof Error)) return String(e)
  const inner = (e as { readonly cause?: unknown }).cause
  return inner instanceof Error && inner.message !== e.message ? `${e.message}: ${inner.message}` : e.message
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
