/**
 * The run store's row codec, shared by its memory, SQLite and PostgreSQL stores: a run's row and its step
 * boundaries folded back into its record (validated when read), a listing's row as a summary, and the store's
 * error.
 */
import * as Either from "effect/Either"
import * as RunRecord from "../RunRecord.js"
import type { Boundary, Summary } from "../RunStore.js"
import { RunStoreError } from "../WorkflowError.js"

/** Folds a boundary onto a record. */
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

/** The store's error for an operation. */
export const storeError = (operation: string, reason: string) =>
  new RunStoreError({ operation, message: `run store ${operation} failed: ${reason}` })

/** A run's stored text and its boundaries' (in order) as its record, or why they are not one. */
export const decodeText = (
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

/** A listing's row (`run_id, workflow, status, updated_at`) as a summary. */
export const summaryOf = (r: { readonly [column: string]: unknown }): Summary => ({
  runId: String(r.run_id),
  workflow: String(r.workflow),
  status: r.status as RunRecord.Status,
  updatedAt: Number(r.updated_at)
})

/** One line saying why a statement failed (the driver's reason, when the error wraps one). */
export const describe = (e: unknown): string => {
  if (typeof e === "string") return e
  if (!(e instanceof Error)) return String(e)
  const inner = (e as { readonly cause?: unknown }).cause
  return inner instanceof Error && inner.message !== e.message ? `${e.message}: ${inner.message}` : e.message
}
