/**
 * Tenant scoping (docs/tenants.md): what a tenant-scoped execution costs over the same execution unscoped.
 *
 * One application (the supervised ModuleManager: breaker, limiter, drain tracking, experience recording, events,
 * metrics) holds the module `qa` of tenant `acme` (stored as `~acme/qa`). Its program answers without an LM call,
 * so an execution costs the ModuleManager's own path (tens of us) and a difference of a microsecond is not lost in
 * the simulated LM's work. Each sample runs a batch of executions in one fiber: unscoped, by
 * the stored name (one fiber-reference read, the path of single-tenant deployments and the system's own calls),
 * then scoped to `acme` by its own name (the name qualified, the module looked up, the execution's module id made
 * local again). Batches rotate; `tenant_scope_overhead_p50` is the median over samples of the difference per
 * execution (us; target <= 3 us), and `aa_control_difference_p50` the same for two unscoped batches: what the
 * machine's noise alone gives (on a loaded machine it is not zero, and the overhead is only as good as it).
 */
import { Module, Predict, Signature } from "@effect-dspy/core"
import { Tenant } from "@effect-dspy/foundation"
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, nowUs, quantile } from "../Harness.js"

const BATCH = 500
const SAMPLES = 240
const WARMUP = 30
const inputs = { question: "What is the capital of France?" }

const bench: Bench = {
  name: "tenants",
  description: "Tenant scoping: the time a tenant-scoped ModuleManager execution adds over an unscoped one",
  run: async (report) => {
    const runtime = ManagedRuntime.make(TestRuntime.layer({ config: { events: { maxEvents: 10_000 } } }))
    const predictor = Module.make({
      name: "answer",
      parameters: { p: Predict.make(Signature.make("question -> answer")) },
      forward: (_parameters, _inputs: unknown) => Effect.succeed("Paris")
    })
    await runtime.runPromise(
      Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", predictor)).pipe(Tenant.withTenant("acme"))
    )
    const batch = (effect: Effect.Effect<unknown, unknown, ModuleManager.ModuleManager>) =>
      Effect.repeatN(effect, BATCH - 1)
    const unscoped = batch(ModuleManager.execute("~acme/qa", inputs))
    const scoped = batch(ModuleManager.execute("qa", inputs)).pipe(Tenant.withTenant("acme"))
    const check = await runtime.runPromise(ModuleManager.execute("qa", inputs).pipe(Tenant.withTenant("acme")))
    if (check.moduleId !== "qa") throw new Error("tenants bench: the scoped execution did not answer as the tenant")
    const per = async (effect: Effect.Effect<unknown, unknown, ModuleManager.ModuleManager>) => {
      const start = nowUs()
      await runtime.runPromise(effect)
      return (nowUs() - start) / BATCH
    }
    const differences: Array<number> = []
    const control: Array<number> = []
    const base: Array<number> = []
    const tenant: Array<number> = []
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      // Three batches per sample in a rotating order (unscoped, scoped, unscoped again as an A/A control), so
      // position effects (GC, drift) land on every side.
      const runs: Record<"u" | "s" | "c", number> = { u: 0, s: 0, c: 0 }
      const order: ReadonlyArray<"u" | "s" | "c"> = [
        ["u", "s", "c"],
        ["s", "c", "u"],
        ["c", "u", "s"]
      ][i % 3] as ReadonlyArray<"u" | "s" | "c">
      for (const which of order) runs[which] = await per(which === "s" ? scoped : unscoped)
      if (i < WARMUP) continue
      base.push(runs.u)
      tenant.push(runs.s)
      differences.push(runs.s - runs.u)
      control.push(runs.c - runs.u)
    }
    await runtime.dispose()
    const baseP50 = quantile(base, 0.5)
    report({ bench: "tenants", metric: "execute_unscoped_p50", value: baseP50, unit: "us" })
    report({
      bench: "tenants",
      metric: "execute_tenant_scoped_p50",
      value: quantile(tenant, 0.5),
      unit: "us",
      baseline: baseP50
    })
    report({
      bench: "tenants",
      metric: "aa_control_difference_p50",
      value: quantile(control, 0.5),
      unit: "us",
      n: control.length
    })
    report({
      bench: "tenants",
      metric: "tenant_scope_overhead_p50",
      value: quantile(differences, 0.5),
      unit: "us",
      target: "<= 3 us",
      n: differences.length
    })
  }
}

export default bench
