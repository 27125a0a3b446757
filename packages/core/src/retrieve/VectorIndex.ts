/**
 * An in-memory vector index: passages with their embeddings, searched by cosine similarity (top k), optionally
 * saved to a JSON file that carries a format version and is migrated forward when read.
 *
 * @example
 * ```ts
 * import { Embedder, VectorIndex } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * // the embedder in the context (over the LM's `embed`: `Embedder.layerLM()`) embeds the corpus once
 * const top2 = Effect.gen(function* () {
 *   const index = yield* VectorIndex.build(["Paris is in France.", "Rome is in Italy.", "Bern is in Switzerland."])
 *   const embedder = yield* Embedder.Embedder
 *   const [query] = yield* embedder.embed(["Which country is Rome in?"])
 *   return VectorIndex.search(index, query!, 2).map((hit) => hit.text)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import { type EmbedderError, RetrieveError } from "../CoreError.js"
import * as Embedder from "./Embedder.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { RetrieveError }

/**
 * An index: the passages, their vectors (one per passage, all of `dimensions` numbers) and the vectors' norms.
 *
 * @since 0.1.0
 * @category models
 */
export interface VectorIndex {
  readonly texts: ReadonlyArray<string>
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly dimensions: number
  /** The embedding model the vectors came from, when known (saved with the index). */
  readonly model: string | undefined
  readonly norms: ReadonlyArray<number>
}

/**
 * A search result: the passage, its position in the index and its cosine similarity to the query.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hit {
  readonly text: string
  readonly index: number
  readonly score: number
}

const norm = (v: ReadonlyArray<number>): number => {
  let s = 0
  for (const x of v) s += x * x
  return Math.sqrt(s)
}

const shapeError = (message: string) => new RetrieveError({ reason: "shape", message })

/**
 * An index over passages and their vectors. Fails when the counts differ, a vector has another size than the
 * first, or a number is not finite.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromVectors = (
  texts: ReadonlyArray<string>,
  vectors: ReadonlyArray<ReadonlyArray<number>>,
  options: { readonly model?: string } = {}
): Either.Either<VectorIndex, RetrieveError> => {
  if (texts.length !== vectors.length) {
    return Either.left(
      shapeError(`An index needs one vector per passage: got ${vectors.length} vectors for ${texts.length} passages.`)
    )
  }
  const dimensions = vectors[0]?.length ?? 0
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i]!
    if (v.length !== dimensions || dimensions === 0) {
      return Either.left(
        shapeError(
          `Vector ${i} has ${v.length} numbers, vector 0 has ${dimensions}: embed every passage with one (non-empty) model.`
        )
      )
    }
    if (!v.every(Number.isFinite)) return Either.left(shapeError(`Vector ${i} holds a number that is not finite.`))
  }
  return Either.right({
    texts: [...texts],
    vectors: vectors.map((v) => [...v]),
    dimensions,
    model: options.model,
    norms: vectors.map(norm)
  })
}

/**
 * Embeds the passages with the {@link Embedder.Embedder} in the context (or the one given) and indexes them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const build: {
  (
    texts: ReadonlyArray<string>,
    options?: { readonly model?: string }
  ): Effect.Effect<VectorIndex, EmbedderError | RetrieveError, Embedder.Embedder>
  (
    texts: ReadonlyArray<string>,
    options: { readonly model?: string; readonly embedder: Embedder.Service }
  ): Effect.Effect<VectorIndex, EmbedderError | RetrieveError>
} = ((texts: ReadonlyArray<string>, options: { readonly model?: string; readonly embedder?: Embedder.Service } = {}) =>
  Effect.flatMap(options.embedder === undefined ? Embedder.Embedder : Effect.succeed(options.embedder), (embedder) =>
    Effect.flatMap(embedder.embed(texts), (vectors) =>
      fromVectors(texts, vectors, options.model === undefined ? {} : { model: options.model })
    )
  )) as never

/**
 * The `k` passages most similar to the query vector (cosine), best first; ties go to the earlier passage.
 * A query of another size than the index's fails.
 *
 * @since 0.1.0
 * @category search
 */
export const search = (index: VectorIndex, query: ReadonlyArray<number>, k: number): ReadonlyArray<Hit> => {
  const take = Math.min(Math.max(0, Math.floor(k)), index.texts.length)
  if (take === 0) return []
  const qn = norm(query)
  // A bounded list kept sorted (best first): O(n * k), with k small.
  const best: Array<Hit> = []
  for (let i = 0; i < index.vectors.length; i++) {
    const v = index.vectors[i]!
    let dot = 0
    for (let d = 0; d < v.length; d++) dot += v[d]! * (query[d] ?? 0)
    const n = index.norms[i]!
    const score = n === 0 || qn === 0 ? 0 : dot / (n * qn)
    if (best.length === take && score <= best[take - 1]!.score) continue
    let at = best.length
    while (at > 0 && best[at - 1]!.score < score) at--
    best.splice(at, 0, { text: index.texts[i]!, index: i, score })
    if (best.length > take) best.pop()
  }
  return best
}

// ---------------------------------------------------------------------------------------------------------------
// The file format
// ---------------------------------------------------------------------------------------------------------------

/**
 * The version of the file format this code writes.
 *
 * @since 0.1.0
 * @category persistence
 */
export const currentVersion = 1

/**
 * The file format, version 1: `{ format, version, dimensions, model?, entries: [{ text, vector }] }`.
 *
 * @since 0.1.0
 * @category persistence
 */
export const FileV1 = Schema.Struct({
  format: Schema.Literal("effect-dspy/vector-index"),
  version: Schema.Literal(1),
  dimensions: Schema.Number,
  model: Schema.optional(Schema.String),
  entries: Schema.Array(Schema.Struct({ text: Schema.String, vector: Schema.Array(Schema.Number) }))
})

/**
 * Forward migrations: `migrations[v]` turns a file of version `v` into one of version `v + 1`. Reading a file
 * applies them in turn up to {@link currentVersion}; a new format version adds its step here.
 *
 * @since 0.1.0
 * @category persistence
 */
export type Migrations = { readonly [fromVersion: number]: (file: Record<string, unknown>) => Record<string, unknown> }

/**
 * The migrations of the released formats (none yet: version 1 is the first).
 *
 * @since 0.1.0
 * @category persistence
 */
export const migrations: Migrations = {}

const decodeError = (message: string, path: string | undefined) =>
  new RetrieveError({ reason: "decode", message, ...(path === undefined ? {} : { path }) })

/**
 * Brings a saved file's JSON to version `target` with `steps`: a file of a newer version than `target` (written by
 * a newer effect-dspy) or of a version without a migration step fails with a `version` error.
 *
 * @since 0.1.0
 * @category persistence
 */
export const migrate = (
  json: unknown,
  options: { readonly target?: number; readonly steps?: Migrations; readonly path?: string } = {}
): Either.Either<Record<string, unknown>, RetrieveError> => {
  const target = options.target ?? currentVersion
  const steps = options.steps ?? migrations
  const where = options.path === undefined ? "The index" : options.path
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(decodeError(`${where} is not a saved vector index (not a JSON object).`, options.path))
  }
  let file = json as Record<string, unknown>
  const version = file["version"]
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return Either.left(decodeError(`${where} has no format version: it is not a saved vector index.`, options.path))
  }
  if (version > target) {
    return Either.left(
      new RetrieveError({
        reason: "version",
        message: `${where} has format version ${version}, newer than this effect-dspy reads (${target}): upgrade effect-dspy, or rebuild the index.`,
        ...(options.path === undefined ? {} : { path: options.path })
      })
    )
  }
  for (let v = version; v < target; v++) {
    const step = steps[v]
    if (step === undefined) {
      return Either.left(
        new RetrieveError({
          reason: "version",
          message: `${where} has format version ${v} and no migration to ${v + 1} exists: rebuild the index.`,
          ...(options.path === undefined ? {} : { path: options.path })
        })
      )
    }
    file = { ...step(file), version: v + 1 }
  }
  return Either.right(file)
}

/**
 * The index as the JSON of the current file format.
 *
 * @since 0.1.0
 * @category persistence
 */
export const encode = (index: VectorIndex): typeof FileV1.Encoded => ({
  format: "effect-dspy/vector-index",
  version: 1,
  dimensions: index.dimensions,
  ...(index.model === undefined ? {} : { model: index.model }),
  entries: index.texts.map((text, i) => ({ text, vector: index.vectors[i]! }))
})

/**
 * Reads a saved index's JSON (any released version, migrated forward).
 *
 * @since 0.1.0
 * @category persistence
 */
export const decode = (json: unknown, path?: string): Either.Either<VectorIndex, RetrieveError> =>
  Either.flatMap(migrate(json, path === undefined ? {} : { path }), (file) => {
    const decoded = Schema.decodeUnknownEither(FileV1)(file)
    if (Either.isLeft(decoded)) {
      return Either.left(
        decodeError(
          `${path ?? "The index"} is not a saved vector index: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`,
          path
        )
      )
    }
    const f = decoded.right
    return Either.flatMap(
      fromVectors(
        f.entries.map((e) => e.text),
        f.entries.map((e) => e.vector),
        f.model === undefined ? {} : { model: f.model }
      ),
      (index) =>
        index.texts.length > 0 && index.dimensions !== f.dimensions
          ? Either.left(
              decodeError(
                `${path ?? "The index"} says ${f.dimensions} dimensions but its vectors have ${index.dimensions}.`,
                path
              )
            )
          : Either.right(index)
    )
  })

const ioError = (path: string, what: string, cause: unknown) =>
  new RetrieveError({ reason: "io", path, message: `Could not ${what} the vector index ${path}: ${String(cause)}` })

/**
 * Saves the index to a JSON file (written to a temporary file, then renamed into place).
 *
 * @since 0.1.0
 * @category persistence
 */
export const save = (index: VectorIndex, path: string): Effect.Effect<void, RetrieveError> =>
  Effect.tryPromise({
    try: async () => {
      const temporary = `${path}.${process.pid}.tmp`
      await fs.writeFile(temporary, `${JSON.stringify(encode(index))}\n`, "utf8")
      await fs.rename(temporary, path)
    },
    catch: (cause) => ioError(path, "save", cause)
  })

/**
 * Loads an index saved by {@link save} (any released format version).
 *
 * @since 0.1.0
 * @category persistence
 */
export const load = (path: string): Effect.Effect<VectorIndex, RetrieveError> =>
  Effect.tryPromise({ try: () => fs.readFile(path, "utf8"), catch: (cause) => ioError(path, "read", cause) }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (cause) => decodeError(`${path} is not JSON: ${String(cause)}`, path)
      })
    ),
    Effect.flatMap((json) => decode(json, path))
  )
