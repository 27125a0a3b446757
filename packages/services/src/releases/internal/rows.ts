/**
 * The release store's row codec, shared by its SQLite and PostgreSQL stores: rows back as records (JSON kept as
 * text, numbers that PostgreSQL's BIGINT gives as text made numbers) and records as the values written.
 */
import type { Lineage, ModuleRecord, StoredResult, VersionRecord } from "../ReleaseStore.js"

/**
 * The statements that bring a database from version `i` to `i + 1` (index 0: an empty database to version 1), for
 * both databases (`time`: the type of the millisecond columns, `INTEGER` in SQLite, `BIGINT` in PostgreSQL). A later
 * schema appends its step here; a database at any earlier version runs the steps it lacks.
 */
export const migrations = (time: "INTEGER" | "BIGINT"): ReadonlyArray<ReadonlyArray<string>> => [
  [
    `CREATE TABLE dspy_release_modules (
      module_id TEXT PRIMARY KEY, shape TEXT NOT NULL, spec TEXT, promoted INTEGER NOT NULL,
      created_at ${time} NOT NULL, updated_at ${time} NOT NULL)`,
    `CREATE TABLE dspy_release_versions (
      module_id TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, lineage TEXT NOT NULL,
      created_at ${time} NOT NULL, PRIMARY KEY (module_id, version))`,
    `CREATE TABLE dspy_optimization_results (
      key TEXT PRIMARY KEY, module_id TEXT NOT NULL, state TEXT NOT NULL, job_id TEXT NOT NULL,
      optimizer TEXT NOT NULL, scores TEXT, created_at ${time} NOT NULL)`
  ]
]

/** A row as the driver returns it. */
export type Row = { readonly [column: string]: unknown }

/** JSON text back to a value; text that is not JSON is returned as it is (it then fails as a program state). */
export const parse = (text: unknown): unknown => {
  if (typeof text !== "string") return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** A `dspy_release_versions` row as a version. */
export const versionOf = (r: Row): VersionRecord => ({
  moduleId: String(r.module_id),
  version: Number(r.version),
  state: parse(r.state),
  lineage: parse(r.lineage) as Lineage,
  createdAt: Number(r.created_at)
})

/** A `dspy_release_modules` row as a module record. */
export const moduleOf = (r: Row): ModuleRecord => ({
  moduleId: String(r.module_id),
  shape: String(r.shape),
  spec: r.spec === null ? null : parse(r.spec),
  promoted: Number(r.promoted),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at)
})

/** A `dspy_optimization_results` row as a result. */
export const resultOf = (r: Row): StoredResult => ({
  key: String(r.key),
  moduleId: String(r.module_id),
  state: parse(r.state),
  jobId: String(r.job_id),
  optimizer: String(r.optimizer),
  scores: r.scores === null ? null : (parse(r.scores) as { readonly [name: string]: number }),
  createdAt: Number(r.created_at)
})

/** A version's values: `module_id, version, state, lineage, created_at`. */
export const versionParams = (v: VersionRecord): Array<unknown> => [
  v.moduleId,
  v.version,
  JSON.stringify(v.state ?? null),
  JSON.stringify(v.lineage),
  v.createdAt
]

/** A module's values: `module_id, shape, spec, promoted, created_at, updated_at`. */
export const moduleParams = (m: ModuleRecord): Array<unknown> => [
  m.moduleId,
  m.shape,
  m.spec === null || m.spec === undefined ? null : JSON.stringify(m.spec),
  m.promoted,
  m.createdAt,
  m.updatedAt
]

/** A result's values: `key, module_id, state, job_id, optimizer, scores, created_at`. */
export const resultParams = (r: StoredResult): Array<unknown> => [
  r.key,
  r.moduleId,
  JSON.stringify(r.state ?? null),
  r.jobId,
  r.optimizer,
  r.scores === null ? null : JSON.stringify(r.scores),
  r.createdAt
]
