/**
 * The release store's row codec, shared by its SQLite and PostgreSQL stores: rows back as records (JSON kept as
 * text, numbers that PostgreSQL's BIGINT gives as text made numbers) and records as the values written.
 */
import type { Lineage, ModuleRecord, StoredResult, VersionRecord } from "../ReleaseStore.js"

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
