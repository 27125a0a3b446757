/**
 * Config: the system's configuration as a service. Sources merge as
 * defaults < file (JSON or YAML) < environment < runtime updates; every value is validated against
 * {@link ConfigSchema.DSPyConfig}. Only whitelisted paths ({@link ConfigSchema.updatablePaths}) may change at
 * run time; every change is validated (an invalid one fails and the old value stays) and published to
 * subscribers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as Errors from "./Errors.js"
import type * as ConfigSchema from "./ConfigSchema.js"

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
 * The path does not exist in the configuration schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigPathNotFound extends Schema.TaggedError<ConfigPathNotFound>("@effect-dspy/ConfigPathNotFound")(
  "ConfigPathNotFound",
  { ...Errors.fields, path: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "config_path_not_found"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The path may not be changed at run time (it is not in the whitelist).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigUpdateForbidden extends Schema.TaggedError<ConfigUpdateForbidden>(
  "@effect-dspy/ConfigUpdateForbidden"
)("ConfigUpdateForbidden", { ...Errors.fields, path: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "config_update_forbidden"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A source or an update does not match the schema; `issues` lists what is wrong, path by path.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>("@effect-dspy/ConfigInvalid")("ConfigInvalid", {
  ...Errors.fields,
  source: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "config_invalid"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The Config service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The whole current configuration. */
  readonly current: Effect.Effect<ConfigSchema.DSPyConfig>
  /** The value at a dotted path (`"infrastructure.rateLimiters.lm_provider_default"`). */
  readonly get: (path: string) => Effect.Effect<unknown, ConfigPathNotFound>
  /** Changes a whitelisted path; the new whole config is validated before it takes effect. */
  readonly update: (
    path: string,
    value: unknown
  ) => Effect.Effect<void, ConfigUpdateForbidden | ConfigInvalid | ConfigPathNotFound>
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
