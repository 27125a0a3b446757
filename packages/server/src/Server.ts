/**
 * The HTTP server of an effect-dspy application: the {@link Api} (OpenAPI at `/openapi.json`, a docs page at
 * `/docs`), the dashboard at `/dashboard/`, API keys with scopes, per-key rate limits, body and field size limits,
 * no CORS unless asked for, and a graceful shutdown: the gate closes (new requests get 503, readiness fails), the
 * requests in flight finish (up to `shutdownGracePeriod`), the SSE streams end, the listener closes, and then the
 * application's tree stops (it is built before the server, so it is released after it). TLS is left to a reverse
 * proxy (see `docs/server.md`).
 *
 * @example
 * ```ts
 * import { Application } from "@effect-dspy/services"
 * import { ApiKeys, Server } from "@effect-dspy/server"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 *
 * const { key, entry } = ApiKeys.generate("ops", ["admin"])
 * const program = Effect.gen(function* () {
 *   const server = yield* Server.Server
 *   const response = yield* Effect.promise(() =>
 *     fetch(`${server.url}/modules`, { headers: { authorization: `Bearer ${Redacted.value(key)}` } })
 *   )
 *   return response.status // 200
 * }).pipe(Effect.provide(Server.layer({ port: 0, keys: [entry] }).pipe(Layer.provide(Application.layerDefault()))))
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import { type Config, Events, Subject } from "@effect-dspy/foundation"
import type {
  Application,
  Experiments,
  LMProviders,
  Loop,
  Observability,
  OptimizationCoordinator,
  ReleaseStore
} from "@effect-dspy/services"
import * as FileSystem from "@effect/platform/FileSystem"
import { ModuleManager, Tenants } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpApiScalar from "@effect/platform/HttpApiScalar"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as http from "node:http"
import { Api } from "./Api.js"
import type * as ApiKeys from "./ApiKeys.js"
import * as Auth from "./Auth.js"
import * as assets from "./internal/assets.js"
import { Broadcaster } from "./internal/broadcast.js"
import * as FastExecute from "./internal/fastExecute.js"
import { Gate } from "./internal/gate.js"
import * as headers from "./internal/headers.js"
import * as alertHandlers from "./internal/handlers/alerts.js"
import * as authHandlers from "./internal/handlers/auth.js"
import { BroadcasterTag, GateTag, SettingsTag } from "./internal/handlers/context.js"
import * as dataRightsHandlers from "./internal/handlers/dataRights.js"
import * as historyHandlers from "./internal/handlers/history.js"
import * as jobHandlers from "./internal/handlers/jobs.js"
import * as loopHandlers from "./internal/handlers/loop.js"
import * as moduleHandlers from "./internal/handlers/modules.js"
import * as systemHandlers from "./internal/handlers/system.js"
import * as workflowHandlers from "./internal/handlers/workflows.js"

/**
 * Options of the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The port (default 8080; 0: any free port). */
  readonly port?: number
  /** The interface (default `127.0.0.1`; `0.0.0.0` to listen on every interface, behind a proxy). */
  readonly host?: string
  /** The API keys (their digests). With none, every authenticated endpoint answers 401. */
  readonly keys: ReadonlyArray<ApiKeys.Entry>
  /** Each key's rate limit (default 1200 requests a minute); `false`: none. */
  readonly rateLimit?: { readonly limit: number; readonly scaleMs: number } | false
  /** The listen backlog: connections the kernel queues before they are accepted (default 2048; Node's is 511). */
  readonly backlog?: number
  /** The largest request body, in bytes (default 1 MiB): a larger one gets 413. */
  readonly maxBodyBytes?: number
  /** Cross-origin requests: off unless origins are given. */
  readonly cors?: { readonly allowedOrigins: ReadonlyArray<string> }
  /** Serve the dashboard at `/dashboard/` (default true). */
  readonly dashboard?: boolean
  /** How long requests in flight get at shutdown (default 10 s). */
  readonly shutdownGracePeriod?: Duration.DurationInput
  /** How long a dashboard session lasts (default 8 hours). */
  readonly sessionTtl?: Duration.DurationInput
  /** How long a short-lived token lasts (default 5 minutes). */
  readonly tokenTtl?: Duration.DurationInput
  /** Mark the session cookie `Secure` (set it when a TLS proxy fronts the server; default false). */
  readonly secureCookies?: boolean
  /**
   * Open a server span per request (`http.server POST`, with its attributes; default false). The application's own
   * spans (executions, LM calls) are there either way; a span per request costs about a tenth of a cache hit.
   */
  readonly traceRequests?: boolean
  /**
   * Answer `POST /modules/{id}/execute` from the listener's fast path (default true): the same authentication,
   * schemas, handler and responses as the HttpApi app, without the platform's per-request machinery. `false`,
   * `traceRequests` or `cors` sends every request through the HttpApi app.
   */
  readonly fastPath?: boolean
}

/**
 * The running server: where it listens, the requests and SSE streams open, and its drain.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly host: string
  readonly port: number
  /** `http://host:port`. */
  readonly url: string
  readonly inFlight: Effect.Effect<{ readonly requests: number; readonly sse: number }>
  /** Closes the gate and waits for the requests in flight (also run when the server's scope closes). */
  readonly drain: Effect.Effect<{ readonly abandoned: number }>
}

/**
 * The running server's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Server extends Context.Tag("@effect-dspy/server/Server")<Server, Service>() {}

/**
 * The services of the application the server needs (what `Application.layer` provides, with Config and Events).
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements =
  | Application.Application
  | ModuleManager.ModuleManager
  | LMProviders.LMProviders
  | OptimizationCoordinator.OptimizationCoordinator
  | Experiments.Experiments
  | ReleaseStore.ReleaseStore
  | Loop.Loop
  | Observability.Observability
  | Events.Events
  | Config.Config

const jsonError = (status: number, tag: string, message: string) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status })

const securityHeaders = HttpServerResponse.setHeaders(headers.securityHeaders)

const dashboardRoutes = (enabled: boolean) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function* () {
      if (!enabled) return
      const files = assets.load()
      const csp = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'"
      const serve = (name: string) => {
        const asset = files.get(name)
        return asset === undefined
          ? jsonError(404, "NotFound", `no dashboard file ${JSON.stringify(name)}`)
          : HttpServerResponse.uint8Array(asset.body, {
              contentType: asset.contentType,
              headers: { "content-security-policy": csp, "cache-control": "no-cache" }
            })
      }
      yield* router.get("/", Effect.succeed(HttpServerResponse.redirect("/dashboard/", { status: 302 })))
      // The router ignores a trailing slash: this is `/dashboard` and `/dashboard/`.
      yield* router.get(
        "/dashboard/",
        Effect.sync(() => serve("index.html"))
      )
      yield* router.get(
        "/dashboard/*",
        Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
          const url = new URL(request.url, "http://localhost")
          return serve(decodeURIComponent(url.pathname.slice("/dashboard/".length)))
        })
      )
    })
  )

/**
 * The server as a layer over a running application: it listens when built and drains, then closes, when its
 * scope closes (before the application's tree stops).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Server, HttpServerError.ServeError, Requirements> => {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024
  const grace = Duration.decode(options.shutdownGracePeriod ?? "10 seconds")
  return Layer.unwrapScoped(
    Effect.gen(function* () {
      const gate = yield* Gate.make
      // Released after the listener (built in this scope before it): the SSE clients have ended by then.
      const broadcaster = yield* Broadcaster.make(yield* Events.Events, gate)
      // Per-tenant request limits, when the application provides them.
      const tenants = yield* Effect.serviceOption(Tenants.Tenants)
      const credentials = yield* Auth.make({
        keys: options.keys,
        tenantLimit: Option.isSome(tenants) ? tenants.value.admitRequest : undefined,
        rateLimit: options.rateLimit === false ? undefined : (options.rateLimit ?? { limit: 1200, scaleMs: 60_000 })
      })
      const settings = {
        sessionTtlMs: Duration.toMillis(options.sessionTtl ?? "8 hours"),
        tokenTtlMs: Duration.toMillis(options.tokenTtl ?? "5 minutes"),
        secureCookies: options.secureCookies ?? false
      }
      const shared = Layer.mergeAll(
        Layer.succeed(GateTag, gate),
        Layer.succeed(BroadcasterTag, broadcaster),
        Layer.succeed(SettingsTag, settings),
        Layer.succeed(Auth.Credentials, credentials)
      )
      const handlers = Layer.mergeAll(
        moduleHandlers.layer,
        jobHandlers.layer,
        systemHandlers.layer,
        authHandlers.layer,
        authHandlers.probes,
        loopHandlers.layer,
        historyHandlers.layer,
        alertHandlers.layer,
        workflowHandlers.layer,
        dataRightsHandlers.layer
      ).pipe(Layer.provide(Auth.layerAuthentication))
      const api = HttpApiBuilder.api(Api).pipe(Layer.provide(handlers))
      // Per request: the gate's checks, then the app; no generator, no context copy (the body limit is the
      // server's, provided once below).
      const unavailable = securityHeaders(jsonError(503, "Unavailable", "the server is shutting down; retry elsewhere"))
      const tooLarge = securityHeaders(
        jsonError(413, "PayloadTooLarge", `the request body is larger than ${maxBody} bytes`)
      )
      const leave = Effect.sync(() => gate.leave())
      const badSubject = securityHeaders(
        jsonError(400, "BadRequest", "the x-subject header must be an end-user key of 1 to 512 characters")
      )
      // The platform writes the response inside the app (before a middleware could map it): the security headers
      // go on through a pre-response handler, defects' responses included.
      const withHeaders = (_: unknown, response: HttpServerResponse.HttpServerResponse) =>
        Effect.succeed(securityHeaders(response))
      const gateMiddleware = HttpMiddleware.make((app) => {
        const guard = (inner: typeof app) =>
          HttpApp.withPreResponseHandler(inner, withHeaders).pipe(
            Effect.catchAllDefect(() => Effect.succeed(jsonError(500, "InternalError", "internal error"))),
            Effect.ensuring(leave)
          )
        const guarded = guard(app)
        return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          if (gate.stopping) return Effect.succeed(unavailable)
          const length = request.headers["content-length"]
          if (length !== undefined && Number(length) > maxBody) return Effect.succeed(tooLarge)
          // The end user a request acts for (`x-subject`): what it records is kept under them (docs/data-rights.md).
          const subject = request.headers["x-subject"]
          if (subject !== undefined && (subject.length === 0 || subject.length > 512)) return Effect.succeed(badSubject)
          gate.enter()
          return subject === undefined ? guarded : guard(Subject.withSubject(app, subject))
        })
      })
      const cors =
        options.cors === undefined
          ? Layer.empty
          : HttpApiBuilder.middlewareCors({
              allowedOrigins: options.cors.allowedOrigins,
              credentials: true,
              allowedHeaders: ["authorization", "content-type", "last-event-id", "x-subject"]
            })
      // The hottest endpoint, POST /modules/{id}/execute, has a fast path in the listener; every other request (and
      // every one while requests are traced or CORS is on) goes to the HttpApi app (internal/fastExecute.ts says what
      // it takes).
      const fast =
        options.traceRequests === true || options.cors !== undefined || options.fastPath === false
          ? undefined
          : FastExecute.make({
              gate,
              credentials,
              modules: yield* ModuleManager.ModuleManager,
              maxBodyBytes: maxBody,
              runtime: yield* Effect.runtime<never>()
            })
      let platform: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined
      // No Nagle delay on responses.
      const nodeServer = http.createServer({ noDelay: true }, (req, res) => {
        if (fast?.(req, res) === true) return
        if (platform !== undefined) return platform(req, res)
        res.writeHead(503)
        res.end()
      })
      // The platform's listener (it owns the socket: listen, then close at release) whose `serve` installs the
      // app's handler behind the fast path instead of on the socket.
      const listener = Layer.scoped(
        HttpServer.HttpServer,
        Effect.map(
          NodeHttpServer.make(() => nodeServer, {
            port: options.port ?? 8080,
            host: options.host ?? "127.0.0.1",
            backlog: options.backlog ?? 2048
          }),
          (base) =>
            HttpServer.make({
              address: base.address,
              serve: (app, middleware) =>
                Effect.flatMap(
                  NodeHttpServer.makeHandler(app, middleware as HttpMiddleware.HttpMiddleware),
                  (handler) =>
                    Effect.acquireRelease(
                      Effect.sync(() => {
                        platform = handler
                      }),
                      () =>
                        Effect.sync(() => {
                          platform = undefined
                        })
                    )
                )
            })
        )
      ).pipe(Layer.merge(NodeHttpServer.layerContext))
      const http_ = HttpApiBuilder.serve(gateMiddleware).pipe(
        Layer.provide(dashboardRoutes(options.dashboard ?? true)),
        Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
        Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
        Layer.provide(cors),
        Layer.provide(api),
        Layer.provide(shared),
        Layer.provide(Layer.succeed(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(maxBody)))),
        Layer.provideMerge(listener)
      )
      // Built after the listener, so released before it: drain, then the listener closes.
      const service = Layer.scoped(
        Server,
        Effect.gen(function* () {
          const server = yield* HttpServer.HttpServer
          const address = server.address
          const host = address._tag === "TcpAddress" ? address.hostname : "unix"
          const port = address._tag === "TcpAddress" ? address.port : 0
          const drain = gate.drain(grace)
          yield* Effect.addFinalizer(() => drain)
          return {
            host,
            port,
            url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
            inFlight: Effect.sync(() => ({ requests: gate.inFlight, sse: gate.sse })),
            drain
          }
        })
      )
      const served = options.traceRequests === true ? http_ : HttpMiddleware.withTracerDisabledWhen(http_, () => true)
      return service.pipe(Layer.provide(served))
    })
  )
}
