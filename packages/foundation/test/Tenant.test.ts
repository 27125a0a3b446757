import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tenant from "../src/Tenant.js"

describe("Tenant", () => {
  it.effect("unscoped by default: the default tenant, names unchanged", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* Tenant.scope))
      assert.strictEqual(yield* Tenant.current, "default")
      assert.strictEqual(yield* Tenant.qualify("~acme/qa"), "~acme/qa")
      assert.strictEqual(yield* Tenant.namespace("cache"), "cache")
    })
  )

  it.effect("a tenant's names are qualified; forked fibers inherit the tenant", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Tenant.current, "acme")
      assert.strictEqual(yield* Tenant.qualify("qa"), "~acme/qa")
      assert.strictEqual(yield* Tenant.namespace("cache"), "cache@acme")
      const forked = yield* Effect.fork(Tenant.current)
      assert.strictEqual(yield* forked.await.pipe(Effect.flatten), "acme")
      assert.strictEqual(Tenant.ownerOf("~acme/qa"), "acme")
      assert.strictEqual(Tenant.localName("~acme/qa"), "qa")
    }).pipe(Tenant.withTenant("acme"))
  )

  it.effect("a tenant cannot forge another tenant's stored name", () =>
    Effect.gen(function* () {
      const forged = yield* Tenant.qualify("~globex/qa").pipe(Tenant.withTenant("acme"))
      assert.strictEqual(Tenant.ownerOf(forged), "acme")
      const fromDefault = yield* Tenant.qualify("~globex/qa").pipe(Tenant.withTenant("default"))
      assert.strictEqual(Tenant.ownerOf(fromDefault), "default")
      assert.strictEqual(yield* Tenant.qualify("qa").pipe(Tenant.withTenant("default")), "qa")
      assert.isFalse(Tenant.visibleTo(Option.some(Tenant.make("acme")), "~globex/qa"))
      assert.isFalse(Tenant.visibleTo(Option.some(Tenant.defaultTenant), "~globex/qa"))
      assert.isTrue(Tenant.visibleTo(Option.none(), "~globex/qa"))
    })
  )

  it.effect("requireUnscoped fails typed for a scoped tenant", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Tenant.requireUnscoped("list every tenant").pipe(Tenant.withTenant("acme")))
      assert.strictEqual(error._tag, "TenantForbidden")
      assert.strictEqual(error.tenant, "acme")
      yield* Tenant.requireUnscoped("list every tenant")
    })
  )

  it("rejects malformed tenant ids", () => {
    assert.throws(() => Tenant.make("Acme Corp"))
    assert.throws(() => Tenant.make(""))
  })
})
