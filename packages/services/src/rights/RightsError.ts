/**
 * The errors of data rights (export, erasure, retention): members of the project's error family
 * (`Errors.TaggedError`), with their union and guard. Messages say what to fix.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * The request does not say whose data: give a `subject` (an end-user key), a `tenant`, or both (the field says
 * what is wrong).
 *
 * @since 0.1.0
 * @category errors
 */
export class DataRightsInvalid extends Errors.TaggedError<DataRightsInvalid>()(
  "DataRightsInvalid",
  { field: Schema.String },
  { code: "data_rights_invalid", retryable: false }
) {}

/**
 * A store (or a cache level) could not be read or erased, so the export or erasure would be incomplete: it is
 * refused (an erasure already applied to the stores before it stays applied; run it again once the store is back,
 * erasing is idempotent).
 *
 * @since 0.1.0
 * @category errors
 */
export class DataRightsIncomplete extends Errors.TaggedError<DataRightsIncomplete>()(
  "DataRightsIncomplete",
  { source: Schema.String, operation: Schema.String },
  { code: "data_rights_incomplete", retryable: true }
) {}

/**
 * An archive cannot be read: not an effect-dspy data-rights archive, damaged (its digest does not match), or
 * written by a newer version (its schema version is above `Archive.schemaVersion`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ArchiveInvalid extends Errors.TaggedError<ArchiveInvalid>()(
  "ArchiveInvalid",
  { line: Schema.Number },
  { code: "archive_invalid", retryable: false }
) {}

/**
 * Every error of data rights.
 *
 * @since 0.1.0
 * @category errors
 */
export type RightsError = DataRightsInvalid | DataRightsIncomplete | ArchiveInvalid

const tags = new Set(["DataRightsInvalid", "DataRightsIncomplete", "ArchiveInvalid"])

/**
 * Whether a value is one of the errors of data rights.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRightsError = (u: unknown): u is RightsError => Errors.isDSPyError(u) && tags.has(u._tag)
