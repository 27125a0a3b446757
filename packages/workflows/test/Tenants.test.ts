/**
 * The engine used directly (not through the HTTP API) in a tenant's scope: a tenant's runs are stored under its
 * own run ids and answered under the local ones; another tenant's run is `RunNotFound` for `record` and `resume`,
 * and a run id naming another tenant's run (`~acme/...`) cannot reach it.
 */
import { Tenant } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { RunStore, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const echo = `
version: 1
name: echo
inputs:
  text: str
steps:
  - id: say
    tool: { name: echo, outputs: { value: str } }
    inputs: { value: "{inputs.text}" }
outputs:
  value: "{say.value}"
`

const tools = {
  echo: (inputs: { readonly [k: string]: unknown }) => Effect.succeed({ value: String(inputs["value"]) })
}

const acme = Tenant.withTenant("acme")
const globex = Tenant.withTenant("globex")

const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

describe("WorkflowEngine: tenants", () => {
  it.effect("another tenant's run is not found; a tenant's run ids are its own", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(echo, "echo.yaml")
      const engine = yield* WorkflowEngine.WorkflowEngine
      const store = yield* RunStore.RunStore
      const result = yield* acme(engine.run(w, { text: "ACME-SECRET" }, { runId: "r1" }))
      assert.strictEqual(result.runId, "r1")
      // Stored under acme's name; acme reads it by its own.
      assert.isDefined(yield* store.get("~acme/r1"))
      assert.isUndefined(yield* store.get("r1"))
      assert.strictEqual((yield* acme(engine.record("r1"))).runId, "r1")
      assert.strictEqual((yield* acme(engine.record("r1"))).status, "succeeded")
      // Another tenant: by the local id, by the stored id, and resuming.
      assert.strictEqual(yield* tagOf(globex(engine.record("r1"))), "RunNotFound")
      assert.strictEqual(yield* tagOf(globex(engine.record("~acme/r1"))), "RunNotFound")
      assert.strictEqual(yield* tagOf(globex(engine.resume(w, "r1"))), "RunNotFound")
      assert.strictEqual(yield* tagOf(globex(engine.resume(w, "~acme/r1"))), "RunNotFound")
      // The default tenant is scoped too: it cannot name another tenant's run either.
      assert.strictEqual(yield* tagOf(Tenant.withTenant("default")(engine.record("~acme/r1"))), "RunNotFound")
      // The same local id in another tenant is another run; the system (unscoped) sees stored ids.
      const other = yield* globex(engine.run(w, { text: "GLOBEX" }, { runId: "r1" }))
      assert.strictEqual(other.runId, "r1")
      assert.strictEqual((yield* engine.record("~globex/r1")).runId, "~globex/r1")
      assert.strictEqual((yield* engine.record("~acme/r1")).runId, "~acme/r1")
      // A generated run id of a tenant is its own too.
      const generated = yield* acme(engine.run(w, { text: "x" }))
      assert.isFalse(generated.runId.startsWith("~"))
      assert.isDefined(yield* store.get(`~acme/${generated.runId}`))
    }).pipe(Effect.provide(Runtime.layer(tools)))
  )
})
