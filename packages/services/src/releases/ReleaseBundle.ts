/**
 * Release bundles: one version of a module as a JSON document (its program state, shape, spec, lineage and an
 * evaluation report), to move a program between environments. {@link exportBundle} reads it from the release
 * store; {@link importBundle} checks it (format, schema version, shape) and swaps it in as a new version of the
 * module, or changes nothing and says what to fix.
 *
 * @example
 * ```ts
 * import { Application, ModuleManager, ReleaseBundle } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
 *   const bundle = yield* ReleaseBundle.exportBundle("qa", { evaluation: { metric: "exact_match", score: 82, examples: 200 } })
 *   // Elsewhere (another application): the same module gets the exported version as a new one.
 *   return yield* ReleaseBundle.importBundle(JSON.parse(JSON.stringify(bundle)))
 * }).pipe(Effect.provide(Application.layerDefault()))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as ModuleManager from "../ModuleManager.js"
import {
  ModuleNotFound,
  ModuleVersionNotFound,
  ReleaseBundleInvalid,
  type ReleaseStoreError
} from "../ServicesError.js"
import * as ServicesEvents from "../ServicesEvents.js"
import { Events } from "@effect-dspy/foundation"
import { Privacy } from "@effect-dspy/core"
import { ReleaseStore } from "./ReleaseStore.js"

/**
 * The bundle format's name, in every bundle.
 *
 * @since 0.1.0
 * @category constants
 */
export const format = "effect-dspy/release-bundle"

/**
 * The bundle schema version written here; an older bundle is read (and upgraded), a newer one refused.
 *
 * @since 0.1.0
 * @category constants
 */
export const schemaVersion = 1

/**
 * An evaluation report carried with a release: the metric, the score (Evaluate's 0-100 scale) and on how many
 * examples.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Evaluation = Schema.Struct({ metric: Schema.String, score: Schema.Number, examples: Schema.Number })

/**
 * A release bundle (schema version 1).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Bundle = Schema.Struct({
  format: Schema.Literal(format),
  schemaVersion: Schema.Literal(1),
  moduleId: Schema.String,
  version: Schema.Number,
  shape: Schema.String,
  spec: Schema.Unknown,
  state: Schema.Unknown,
  lineage: Schema.Struct({
    parent: Schema.NullOr(Schema.Number),
    reason: Schema.String,
    jobId: Schema.NullOr(Schema.String),
    optimizer: Schema.NullOr(Schema.String),
    scores: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Number }))
  }),
  createdAt: Schema.Number,
  evaluation: Schema.NullOr(Evaluation)
})

/**
 * A release bundle.
 *
 * @since 0.1.0
 * @category models
 */
export type Bundle = typeof Bundle.Type

const invalid = (field: string, message: string) => new ReleaseBundleInvalid({ field, message })

/**
 * Reads a bundle (parsed JSON): its format, its schema version (a newer one is refused; an older one would be
 * upgraded here) and its fields. `ReleaseBundleInvalid` names the field at fault.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Effect.Effect<Bundle, ReleaseBundleInvalid> =>
  Effect.suspend(() => {
    if (typeof input !== "object" || input === null || (input as { format?: unknown }).format !== format) {
      return Effect.fail(invalid("format", `Not a release bundle: its "format" must be "${format}".`))
    }
    const version = (input as { schemaVersion?: unknown }).schemaVersion
    if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
      return Effect.fail(invalid("schemaVersion", "The bundle has no schema version (an integer from 1)."))
    }
    if (version > schemaVersion) {
      return Effect.fail(
        invalid(
          "schemaVersion",
          `The bundle has schema version ${version}, but this program reads versions up to ${schemaVersion}: import it with the release that exported it, or a newer one.`
        )
      )
    }
    const decoded = Schema.decodeUnknownEither(Bundle)(input, { errors: "first" })
    if (Either.isLeft(decoded)) {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
      const field = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join(".") : "bundle"
      return Effect.fail(invalid(field, `The bundle's ${field} is not valid: ${issue?.message ?? "unknown problem"}.`))
    }
    return Effect.succeed(decoded.right)
  })

/**
 * Exports a stored version of a module (its promoted one by default) with an optional evaluation report. The
 * privacy policy's `stores` mode applies to its state and spec (`Privacy.scrub`): PII in demos is redacted, or
 * the export refused with `PrivacyBlocked` under `block`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exportBundle = (
  moduleId: string,
  options: { readonly version?: number; readonly evaluation?: typeof Evaluation.Type } = {}
): Effect.Effect<
  Bundle,
  ModuleNotFound | ModuleVersionNotFound | ReleaseStoreError | Privacy.PrivacyBlocked,
  ReleaseStore
> =>
  Effect.gen(function* () {
    const store = yield* ReleaseStore
    const stored = yield* store.load(moduleId)
    if (stored._tag === "None") {
      return yield* new ModuleNotFound({
        moduleId,
        message: `No release of module "${moduleId}" is stored in ${store.target}; register the module first.`
      })
    }
    const wanted = options.version ?? stored.value.module.promoted
    const record = stored.value.versions.find((v) => v.version === wanted)
    if (record === undefined) {
      return yield* new ModuleVersionNotFound({
        moduleId,
        version: wanted,
        message: `Module "${moduleId}" has no stored version ${wanted}; its versions are ${stored.value.versions.map((v) => v.version).join(", ")}.`
      })
    }
    // A bundle leaves the process: the privacy policy's `stores` mode applies to what it carries.
    const { spec, state } = yield* Privacy.scrub("release_bundle", {
      spec: stored.value.module.spec ?? null,
      state: record.state
    })
    return {
      format,
      schemaVersion: 1,
      moduleId,
      version: record.version,
      shape: stored.value.module.shape,
      spec,
      state,
      lineage: record.lineage,
      createdAt: record.createdAt,
      evaluation: options.evaluation ?? null
    } satisfies Bundle
  })

/**
 * Imports a bundle as a new version of its module (or of `options.moduleId`), made current; with
 * `options.ifVersion`, only if that version is still current. The module must exist with the bundle's shape;
 * anything that does not fit fails typed and changes nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const importBundle = (
  input: unknown,
  options: { readonly moduleId?: string; readonly ifVersion?: number } = {}
): Effect.Effect<
  ModuleManager.ModuleInfo,
  ReleaseBundleInvalid | ModuleManager.MutationError | ReleaseStoreError,
  ModuleManager.ModuleManager | ReleaseStore
> =>
  Effect.gen(function* () {
    const bundle = yield* decode(input)
    const moduleId = options.moduleId ?? bundle.moduleId
    const modules = yield* ModuleManager.ModuleManager
    const store = yield* ReleaseStore
    yield* modules.describe(moduleId)
    const stored = yield* store.load(moduleId, 1)
    if (stored._tag === "Some" && stored.value.module.shape !== bundle.shape) {
      return yield* invalid(
        "shape",
        `The bundle's program has shape ${bundle.shape}, but module "${moduleId}" has shape ${stored.value.module.shape}: export it from the same module (same predictors and fields).`
      )
    }
    const info = yield* modules
      .swap(moduleId, {
        state: bundle.state,
        lineage: {
          reason: "imported",
          ...(bundle.lineage.jobId === null ? {} : { jobId: bundle.lineage.jobId }),
          ...(bundle.lineage.optimizer === null ? {} : { optimizer: bundle.lineage.optimizer }),
          ...(bundle.evaluation === null ? {} : { scores: { [bundle.evaluation.metric]: bundle.evaluation.score } })
        },
        ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion })
      })
      .pipe(
        Effect.catchTag("ModuleSpecInvalid", (e) =>
          Effect.fail(invalid("state", `The bundle's program does not fit module "${moduleId}": ${e.message}`))
        )
      )
    yield* Events.publishOrLog(ServicesEvents.ReleaseImported, {
      module_id: moduleId,
      version: info.version,
      source_version: bundle.version
    })
    return info
  })
