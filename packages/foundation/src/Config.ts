/**
 * Config: the system's configuration as a service. Sources merge as
 * defaults < file (JSON or YAML) < environment < runtime updates; every value is validated against
 * {@link ConfigSchema.DSPyConfig}. Only whitelisted paths ({@link ConfigSchema.updatablePaths}) may change at
 * run time; every change is validated (an invalid one fails and the old value stays) and published to
 * subscribers. Every value handed out is deep-frozen: the running configuration changes only through `update`.
 *
 * ## Sources, lowest to highest
 *
 * 1. **defaults**: the schema's defaults, then `options.defaults` (in the file's form).
 * 2. **file**: `options.file`, else the file named by the `EFFECT_DSPY_CONFIG` environment variable. JSON when the
 *    name ends in `.json`, YAML otherwise. Keys are the schema's camelCase names; the whole map may also sit under
 *    a single `dspy:` key, as in the design. Unknown keys are errors (typos do not pass silently).
 * 3. **environment**, read through Effect's `ConfigProvider` (tests supply one with `ConfigProvider.fromMap`):
 *    - `OPENAI_API_KEY` adds a provider named `openai` of kind `openai` with that key (kept `Redacted`) and makes
 *      it the default provider; `OPENAI_BASE_URL` sets its `baseUrl`, `OPENAI_MODEL` its `defaultModel` (else the
 *      kind's default, `gpt-4o-mini`). `ANTHROPIC_API_KEY` (with `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`) adds
 *      `anthropic` of kind `anthropic` the same way; it is the default provider when `OPENAI_API_KEY` is not set.
 *    - `EFFECT_DSPY__<SECTION>__<KEY>...=<value>` sets one path: segments are separated by a double underscore
 *      and match the schema's names ignoring case and single underscores (`EFFECT_DSPY__OPTIMIZATION__COPRO__INIT_TEMPERATURE`
 *      sets `optimization.copro.initTemperature`); record keys (provider, breaker, limiter names) are lower-cased
 *      (`EFFECT_DSPY__PROVIDERS__LOCAL__BASE_URL`). The value is JSON when it parses as JSON (`4`, `true`,
 *      `{"limit":5,"scaleMs":1000}`), the raw string otherwise; quote a string that looks like JSON (`"123"`).
 *      Write the variable names in upper case (`ConfigProvider.fromEnv` reports names upper-cased).
 *      These variables win over `OPENAI_*` and `ANTHROPIC_*`.
 * 4. **runtime updates** through `update`, only for {@link ConfigSchema.updatablePaths}.
 *
 * The schema's implicit provider `default` (the simulated LM) is there while it is used: when nothing else is
 * the default provider, when a provider names it as its backup, or when a source configures it. A setup whose
 * own providers include the default one (`modules.defaultLmProvider`, or `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`) gets only those.
 *
 * A source that does not validate fails the layer with {@link ConfigInvalid} naming the source (the file path,
 * `environment` with the variable names, ...) and the paths at fault. Secrets never appear in messages.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type * as ConfigSchema from "./ConfigSchema.js"
import * as internal from "./internal/configService.js"
import { ConfigPathNotFound, ConfigUpdateForbidden, ConfigInvalid } from "./FoundationError.js"

/**
 * A change to the configuration: the path that was updated, its old and new values, and the whole new config.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigChange {
  readonly path: string
  readonly previous: unknown
  readonly current: unknown
  readonly config: ConfigSchema.DSPyConfig
}

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ConfigPathNotFound, ConfigUpdateForbidden, ConfigInvalid }

/**
 * The Config service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The whole current configuration, deep-frozen (a write throws): change it through `update`. */
  readonly current: Effect.Effect<ConfigSchema.DSPyConfig>
  /**
   * The value at a dotted path (`"infrastructure.rateLimiters.lm_provider_default"`), deep-frozen. A path with
   * a prototype segment (`__proto__`, `constructor`, `prototype`) or an unknown setting fails.
   */
  readonly get: (path: string) => Effect.Effect<unknown, ConfigPathNotFound>
  /**
   * Changes a whitelisted path; the new whole config is validated before it takes effect. The value replaces
   * the one at the path (objects are not merged; the schema's defaults fill what it leaves out), and the
   * object holding the path must exist (`providers.<name>` must be configured to update its `timeoutMs`;
   * otherwise `ConfigPathNotFound` lists the configured names in `allowed`).
   */
  readonly update: (
    path: string,
    value: unknown
  ) => Effect.Effect<void, ConfigUpdateForbidden | ConfigInvalid | ConfigPathNotFound>
  /**
   * The current configuration, read synchronously: for hot paths that consult it on every call (the privacy
   * policy on every event). The Config layers have it; a hand-built service may leave it out (readers then use
   * `current`).
   */
  readonly snapshot?: (() => ConfigSchema.DSPyConfig) | undefined
  /** Every change from now on (each subscriber gets each change once). */
  readonly subscribe: Stream.Stream<ConfigChange>
  /** The current value at a path, then its value after each change that touches it. */
  readonly watch: (path: string) => Stream.Stream<unknown, ConfigPathNotFound>
}

/**
 * The Config service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Config extends Context.Tag("@effect-dspy/foundation/Config")<Config, Service>() {}

/**
 * How {@link layer} finds its sources.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A JSON or YAML file; when absent, the `EFFECT_DSPY_CONFIG` environment variable may name one. */
  readonly file?: string | undefined
  /** Settings over the schema's defaults (in the file's form), below the file. */
  readonly defaults?: { readonly [key: string]: unknown } | undefined
  /** Read the environment (`EFFECT_DSPY_CONFIG`, `EFFECT_DSPY__*`, `OPENAI_*`, `ANTHROPIC_*`); `true` by default. */
  readonly env?: boolean | undefined
}

/**
 * Builds the Config service from its sources (see the module documentation for the order).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, ConfigInvalid> = (options = {}) =>
  internal.make(options, {
    invalid: (source, issues) =>
      new ConfigInvalid({
        source,
        issues,
        message: `Invalid configuration from ${source}: ${issues.join("; ")}. Fix these settings.`
      }),
    forbidden: (path, allowed) =>
      new ConfigUpdateForbidden({
        path,
        message: `'${path}' cannot change while the system runs; only these paths can: ${allowed.join(", ")}`
      }),
    notFound: (path, reason, allowed) =>
      new ConfigPathNotFound({ path, allowed, message: `No configuration path '${path}': ${reason}` })
  })

/**
 * The Config service from defaults, file and environment.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Config, ConfigInvalid> => Layer.effect(Config, make(options))

/**
 * The Config service for tests: the defaults with `overrides` over them; no file, no environment.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (overrides: { readonly [key: string]: unknown } = {}): Layer.Layer<Config, ConfigInvalid> =>
  layer({ defaults: overrides, env: false })

/**
 * The value at a dotted path of the current configuration.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (path: string): Effect.Effect<unknown, ConfigPathNotFound, Config> =>
  Effect.flatMap(Config, (config) => config.get(path))

/**
 * Changes a whitelisted path of the current configuration.
 *
 * @since 0.1.0
 * @category accessors
 */
export const update = (
  path: string,
  value: unknown
): Effect.Effect<void, ConfigUpdateForbidden | ConfigInvalid | ConfigPathNotFound, Config> =>
  Effect.flatMap(Config, (config) => config.update(path, value))
