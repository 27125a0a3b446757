/**
 * The HTTP API (`@effect-dspy/server`) over the supervised application on the simulated LM, auth on.
 *
 * 1. `http_execute_overhead_p50`: one cache-hit execution over HTTP (a keep-alive `node:http` client in this
 *    process, sequential) minus the same execution through `ModuleManager.execute` in process, p50 of each,
 *    interleaved; target <= 250 us.
 * 2. `http_execute_rps_ratio`: cache-hit executions per second over the API (POST /modules/qa/execute with a bearer
 *    key) divided by what a bare `node:http` server returning a fixed JSON body reaches, both served from this
 *    process and loaded by the same client in a separate process (keep-alive, 32 connections, `API_BENCH_MS` each);
 *    target >= 0.5. The absolute figures are printed too, and `in_process_execute_rps` (the same executions through
 *    `ModuleManager.execute`, 32 at a time, no HTTP): the ratio cannot exceed it over the bare server's figure.
 *    What the framework costs is measured beside it with the same loader: `bare_effect_router_rps` (a bare
 *    `HttpRouter` of @effect/platform answering the fixed body) and `bare_effect_router_execute_rps` (the same
 *    router running the execution, no HttpApi, auth or middleware).
 * 3. `sse_fanout_latency_p99`: ms from an event's publication to its arrival at each of 200 subscribers of
 *    `/events/stream` (node:http clients in a separate process), over 50 events; target <= 50 ms.
 * 4. `api_heap_ratio`: heap used after the load phases over heap used before them (after a warm-up that fills the
 *    bounded stores: a load round, then executions until the event store holds its 10,000 events and the loop's
 *    experience store its 10,000 experiences (bounded here like the event store; its default, 50,000, takes about
 *    35 MB to fill); each after a full GC); target <= 1.1.
 */
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, CacheManager, ExperienceStore, ModuleManager } from "@effect-dspy/services"
import { ApiKeys, Server } from "@effect-dspy/server"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as http from "node:http"
import { type Bench, collectGarbage, heapUsed, nowUs, quantile } from "../Harness.js"

const DURATION_MS = Number(process.env.API_BENCH_MS ?? 3000)
const SEQUENTIAL = Number(process.env.API_BENCH_SEQUENTIAL ?? 2000)
const SUBSCRIBERS = 200
const FANOUT_EVENTS = 50
/** The loop's experience store bound here (the default is 50,000): filled by the warm-up, like the event store. */
const EXPERIENCES = 10_000

/** The load generator (a separate process): keep-alive POSTs on N connections for a duration; prints requests/s. */
const loaderSource = `
const http = require("node:http")
const [url, key, body, connections, durationMs] = process.argv.slice(1)
const target = new URL(url)
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) })
let done = 0, failed = 0, running = true
const one = () => new Promise((resolve) => {
  const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent,
    headers: { authorization: "Bearer " + key, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on("end", () => { if (res.statusCode === 200) done++; else failed++; resolve() }) })
  req.on("error", () => { failed++; resolve() })
  req.end(body)
})
const worker = async () => { while (running) await one() }
const started = Date.now()
setTimeout(() => { running = false }, Number(durationMs))
Promise.all(Array.from({ length: Number(connections) }, worker)).then(() => {
  const seconds = (Date.now() - started) / 1000
  process.stdout.write(JSON.stringify({ rps: done / seconds, done, failed }) + "\\n")
  agent.destroy()
})
`

const load = (url: string, key: string, body: string): Promise<{ rps: number; done: number; failed: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", loaderSource, url, key, body, "32", String(DURATION_MS)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
    child.once("error", reject)
    child.once("exit", () => resolve(JSON.parse(out)))
  })

/**
 * The SSE subscribers (a separate process): N connections to the event tail; prints "ready" once every one has
 * its `ready` event, then, after `expected` events each (or 15 s), the latencies in ms (the publisher stamps each
 * event with its wall-clock time, `performance.timeOrigin + performance.now()`, the same clock in both processes).
 */
const subscriberSource = `
const http = require("node:http")
const [url, key, subscribers, expected] = process.argv.slice(1)
const latencies = []
let ready = 0, finished = 0, ended = false
const requests = []
const done = () => {
  if (ended) return
  ended = true
  for (const req of requests) req.destroy()
  process.stdout.write(JSON.stringify({ latencies }) + "\\n")
}
setTimeout(done, 15000).unref()
for (let s = 0; s < Number(subscribers); s++) {
  const req = http.get(url, { headers: { authorization: "Bearer " + key }, agent: false }, (res) => {
    res.setEncoding("utf8")
    let buffer = "", got = 0
    res.on("data", (chunk) => {
      const now = performance.timeOrigin + performance.now()
      buffer += chunk
      let end
      while ((end = buffer.indexOf("\\n\\n")) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (/^event: ready$/m.test(block)) { if (++ready === Number(subscribers)) process.stdout.write("ready\\n") }
        else {
          const data = /^data: (.*)$/m.exec(block)
          if (data === null) continue
          latencies.push(now - JSON.parse(data[1]).data.t)
          if (++got === Number(expected) && ++finished === Number(subscribers)) done()
        }
      }
    })
  })
  requests.push(req)
}
`

const subscribe = (url: string, key: string, publish: () => Promise<void>): Promise<{ latencies: Array<number> }> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["-e", subscriberSource, url, key, String(SUBSCRIBERS), String(FANOUT_EVENTS)],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    let out = ""
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      if (out === "ready\n") publish().catch(reject)
    })
    child.once("error", reject)
    child.once("exit", () => {
      try {
        resolve(JSON.parse(out.slice(out.indexOf("\n") + 1)))
      } catch (e) {
        reject(e)
      }
    })
  })

const post = (agent: http.Agent, url: URL, key: string, body: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body)
        }
      },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }
    )
    req.on("error", reject)
    req.end(body)
  })

const fixedResponse = (text: string) => HttpServerResponse.text(text, { contentType: "application/json" })

/** Serves `handler` at `POST /` on a bare HttpRouter (spans off, as the server runs) while `use` runs. */
const withBareRouter = async <A>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>,
  use: (url: string) => Promise<A>
): Promise<A> => {
  const app = HttpRouter.empty.pipe(HttpRouter.post("/", Effect.orDie(handler)))
  const layer = HttpMiddleware.withTracerDisabledWhen(HttpServer.serve(app), () => true).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => http.createServer({ noDelay: true }), { port: 0, host: "127.0.0.1" }))
  )
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") throw new Error("the bare router is not on TCP")
    return await use(`http://127.0.0.1:${address.port}/`)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const bench: Bench = {
  name: "api",
  description:
    "the HTTP API: execute overhead over in-process, throughput against a bare node:http server, SSE fan-out",
  run: async (report) => {
    const admin = ApiKeys.generate("bench", ["admin"])
    const key = Redacted.value(admin.key)
    // The LM cache is the CacheManager's, as `effect-dspy serve` runs it: every execution after the first is a
    // cache hit. The event store keeps 10,000 events (as the loop and experiments benches do), so the warm-up
    // fills it and the heap ratio measures growth under load, not a bounded store filling up.
    const config = Config.layer({
      env: false,
      defaults: { modules: { cacheEnabled: true }, events: { maxEvents: 10_000 } }
    })
    const foundation = Layer.mergeAll(
      Events.layerConfig,
      Protection.layer,
      Registry.layer,
      CacheManager.layer({ purgeIntervalMs: 0 })
    ).pipe(Layer.provideMerge(config))
    const layer = Server.layer({ port: 0, keys: [admin.entry], rateLimit: false }).pipe(
      Layer.provideMerge(
        Application.layer({ loop: { bounds: { maxCount: EXPERIENCES } } }).pipe(Layer.provideMerge(foundation))
      )
    )
    const scope = Effect.runSync(Scope.make())
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const server = Context.get(context, Server.Server)
    const modules = Context.get(context, ModuleManager.ModuleManager)
    const events = Context.get(context, Events.Events)
    const experiences = Context.get(context, ExperienceStore.ExperienceStore)
    const inputs = { question: "What is the capital of France?" }
    const body = JSON.stringify({ inputs })
    const executeUrl = new URL(`${server.url}/modules/qa/execute`)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      await Effect.runPromise(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
      await Effect.runPromise(modules.execute("qa", inputs))
      // Warm-up (the JIT, the caches, the bounded stores): a load round like the measured one, then sequential
      // calls; then the heap before the load phases.
      const warm = await load(executeUrl.toString(), key, body)
      if (warm.failed > 0) throw new Error(`${warm.failed} API requests failed in the warm-up`)
      for (let i = 0; i < 500; i++) await post(agent, executeUrl, key, body)
      // ... until the event store holds its 10,000 events (each execution publishes a few), so what the heap ratio
      // sees is growth, not the bounded store filling (about 1.5 KB an event).
      for (let i = 0; i < 20_000 && (await Effect.runPromise(events.count)) < 10_000; i++) {
        await post(agent, executeUrl, key, body)
      }
      // ... and until the loop's experience store holds its 10,000 experiences (one an execution, about 0.7 KB
      // each; it is bounded like the event store here, as the loop bench's is).
      const recorded = await Effect.runPromise(Effect.map(experiences.stats, (s) => s.count))
      for (let i = recorded; i < EXPERIENCES + 500; i += 32) {
        await Promise.all(Array.from({ length: 32 }, () => Effect.runPromise(modules.execute("qa", inputs))))
      }
      collectGarbage()
      const heapBefore = heapUsed()

      // 1. Overhead: interleaved sequential calls, p50 of each path.
      const httpUs: Array<number> = []
      const localUs: Array<number> = []
      for (let i = 0; i < SEQUENTIAL; i++) {
        let start = nowUs()
        const status = await post(agent, executeUrl, key, body)
        httpUs.push(nowUs() - start)
        if (status !== 200) throw new Error(`execute over HTTP answered ${status}`)
        start = nowUs()
        await Effect.runPromise(modules.execute("qa", inputs))
        localUs.push(nowUs() - start)
      }
      const httpP50 = quantile(httpUs, 0.5)
      const localP50 = quantile(localUs, 0.5)
      report({
        bench: "api",
        metric: "http_execute_overhead_p50",
        value: httpP50 - localP50,
        unit: "us",
        baseline: localP50,
        ratio: null,
        target: "<= 250 us",
        n: SEQUENTIAL
      })

      // 2. Throughput against a bare node:http server, the same loader in a separate process.
      const fixed = JSON.stringify({ moduleId: "qa", version: 1, output: { fields: { answer: "Paris" } } })
      const bare = http.createServer((req, res) => {
        req.resume()
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(fixed) })
          res.end(fixed)
        })
      })
      await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", () => resolve()))
      const bareAddress = bare.address() as { port: number }
      const bareRun = await load(`http://127.0.0.1:${bareAddress.port}/`, key, body)
      const apiRun = await load(executeUrl.toString(), key, body)
      await new Promise<void>((resolve) => bare.close(() => resolve()))
      if (apiRun.failed > 0) throw new Error(`${apiRun.failed} API requests failed under load`)
      // What the framework itself costs: a bare HttpRouter of @effect/platform (no HttpApi, no auth, no middleware,
      // no spans, as the server runs), answering the fixed body, then running the same execution.
      const routerRun = await withBareRouter(
        Effect.as(HttpServerRequest.HttpServerRequest.pipe(Effect.flatMap((r) => r.json)), fixedResponse(fixed)),
        (url) => load(url, key, body)
      )
      const routerExecuteRun = await withBareRouter(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => r.json).pipe(
          Effect.flatMap((json) => modules.execute("qa", (json as { inputs: unknown }).inputs)),
          Effect.map((execution) => fixedResponse(JSON.stringify(execution)))
        ),
        (url) => load(url, key, body)
      )
      report({ bench: "api", metric: "http_execute_rps", value: apiRun.rps, unit: "req/s", baseline: bareRun.rps })
      report({ bench: "api", metric: "bare_node_http_rps", value: bareRun.rps, unit: "req/s" })
      report({
        bench: "api",
        metric: "bare_effect_router_rps",
        value: routerRun.rps,
        unit: "req/s",
        baseline: bareRun.rps
      })
      report({
        bench: "api",
        metric: "bare_effect_router_execute_rps",
        value: routerExecuteRun.rps,
        unit: "req/s",
        baseline: bareRun.rps
      })
      // The ceiling of the ratio: the same executions in process, 32 at a time, no HTTP at all.
      let inProcess = 0
      const inProcessEnd = Date.now() + DURATION_MS
      const inProcessStart = Date.now()
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (Date.now() < inProcessEnd) {
            await Effect.runPromise(modules.execute("qa", inputs))
            inProcess++
          }
        })
      )
      const inProcessRps = inProcess / ((Date.now() - inProcessStart) / 1000)
      report({
        bench: "api",
        metric: "in_process_execute_rps",
        value: inProcessRps,
        unit: "req/s",
        baseline: bareRun.rps
      })
      report({
        bench: "api",
        metric: "http_execute_rps_ratio",
        value: apiRun.rps / bareRun.rps,
        unit: "x",
        baseline: 1,
        target: ">= 0.5"
      })

      // 3. SSE fan-out: 200 subscribers in a separate process, 50 events; latency from publication to each arrival.
      let fanoutCpu: NodeJS.CpuUsage | undefined
      const fanout = await subscribe(`${server.url}/events/stream?types=bench_fanout`, key, async () => {
        fanoutCpu = process.cpuUsage()
        for (let n = 0; n < FANOUT_EVENTS; n++) {
          await Effect.runPromise(
            events.publish({ type: "bench_fanout", data: { n, t: performance.timeOrigin + performance.now() } })
          )
          await new Promise((r) => setTimeout(r, 20))
        }
      })
      const fanoutUsage = process.cpuUsage(fanoutCpu)
      const latencies = fanout.latencies
      if (latencies.length < SUBSCRIBERS * FANOUT_EVENTS) {
        throw new Error(`SSE fan-out lost events: ${latencies.length} of ${SUBSCRIBERS * FANOUT_EVENTS} arrived`)
      }
      report({
        bench: "api",
        metric: "sse_fanout_latency_p99",
        value: quantile(latencies, 0.99),
        unit: "ms",
        target: "<= 50 ms",
        n: latencies.length
      })

      // The server's CPU for it (this process: publishing, fan-out, writes), per delivery: less sensitive to the
      // machine's load than the latency.
      report({
        bench: "api",
        metric: "sse_fanout_cpu_per_delivery",
        value: (fanoutUsage.user + fanoutUsage.system) / latencies.length,
        unit: "us",
        n: latencies.length
      })

      // 4. Heap after the load phases.
      await new Promise((r) => setTimeout(r, 200))
      collectGarbage()
      const heapAfter = heapUsed()
      report({
        bench: "api",
        metric: "api_heap_ratio",
        value: heapAfter / heapBefore,
        unit: "x",
        baseline: 1,
        target: "<= 1.1"
      })
    } finally {
      agent.destroy()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export default bench
