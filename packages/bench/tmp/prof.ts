import { Module, Predict, Signature } from "@effect-dspy/core"
import { ExperienceStore, Loop, ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const echo = Module.make({
  name: "echo",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, given: { readonly question: string }) => Effect.succeed({ answer: given.question })
})
const inputs = { question: "What is 2 + 3?" }
const mode = process.argv[2] ?? "all"
const N = Number(process.env.N ?? 20000)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prof-loop-"))
const app = (name: string, record: boolean) =>
  ManagedRuntime.make(
    TestRuntime.layer({
      config: { events: { maxEvents: 10_000 } },
      application: { loop: { filename: path.join(dir, `${name}.db`), record } }
    })
  )
const main = async () => {
  const rec = app("r", true)
  const plain = app("p", false)
  for (const rt of [rec, plain]) await rt.runPromise(Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("echo", echo)))
  const call = ModuleManager.execute("echo", inputs)
  const cpu = async (rt: typeof rec, n: number, flush: boolean) => {
    const s = process.cpuUsage()
    await rt.runPromise(Effect.gen(function* () { for (let i = 0; i < n; i++) yield* call }))
    if (flush) await rt.runPromise(Effect.flatMap(ExperienceStore.ExperienceStore, (st) => st.flush))
    const u = process.cpuUsage(s)
    return (u.user + u.system) / n
  }
  if (mode === "all" || mode === "exec") {
    const dr: number[] = [], dn: number[] = []
    for (let r = 0; r < 9; r++) {
      const a = await cpu(rec, N / 4, false)
      const b = await cpu(plain, N / 4, false)
      const c = await cpu(rec, N / 4, true)
      dr.push(a - b); dn.push(c - b)
    }
    dr.sort((a, b) => a - b); dn.sort((a, b) => a - b)
    console.log("cpu no-flush diff p50", dr[4]!.toFixed(2), "with flush", dn[4]!.toFixed(2))
  }
  if (mode === "rec" || mode === "plain") {
    const rt = mode === "rec" ? rec : plain
    const s = process.cpuUsage()
    await rt.runPromise(Effect.gen(function* () { for (let i = 0; i < N; i++) yield* call }))
    const u = process.cpuUsage(s)
    console.log(mode, "cpu us/exec", ((u.user + u.system) / N).toFixed(2))
  }
  if (mode === "all" || mode === "fb") {
    const ids = await rec.runPromise(Effect.gen(function* () {
      const m = yield* ModuleManager.ModuleManager
      const out: string[] = []
      for (let i = 0; i < N; i++) out.push((yield* m.execute("echo", inputs)).executionId)
      return out
    }))
    await rec.runPromise(Effect.flatMap(ExperienceStore.ExperienceStore, (st) => st.flush))
    const t0 = performance.now(); const s = process.cpuUsage()
    await rec.runPromise(Effect.flatMap(Loop.Loop, (loop) => Effect.forEach(ids, (executionId) => loop.feedback({ executionId, outcome: { rating: 0.9 } }), { concurrency: 1024, discard: true })))
    const u = process.cpuUsage(s); const sec = (performance.now() - t0) / 1000
    console.log("feedback/s wall", (N / sec).toFixed(0), "cpu us/feedback", ((u.user + u.system) / N).toFixed(2), "feedback/s by cpu", (N / ((u.user + u.system) / 1e6)).toFixed(0))
    console.log(await rec.runPromise(Effect.flatMap(ExperienceStore.ExperienceStore, (st) => st.stats)))
  }
  await rec.dispose(); await plain.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
}
main()
