/**
 * Data rights over HTTP: an execution names its end user with the `x-subject` header; an admin exports an end user's archive (JSON lines holding their executions) and erases
 * them; a reader is refused (403); a request that says whose data is missing is a 400.
 */
import { Subject } from "@effect-dspy/foundation"
import { Archive, ExperienceStore, ModuleManager } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { client, start } from "./support.js"

describe("data rights over HTTP", () => {
  it.scopedLive("export then erase an end user (admin); 403 for a reader; 400 without a subject or tenant", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      const reader = yield* client(h.url, h.keys.reader)
      yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
      const modules = Context.get(h.context, ModuleManager.ModuleManager)
      yield* modules.execute("qa", { question: "U1-HTTP-quince" }).pipe(Subject.withSubject("user-1"))
      yield* modules.execute("qa", { question: "U2-HTTP-lime" }).pipe(Subject.withSubject("user-2"))
      yield* Context.unsafeGet(h.context, ExperienceStore.ExperienceStore).flush

      // Over HTTP, the `x-subject` header names the end user a request acts for.
      const viaHttp = yield* Effect.promise(() =>
        fetch(`${h.url}/modules/qa/execute`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${h.keys.admin}`,
            "content-type": "application/json",
            "x-subject": "user-1"
          },
          body: JSON.stringify({ inputs: { question: "U1-HEADER-olive" } })
        }).then((r) => r.status)
      )
      assert.strictEqual(viaHttp, 200)
      yield* Context.unsafeGet(h.context, ExperienceStore.ExperienceStore).flush

      const text = yield* admin.dataRights.export({ payload: { subject: "user-1" } })
      const archive = Either.getOrThrow(Archive.decode(text))
      assert.strictEqual(archive.manifest.sources.experiences, 2)
      assert.include(text, "U1-HTTP-quince")
      assert.include(text, "U1-HEADER-olive")
      assert.notInclude(text, "U2-HTTP-lime")

      const forbidden = yield* Effect.flip(reader.dataRights.erase({ payload: { subject: "user-1" } }))
      assert.strictEqual(forbidden._tag, "Forbidden")
      const bad = yield* Effect.flip(admin.dataRights.erase({ payload: {} }))
      assert.strictEqual(bad._tag, "BadRequest")

      const report = yield* admin.dataRights.erase({ payload: { subject: "user-1" } })
      assert.strictEqual(report.counts.experiences, 2)
      const after = yield* admin.dataRights.export({ payload: { subject: "user-1" } })
      assert.notInclude(after, "U1-HTTP-quince")
      assert.include(yield* admin.dataRights.export({ payload: { subject: "user-2" } }), "U2-HTTP-lime")
    })
  )
})
