/**
 * The schema of the whole system's configuration (the design's `dspy` section), with defaults.
 * Every source (defaults, file, environment, runtime updates) is validated against it.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A circuit breaker's settings.
 * `failureThreshold` failures within `windowMs` open it (count mode); or, when `failureRateThreshold` is
 * set, a failure rate at or over it across a rolling `windowMs` with at least `minimumVolume` calls.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CircuitBreakerSettings = Schema.Struct({
  failureThreshold: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }),
  windowMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 60_000 }),
  failureRateThreshold: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  minimumVolume: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10 }),
  recoveryTimeMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 30_000 }),
  halfOpenMaxCalls: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1 }),
  callTimeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * @since 0.1.0
 * @category models
 */
export type CircuitBreakerSettings = typeof CircuitBreakerSettings.Type

/**
 * A rate limiter's settings: at most `limit` starts per `scaleMs`, by the chosen algorithm.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RateLimiterSettings = Schema.Struct({
  scaleMs: Schema.Int.pipe(Schema.positive()),
  limit: Schema.Int.pipe(Schema.positive()),
  algorithm: Schema.optionalWith(Schema.Literal("token-bucket", "sliding-window"), { default: () => "token-bucket" })
})

/**
 * @since 0.1.0
 * @category models
 */
export type RateLimiterSettings = typeof RateLimiterSettings.Type

/**
 * A bulkhead's settings: at most `maxConcurrent` running, `maxQueued` waiting.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BulkheadSettings = Schema.Struct({
  maxConcurrent: Schema.Int.pipe(Schema.positive()),
  maxQueued: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1000 })
})

/**
 * @since 0.1.0
 * @category models
 */
export type BulkheadSettings = typeof BulkheadSettings.Type

/**
 * A pool's settings: `size` resident workers plus up to `overflow` temporary ones; a checkout waits at most
 * `checkoutTimeoutMs`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PoolSettings = Schema.Struct({
  size: Schema.Int.pipe(Schema.positive()),
  overflow: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  checkoutTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5_000 })
})

/**
 * @since 0.1.0
 * @category models
 */
export type PoolSettings = typeof PoolSettings.Type

/**
 * The model a provider of each kind uses when its settings name none (`providers.<name>.defaultModel`): OpenAI's
 * `gpt-4o-mini`, Anthropic's `claude-haiku-4-5`, the simulated LM's `sim-1`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultModels = {
  openai: "gpt-4o-mini",
  anthropic: "claude-haiku-4-5",
  simulated: "sim-1"
} as const

/**
 * Capability overrides of one provider (every model it serves): what the LM service believes about a model
 * before it sends a request (see `Capabilities` in `@effect-dspy/core`). Each field left out keeps the value
 * known for the model.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CapabilitySettings = Schema.Struct({
  /** Tokens of prompt and answer together. */
  contextWindow: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** The largest prompt, when smaller than the window less the answer. */
  maxInputTokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** The largest answer (`maxTokens`). */
  maxOutputTokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** Structured outputs (`response_format: json_schema`, Anthropic's `output_config.format`). */
  jsonSchema: Schema.optional(Schema.Boolean),
  /** JSON mode without a schema (`response_format: json_object`). */
  jsonObject: Schema.optional(Schema.Boolean),
  /** Tool (function) calling. */
  tools: Schema.optional(Schema.Boolean),
  /** Image inputs. */
  images: Schema.optional(Schema.Boolean),
  /** Audio inputs. */
  audio: Schema.optional(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category models
 */
export type CapabilitySettings = typeof CapabilitySettings.Type

const providerFields = {
  kind: Schema.optionalWith(Schema.Literal("openai", "anthropic", "simulated"), { default: () => "simulated" }),
  baseUrl: Schema.optional(Schema.String),
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  maxRetries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 3 }),
  /** The first retry's backoff in ms (doubling each retry, with jitter). */
  retryBaseDelayMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 500 }),
  /** The longest backoff between retries in ms (a 429's Retry-After may ask for more). */
  retryMaxDelayMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 30_000 }),
  timeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 30_000 }),
  /** The largest response body read, in bytes (8 MiB); a larger answer fails with `LMResponseTooLarge`. */
  maxResponseBytes: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 8 * 1024 * 1024 }),
  /** The longest a streamed answer may run in ms (5 minutes), however steadily it arrives (`LMTimeout`). */
  streamDeadlineMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 300_000 }),
  backup: Schema.optional(Schema.String),
  poolSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 16 }),
  /** What the provider's models can do, over what is known of them (see {@link CapabilitySettings}). */
  capabilities: Schema.optional(CapabilitySettings)
}

/**
 * One LM provider's settings. `apiKey` is `Redacted`: it is never printed, logged or saved. `defaultModel`, when
 * left out, is the default model of the provider's kind ({@link defaultModels}), so a provider of kind `openai`
 * never asks OpenAI for the simulated LM's model.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProviderSettings = Schema.transform(
  Schema.Struct({ ...providerFields, defaultModel: Schema.optional(Schema.String) }),
  Schema.typeSchema(Schema.Struct({ ...providerFields, defaultModel: Schema.String })),
  {
    strict: true,
    decode: ({ defaultModel, ...rest }) => ({ ...rest, defaultModel: defaultModel ?? defaultModels[rest.kind] }),
    // The kind's default model is left out again, so a change of kind (a file over the defaults) brings its own.
    encode: ({ defaultModel, ...rest }) =>
      defaultModel === defaultModels[rest.kind] ? rest : { ...rest, defaultModel }
  }
)

/**
 * @since 0.1.0
 * @category models
 */
export type ProviderSettings = typeof ProviderSettings.Type

const Record = <V extends Schema.Schema.Any>(value: V) => Schema.Record({ key: Schema.String, value })

/**
 * What the privacy policy does with PII (see `Privacy` in `@effect-dspy/core`): `off`; `detect` (record the kinds
 * found, change nothing); `mask` (reversible placeholders such as `<EMAIL_1>` for the LM, originals restored in
 * the answer); `redact` (irreversible placeholders); `block` (a typed error naming the kinds, nothing sent).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PrivacyMode = Schema.Literal("off", "detect", "mask", "redact", "block")

/**
 * @since 0.1.0
 * @category models
 */
export type PrivacyMode = typeof PrivacyMode.Type

/** A struct section that may be left out: its defaults are the struct decoded from `{}`. */
const section = <F extends Schema.Struct.Fields>(fields: F) => {
  const struct = Schema.Struct(fields)
  const decode = Schema.decodeUnknownSync(struct as unknown as Schema.Schema<Schema.Struct.Type<F>>)
  return Schema.optionalWith(struct, { default: () => decode({}) })
}

/**
 * A tenant's limits: requests a minute, LM calls and cost (USD) per budget window (default a day), concurrent
 * optimization jobs and stored modules. Left out: no limit.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TenantLimits = Schema.Struct({
  requestsPerMinute: Schema.optional(Schema.Int.pipe(Schema.positive())),
  lmCalls: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  costUsd: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  budgetWindowMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
  concurrentJobs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  maxModules: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})

/**
 * @since 0.1.0
 * @category models
 */
export type TenantLimits = typeof TenantLimits.Type

/**
 * The full configuration. Sections follow the design's `dspy` map, in camelCase.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DSPyConfig = Schema.Struct({
  modules: section({
    defaultLmProvider: Schema.optionalWith(Schema.String, { default: () => "default" }),
    /** The adapter of a module the ModuleManager makes from a spec that names none (`chat`, `json`, `xml`, `two_step`). */
    defaultAdapter: Schema.optionalWith(Schema.Literal("chat", "json", "xml", "two_step"), { default: () => "chat" }),
    cacheEnabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
    cacheTtlMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 3_600_000 }),
    /**
     * The execution memo of the ModuleManager: an execution of a spec module whose every LM call was answered from
     * the cache is remembered (per version, inputs, tenant and end user), and the same inputs are then served
     * without running the program, for at most `cacheTtlMs` and until the cache is cleared or invalidated.
     */
    memoEnabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
    /** How many answers the execution memo keeps, all modules together (the least recently served go first). */
    memoMaxEntries: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 }),
    /** How many versions of each managed module are kept for history and rollback (the oldest go first). */
    maxVersions: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)), { default: () => 50 }),
    /**
     * Traffic policies by module id (`TrafficPolicy.Policy` of the services package: pinned, weighted, canary,
     * shadow, bandit), applied at run time; checked against the module's versions when applied.
     */
    trafficPolicies: Schema.optionalWith(Record(Schema.Unknown), { default: () => ({}) })
  }),
  optimization: section({
    concurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 8 }),
    workers: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 2 }),
    /**
     * The wall-clock limit of every optimization job in ms (a job's `budget.maxWallMs` wins): no unit of LM work
     * starts after it and the job keeps the best program found so far. Unset: no limit.
     */
    maxWallMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
    /** How many score points (Evaluate's 0-100 scale) an optimized program must gain over the serving one on the valset to be swapped in. */
    swapMargin: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1 }),
    /**
     * DSPy's COPRO settings: the OptimizationCoordinator's `copro` (read when a job is queued) and
     * `COPRO.fromConfig` use them.
     */
    copro: section({
      breadth: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThan(1)), { default: () => 10 }),
      depth: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 3 }),
      initTemperature: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1.4 })
    }),
    /** DSPy's BootstrapFewShot settings: the OptimizationCoordinator's `bootstrap_few_shot` (read when a job is queued). */
    bootstrap: section({
      maxBootstrappedDemos: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 4 }),
      maxLabeledDemos: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 16 }),
      maxRounds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1 }),
      maxErrors: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 10 })
    })
  }),
  providers: Schema.optionalWith(Record(ProviderSettings), {
    default: () => ({ default: Schema.decodeUnknownSync(ProviderSettings)({}) })
  }),
  infrastructure: section({
    circuitBreakers: Schema.optionalWith(Record(CircuitBreakerSettings), { default: () => ({}) }),
    rateLimiters: Schema.optionalWith(Record(RateLimiterSettings), { default: () => ({}) }),
    bulkheads: Schema.optionalWith(Record(BulkheadSettings), { default: () => ({}) }),
    pools: Schema.optionalWith(Record(PoolSettings), { default: () => ({}) })
  }),
  /**
   * Latency control (the services package's `AdaptiveTimeout` and the provider pools' hedging). A key's (a
   * provider's, a module's) adaptive deadline is `clamp(quantile(window) * multiplier, floorMs, capMs)` over its
   * last `windowSize` successful latencies, once it has at least `minSamples` of them (before that: none).
   */
  latency: section({
    minSamples: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 20 }),
    windowSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 256 }),
    floorMs: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 10 }),
    capMs: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 30_000 }),
    /** Adaptive timeouts: a provider call running past its deadline fails with `LMTimeout` (off by default). */
    timeouts: section({
      enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
      quantile: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.95 }),
      multiplier: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 3 })
    }),
    /**
     * The longest an execution waits for a swap (or rollback) of its module that was requested and has not
     * landed yet, so it is served by the new version (0: never waits).
     */
    swapWaitMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
    /**
     * Hedged requests: a provider call still running at its deadline sends a second request to the provider's
     * `backup`; the first answer wins and the other is interrupted (its HTTP request aborted). Off by default.
     */
    hedging: section({
      enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
      quantile: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.95 }),
      multiplier: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 1 })
    })
  }),
  /**
   * The privacy policy: `mode` for every LM call, overridden per module (`modules`, by module name) and made
   * stricter per provider (`providers`, by configured provider name); `stores` for what is saved or exported
   * (programs and their demos, release bundles, later stores; default: `mode`, with `mask` as `redact`);
   * `leakage` for PII in an answer that was not in the caller's input; `kinds` limits the built-in detectors;
   * `allow` lists values never treated as PII (`@domain` for a whole e-mail domain); `region` is the phone
   * numbers' default country.
   */
  privacy: section({
    mode: Schema.optionalWith(PrivacyMode, { default: () => "off" }),
    modules: Schema.optionalWith(Record(PrivacyMode), { default: () => ({}) }),
    providers: Schema.optionalWith(Record(PrivacyMode), { default: () => ({}) }),
    stores: Schema.optional(PrivacyMode),
    leakage: Schema.optionalWith(Schema.Literal("off", "flag", "block"), { default: () => "off" }),
    kinds: Schema.optional(Schema.Array(Schema.String)),
    allow: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
    region: Schema.optionalWith(Schema.String.pipe(Schema.length(2)), { default: () => "US" })
  }),
  telemetry: section({
    serviceName: Schema.optionalWith(Schema.String, { default: () => "effect-dspy" }),
    otlpEndpoint: Schema.optional(Schema.String)
  }),
  /**
   * Image and audio inputs (`Media` of `@effect-dspy/core`): whether values may be fetched from URLs (off by
   * default: a URL is fetched only when allowed here), the largest value in bytes, the media types accepted
   * (sniffed from the bytes, never taken from a name or a header) and how long a fetch may take.
   */
  media: section({
    allowUrlFetch: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    maxBytes: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 20 * 1024 * 1024 }),
    allowedTypes: Schema.optionalWith(Schema.Array(Schema.String), {
      default: () => ["image/png", "image/jpeg", "image/gif", "image/webp", "audio/wav", "audio/mpeg"]
    }),
    fetchTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 })
  }),
  events: section({
    maxEvents: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 100_000 }),
    maxAgeMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 86_400_000 })
  }),
  /**
   * Observability (the services package's `Observability`): metric history, alerts, health, resource control.
   * Read when the application starts.
   */
  observe: section({
    enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
    /** The rollup interval and the loop's tick (default one minute; the demo uses one second). */
    intervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 60_000 }),
    /** The metric history's SQLite file (default in memory). */
    filename: Schema.optionalWith(Schema.String, { default: () => ":memory:" }),
    rawRetentionMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 86_400_000 }),
    hourRetentionMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 30 * 86_400_000 }),
    /** How long after start a part not yet up reads as `starting` (not unhealthy). */
    startupGraceMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 30_000 }),
    /** Alert presets to load: seed 000's and seed 004's monitors. */
    presets: Schema.optionalWith(Schema.Array(Schema.Literal("seed000", "seed004")), { default: () => [] }),
    /** A daily LM budget (USD): the budget forecast alert is loaded when given. */
    dailyBudgetUsd: Schema.optional(Schema.Number.pipe(Schema.positive())),
    /** Webhooks that receive every alert (HTTP POST, retried). */
    webhooks: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
    /** Weighted balancing: a primary provider's name -> its peers (the primary is a member too). */
    balancing: Schema.optionalWith(Record(Schema.Array(Schema.String)), { default: () => ({}) }),
    /** The resource controller over the providers' pool sizes, rate limits and the optimization workers. */
    controller: section({
      enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
      cooldownMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 30_000 }),
      maxPoolSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 64 }),
      maxWorkers: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 8 })
    })
  }),
  /**
   * Where the application keeps its state (releases, experiments, optimization jobs and checkpoints): `sqlite`
   * (the default: the files named in the application's options, or memory) or `postgres` (one database at
   * `postgres.url`, shared by every process pointed at it). Read when the application starts.
   */
  storage: section({
    backend: Schema.optionalWith(Schema.Literal("sqlite", "postgres"), { default: () => "sqlite" }),
    postgres: section({
      /** `postgres://user:password@host:port/database` (a secret: it may hold a password). */
      url: Schema.optional(Schema.Redacted(Schema.String)),
      maxConnections: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10 })
    })
  }),
  /**
   * Several processes sharing one PostgreSQL database (`storage.backend: postgres`): how each learns of another's
   * swaps, rollbacks and policy changes (`sync`), and the limits they share (`limits`, `budgets`), read when the
   * application starts; and cluster mode's runners (`effect-dspy serve --cluster`, `@effect-dspy/cluster`) sharing
   * the optimization jobs, read when a runner starts (see docs/deploy.md). Without PostgreSQL these do nothing.
   */
  cluster: section({
    /** Swap propagation: LISTEN/NOTIFY on the database, with a periodic reconciliation as the safety net. */
    sync: section({
      enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
      /** How often every module is compared with the database (a notice lost while disconnected is caught then). */
      reconcileMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5_000 }),
      /** The first wait before the listener reconnects (doubled per failure, at most 30 s). */
      reconnectMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 500 })
    }),
    /**
     * Rate limits (`infrastructure.rateLimiters`, providers' and modules') counted in the database: `limit` calls
     * per `scaleMs` window across every process. Each process takes `lease` calls at a time (fewer round trips).
     */
    limits: section({
      shared: Schema.optionalWith(Schema.Boolean, { default: () => true }),
      lease: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }),
      /** While the database is unreachable: `reject` the calls (typed `RateLimited`), or count them `local`ly. */
      onOutage: Schema.optionalWith(Schema.Literal("reject", "local"), { default: () => "reject" as const })
    }),
    /** Daily (UTC) LM-call and cost budgets of the whole cluster; left out, none. */
    budgets: section({
      dailyLmCalls: Schema.optional(Schema.Int.pipe(Schema.positive())),
      dailyCostUsd: Schema.optional(Schema.Number.pipe(Schema.positive()))
    }),
    /** The address the other runners reach this one at. */
    runnerHost: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
    /** The runner-to-runner port. */
    runnerPort: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 34431 }),
    /** The interface to listen on (default: runnerHost). */
    listenHost: Schema.optional(Schema.String),
    /** Shards per group: the same on every runner. */
    shardsPerGroup: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 64 }),
    shardLockRefreshMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
    shardLockExpirationMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4000 }),
    healthCheckIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
    healthPingTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
    /** Jobs a runner runs at once. */
    jobWorkers: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 2 }),
    /** LM calls a runner's jobs make at once. */
    lmConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 8 }),
    /** Units a job works on at once. */
    jobConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 }),
    /** A job with no unit committed for this long is sent again. */
    jobStallMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 60_000 }),
    /** Examples per shard when a job's evaluations fan out over the runners (0: each job scores its own). */
    scoreShardSize: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 16 })
  }),
  /**
   * Per-tenant limits (see docs/tenants.md): `defaults` for every tenant, `limits` by tenant id over them. A
   * limit left out is no limit; exceeding one is a `TenantLimitExceeded` for that tenant only.
   */
  tenants: section({
    defaults: Schema.optionalWith(TenantLimits, { default: () => ({}) }),
    limits: Schema.optionalWith(Record(TenantLimits), { default: () => ({}) }),
    /**
     * Retention (docs/data-rights.md): per tenant id, how long its data is kept (ms); the application's `retention`
     * process erases what the tenant recorded before that age, every `retentionIntervalMs` (Clock ms).
     */
    retentionMs: Schema.optionalWith(Record(Schema.Int.pipe(Schema.positive())), { default: () => ({}) }),
    retentionIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 3_600_000 })
  })
})

/**
 * The decoded configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type DSPyConfig = typeof DSPyConfig.Type

/**
 * The paths that may be changed while the system runs (a path covers everything below it; `*` matches any one
 * segment, such as a provider name).
 *
 * @since 0.1.0
 * @category constants
 */
export const updatablePaths: ReadonlyArray<string> = [
  "modules.cacheEnabled",
  "modules.cacheTtlMs",
  "modules.memoEnabled",
  "modules.memoMaxEntries",
  "modules.maxVersions",
  "modules.trafficPolicies",
  "optimization",
  "infrastructure.circuitBreakers",
  "infrastructure.rateLimiters",
  "infrastructure.bulkheads",
  "infrastructure.pools",
  "providers.*.poolSize",
  "providers.*.timeoutMs",
  "providers.*.maxResponseBytes",
  "providers.*.streamDeadlineMs",
  "providers.*.maxRetries",
  "providers.*.retryBaseDelayMs",
  "providers.*.retryMaxDelayMs",
  "providers.*.backup",
  "media",
  "latency",
  "events",
  "privacy",
  "tenants"
]
