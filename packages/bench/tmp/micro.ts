import { LM } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
const inner = Effect.succeed(1)
let sink = 0
const old = Effect.map(Effect.onExit(LM.trackUsage(inner), (exit) => { sink += exit._tag === "Success" ? exit.value.usage.calls : 0; return Effect.void }), (t) => t.result)
const neu = LM.meterUsage(inner, (exit, usage) => { sink += usage.calls })
const loop = (e: Effect.Effect<number>, n: number) => Effect.gen(function* () { for (let i = 0; i < n; i++) yield* e })
const N = 20000
const cpu = (e: Effect.Effect<number>) => { const s = process.cpuUsage(); Effect.runSync(loop(e, N)); const u = process.cpuUsage(s); return (u.user + u.system) / N }
const a: number[] = [], b: number[] = [], c: number[] = []
for (let r = 0; r < 15; r++) { a.push(cpu(old)); b.push(cpu(neu)); c.push(cpu(inner)) }
const med = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1]!
console.log("bare", med(c).toFixed(3), "trackUsage+onExit", med(a).toFixed(3), "meterUsage", med(b).toFixed(3), sink > -1)
// claimed path: many metered runs on one fiber
const many = (e: Effect.Effect<number>) => { const s = process.cpuUsage(); Effect.runSync(Effect.gen(function* () { for (let i = 0; i < N; i++) yield* e })); const u = process.cpuUsage(s); return (u.user + u.system) / N }
const x: number[] = [], y: number[] = []
for (let r = 0; r < 15; r++) { x.push(many(neu)); y.push(many(inner)) }
console.log("one fiber: bare", med(y).toFixed(3), "meterUsage", med(x).toFixed(3))
const perFiber = (e: Effect.Effect<number>) => { const s = process.cpuUsage(); for (let i = 0; i < N; i++) Effect.runSync(e); const u = process.cpuUsage(s); return (u.user + u.system) / N }
const p: number[] = [], q: number[] = [], o: number[] = []
for (let r = 0; r < 9; r++) { p.push(perFiber(neu)); q.push(perFiber(inner)); o.push(perFiber(old)) }
console.log("fiber per run: bare", med(q).toFixed(3), "meterUsage", med(p).toFixed(3), "old", med(o).toFixed(3))
