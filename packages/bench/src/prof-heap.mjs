import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, CacheManager, ModuleManager } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
const config = Config.layer({ env: false, defaults: { modules: { cacheEnabled: true }, events: { maxEvents: 10_000 } } })
const foundation = Layer.mergeAll(Events.layerConfig, Protection.layer, Registry.layer, CacheManager.layer({ purgeIntervalMs: 0 })).pipe(Layer.provideMerge(config))
const appOptions = process.env.BOUND ? { loop: { bounds: { maxCount: Number(process.env.BOUND) } } } : undefined
const runtime = ManagedRuntime.make(Application.layer(appOptions).pipe(Layer.provideMerge(foundation)))
const modules = await runtime.runPromise(ModuleManager.ModuleManager)
const inputs = { question: "What is the capital of France?" }
await runtime.runPromise(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
const one = () => runtime.runPromise(modules.execute("qa", inputs))
const round = async (n) => { let i = 0; const w = async () => { while (i++ < n) await one() }; await Promise.all(Array.from({ length: 32 }, w)) }
let total = 0
for (const step of [5000, 5000, 5000, 5000, 10000, 10000, 10000, 10000]) {
  await round(step); total += step
  await new Promise((r) => setTimeout(r, 200)); globalThis.gc(); globalThis.gc()
  console.log("executions", total, "heap MB", (process.memoryUsage().heapUsed / 1e6).toFixed(1))
}
await runtime.dispose()
