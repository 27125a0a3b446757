/**
 * The Config service implementation: loads the sources, validates them one by one (so an error names the
 * source at fault), then serves reads, validated updates and change streams.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ConfigChange, Options } from "../Config.js"
import * as ConfigSchema from "../ConfigSchema.js"
import * as C from "./config.js"

/** How the public module builds its errors (kept there so this file has no runtime import of it). */
export interface ErrorMakers<Invalid, Forbidden, NotFound> {
  readonly invalid: (source: string, issues: Array<string>) => Invalid
  readonly forbidden: (path: string, allowed: ReadonlyArray<string>) => Forbidden
  readonly notFound: (path: string, reason: string, allowed: ReadonlyArray<string>) => NotFound
}

const decode = Schema.decodeUnknownEither(ConfigSchema.DSPyConfig, { errors: "all", onExcessProperty: "error" })
const schemaAst = ConfigSchema.DSPyConfig.ast

/** The defaults in the file's (encoded) form. */
const defaultsRaw = (): C.Raw =>
  Schema.encodeSync(ConfigSchema.DSPyConfig)(Schema.decodeUnknownSync(ConfigSchema.DSPyConfig)({})) as C.Raw

/** Whether a source sets anything under `providers.default`. */
const configuresDefaultProvider = (source: unknown): boolean => {
  const providers = (source as { readonly providers?: unknown } | undefined)?.providers
  return typeof providers === "object" && providers !== null && "default" in providers
}

/**
 * The raw config without the schema's implicit `default` provider when nothing uses it: another provider is the
 * default one and none names it as its backup.
 */
const dropUnusedDefaultProvider = (raw: C.Raw): C.Raw => {
  const modules = raw["modules"] as { readonly defaultLmProvider?: unknown } | undefined
  const providers = raw["providers"] as { readonly [name: string]: { readonly backup?: unknown } } | undefined
  if (providers === undefined || !("default" in providers)) return raw
  if ((modules?.defaultLmProvider ?? "default") === "default") return raw
  if (Object.values(providers).some((p) => p?.backup === "default")) return raw
  const { default: _unused, ...rest } = providers
  return { ...raw, providers: rest }
}

/** Checks between settings that the schema cannot express. */
const crossCheck = (config: ConfigSchema.DSPyConfig): Array<string> => {
  const issues: Array<string> = []
  const providers = Object.keys(config.providers)
  if (!providers.includes(config.modules.defaultLmProvider)) {
    issues.push(
      `modules.defaultLmProvider: '${config.modules.defaultLmProvider}' is not a configured provider (configured: ${providers.join(", ") || "none"})`
    )
  }
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.backup === undefined) continue
    if (provider.backup === name) issues.push(`providers.${name}.backup: a provider cannot be its own backup`)
    else if (!providers.includes(provider.backup)) {
      issues.push(`providers.${name}.backup: '${provider.backup}' is not a configured provider`)
    }
  }
  return issues
}

/** Validates a raw config: the decoded config, or the list of issues. */
const validate = (raw: C.Raw): Either.Either<ConfigSchema.DSPyConfig, Array<string>> =>
  Either.match(decode(raw), {
    onLeft: (error) => Either.left(C.formatIssues(error)),
    onRight: (config) => {
      const issues = crossCheck(config)
      // Handed out as is (by `current`, `get`, changes): frozen, so no reader can change the running config.
      return issues.length === 0 ? Either.right(C.deepFreeze(config)) : Either.left(issues)
    }
  })

interface State {
  readonly raw: C.Raw
  readonly config: ConfigSchema.DSPyConfig
}

/** The hosted providers configured from their own variables (`<PREFIX>_API_KEY`, `_BASE_URL`, `_MODEL`), in order. */
const vendors = [
  { prefix: "OPENAI", kind: "openai" },
  { prefix: "ANTHROPIC", kind: "anthropic" }
] as const

/** The environment's contribution, and which variable set which path (for error messages). */
const readEnvironment = Effect.gen(function* () {
  let raw: C.Raw = {}
  const origins = new Map<string, string>()
  const problems: Array<string> = []
  const secrets = new Set<string>()

  // OPENAI_API_KEY adds `openai`, ANTHROPIC_API_KEY adds `anthropic` (with their *_BASE_URL and *_MODEL); the first
  // one set is the default provider.
  for (const vendor of vendors) {
    const apiKey = yield* C.envString(`${vendor.prefix}_API_KEY`)
    if (Option.isNone(apiKey)) continue
    secrets.add(apiKey.value)
    const baseUrl = yield* C.envString(`${vendor.prefix}_BASE_URL`)
    const model = yield* C.envString(`${vendor.prefix}_MODEL`)
    const isDefault = origins.get("modules.defaultLmProvider") === undefined
    raw = C.deepMerge(raw, {
      ...(isDefault ? { modules: { defaultLmProvider: vendor.kind } } : {}),
      providers: {
        [vendor.kind]: {
          kind: vendor.kind,
          apiKey: apiKey.value,
          ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {}),
          ...(Option.isSome(model) ? { defaultModel: model.value } : {})
        }
      }
    })
    origins.set(`providers.${vendor.kind}`, `${vendor.prefix}_API_KEY`)
    if (Option.isSome(model)) origins.set(`providers.${vendor.kind}.defaultModel`, `${vendor.prefix}_MODEL`)
    if (Option.isSome(baseUrl)) origins.set(`providers.${vendor.kind}.baseUrl`, `${vendor.prefix}_BASE_URL`)
    if (isDefault) origins.set("modules.defaultLmProvider", `${vendor.prefix}_API_KEY`)
  }

  for (const name of yield* C.envNames) {
    const value = yield* C.envString(name)
    if (Option.isNone(value)) continue
    const resolved = C.resolvePath(schemaAst, name.slice(C.envPrefix.length).split("__"), true)
    if (resolved._tag === "error") {
      problems.push(`${name}: ${resolved.reason}`)
      continue
    }
    if (resolved.segments.at(-1) === "apiKey") secrets.add(value.value)
    raw = C.deepMerge(raw, C.setAt({}, resolved.segments, C.parseEnvValue(value.value)))
    origins.set(resolved.segments.join("."), name)
  }
  return { raw, origins, problems, secrets }
})

/** Prefixes each issue with the environment variable that set its path, when one did. */
const attribute = (issues: Array<string>, origins: Map<string, string>): Array<string> =>
  issues.map((issue) => {
    let best: string | undefined
    for (const p of origins.keys()) {
      if (
        (issue === p || issue.startsWith(`${p}.`) || issue.startsWith(`${p}:`)) &&
        (best === undefined || p.length > best.length)
      ) {
        best = p
      }
    }
    return best === undefined ? issue : `${origins.get(best)} -> ${issue}`
  })

/** The service, over the public module's error types. */
export interface ServiceOf<Invalid, Forbidden, NotFound> {
  readonly current: Effect.Effect<ConfigSchema.DSPyConfig>
  readonly snapshot: () => ConfigSchema.DSPyConfig
  readonly get: (path: string) => Effect.Effect<unknown, NotFound>
  readonly update: (path: string, value: unknown) => Effect.Effect<void, Forbidden | Invalid | NotFound>
  readonly subscribe: Stream.Stream<ConfigChange>
  readonly watch: (path: string) => Stream.Stream<unknown, NotFound>
}

/** Builds the service. */
export const make = <Invalid, Forbidden, NotFound>(
  options: Options,
  errors: ErrorMakers<Invalid, Forbidden, NotFound>
): Effect.Effect<ServiceOf<Invalid, Forbidden, NotFound>, Invalid> =>
  Effect.gen(function* () {
    const secrets = new Set<string>()
    const fail = (source: string, issues: Array<string>) =>
      Effect.fail(
        errors.invalid(
          source,
          issues.map((i) => C.scrub(i, secrets))
        )
      )
    const check = (source: string, raw: C.Raw) => {
      C.collectSecrets(raw, secrets)
      return Either.match(validate(raw), {
        onLeft: (issues) => fail(source, issues),
        onRight: (config) => Effect.succeed(config)
      })
    }

    // 1. defaults
    let raw = defaultsRaw()
    let explicitDefault = false
    const notice = (source: unknown) => {
      if (configuresDefaultProvider(source)) explicitDefault = true
    }
    if (options.defaults !== undefined) {
      notice(options.defaults)
      raw = C.deepMerge(raw, options.defaults as C.Raw)
      yield* check("defaults", raw)
    }

    // 2. file
    const useEnv = options.env !== false
    const file =
      options.file !== undefined
        ? Option.some(options.file)
        : useEnv
          ? yield* C.envString(C.fileEnvVar)
          : Option.none<string>()
    if (Option.isSome(file)) {
      const fromFile = yield* Effect.catchAll(C.readFile(file.value), (problem) => fail(problem.source, problem.issues))
      notice(fromFile)
      raw = C.deepMerge(raw, fromFile)
      yield* check(`file ${file.value}`, raw)
    }

    // 3. environment
    if (useEnv) {
      const env = yield* readEnvironment
      for (const s of env.secrets) secrets.add(s)
      if (env.problems.length > 0) yield* fail("environment", env.problems)
      notice(env.raw)
      raw = C.deepMerge(raw, env.raw)
      yield* Either.match(validate(raw), {
        onLeft: (issues) => fail("environment", attribute(issues, env.origins)),
        onRight: () => Effect.void
      })
    }

    // The schema's implicit `default` (simulated) provider stays only while something uses it: the default
    // provider, a backup, or a source that configured it. Otherwise a user's own providers stand alone.
    if (!explicitDefault) raw = dropUnusedDefaultProvider(raw)

    const config = yield* check("configuration", raw)
    const state = yield* Ref.make<State>({ raw, config })
    // The value `snapshot` reads, set with the state (the Ref stays the one source of truth for effects).
    let latest = config
    const hub = yield* PubSub.unbounded<ConfigChange>()
    const lock = yield* Effect.makeSemaphore(1)

    const resolve = (path: string) => {
      const segments = C.splitPath(path)
      const resolved = C.resolvePath(schemaAst, segments)
      return resolved._tag === "ok"
        ? Effect.succeed(resolved.segments)
        : Effect.fail(errors.notFound(path, resolved.reason, resolved.allowed))
    }

    const get = (path: string) =>
      Effect.flatMap(resolve(path), (segments) => Effect.map(Ref.get(state), (s) => C.getAt(s.config, segments)))

    const update = (path: string, value: unknown) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const segments = yield* resolve(path)
          if (segments.length === 0 || !C.isUpdatable(segments, ConfigSchema.updatablePaths)) {
            return yield* Effect.fail(errors.forbidden(path, ConfigSchema.updatablePaths))
          }
          const before = yield* Ref.get(state)
          // Every object on the way must exist (as the config's own entry): `providers.ghost.timeoutMs` needs a
          // provider `ghost`. A new record entry may be added only as a whole, at the end of the path.
          const missing = C.missingPrefix(before.raw, segments.slice(0, -1))
          if (missing !== undefined) {
            const prefix = segments.slice(0, missing.length).join(".")
            const existing = missing.existing.length === 0 ? "none" : missing.existing.join(", ")
            return yield* Effect.fail(
              errors.notFound(
                path,
                `'${prefix}' is not configured; add it first (configured there: ${existing})`,
                missing.existing
              )
            )
          }
          const nextRaw = C.setAt(before.raw, segments, value)
          C.collectSecrets(nextRaw, secrets)
          const next = validate(nextRaw)
          if (Either.isLeft(next)) return yield* fail(`update of ${path}`, next.left)
          yield* Ref.set(state, { raw: nextRaw, config: next.right })
          latest = next.right
          yield* PubSub.publish(hub, {
            path: segments.join("."),
            previous: C.getAt(before.config, segments),
            current: C.getAt(next.right, segments),
            config: next.right
          })
        })
      )

    const subscribe: Stream.Stream<ConfigChange> = Stream.fromPubSub(hub)

    const watch = (path: string): Stream.Stream<unknown, NotFound> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const segments = yield* resolve(path)
          // Subscribe and read under the lock, so that no change falls between the two.
          const [dequeue, now] = yield* lock.withPermits(1)(Effect.all([PubSub.subscribe(hub), Ref.get(state)]))
          return Stream.concat(
            Stream.succeed(C.getAt(now.config, segments)),
            Stream.fromQueue(dequeue).pipe(
              Stream.filter((change) => C.overlaps(C.splitPath(change.path), segments)),
              Stream.map((change) => C.getAt(change.config, segments))
            )
          )
        })
      )

    return {
      current: Effect.map(Ref.get(state), (s) => s.config),
      snapshot: () => latest,
      get,
      update,
      subscribe,
      watch
    }
  })
