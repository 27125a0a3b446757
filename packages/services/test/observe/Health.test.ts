/**
 * Health: a cold start is `starting` (not unhealthy); all up is `healthy`; an open breaker with a healthy backup
 * is `degraded`; the default provider open with no backup, or a shutdown, is `unhealthy`; a dead tree is not
 * live. And the real application reports it through `Application.health`.
 */
import { LM } from "@effect-dspy/core"
import type { Supervisor } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Application, Health, type LMProviders, TestRuntime } from "../../src/index.js"

const tree = (
  status: Supervisor.Tree["status"] = "running",
  child: Supervisor.Tree["status"] = "running"
): Supervisor.Tree => ({
  id: "dspy",
  kind: "supervisor",
  pid: "<0.1>",
  status,
  restarts: 0,
  children: [{ id: "module_manager", kind: "worker", pid: "<0.2>", status: child, restarts: 0, children: [] }]
})

const provider = (
  name: string,
  over: Partial<{ circuit: LMProviders.ProviderStatus["circuit"]; generation: number; backup: string }> = {}
): LMProviders.ProviderStatus => ({
  name,
  kind: "simulated",
  backup: over.backup,
  circuit: over.circuit ?? "closed",
  failedOver: false,
  generation: over.generation ?? 1,
  pool: { total: 4, idle: 4, inUse: 0, waiting: 0, size: 4 },
  rateLimit: undefined,
  calls: 0,
  failures: 0,
  failovers: 0,
  hedges: 0,
  hedgeWins: 0,
  recoveries: 0,
  promptTokens: 0,
  completionTokens: 0,
  costUsd: 0
})

const base = {
  now: 100_000,
  startedAt: 0,
  startupGraceMs: 30_000,
  stopping: false,
  tree: tree(),
  defaultProvider: "main"
}

describe("Health.evaluate", () => {
  it("a cold start is starting, not unhealthy", () => {
    const report = Health.evaluate({ ...base, now: 1_000, providers: [provider("main", { generation: 0 })] })
    assert.strictEqual(report.readiness.status, "starting")
    assert.isFalse(report.readiness.ready)
    assert.strictEqual(report.liveness.status, "alive")
    assert.include(report.readiness.reasons[0], "no transport yet")
    // The same after the grace period is a problem.
    assert.strictEqual(
      Health.evaluate({ ...base, providers: [provider("main", { generation: 0 })] }).readiness.status,
      "unhealthy"
    )
  })

  it("everything up is healthy", () => {
    const report = Health.evaluate({ ...base, providers: [provider("main")] })
    assert.strictEqual(report.readiness.status, "healthy")
    assert.isTrue(report.readiness.ready)
    assert.deepStrictEqual(report.readiness.reasons, [])
  })

  it("an open breaker with a healthy backup is degraded, and still ready", () => {
    const report = Health.evaluate({
      ...base,
      providers: [provider("main", { circuit: "open", backup: "spare" }), provider("spare")]
    })
    assert.strictEqual(report.readiness.status, "degraded")
    assert.isTrue(report.readiness.ready)
    assert.include(report.readiness.reasons[0], "its backup spare takes the traffic")
  })

  it("the default provider open with no healthy backup is unhealthy", () => {
    const noBackup = Health.evaluate({ ...base, providers: [provider("main", { circuit: "open" })] })
    assert.strictEqual(noBackup.readiness.status, "unhealthy")
    const backupOpen = Health.evaluate({
      ...base,
      providers: [provider("main", { circuit: "open", backup: "spare" }), provider("spare", { circuit: "open" })]
    })
    assert.strictEqual(backupOpen.readiness.status, "unhealthy")
  })

  it("a restarting part is degraded; stopping is unhealthy; a dead root is not live", () => {
    assert.strictEqual(
      Health.evaluate({ ...base, tree: tree("running", "restarting"), providers: [provider("main")] }).readiness.status,
      "degraded"
    )
    assert.strictEqual(
      Health.evaluate({ ...base, stopping: true, providers: [provider("main")] }).readiness.status,
      "unhealthy"
    )
    const dead = Health.evaluate({ ...base, tree: tree("dead"), providers: [provider("main")] })
    assert.strictEqual(dead.liveness.status, "dead")
    assert.strictEqual(dead.readiness.status, "unhealthy")
  })
})

describe("Application.health", () => {
  it.scoped("reports the running application: healthy, then degraded while the primary's circuit is open", () =>
    Effect.gen(function* () {
      const before = yield* Application.health
      assert.strictEqual(before.readiness.status, "healthy", before.readiness.reasons.join("; "))
      const sims = yield* TestRuntime.SimControl
      yield* sims.setFaults("main", { rates: { server_error: 1 } })
      const lm = yield* LM.LM
      for (let i = 0; i < 6; i++) yield* Effect.either(lm.complete({ messages: [{ role: "user", content: "hi" }] }))
      const during = yield* Application.health
      assert.strictEqual(during.readiness.status, "degraded", during.readiness.reasons.join("; "))
      assert.include(during.readiness.reasons.join(" "), "backup spare")
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: {
            modules: { defaultLmProvider: "main" },
            observe: { startupGraceMs: 0 },
            providers: { main: { backup: "spare", maxRetries: 0 }, spare: { maxRetries: 0 } },
            infrastructure: { circuitBreakers: { lm_provider_main: { failureThreshold: 3, recoveryTimeMs: 60_000 } } }
          }
        })
      )
    )
  )
})
