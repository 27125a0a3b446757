/**
 * Retention: the supervised `retention` process erases, on its Clock timer, what a tenant recorded before
 * `now - maxAgeMs` (and the events of those requests), keeps the rest and the other tenants' data, and audits each
 * run; the archive format refuses what it cannot read.
 */
import { Events, Tenant } from "@effect-dspy/foundation"
import { Actor, Supervisor } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TestClock from "effect/TestClock"
import {
  Application,
  Archive,
  DataRights,
  ExperienceStore,
  ModuleManager,
  Retention,
  TestRuntime
} from "../../src/index.js"

const experience = (id: string, at: number, tenant: string): ExperienceStore.Experience => ({
  executionId: id,
  correlationId: `req-${id}`,
  moduleId: "qa",
  version: 1,
  inputs: { question: `question of ${id}` },
  output: { answer: "a" },
  ok: true,
  latencyMs: 1,
  lmCalls: 1,
  costUsd: 0,
  at,
  reward: undefined,
  outcome: undefined,
  feedbackAt: undefined,
  tenant
})

describe("Retention", () => {
  it.scoped("the supervised process erases a tenant's data past its age on the Clock, and nothing else", () =>
    Effect.gen(function* () {
      const store = yield* ExperienceStore.makeMemory()
      const events = yield* Events.makeMemory()
      const rights = yield* DataRights.make(
        yield* DataRights.sourcesFromContext.pipe(
          Effect.provideService(ExperienceStore.ExperienceStore, store),
          Effect.provideService(Events.Events, events)
        )
      ).pipe(Effect.provideService(Events.Events, events))
      store.record(experience("acme-old", 0, "acme"))
      store.record(experience("beta-old", 0, "beta"))
      yield* events.publish({ type: "execution_note", correlationId: "req-acme-old", data: { text: "acme's" } })
      yield* events.publish({ type: "execution_note", correlationId: "req-beta-old", data: { text: "beta's" } })
      const root = yield* Supervisor.start({
        name: "rights",
        strategy: "one_for_one",
        children: [Retention.childSpec(rights, { policies: [{ tenant: "acme", maxAgeMs: 1_000 }], intervalMs: 500 })]
      })
      const ref = (yield* Supervisor.whichChildren(root))[0]!.process as Actor.ActorRef<Retention.Call, Retention.Reply>
      yield* TestClock.adjust("600 millis")
      assert.deepStrictEqual(yield* Actor.call(ref, { _tag: "Status" }), { runs: 1, erased: 0 })
      store.record(experience("acme-new", 600, "acme"))
      yield* TestClock.adjust("1000 millis")
      const status = yield* Actor.call(ref, { _tag: "Status" })
      assert.strictEqual(status.runs, 3)
      assert.strictEqual(status.erased, 2, "acme's old execution and its event")
      const left = (yield* store.query()).map((e) => e.executionId).sort()
      assert.deepStrictEqual(left, ["acme-new", "beta-old"])
      const notes = (yield* events.query({ types: ["execution_note"] })).map((e) => e.data.text)
      assert.deepStrictEqual(notes, ["beta's"])
      const audit = yield* events.query({ types: ["data_erased"] })
      assert.isAbove(audit.length, 0)
      assert.strictEqual(audit.at(-1)!.data.reason, "retention")
      assert.strictEqual(audit.at(-1)!.data.tenant, "acme")
    })
  )

  it.effect("the application starts the process from Config tenants.retentionMs, on the Clock", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      const children = (yield* Supervisor.whichChildren(app.root)).map((c) => c.id)
      assert.include(children, "retention")
      const modules = yield* ModuleManager.ModuleManager
      const store = yield* ExperienceStore.ExperienceStore
      for (const tenant of ["acme", "beta"]) {
        yield* Tenant.withTenant(tenant)(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
        yield* Tenant.withTenant(tenant)(modules.execute("qa", { question: `${tenant}-OLD` }))
      }
      yield* TestClock.adjust("600 millis")
      yield* Tenant.withTenant("acme")(modules.execute("qa", { question: "acme-NEW" }))
      const questions = Effect.map(store.query(), (all) =>
        all.map((e) => (e.inputs as { readonly question: string }).question).sort()
      )
      assert.deepStrictEqual(yield* questions, ["acme-NEW", "acme-OLD", "beta-OLD"])
      // The sweep at 1500 ms erases what acme recorded before 500 ms; beta has no retention.
      yield* TestClock.adjust("500 millis")
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* questions, ["acme-NEW", "beta-OLD"])
      const audit = yield* Effect.flatMap(Events.Events, (events) => events.query({ types: ["data_erased"] }))
      assert.isTrue(audit.some((e) => e.data.reason === "retention" && e.data.tenant === "acme"))
    }).pipe(
      Effect.provide(
        TestRuntime.layer({ config: { tenants: { retentionMs: { acme: 1_000 }, retentionIntervalMs: 500 } } })
      )
    )
  )

  it.effect("the application starts no retention process when Config names none", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      assert.notInclude(
        (yield* Supervisor.whichChildren(app.root)).map((c) => c.id),
        "retention"
      )
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("the tenant rides the fiber", () =>
    Effect.gen(function* () {
      const tenant = yield* Tenant.scope.pipe(Tenant.withTenant("acme"))
      assert.deepStrictEqual(tenant._tag === "Some" ? tenant.value : undefined, "acme")
      assert.strictEqual(yield* Tenant.current, "default")
    })
  )
})

describe("Archive", () => {
  const archive = Archive.make({ subject: "u" }, [{ source: "experiences", id: "e1", data: { q: "x" } }], 5, ["cache"])

  it("reads back what it wrote, with a count per source", () => {
    const back = Archive.decode(Archive.encode(archive))
    assert.isTrue(Either.isRight(back))
    assert.deepStrictEqual(Either.getOrThrow(back).manifest.sources, { cache: 0, experiences: 1 })
  })

  it("refuses a damaged archive, a newer schema version and a stranger", () => {
    const text = Archive.encode(archive)
    const damaged = Archive.decode(text.replace('"x"', '"y"'))
    assert.isTrue(Either.isLeft(damaged) && /damaged/.test(damaged.left.message))
    const newer = Archive.decode(text.replace('"schemaVersion":1', '"schemaVersion":2'))
    assert.isTrue(Either.isLeft(newer) && /newer release/.test(newer.left.message))
    const stranger = Archive.decode('{"kind":"other"}\n')
    assert.isTrue(Either.isLeft(stranger) && stranger.left._tag === "ArchiveInvalid")
  })
})
