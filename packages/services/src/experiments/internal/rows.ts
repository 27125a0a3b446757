/**
 * The experiment store's row codec, shared by its SQLite and PostgreSQL stores: a record is its JSON text plus the
 * columns it is listed by (`id, record, module_id, status, updated_at`), decoded (and validated) when read.
 */
import * as Effect from "effect/Effect"
import type { ExperimentStoreError } from "../../ServicesError.js"
import * as ExperimentRecord from "../ExperimentRecord.js"

/** A stored record's JSON text back as a record (a typed error when it is not one). */
export const parse = (text: unknown): Effect.Effect<ExperimentRecord.ExperimentRecord, ExperimentStoreError> =>
  Effect.suspend(() => {
    let json: unknown
    try {
      json = JSON.parse(String(text))
    } catch (e) {
      return Effect.fail(ExperimentRecord.storeError("decode", `a stored record is not JSON: ${String(e)}`))
    }
    return ExperimentRecord.decode(json)
  })

/** A record's values: `id, record, module_id, status, updated_at`. */
export const params = (record: ExperimentRecord.ExperimentRecord): Array<unknown> => [
  record.id,
  JSON.stringify(record),
  record.moduleId,
  record.status,
  record.updatedAt
]
