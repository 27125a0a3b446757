/**
 * The data-rights archive: everything held about a tenant or an end user, as JSON lines. The first line is the
 * manifest (the archive's kind, schema version, scope, creation time, a count per source and the sha256 of the
 * record lines); each other line is one record `{ "source", "id", "data" }`. Documented in `docs/data-rights.md`;
 * a reader refuses a newer schema version and migrates older ones forward.
 *
 * @example
 * ```ts
 * import { Archive } from "@effect-dspy/services"
 *
 * const archive = Archive.make({ subject: "user-42" }, [{ source: "experiences", id: "ex_1", data: { q: "hi" } }], 0)
 * const text = Archive.encode(archive)
 * const back = Archive.decode(text) // Either.right(archive)
 * ```
 *
 * @since 0.1.0
 */
import { CanonicalJson } from "@effect-dspy/foundation"
import * as Either from "effect/Either"
import { ArchiveInvalid } from "./RightsError.js"

/**
 * The archive kind written in every manifest.
 *
 * @since 0.1.0
 * @category constants
 */
export const kind = "effect-dspy.data-rights-archive"

/**
 * The schema version written now (a reader migrates older versions forward and refuses newer ones).
 *
 * @since 0.1.0
 * @category constants
 */
export const schemaVersion = 1

/**
 * Whose data: an end user (`subject`), a tenant, or an end user within a tenant.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scope {
  readonly subject?: string | undefined
  readonly tenant?: string | undefined
}

/**
 * One record held about the scope: the store it comes from, its id there, and its content.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly source: string
  readonly id: string
  readonly data: unknown
}

/**
 * The first line of an archive.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  readonly kind: typeof kind
  readonly schemaVersion: number
  readonly scope: Scope
  /** When it was made (ms since the epoch, Effect's Clock). */
  readonly createdAt: number
  /** Records per source (every source asked, 0 included). */
  readonly sources: { readonly [source: string]: number }
  readonly records: number
  /** Hex sha256 of the record lines joined by `\n`. */
  readonly sha256: string
}

/**
 * An archive: its manifest and its records.
 *
 * @since 0.1.0
 * @category models
 */
export interface Archive {
  readonly manifest: Manifest
  readonly entries: ReadonlyArray<Entry>
}

const lineOf = (entry: Entry): string =>
  JSON.stringify({ source: entry.source, id: entry.id, data: entry.data ?? null })

/**
 * An archive of these records (`sources` lists the stores asked, so an empty one still shows in the manifest).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  scope: Scope,
  entries: ReadonlyArray<Entry>,
  createdAt: number,
  sources: ReadonlyArray<string> = []
): Archive => {
  const counts: Record<string, number> = {}
  for (const s of sources) counts[s] = 0
  for (const e of entries) counts[e.source] = (counts[e.source] ?? 0) + 1
  const cleanScope: Scope = {
    ...(scope.subject === undefined ? {} : { subject: scope.subject }),
    ...(scope.tenant === undefined ? {} : { tenant: scope.tenant })
  }
  return {
    manifest: {
      kind,
      schemaVersion,
      scope: cleanScope,
      createdAt,
      sources: counts,
      records: entries.length,
      sha256: CanonicalJson.sha256Hex(entries.map(lineOf).join("\n"))
    },
    entries
  }
}

/**
 * The archive as JSON lines (the manifest first), ending with a newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (archive: Archive): string =>
  `${[JSON.stringify(archive.manifest), ...archive.entries.map(lineOf)].join("\n")}\n`

const invalid = (line: number, message: string) => new ArchiveInvalid({ line, message })

/**
 * Reads an archive: checks its kind, schema version (a newer one is refused) and digest, and the shape of every
 * record; fails with `ArchiveInvalid` naming the line at fault.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (text: string): Either.Either<Archive, ArchiveInvalid> => {
  const lines = text.split("\n").filter((l) => l.trim() !== "")
  if (lines.length === 0) return Either.left(invalid(1, "The archive is empty: it has no manifest line."))
  let manifest: Manifest
  try {
    manifest = JSON.parse(lines[0]!) as Manifest
  } catch {
    return Either.left(invalid(1, "The archive's first line (its manifest) is not JSON."))
  }
  if (typeof manifest !== "object" || manifest === null || manifest.kind !== kind)
    return Either.left(invalid(1, `Not a data-rights archive: its manifest's kind is not "${kind}".`))
  if (typeof manifest.schemaVersion !== "number" || manifest.schemaVersion < 1)
    return Either.left(invalid(1, "The manifest has no usable schemaVersion."))
  if (manifest.schemaVersion > schemaVersion)
    return Either.left(
      invalid(
        1,
        `The archive has schema version ${manifest.schemaVersion}; this program reads versions up to ${schemaVersion}: read it with a newer release.`
      )
    )
  const entries: Array<Entry> = []
  for (let i = 1; i < lines.length; i++) {
    let parsed: unknown
    try {
      parsed = JSON.parse(lines[i]!)
    } catch {
      return Either.left(invalid(i + 1, `Line ${i + 1} of the archive is not JSON.`))
    }
    const e = parsed as Partial<Entry>
    if (typeof e !== "object" || e === null || typeof e.source !== "string" || typeof e.id !== "string")
      return Either.left(invalid(i + 1, `Line ${i + 1} is not a record: it needs a string "source" and "id".`))
    entries.push({ source: e.source, id: e.id, data: e.data })
  }
  const sha256 = CanonicalJson.sha256Hex(entries.map(lineOf).join("\n"))
  if (sha256 !== manifest.sha256 || entries.length !== manifest.records)
    return Either.left(invalid(1, "The archive's records do not match its manifest's digest or count: it is damaged."))
  // Version 1 is the only one so far: a later version adds its step from the previous one here.
  return Either.right({ manifest: { ...manifest, schemaVersion }, entries })
}
