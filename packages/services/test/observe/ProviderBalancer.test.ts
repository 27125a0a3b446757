/**
 * Weighted balancing: shares follow latency and cost, an unhealthy provider gets none, an unknown one the median;
 * the router sends a primary's requests to its peers by weight.
 */
import { LM } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Observability, ProviderBalancer, TestRuntime } from "../../src/index.js"

describe("ProviderBalancer", () => {
  it("weighs healthy providers by latency and cost; an unhealthy one gets nothing", () => {
    const w = ProviderBalancer.weights(
      [
        { name: "fast", healthy: true, latencyMs: 100, costPerCall: 0.01 },
        { name: "slow", healthy: true, latencyMs: 400, costPerCall: 0.01 },
        { name: "down", healthy: false, latencyMs: 10, costPerCall: 0.001 }
      ],
      { latencyExponent: 1, costExponent: 0 }
    )
    assert.approximately(w[0]!.weight, 0.8, 1e-9)
    assert.approximately(w[1]!.weight, 0.2, 1e-9)
    assert.strictEqual(w[2]!.weight, 0)
    // Cost counts too: at equal latency, 4x the cost at exponent 0.5 is half the share.
    const c = ProviderBalancer.weights([
      { name: "cheap", healthy: true, latencyMs: 100, costPerCall: 0.01 },
      { name: "dear", healthy: true, latencyMs: 100, costPerCall: 0.04 }
    ])
    assert.approximately(c[0]!.weight / c[1]!.weight, 2, 1e-9)
    // Unknown figures take the median of the others'.
    const u = ProviderBalancer.weights([
      { name: "a", healthy: true, latencyMs: 100, costPerCall: Number.NaN },
      { name: "new", healthy: true, latencyMs: Number.NaN, costPerCall: Number.NaN }
    ])
    assert.approximately(u[0]!.weight, 0.5, 1e-9)
    assert.deepStrictEqual(
      ProviderBalancer.weights([{ name: "x", healthy: false, latencyMs: 1, costPerCall: 1 }]).map((x) => x.weight),
      [0]
    )
  })

  it("draws members in proportion to their weights", () => {
    const balancer = ProviderBalancer.make(7)
    balancer.set("main", [
      { name: "main", weight: 0.25 },
      { name: "peer", weight: 0.75 }
    ])
    let peer = 0
    for (let i = 0; i < 4_000; i++) if (balancer.choose("main") === "peer") peer++
    assert.approximately(peer / 4_000, 0.75, 0.03)
    assert.strictEqual(balancer.choose("other"), "other")
  })

  it.scoped("the router sends a balanced primary's requests to its faster peer", () =>
    Effect.gen(function* () {
      const observability = yield* Observability.Observability
      const lm = yield* LM.LM
      const sims = yield* TestRuntime.SimControl
      const request = { messages: [{ role: "user" as const, content: "What is the capital of France?" }] }
      // Figures: main is 9x slower than its peer; the tick re-weighs the group from the history.
      for (let i = 0; i < 50; i++) {
        yield* observability.history.record({ metric: "provider.latency_ms", provider: "main" }, 900)
        yield* observability.history.record({ metric: "provider.latency_ms", provider: "peer" }, 100)
      }
      yield* observability.tick
      const weights = observability.balancer.current().get("main")!
      assert.deepStrictEqual(
        weights.map((w) => w.name),
        ["main", "peer"]
      )
      assert.approximately(weights[1]!.weight, 0.9, 0.01)
      // Then all traffic to the peer, to see the router follow the weights exactly.
      observability.balancer.set("main", [
        { name: "main", weight: 0 },
        { name: "peer", weight: 1 }
      ])
      for (let i = 0; i < 20; i++) yield* lm.complete({ ...request, messages: [{ role: "user", content: `q${i}` }] })
      assert.strictEqual((yield* sims.stats("peer")).calls, 20)
      assert.strictEqual((yield* sims.stats("main")).calls, 0)
      // The router fed each completion's outcome to the history under the provider that served it.
      const served = yield* observability.history.summarize({ metric: "provider.errors" }, 0, 10_000)
      assert.deepStrictEqual(
        served.map((p) => [p.series.provider, p.count, p.sum]),
        [["peer", 20, 0]]
      )
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: {
            modules: { defaultLmProvider: "main", cacheEnabled: false },
            providers: { main: { defaultModel: "sim-1" }, peer: { defaultModel: "sim-2" } },
            observe: { balancing: { main: ["peer"] } }
          }
        })
      )
    )
  )
})
