/**
 * The release store in PostgreSQL: the SQLite store's tables (modules, versions, optimization results; JSON kept
 * as text so a state reads back byte for byte), its schema version in `dspy_schema_versions` under `releases`.
 * Every multi-statement write is one transaction; the compare-and-swap writes check the promoted version in
 * the statement (`UPDATE ... WHERE promoted = expected`) or under a row lock (`SELECT ... FOR UPDATE`), so two
 * processes racing for one swap apply it once.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Pg from "../../internal/postgres.js"
import { ReleaseStoreError, ReleaseStoreVersionUnsupported } from "../../ServicesError.js"
import type { Service, VersionRecord } from "../ReleaseStore.js"
import { conflict } from "./conflict.js"
import * as Rows from "./rows.js"
import { schemaVersion } from "./sqliteStore.js"

/** The migration steps (index 0: an empty database to version 1): the SQLite store's, with BIGINT times. */
const migrations = Rows.migrations("BIGINT")

type Row = Rows.Row

/** Opens the store over the SqlClient in context, migrating it forward; refuses a newer schema. */
export const open: Effect.Effect<Service, ReleaseStoreError | ReleaseStoreVersionUnsupported, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const target = "postgresql (releases)"
    const failure = (operation: string) => (reason: string) =>
      new ReleaseStoreError({
        operation,
        target,
        reason,
        message: `The release store ${target} failed to ${operation}: ${reason}. Check that the server is up and reachable and that the user may write; nothing was changed.`
      })
    const migrated = yield* Effect.mapError(Pg.oneLine(Pg.migrate("releases", migrations)), failure("open"))
    if (migrated.newer) {
      return yield* new ReleaseStoreVersionUnsupported({
        target,
        found: migrated.found,
        supported: schemaVersion,
        message: `The release store ${target} has schema version ${migrated.found}, but this program reads versions up to ${schemaVersion}: it was written by a newer release. Run that release, or point this one at another database; nothing was changed.`
      })
    }
    const statement = <A, E>(operation: string, body: Effect.Effect<A, E>) =>
      Effect.mapError(Pg.oneLine(body), failure(operation))
    const insertVersion = (v: VersionRecord) =>
      sql.unsafe(
        "INSERT INTO dspy_release_versions (module_id, version, state, lineage, created_at) VALUES ($1, $2, $3, $4, $5)",
        Rows.versionParams(v)
      )
    const setPromoted = (moduleId: string, version: number, at: number) =>
      sql`UPDATE dspy_release_modules SET promoted = ${version}, updated_at = ${at} WHERE module_id = ${moduleId}`
    const promotedOf = (moduleId: string, lock: boolean) =>
      Effect.map(
        lock
          ? sql<Row>`SELECT promoted FROM dspy_release_modules WHERE module_id = ${moduleId} FOR UPDATE`
          : sql<Row>`SELECT promoted FROM dspy_release_modules WHERE module_id = ${moduleId}`,
        (rows) => (rows.length === 0 ? null : Pg.num(rows[0]!.promoted))
      )

    const service: Service = {
      target,
      load: (moduleId, limit) =>
        statement(
          `read module "${moduleId}"`,
          Effect.gen(function* () {
            const found = yield* sql<Row>`SELECT * FROM dspy_release_modules WHERE module_id = ${moduleId}`
            if (found.length === 0) return Option.none()
            const versions =
              limit === undefined
                ? yield* sql<Row>`SELECT * FROM dspy_release_versions WHERE module_id = ${moduleId} ORDER BY version`
                : yield* sql<Row>`SELECT * FROM (SELECT * FROM dspy_release_versions WHERE module_id = ${moduleId} ORDER BY version DESC LIMIT ${limit}) AS latest ORDER BY version`
            return Option.some({ module: Rows.moduleOf(found[0]!), versions: versions.map(Rows.versionOf) })
          })
        ),
      modules: statement(
        "list modules",
        Effect.map(sql<Row>`SELECT * FROM dspy_release_modules ORDER BY module_id COLLATE "C"`, (r) =>
          r.map(Rows.moduleOf)
        )
      ),
      create: (module, first) =>
        statement(
          `store module "${module.moduleId}"`,
          sql.withTransaction(
            Effect.zipRight(
              sql.unsafe(
                "INSERT INTO dspy_release_modules (module_id, shape, spec, promoted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                Rows.moduleParams(module)
              ),
              insertVersion(first)
            )
          )
        ).pipe(Effect.asVoid),
      append: (version, { promote }) =>
        statement(
          `store version ${version.version} of module "${version.moduleId}"`,
          sql.withTransaction(
            Effect.zipRight(
              insertVersion(version),
              promote ? setPromoted(version.moduleId, version.version, version.createdAt) : Effect.void
            )
          )
        ).pipe(Effect.asVoid),
      promote: (moduleId, version, at) =>
        statement(`promote version ${version} of module "${moduleId}"`, setPromoted(moduleId, version, at)).pipe(
          Effect.asVoid
        ),
      promoteIf: (moduleId, expected, version, at) =>
        statement(
          `promote version ${version} of module "${moduleId}" (expected ${expected})`,
          Effect.gen(function* () {
            const done =
              yield* sql<Row>`UPDATE dspy_release_modules SET promoted = ${version}, updated_at = ${at} WHERE module_id = ${moduleId} AND promoted = ${expected} RETURNING module_id`
            return done.length > 0 ? undefined : yield* promotedOf(moduleId, false)
          })
        ).pipe(Effect.flatMap((found) => (found === undefined ? Effect.void : conflict(moduleId, expected, found)))),
      appendIf: (version, expected) =>
        statement(
          `store version ${version.version} of module "${version.moduleId}" (expected ${expected})`,
          sql.withTransaction(
            Effect.gen(function* () {
              // The module's row is locked until the commit: a racing appendIf waits, then sees the new version.
              const found = yield* promotedOf(version.moduleId, true)
              if (found !== expected) return { found }
              yield* insertVersion(version)
              yield* setPromoted(version.moduleId, version.version, version.createdAt)
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
          sql.withTransaction(
            Effect.zipRight(
              sql`DELETE FROM dspy_release_versions WHERE module_id = ${moduleId}`,
              sql`DELETE FROM dspy_release_modules WHERE module_id = ${moduleId}`
            )
          )
        ).pipe(Effect.asVoid),
      putResult: (result) =>
        statement(
          "store an optimization result",
          sql.unsafe(
            `INSERT INTO dspy_optimization_results (key, module_id, state, job_id, optimizer, scores, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (key) DO UPDATE SET module_id = EXCLUDED.module_id, state = EXCLUDED.state,
            job_id = EXCLUDED.job_id, optimizer = EXCLUDED.optimizer, scores = EXCLUDED.scores,
            created_at = EXCLUDED.created_at`,
            Rows.resultParams(result)
          )
        ).pipe(Effect.asVoid),
      rewriteStates: (rewrite) =>
        statement(
          "rewrite stored program states",
          sql.withTransaction(
            Effect.gen(function* () {
              let versions = 0
              let results = 0
              for (const r of yield* sql<Row>`SELECT module_id, version, state FROM dspy_release_versions FOR UPDATE`) {
                const state = rewrite(Rows.parse(r.state))
                if (state === undefined) continue
                versions++
                yield* sql`UPDATE dspy_release_versions SET state = ${JSON.stringify(state ?? null)} WHERE module_id = ${String(r.module_id)} AND version = ${Number(r.version)}`
              }
              for (const r of yield* sql<Row>`SELECT key, state FROM dspy_optimization_results FOR UPDATE`) {
                const state = rewrite(Rows.parse(r.state))
                if (state === undefined) continue
                results++
                yield* sql`UPDATE dspy_optimization_results SET state = ${JSON.stringify(state ?? null)} WHERE key = ${String(r.key)}`
              }
              return { versions, results }
            })
          )
        ),
      getResult: (key) =>
        statement(
          "read an optimization result",
          Effect.map(sql<Row>`SELECT * FROM dspy_optimization_results WHERE key = ${key}`, (found) => {
            const r = found[0]
            return r === undefined ? Option.none() : Option.some(Rows.resultOf(r))
          })
        )
    }
    return service
  })
