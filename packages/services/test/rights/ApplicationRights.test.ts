/**
 * Data rights through the running application: executions made for an end user (foundation's `Subject`) are
 * recorded under them with the LM's cache entries in their namespace; erasing them removes their experiences,
 * their cache entries, and the demos made from their inputs from the live module (swapped for a version without
 * them) and from its stored versions, and keeps another user's.
 */
import { Example, Module } from "@effect-dspy/core"
import { Correlation, Subject, Tenant } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { CacheManager, DataRights, ExperienceStore, ModuleManager, ReleaseStore, TestRuntime } from "../../src/index.js"

const U1 = "Which river runs through U1-CITY-plum?"
const U2 = "Which river runs through U2-CITY-pear?"

describe("DataRights in the application", () => {
  it.effect("erases an end user's executions, cache entries and the demos made from them; keeps the other's", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const run = (subject: string, question: string) =>
        modules
          .execute("qa", { question })
          .pipe(Correlation.withCorrelationId(`req-${subject}`), Subject.withSubject(subject))
      yield* run("user-1", U1)
      yield* run("user-2", U2)
      const store = yield* ExperienceStore.ExperienceStore
      yield* store.flush
      assert.deepStrictEqual(
        (yield* store.query({ subject: "user-1" })).map((e) => [e.subject, e.correlationId]),
        [["user-1", "req-user-1"]],
        "the execution is recorded under its end user"
      )
      const cache = yield* CacheManager.CacheManager
      const ns = CacheManager.namespaceOf("lm", { subject: "user-1" })
      assert.isAbove((yield* cache.entries(ns)).entries.length, 0, "the LM cached under the user's namespace")

      // An optimizer bootstrapped demos from both users' examples.
      const demo = (question: string) => Example.make({ question, answer: "the river" }).withInputs("question")
      yield* modules.swap("qa", { demos: { self: [demo(U1), demo(U2)] } })

      const rights = yield* DataRights.make(yield* DataRights.sourcesFromContext)
      const archive = yield* rights.export({ subject: "user-1" })
      assert.strictEqual(archive.manifest.sources.experiences, 1)
      assert.isAbove(archive.manifest.sources.programs!, 0)
      const report = yield* rights.erase({ subject: "user-1" })
      assert.isAbove(report.counts.programs!, 0)

      const live = JSON.stringify(Module.dumpState(yield* modules.program("qa")))
      assert.notInclude(live, "U1-CITY-plum")
      assert.include(live, "U2-CITY-pear")
      const stored = JSON.stringify(Option.getOrThrow(yield* (yield* ReleaseStore.ReleaseStore).load("qa")))
      assert.notInclude(stored, "U1-CITY-plum")
      assert.include(stored, "U2-CITY-pear")
      assert.strictEqual((yield* store.query({ subject: "user-1" })).length, 0)
      assert.strictEqual((yield* store.query({ subject: "user-2" })).length, 1)
      assert.strictEqual((yield* cache.entries(ns)).entries.length, 0)
      assert.isAbove((yield* cache.entries(CacheManager.namespaceOf("lm", { subject: "user-2" }))).entries.length, 0)
    }).pipe(Effect.provide(TestRuntime.layer().pipe(Layer.provideMerge(CacheManager.layerTest))))
  )

  it.effect(
    "a tenant's export and erasure reach its end users' executions and cache namespaces, not another tenant's",
    () =>
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        // Each tenant's own "qa" (a tenant's modules are its own: stored as `~tenant/qa`).
        for (const tenant of ["acme", "beta"])
          yield* modules
            .create({ id: "qa", kind: "predict", signature: "question -> answer" })
            .pipe(Tenant.withTenant(Tenant.make(tenant)))
        const run = (tenant: string, subject: string, question: string) =>
          modules.execute("qa", { question }).pipe(Subject.withSubject(subject), Tenant.withTenant(Tenant.make(tenant)))
        yield* run("acme", "user-1", "ACME-QUESTION-fig")
        yield* run("beta", "user-1", "BETA-QUESTION-yam")
        const store = yield* ExperienceStore.ExperienceStore
        yield* store.flush
        const cache = yield* CacheManager.CacheManager
        // Stored under the tenant's own name (`~acme/lm@s:...`, the CacheManager's `Tenant.own`), the tenant named once.
        const acmeNs = Tenant.qualifyFor(Tenant.make("acme"), CacheManager.namespaceOf("lm", { subject: "user-1" }))
        assert.isAbove((yield* cache.entries(acmeNs)).entries.length, 0)
        // A tenant sees its own cache namespaces only, and cannot read another tenant's entries.
        const betaSees = (yield* cache.namespaces.pipe(Tenant.withTenant(Tenant.make("beta")))).namespaces
        assert.isTrue(betaSees.length > 0 && betaSees.every((ns) => ns.startsWith("~beta/")))
        assert.strictEqual(
          (yield* cache.entries(acmeNs).pipe(Tenant.withTenant(Tenant.make("beta")))).entries.length,
          0
        )

        const rights = yield* DataRights.make(yield* DataRights.sourcesFromContext)
        const archive = JSON.stringify((yield* rights.export({ tenant: "acme" })).entries)
        assert.include(archive, "ACME-QUESTION-fig")
        assert.notInclude(archive, "BETA-QUESTION-yam")
        yield* rights.erase({ tenant: "acme" })
        assert.deepStrictEqual(
          (yield* store.query()).map((e) => e.tenant),
          ["beta"]
        )
        assert.strictEqual((yield* cache.entries(acmeNs)).entries.length, 0)
        const betaNs = Tenant.qualifyFor(Tenant.make("beta"), CacheManager.namespaceOf("lm", { subject: "user-1" }))
        assert.isAbove((yield* cache.entries(betaNs)).entries.length, 0)
      }).pipe(Effect.provide(TestRuntime.layer().pipe(Layer.provideMerge(CacheManager.layerTest))))
  )
})
