/** A server on loopback over a real application on the simulated LM, for the tests. */
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, type LMProviders, type Loop, type ModuleManager, type Observability } from "@effect-dspy/services"
import { SimLM, SimLatency } from "@effect-dspy/sim"
import { RunStore, WorkflowEngine, WorkflowTools } from "@effect-dspy/workflows"
import { LMError, type Provider } from "@effect-dspy/core"
import * as http from "node:http"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Api, ApiKeys, Server, Sse } from "../src/index.js"

/** A switch in front of a provider: while on, every call fails with a 503. */
export interface Outage {
  readonly set: (provider: string, down: boolean) => void
  readonly wrap: (name: string, provider: Provider.Provider) => Provider.Provider
}

export const makeOutage = (): Outage => {
  const down = new Set<string>()
  const fault = (name: string) =>
    Effect.suspend(() =>
      down.has(name)
        ? Effect.fail(new LMError.LMServerError({ provider: name, status: 503, message: `${name}: injected outage` }))
        : Effect.void
    )
  return {
    set: (provider, on) => void (on ? down.add(provider) : down.delete(provider)),
    wrap: (name, provider) => ({
      ...provider,
      complete: (request) => Effect.zipRight(fault(name), provider.complete(request)),
      stream: (request) => Stream.unwrap(Effect.as(fault(name), provider.stream(request)))
    })
  }
}

export interface Harness {
  readonly url: string
  readonly server: Server.Service
  readonly keys: { readonly admin: string; readonly reader: string; readonly executor: string }
  readonly outage: Outage
  readonly context: Context.Context<
    | Server.Server
    | Application.Application
    | Events.Events
    | Observability.Observability
    | Loop.Loop
    | ModuleManager.ModuleManager
  >
}

export interface HarnessOptions extends Partial<Omit<Server.Options, "keys">> {
  readonly latencyMs?: number
  /** The loop's feedback window (default the loop's own). */
  readonly feedbackWindowMs?: number
  /** Observability's rollup interval and tick (default the config's). */
  readonly observeIntervalMs?: number
  /** Builds a `WorkflowEngine` (in-memory run store, no tools) under the server. */
  readonly workflows?: boolean
  /** More keys (e.g. of tenants) besides the admin, reader and executor keys. */
  readonly extraKeys?: ReadonlyArray<ApiKeys.Entry>
}

/** The application (primary `sim` with backup `sim_backup`) and the server on a free loopback port. */
export const start = (options: HarnessOptions = {}): Effect.Effect<Harness, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const admin = ApiKeys.generate("admin", ["admin"])
    const reader = ApiKeys.generate("reader", ["read"])
    const executor = ApiKeys.generate("executor", ["execute"])
    const outage = makeOutage()
    const factory: LMProviders.ProviderFactory = (name, settings) =>
      Effect.sync(() =>
        outage.wrap(
          name,
          SimLM.make({
            name,
            seed: 1,
            model: settings.defaultModel,
            ...(options.latencyMs === undefined ? {} : { latency: SimLatency.fixed(options.latencyMs) })
          })
        )
      )
    const config = Config.layer({
      env: false,
      defaults: {
        modules: { defaultLmProvider: "sim", cacheEnabled: true },
        providers: {
          sim: { kind: "simulated", defaultModel: "sim-small", backup: "sim_backup", maxRetries: 0 },
          sim_backup: { kind: "simulated", defaultModel: "sim-small", maxRetries: 0 }
        },
        infrastructure: { circuitBreakers: { lm_provider_sim: { failureThreshold: 3, recoveryTimeMs: 500 } } },
        ...(options.observeIntervalMs === undefined ? {} : { observe: { intervalMs: options.observeIntervalMs } })
      }
    })
    const foundation = Layer.mergeAll(Events.layerConfig, Protection.layer, Registry.layer).pipe(
      Layer.provideMerge(config)
    )
    const app = Application.layer({
      providerFactory: factory,
      shutdownGracePeriod: "2 seconds",
      ...(options.feedbackWindowMs === undefined ? {} : { loop: { feedbackWindowMs: options.feedbackWindowMs } })
    }).pipe(Layer.provideMerge(foundation))
    const {
      latencyMs: _latency,
      feedbackWindowMs: _window,
      observeIntervalMs: _interval,
      workflows,
      extraKeys,
      ...rest
    } = options
    const layer = Server.layer({
      port: 0,
      keys: [admin.entry, reader.entry, executor.entry, ...(extraKeys ?? [])],
      ...rest
    }).pipe(
      Layer.provideMerge(
        workflows === true
          ? WorkflowEngine.layer.pipe(
              Layer.provide(Layer.mergeAll(RunStore.layerMemory, WorkflowTools.layerEmpty)),
              Layer.provideMerge(app)
            )
          : app
      )
    )
    const context = yield* Layer.build(layer)
    const server = Context.get(context, Server.Server)
    return {
      url: server.url,
      server,
      outage,
      context: context as Context.Context<
        | Server.Server
        | Application.Application
        | Events.Events
        | Observability.Observability
        | Loop.Loop
        | ModuleManager.ModuleManager
      >,
      keys: {
        admin: Redacted.value(admin.key),
        reader: Redacted.value(reader.key),
        executor: Redacted.value(executor.key)
      }
    }
  })

/** A typed client of the API, authenticating with `key` (none: no credential). */
export const client = (url: string, key?: string) =>
  HttpApiClient.make(Api.Api, {
    baseUrl: url,
    transformClient: (c) =>
      key === undefined ? c : HttpClient.mapRequest(c, HttpClientRequest.setHeader("authorization", `Bearer ${key}`))
  }).pipe(Effect.provide(FetchHttpClient.layer))

/** The SSE events of a GET, as they arrive (through `HttpClient` and the SSE parser). */
export const sse = (url: string, headers: Record<string, string>): Stream.Stream<Sse.Event, unknown> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const http = yield* HttpClient.HttpClient
      const response = yield* http.execute(HttpClientRequest.get(url, { headers }))
      if (response.status !== 200) return yield* Effect.fail(new Error(`SSE ${url}: status ${response.status}`))
      let pending: Array<Sse.Event> = []
      const parser = Sse.makeParser((event) => pending.push(event))
      return response.stream.pipe(
        Stream.decodeText(),
        Stream.mapConcat((chunk) => {
          parser.feed(chunk)
          const out = pending
          pending = []
          return out
        })
      )
    })
  ).pipe(Stream.provideLayer(FetchHttpClient.layer))

/**
 * Collects `count` events of type `type` from a GET on a plain `node:http` connection (the load test's many
 * subscribers: cheaper per message than a web stream).
 */
export const collectSse = (
  url: string,
  headers: Record<string, string>,
  type: string,
  count: number,
  onReady: () => void
): Effect.Effect<ReadonlyArray<Sse.Event>, Error> =>
  Effect.async<ReadonlyArray<Sse.Event>, Error>((resume) => {
    const out: Array<Sse.Event> = []
    let done = false
    const request = http.get(url, { headers, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        done = true
        resume(Effect.fail(new Error(`SSE ${url}: status ${response.statusCode}`)))
        response.resume()
        return
      }
      response.setEncoding("utf8")
      const parser = Sse.makeParser((e) => {
        if (e.event === "ready") onReady()
        else if (e.event === type && out.length < count) out.push(e)
      })
      response.on("data", (chunk: string) => {
        parser.feed(chunk)
        if (!done && out.length >= count) {
          done = true
          request.destroy()
          resume(Effect.succeed(out))
        }
      })
      response.on("end", () => {
        if (!done) {
          done = true
          resume(Effect.fail(new Error(`SSE ${url} ended after ${out.length} of ${count} events`)))
        }
      })
    })
    request.on("error", (error) => {
      if (!done) {
        done = true
        resume(Effect.fail(error))
      }
    })
    return Effect.sync(() => request.destroy())
  })

/** A POST of JSON on a `node:http` agent; resolves with the status and the parsed body. */
export const postJson = (
  agent: http.Agent,
  url: string,
  headers: Record<string, string>,
  body: unknown
): Effect.Effect<{ readonly status: number; readonly body: unknown }, Error> =>
  Effect.async((resume) => {
    const text = JSON.stringify(body)
    const target = new URL(url)
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent,
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) }
      },
      (response) => {
        let data = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (data += chunk))
        response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, body: JSON.parse(data) })))
      }
    )
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end(text)
  })
