/**
 * `effect-dspy serve`: the application over HTTP (the API, OpenAPI at `/openapi.json`, docs at `/docs`, the
 * dashboard at `/dashboard/`), started from a config file (YAML or JSON, plus the environment, as Config layers
 * them), with API keys from a key file (`--keys FILE`, else `EFFECT_DSPY_API_KEYS_FILE`; make one with
 * `effect-dspy keys new`). SIGINT or SIGTERM shuts it down gracefully: new requests get 503, the requests in flight
 * finish (up to `--grace` seconds), the SSE streams end, then the application's tree stops; the exit code is 0.
 *
 * @since 0.1.0
 */
import { ClusterConfig, ClusterCoordinator, Runner } from "@effect-dspy/cluster"
import { Config } from "@effect-dspy/foundation"
import { Application } from "@effect-dspy/services"
import { ApiKeys, Server } from "@effect-dspy/server"
import { RunStore, WorkflowEngine, WorkflowTools } from "@effect-dspy/workflows"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { ServeFailed } from "../CliError.js"

/**
 * What `serve` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  readonly config: Option.Option<string>
  readonly keys: Option.Option<string>
  readonly port: number
  readonly host: string
  readonly rateLimit: number
  readonly maxBodyBytes: number
  readonly corsOrigin: ReadonlyArray<string>
  readonly noDashboard: boolean
  readonly grace: number
  readonly releases: Option.Option<string>
  /** The workflow run database (runs resume after a restart); default in memory. */
  readonly runs?: Option.Option<string>
  readonly json: boolean
  readonly secureCookies: boolean
  /**
   * Also run a cluster runner (`@effect-dspy/cluster`): needs `storage.backend: postgres`; its settings are Config
   * `cluster.*`. The API's jobs (`/jobs`) are then the cluster's: any runner may run them, and one that dies hands
   * them over from their checkpoints.
   */
  readonly cluster?: boolean
}

/**
 * Reads a key file (`{"version":1,"keys":[{"id","sha256","scopes"}]}`).
 *
 * @since 0.1.0
 * @category keys
 */
export const readKeys = (file: string): Effect.Effect<ReadonlyArray<ApiKeys.Entry>, ServeFailed> =>
  Effect.try({
    try: () => JSON.parse(fs.readFileSync(file, "utf8")) as unknown,
    catch: (cause) =>
      new ServeFailed({
        message: `the key file ${file} cannot be read as JSON (${String(cause)}); make one with \`effect-dspy keys new\``
      })
  }).pipe(
    Effect.flatMap((json) =>
      Effect.mapError(
        Schema.decodeUnknown(ApiKeys.KeyFile)(json),
        (error) => new ServeFailed({ message: `the key file ${file} is invalid: ${error.message}` })
      )
    ),
    Effect.map((file) => file.keys)
  )

/** The workflow engine under the server (no tools: those are registered in code), its runs in SQLite or memory. */
const workflowEngine = (runs: Option.Option<string>) =>
  WorkflowEngine.layer.pipe(
    Layer.provide(
      Layer.mergeAll(
        Option.match(runs, { onNone: () => RunStore.layerMemory, onSome: RunStore.layerSqlite }),
        WorkflowTools.layerEmpty
      )
    )
  )

/**
 * The cluster runner beside the application (`serve --cluster`): on the application's PostgreSQL database, with
 * the application's LM and Config (`cluster.*`).
 */
const clusterRunner = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* (yield* Config.Config).current
    const url = config.storage.postgres.url
    if (config.storage.backend !== "postgres" || url === undefined) {
      return yield* new ServeFailed({
        message:
          "--cluster needs the runners' shared database: set storage.backend to postgres and storage.postgres.url (EFFECT_DSPY__STORAGE__BACKEND=postgres, EFFECT_DSPY__STORAGE__POSTGRES__URL=postgres://...); see docs/deploy.md"
      })
    }
    const settings = ClusterConfig.fromConfig(config)
    if (settings._tag === "Left") return yield* new ServeFailed({ message: settings.left.message })
    // The coordinator the API uses becomes the cluster's jobs (in place of the application's own).
    return ClusterCoordinator.layer({ workers: settings.right.jobWorkers }).pipe(
      Layer.provideMerge(
        Runner.layer({ url, maxConnections: config.storage.postgres.maxConnections, settings: settings.right })
      )
    )
  })
)

/**
 * Serves until interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = (options: ServeOptions): Effect.Effect<void, ServeFailed> =>
  Effect.gen(function* () {
    const keyFile = Option.orElse(options.keys, () => Option.fromNullable(process.env["EFFECT_DSPY_API_KEYS_FILE"]))
    if (Option.isNone(keyFile)) {
      return yield* new ServeFailed({
        message: "no API keys: give --keys FILE (or EFFECT_DSPY_API_KEYS_FILE); make one with `effect-dspy keys new`"
      })
    }
    const keys = yield* readKeys(keyFile.value)
    // The LM caches through the CacheManager (config `modules.cacheEnabled`, on by default).
    const app = Application.layerDefault({
      cache: true,
      ...Option.match(options.config, { onNone: () => ({}), onSome: (file) => ({ config: { file } }) }),
      ...Option.match(options.releases, { onNone: () => ({}), onSome: (filename) => ({ releases: { filename } }) })
    })
    const engine = Layer.provideMerge(workflowEngine(options.runs ?? Option.none()), app)
    // In cluster mode the runner's coordinator is merged last, so the server's OptimizationCoordinator is it.
    const deps = options.cluster === true ? Layer.merge(engine, Layer.provide(clusterRunner, app)) : engine
    const served = Server.layer({
      port: options.port,
      host: options.host,
      keys,
      rateLimit: options.rateLimit <= 0 ? false : { limit: options.rateLimit, scaleMs: 60_000 },
      maxBodyBytes: options.maxBodyBytes,
      ...(options.corsOrigin.length === 0 ? {} : { cors: { allowedOrigins: options.corsOrigin } }),
      dashboard: !options.noDashboard,
      shutdownGracePeriod: `${options.grace} seconds`,
      secureCookies: options.secureCookies
    }).pipe(Layer.provide(deps))
    yield* Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(served)
        const server = Context.get(context, Server.Server)
        yield* options.json
          ? Console.log(JSON.stringify({ url: server.url, dashboard: `${server.url}/dashboard/`, keys: keys.length }))
          : Console.error(
              `effect-dspy serving on ${server.url} (dashboard ${server.url}/dashboard/, API docs ${server.url}/docs); Ctrl-C stops it`
            )
        return yield* Effect.never
      })
    ).pipe(
      Effect.mapError(
        (error) =>
          new ServeFailed({
            message: `the server did not start: ${
              typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
            }`
          })
      )
    )
  })

/**
 * The `serve` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "serve",
  {
    config: Options.file("config", { exists: "yes" }).pipe(
      Options.withDescription("The application's config file (JSON, or YAML); default EFFECT_DSPY_CONFIG"),
      Options.optional
    ),
    keys: Options.file("keys", { exists: "yes" }).pipe(
      Options.withDescription("The API key file (default EFFECT_DSPY_API_KEYS_FILE); see `effect-dspy keys new`"),
      Options.optional
    ),
    port: Options.integer("port").pipe(
      Options.withDescription("The port (0: any free one)"),
      Options.withDefault(8080)
    ),
    host: Options.text("host").pipe(
      Options.withDescription("The interface to listen on (put a TLS proxy in front of anything but loopback)"),
      Options.withDefault("127.0.0.1")
    ),
    rateLimit: Options.integer("rate-limit").pipe(
      Options.withDescription("Requests a minute per key (0: no limit)"),
      Options.withDefault(1200)
    ),
    maxBodyBytes: Options.integer("max-body-bytes").pipe(
      Options.withDescription("The largest request body"),
      Options.withDefault(1024 * 1024)
    ),
    corsOrigin: Options.text("cors-origin").pipe(
      Options.withDescription("An origin allowed cross-origin requests (repeatable; none by default)"),
      Options.repeated
    ),
    noDashboard: Options.boolean("no-dashboard").pipe(Options.withDescription("Do not serve the dashboard")),
    grace: Options.integer("grace").pipe(
      Options.withDescription("Seconds the requests in flight get at shutdown"),
      Options.withDefault(10)
    ),
    releases: Options.file("releases").pipe(
      Options.withDescription("The release database (module versions survive a restart); default in memory"),
      Options.optional
    ),
    runs: Options.file("runs").pipe(
      Options.withDescription("The workflow run database (interrupted runs resume after a restart); default in memory"),
      Options.optional
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the address as one JSON line on stdout")),
    secureCookies: Options.boolean("secure-cookies").pipe(
      Options.withDescription("Mark the session cookie Secure (behind a TLS-terminating proxy)")
    ),
    cluster: Options.boolean("cluster").pipe(
      Options.withDescription(
        "Also run a cluster runner sharing the optimization jobs with the other runners on the same PostgreSQL (config cluster.*; see docs/deploy.md)"
      )
    )
  },
  serve
).pipe(Command.withDescription("Serves the application over HTTP (API, OpenAPI, dashboard) until interrupted"))
