/**
 * Releases and traffic policies in the ModuleManager.
 *
 * 1. `policy_overhead_p50`: the microseconds a weighted policy (two versions, 50/50) adds to one execution over a
 *    pinned one. Two modules of the same program in one application, one pinned, one weighted, executed in turn
 *    call by call (interleaved pairs); the figure is the median of the paired differences, with a 95% interval
 *    (order statistics of the median) and the p99 difference. The program answers without an LM call, so the
 *    difference is the routing (a draw, a lookup, the statistics update), not the model. Target <= 5 us.
 * 2. `shadow_overhead_p50`: the latency shadowing at a fixed 10% sample adds to the served path (a pinned module
 *    against a module shadowing a candidate on 10% of its requests), measured the same way. Target <= 5 us.
 * 3. `restore_1000_versions`: the seconds from opening an application on a release database holding 1,000
 *    versions of a module to that module registered with all of them restored (each version's program loaded
 *    back); the baseline is the same start on an empty database. Target <= 1 s.
 *
 * `EXPERIMENTS_ITERATIONS=2000 pnpm bench experiments` for a quick look (default 20,000 pairs).
 */
import { Module, Predict, Signature } from "@effect-dspy/core"
import { ModuleManager, ReleaseStore, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, nowUs, quantile } from "../Harness.js"

const ITERATIONS = Number(process.env.EXPERIMENTS_ITERATIONS ?? 20_000)
const WARMUP = Math.min(2_000, Math.floor(ITERATIONS / 5))
const VERSIONS = 1_000
const inputs = { question: "What is 2 + 3?" }

/** A program with one predictor that answers without an LM call: the routing is what is measured. */
const echo = Module.make({
  name: "echo",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, given: { readonly question: string }) => Effect.succeed(given.question)
})

const time = async (run: () => Promise<unknown>): Promise<number> => {
  const start = nowUs()
  await run()
  return nowUs() - start
}

/** The median of paired differences with its 95% interval (order statistics) and p99. */
const paired = (differences: Array<number>) => {
  const sorted = [...differences].sort((a, b) => a - b)
  const n = sorted.length
  const half = (1.96 * Math.sqrt(n)) / 2
  const lo = sorted[Math.max(0, Math.floor(n / 2 - half))]!
  const hi = sorted[Math.min(n - 1, Math.ceil(n / 2 + half))]!
  return { p50: quantile(sorted, 0.5), lo, hi, p99: quantile(sorted, 0.99), n }
}

/** Interleaved pairs: `base` then `variant`, call by call; their latency differences (variant - base). */
const interleave = async (
  runtime: ManagedRuntime.ManagedRuntime<ModuleManager.ModuleManager, unknown>,
  base: string,
  variant: string
) => {
  const baseCall = ModuleManager.execute(base, inputs)
  const variantCall = ModuleManager.execute(variant, inputs)
  const differences: Array<number> = []
  const baseSamples: Array<number> = []
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    const first = i % 2 === 0
    const b = first ? await time(() => runtime.runPromise(baseCall)) : 0
    const v = await time(() => runtime.runPromise(variantCall))
    const b2 = first ? b : await time(() => runtime.runPromise(baseCall))
    if (i < WARMUP) continue
    differences.push(v - b2)
    baseSamples.push(b2)
  }
  return { ...paired(differences), base: quantile(baseSamples, 0.5) }
}

const bench: Bench = {
  name: "experiments",
  description:
    "Traffic policies and releases: a weighted policy's and a 10% shadow's added latency per execution (interleaved paired differences), and restoring 1,000 stored versions at start",
  run: async (report) => {
    const runtime = ManagedRuntime.make(TestRuntime.layer({ config: { events: { maxEvents: 10_000 } } }))
    await runtime.runPromise(
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        for (const id of ["pinned", "weighted", "shadowed"]) {
          yield* modules.register(id, echo)
          yield* modules.swap(id, { instructions: { p: "Echo the question." } })
        }
        yield* modules.setPolicy("pinned", { _tag: "Pinned", version: "1" })
        yield* modules.setPolicy("weighted", {
          _tag: "Weighted",
          weights: [
            { version: "1", weight: 0.5 },
            { version: "2", weight: 0.5 }
          ]
        })
        yield* modules.setPolicy("shadowed", { _tag: "Shadow", serving: "1", candidate: "2", sample: 0.1 })
      })
    )
    const weighted = await interleave(runtime, "pinned", "weighted")
    report({
      bench: "experiments",
      metric: "policy_overhead_p50",
      value: weighted.p50,
      unit: "us",
      baseline: weighted.base,
      target: "<= 5 us",
      n: weighted.n
    })
    report({ bench: "experiments", metric: "policy_overhead_p50_ci_low", value: weighted.lo, unit: "us" })
    report({ bench: "experiments", metric: "policy_overhead_p50_ci_high", value: weighted.hi, unit: "us" })
    report({ bench: "experiments", metric: "policy_overhead_p99", value: weighted.p99, unit: "us" })
    const shadow = await interleave(runtime, "pinned", "shadowed")
    report({
      bench: "experiments",
      metric: "shadow_overhead_p50",
      value: shadow.p50,
      unit: "us",
      baseline: shadow.base,
      target: "<= 5 us",
      n: shadow.n
    })
    report({ bench: "experiments", metric: "shadow_overhead_p50_ci_low", value: shadow.lo, unit: "us" })
    report({ bench: "experiments", metric: "shadow_overhead_p50_ci_high", value: shadow.hi, unit: "us" })
    report({ bench: "experiments", metric: "shadow_overhead_p99", value: shadow.p99, unit: "us" })
    await runtime.dispose()

    // 3. Restoring 1,000 stored versions at start.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-releases-"))
    try {
      const filename = path.join(dir, "releases.db")
      const empty = path.join(dir, "empty.db")
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ReleaseStore.makeSqlite({ filename })
            const base = Module.dumpState(echo)
            const state = (v: number) => ({
              ...base,
              predictors: {
                p: { ...base.predictors.p!, signature: { ...base.predictors.p!.signature, instructions: `Echo ${v}.` } }
              }
            })
            const lineage = (v: number): ReleaseStore.Lineage => ({
              parent: v === 1 ? null : v - 1,
              reason: v === 1 ? "created" : "swapped",
              jobId: null,
              optimizer: null,
              scores: null
            })
            // The shape the ModuleManager fingerprints: registered once through an application, then the rest.
            const runtime = ManagedRuntime.make(TestRuntime.layer({ application: { releases: { filename: empty } } }))
            const shape = yield* Effect.promise(() =>
              runtime.runPromise(
                Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", echo)).pipe(
                  Effect.zipRight(Effect.flatMap(ReleaseStore.ReleaseStore, (s) => s.load("qa"))),
                  Effect.map((stored) => (stored._tag === "Some" ? stored.value.module.shape : ""))
                )
              )
            )
            yield* Effect.promise(() => runtime.dispose())
            yield* Effect.orDie(
              store.create(
                { moduleId: "qa", shape, spec: null, promoted: 1, createdAt: 1, updatedAt: 1 },
                { moduleId: "qa", version: 1, state: state(1), lineage: lineage(1), createdAt: 1 }
              )
            )
            for (let v = 2; v <= VERSIONS; v++) {
              yield* Effect.orDie(
                store.append(
                  { moduleId: "qa", version: v, state: state(v), lineage: lineage(v), createdAt: v },
                  { promote: true }
                )
              )
            }
          })
        )
      )
      const start = async (file: string) => {
        const t0 = nowUs()
        const app = ManagedRuntime.make(
          TestRuntime.layer({
            config: { modules: { maxVersions: VERSIONS } },
            application: { releases: { filename: file } }
          })
        )
        const info = await app.runPromise(Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", echo)))
        const seconds = (nowUs() - t0) / 1e6
        await app.dispose()
        return { seconds, info }
      }
      const fresh = path.join(dir, "fresh.db")
      const baseline = await start(fresh)
      const restored = await start(filename)
      if (restored.info.versions !== VERSIONS || restored.info.version !== VERSIONS) {
        throw new Error(
          `experiments bench: restored ${restored.info.versions} versions (current ${restored.info.version})`
        )
      }
      report({
        bench: "experiments",
        metric: "restore_1000_versions",
        value: restored.seconds,
        unit: "s",
        baseline: baseline.seconds,
        target: "<= 1 s"
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
