import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, CacheManager, ModuleManager } from "@effect-dspy/services"
import { ApiKeys, Server } from "@effect-dspy/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as http from "node:http"
const admin = ApiKeys.generate("bench", ["admin"])
const key = Redacted.value(admin.key)
const config = Config.layer({ env: false, defaults: { modules: { cacheEnabled: true }, events: { maxEvents: 10_000 } } })
const foundation = Layer.mergeAll(Events.layerConfig, Protection.layer, Registry.layer, CacheManager.layer({ purgeIntervalMs: 0 })).pipe(Layer.provideMerge(config))
import * as Supervisor from "effect/Supervisor"
import * as RuntimeFlags from "effect/RuntimeFlags"
const keys = new Map(); let ops = 0, counting = false
const fn = (f) => typeof f === "function" ? f.toString().replace(/\s+/g, " ").slice(0, 120) : String(f?.key ?? f?._op ?? typeof f).slice(0, 60)
class Counter extends Supervisor.AbstractSupervisor { get value() { return Effect.void }
  onEffect(_f, e) { if (!counting) return; ops++; let k
    switch (e._op) { case "OnSuccess": case "OnFailure": case "OnSuccessAndFailure": k = e._op + " " + fn(e.effect_instruction_i1); break
      case "WithRuntime": case "Sync": k = e._op + " " + fn(e.effect_instruction_i0); break
      case "Commit": k = "Commit " + (e.key ?? fn(e.commit)); break
      default: k = e._op }
    keys.set(k, (keys.get(k) ?? 0) + 1) } }
const sup = new Counter()
const layer0 = Server.layer({ port: 0, keys: [admin.entry], rateLimit: false }).pipe(Layer.provideMerge(Application.layer().pipe(Layer.provideMerge(foundation))))
const layer = Layer.provide(layer0, Layer.merge(Supervisor.addSupervisor(sup), RuntimeFlags.enableOpSupervision))
const scope = Effect.runSync(Scope.make())
const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
const server = Context.get(context, Server.Server)
const modules = Context.get(context, ModuleManager.ModuleManager)
const inputs = { question: "What is the capital of France?" }
const body = JSON.stringify({ inputs })
const url = new URL(`${server.url}/modules/qa/execute`)
await Effect.runPromise(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const post = () => new Promise((resolve, reject) => {
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
    (res) => { let d = ""; res.on("data", (c) => d += c); res.on("end", () => resolve([res.statusCode, d])) })
  req.on("error", reject); req.end(body)
})
const bare = http.createServer({ noDelay: true }, (req, res) => { req.resume(); req.on("end", () => { res.writeHead(200, { "content-type": "application/json" }); res.end('{"moduleId":"qa","version":1,"output":{"fields":{"answer":"Paris"}}}') }) })
await new Promise((r) => bare.listen(0, "127.0.0.1", r))
const bareUrl = new URL(`http://127.0.0.1:${bare.address().port}/`)
const postTo = (u) => new Promise((resolve, reject) => {
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
    (res) => { let d = ""; res.on("data", (c) => d += c); res.on("end", () => resolve([res.statusCode, d])) })
  req.on("error", reject); req.end(body)
})
console.log(await post())
for (let i = 0; i < 2000; i++) await post()
for (let i = 0; i < 200; i++) await post()
counting = true
for (let i = 0; i < 100; i++) await post()
counting = false
console.log("ops/request", ops / 100)
for (const [k, c] of [...keys].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log((c / 100).toFixed(1).padStart(5), k)
bare.close()
await Effect.runPromise(Scope.close(scope, Exit.void))
