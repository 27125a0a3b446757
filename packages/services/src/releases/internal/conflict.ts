/** The release stores' compare-and-swap failure, shared by every backend. */
import * as Effect from "effect/Effect"
import { ReleaseStoreConflict } from "../../ServicesError.js"

/** The compare-and-swap failure: the module's promoted version is `found`, not `expected` (null: no module). */
export const conflict = (moduleId: string, expected: number, found: number | null) =>
  Effect.fail(
    new ReleaseStoreConflict({
      moduleId,
      expected,
      found,
      message: `Module "${moduleId}" promotes ${found === null ? "nothing (it is not stored)" : `version ${found}`}, not version ${expected} as this write expected: another process changed it first. Nothing was written; read the module again and decide anew.`
    })
  )
