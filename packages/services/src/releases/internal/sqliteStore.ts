/**
 * The release store in SQLite: one table of modules, one of versions, one of optimization results, and a meta
 * table holding the schema version. Opening checks the version (a newer one is refused, an older one migrated
 * forward in one transaction); every write is one transaction on the reserved connection, checked against the
 * file being deleted, replaced or made read-only before it is acknowledged.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sqlite from "../../internal/sqlite.js"
import type { Options, Service, VersionRecord } from "../ReleaseStore.js"
import { ReleaseStoreError, ReleaseStoreVersionUnsupported } from "../../ServicesError.js"
import { conflict } from "./conflict.js"
import * as Rows from "./rows.js"

/** How long a write waits for a lock another connection holds before it fails (ms). */
export const busyTimeoutMs = 1_000

/** The schema version written by this code. */
export const schemaVersion = 1

/** The statements that bring a database from version `i` to `i + 1` (see `rows.migrations`). */
const migrations = Rows.migrations("INTEGER")

type Row = Rows.Row

/** Opens the store at `options.filename`, migrating it forward; refuses a newer schema. */
export const open = (
  options: Options
): Effect.Effect<Service, ReleaseStoreError | ReleaseStoreVersionUnsupported, Scope.Scope> =>
  Effect.gen(function* () {
    const target = options.filename
    const failure = (operation: string) => (reason: string) =>
      new ReleaseStoreError({
        operation,
        target,
        reason,
        message: `The release store ${target} failed to ${operation}: ${reason}. ${
          reason.includes("locked") || reason.includes("busy")
            ? "Another process holds the database: stop it, or give this application its own file."
            : reason.includes("read-only") || reason.includes("readonly")
              ? "Make the file writable (and its folder), or point the application at a writable file."
              : "Check the path, its permissions and free space."
        } Nothing was changed.`
      })
    const run = yield* Effect.mapError(Sqlite.oneLine(Sqlite.openReserved(target)), failure("open"))
    // A database another process holds is reported (retryable) after this long, not waited on for the driver's 5 s.
    yield* Effect.mapError(Sqlite.oneLine(run(`PRAGMA busy_timeout = ${busyTimeoutMs}`, [])), failure("open"))
    const rows = (sql: string, params: ReadonlyArray<unknown> = []) =>
      Effect.map(run(sql, params), (r) => r as ReadonlyArray<Row>)
    /** Statements as one transaction: all applied, or (rolled back) none. */
    const transaction = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.uninterruptible(
        Effect.zipRight(
          run("BEGIN IMMEDIATE", []),
          Effect.tapError(Effect.zipLeft(body, run("COMMIT", [])), () => Effect.ignore(run("ROLLBACK", [])))
        )
      )

    // The schema: read the version in the meta table (none in a new database), refuse a newer one, migrate.
    const found = yield* Effect.mapError(
      Sqlite.oneLine(
        Effect.gen(function* () {
          yield* run("CREATE TABLE IF NOT EXISTS dspy_release_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", [])
          const meta = yield* rows("SELECT value FROM dspy_release_meta WHERE key = 'schema_version'")
          return meta.length === 0 ? 0 : Number(meta[0]!.value)
        })
      ),
      failure("open")
    )
    if (!Number.isInteger(found) || found > schemaVersion) {
      return yield* new ReleaseStoreVersionUnsupported({
        target,
        found,
        supported: schemaVersion,
        message: `The release store ${target} has schema version ${found}, but this program reads versions up to ${schemaVersion}: it was written by a newer release. Run that release, or point this one at another database; nothing was changed.`
      })
    }
    if (found < schemaVersion) {
      yield* Effect.mapError(
        Sqlite.oneLine(
          transaction(
            Effect.gen(function* () {
              for (const step of migrations.slice(found)) for (const sql of step) yield* run(sql, [])
              yield* run(
                "INSERT INTO dspy_release_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [String(schemaVersion)]
              )
            })
          )
        ),
        failure(`migrate from schema version ${found}`)
      )
    }

    const statement = <A>(operation: string, body: Effect.Effect<A, unknown>) =>
      Effect.mapError(Sqlite.oneLine(body), failure(operation))
    const insertVersion = (v: VersionRecord) =>
      run(
        "INSERT INTO dspy_release_versions (module_id, version, state, lineage, created_at) VALUES (?, ?, ?, ?, ?)",
        Rows.versionParams(v)
      )

    const service: Service = {
      target,
      load: (moduleId, limit) =>
        statement(
          `read module "${moduleId}"`,
          Effect.gen(function* () {
            const found = yield* rows("SELECT * FROM dspy_release_modules WHERE module_id = ?", [moduleId])
            if (found.length === 0) return Option.none()
            const versions = yield* rows(
              `SELECT * FROM (SELECT * FROM dspy_release_versions WHERE module_id = ? ORDER BY version DESC${
                limit === undefined ? "" : " LIMIT ?"
              }) ORDER BY version`,
              limit === undefined ? [moduleId] : [moduleId, limit]
            )
            return Option.some({ module: Rows.moduleOf(found[0]!), versions: versions.map(Rows.versionOf) })
          })
        ),
      modules: statement(
        "list modules",
        Effect.map(rows("SELECT * FROM dspy_release_modules ORDER BY module_id"), (r) => r.map(Rows.moduleOf))
      ),
      create: (module, first) =>
        statement(
          `store module "${module.moduleId}"`,
          transaction(
            Effect.zipRight(
              run(
                "INSERT INTO dspy_release_modules (module_id, shape, spec, promoted, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                Rows.moduleParams(module)
              ),
              insertVersion(first)
            )
          )
        ),
      append: (version, { promote }) =>
        statement(
          `store version ${version.version} of module "${version.moduleId}"`,
          transaction(
            Effect.zipRight(
              insertVersion(version),
              promote
                ? run("UPDATE dspy_release_modules SET promoted = ?, updated_at = ? WHERE module_id = ?", [
                    version.version,
                    version.createdAt,
                    version.moduleId
                  ])
                : Effect.void
            )
          )
        ),
      promote: (moduleId, version, at) =>
        statement(
          `promote version ${version} of module "${moduleId}"`,
          run("UPDATE dspy_release_modules SET promoted = ?, updated_at = ? WHERE module_id = ?", [
            version,
            at,
            moduleId
          ])
        ).pipe(Effect.asVoid),
      promoteIf: (moduleId, expected, version, at) =>
        statement(
          `promote version ${version} of module "${moduleId}" (expected ${expected})`,
          Effect.gen(function* () {
            const done = yield* rows(
              "UPDATE dspy_release_modules SET promoted = ?, updated_at = ? WHERE module_id = ? AND promoted = ? RETURNING module_id",
              [version, at, moduleId, expected]
            )
            if (done.length > 0) return undefined
            const current = yield* rows("SELECT promoted FROM dspy_release_modules WHERE module_id = ?", [moduleId])
            return current.length === 0 ? null : Number(current[0]!.promoted)
          })
        ).pipe(Effect.flatMap((found) => (found === undefined ? Effect.void : conflict(moduleId, expected, found)))),
      appendIf: (version, expected) =>
        statement(
          `store version ${version.version} of module "${version.moduleId}" (expected ${expected})`,
          transaction(
            Effect.gen(function* () {
              const current = yield* rows("SELECT promoted FROM dspy_release_modules WHERE module_id = ?", [
                version.moduleId
              ])
              const found = current.length === 0 ? null : Number(current[0]!.promoted)
              if (found !== expected) return { found }
              yield* insertVersion(version)
              yield* run("UPDATE dspy_release_modules SET promoted = ?, updated_at = ? WHERE module_id = ?", [
                version.version,
                version.createdAt,
                version.moduleId
              ])
              return undefined
            })
          )
        ).pipe(
          Effect.flatMap((outcome) =>
            outcome === undefined ? Effect.void : conflict(version.moduleId, expected, outcome.found)
          )
        ),
      forget: (moduleId) =>
        statement(
          `forget module "${moduleId}"`,
          transaction(
            Effect.zipRight(
              run("DELETE FROM dspy_release_versions WHERE module_id = ?", [moduleId]),
              run("DELETE FROM dspy_release_modules WHERE module_id = ?", [moduleId])
            )
          )
        ).pipe(Effect.asVoid),
      putResult: (result) =>
        statement(
          "store an optimization result",
          run(
            `INSERT INTO dspy_optimization_results (key, module_id, state, job_id, optimizer, scores, created_at)
              VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET module_id = excluded.module_id,
              state = excluded.state, job_id = excluded.job_id, optimizer = excluded.optimizer,
              scores = excluded.scores, created_at = excluded.created_at`,
            Rows.resultParams(result)
          )
        ).pipe(Effect.asVoid),
      rewriteStates: (rewrite) =>
        statement(
          "rewrite stored program states",
          transaction(
            Effect.gen(function* () {
              let versions = 0
              let results = 0
              for (const r of yield* rows("SELECT module_id, version, state FROM dspy_release_versions", [])) {
                const state = rewrite(Rows.parse(r.state))
                if (state === undefined) continue
                versions++
                yield* run("UPDATE dspy_release_versions SET state = ? WHERE module_id = ? AND version = ?", [
                  JSON.stringify(state ?? null),
                  r.module_id,
                  r.version
                ])
              }
              for (const r of yield* rows("SELECT key, state FROM dspy_optimization_results", [])) {
                const state = rewrite(Rows.parse(r.state))
                if (state === undefined) continue
                results++
                yield* run("UPDATE dspy_optimization_results SET state = ? WHERE key = ?", [
                  JSON.stringify(state ?? null),
                  r.key
                ])
              }
              return { versions, results }
            })
          )
        ),
      getResult: (key) =>
        statement(
          "read an optimization result",
          Effect.map(rows("SELECT * FROM dspy_optimization_results WHERE key = ?", [key]), (found) => {
            const r = found[0]
            return r === undefined ? Option.none() : Option.some(Rows.resultOf(r))
          })
        )
    }
    return service
  })
