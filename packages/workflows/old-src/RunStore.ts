/**
 * Where runs are persisted at each step boundary: in memory (tests) or SQLite in WAL mode (one row per run, the
 * record as JSON, a layout version), so a run interrupted by a crash or restart resumes where it stopped.
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
 * The run store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Writes a run's record (durably, for SQLite, when it returns). */
  readonly save: (record: RunRecord.RunRecord) => Effect.Effect<void, RunStoreError>
  /** A run's record, `undefined` when there is none. */
  readonly get: (runId: string) => Effect.Effect<RunRecord.RunRecord | undefined, RunStoreError>
  /** The runs (of one workflow, when given), most recent first. */
  readonly list: (workflow?: string) => Effect.Effect<ReadonlyArray<Summary>, RunStoreError>
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
export const LAYOUT_VERSION = 1

const storeError = (operation: string, reason: string) =>
  new RunStoreError({ operation, message: `run store ${operation} failed: ${reason}` })

const decodeText = (text: string): Either.Either<RunRecord.RunRecord, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(`a stored run is not JSON: ${String(e)}`)
  }
  return Either.mapLeft(RunRecord.decode(json), (e) => `a stored run does not match its schema: ${e.message}`)
}

/**
 * A store in memory (records are copied through JSON, as a database would).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Service => {
  const rows = new Map<string, string>()
  return {
    save: (record) => Effect.sync(() => void rows.set(record.runId, JSON.stringify(record))),
    get: (runId) =>
      Effect.suspend(() => {
        const text = rows.get(runId)
        if (text === undefined) return Effect.succeed(undefined)
        return Either.match(decodeText(text), {
          onLeft: (reason) => Effect.fail(storeError("get", reason)),
          onRight: Effect.succeed
        })
      }),
    list: (workflow) =>
      Effect.sync(() =>
        [...rows.values()]
          .map((t) => JSON.parse(t) as RunRecord.RunRecord)
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
      yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
    }).pipe(Effect.mapError(fail("open")))
    return {
      save: (record) =>
        Effect.asVoid(
          run(
            "INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record",
            [record.runId, record.workflow, record.status, record.updatedAt, JSON.stringify(record)]
          )
        ).pipe(Effect.mapError(fail("save"))),
      get: (runId) =>
        run("SELECT record FROM workflow_runs WHERE run_id = ?", [runId]).pipe(
          Effect.mapError(fail("get")),
          Effect.flatMap((rows) => {
            const row = (rows as ReadonlyArray<{ readonly record: string }>)[0]
            if (row === undefined) return Effect.succeed(undefined)
            return Either.match(decodeText(row.record), {
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
