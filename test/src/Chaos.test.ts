/**
 * The supervised application against a chaos server over HTTP: the real `Application.layer`, its one `openai`
 * provider pointing at a local server (`support/ChaosServer.ts`; the run: `support/ChaosRun.ts`) that answers a seeded mix of valid answers
 * (plain and streamed), HTML pages, broken JSON, JSON without `choices`, `null` bodies, slow drips, connection
 * resets mid-body and oversized bodies; 500 concurrent requests, four in five `ModuleManager.execute` and one in
 * five a stream through the application's `LM`.
 *
 * Every request ends in a result or a typed error of the family (`Errors.isDSPyError`): none lost (no defect,
 * no interruption, none hanging), no unhandled rejection and no process warning while it runs; then the
 * application closes (its `application_stopped` event) and the server stops. The provider's timeouts, stream
 * deadline and response limit are small, so the drips and the oversized bodies end in typed errors quickly;
 * nothing is asserted about durations (the bounds are timeouts with typed failures).
 */
import { Events } from "@effect-dspy/foundation"
import { Application } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as ChaosRun from "./support/ChaosRun.js"
import * as ChaosServer from "./support/ChaosServer.js"

/** A bound of the test was reached: something hung. */
class Stalled extends Data.TaggedError("Stalled")<{ readonly message: string }> {}

const REQUESTS = 500

describe("the supervised application against a chaos server", () => {
  it.live("500 concurrent requests each end in a result or a typed error; nothing unhandled, nothing left", () => {
    const rejections: Array<unknown> = []
    const warnings: Array<string> = []
    const onRejection = (reason: unknown) => rejections.push(reason)
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
    return Effect.gen(function* () {
      process.on("unhandledRejection", onRejection)
      process.on("warning", onWarning)
      const serverScope = yield* Scope.make()
      const server = yield* Scope.extend(ChaosServer.serve(ChaosRun.serverOptions), serverScope)
      yield* Effect.gen(function* () {
        const appScope = yield* Scope.make()
        const app = yield* Layer.buildWithScope(Application.layer({ shutdownGracePeriod: "2 seconds" }), appScope)
        const outcomes = yield* ChaosRun.run(REQUESTS).pipe(
          Effect.provide(app),
          Effect.timeoutFail({
            duration: "50 seconds",
            onTimeout: () => new Stalled({ message: "the 500 requests did not all end within 50 s" })
          })
        )
        yield* Scope.close(appScope, Exit.void)

        const byTag = ChaosRun.tally(outcomes)
        const counts = JSON.stringify(byTag) + JSON.stringify(server.stats().byKind)
        assert.strictEqual(outcomes.length, REQUESTS)
        const lost = outcomes.filter((o) => o._tag === "lost")
        assert.deepStrictEqual(lost, [], `requests lost: ${counts}`)
        // The chaos reached the application both ways: answers came through and hostile ones failed typed.
        assert.isAbove(byTag.result ?? 0, 0, counts)
        assert.isAbove(REQUESTS - (byTag.result ?? 0), 0, counts)
        assert.isAbove(byTag.LMMalformedResponse ?? 0, 0, counts)
        // Every behaviour was served, to plain and streamed requests.
        const stats = server.stats()
        assert.isAtLeast(stats.requests, REQUESTS)
        assert.isAbove(stats.streams, 0, counts)
        for (const kind of ChaosServer.kinds) assert.isAbove(stats.byKind[kind], 0, `no ${kind}: ${counts}`)
        // The application closed: its tree stopped and said so.
        const stopped = yield* Events.query({ types: ["application_stopped"] })
        assert.strictEqual(stopped.length, 1)
      }).pipe(Effect.provide(ChaosRun.foundation(server.url, REQUESTS)))

      yield* Scope.close(serverScope, Exit.void)
      assert.isFalse(server.listening())
      assert.strictEqual(server.stats().openConnections, 0)
      // Late rejections (a promise of an aborted request) surface within a few turns of the event loop.
      for (let i = 0; i < 5; i++) yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      assert.deepStrictEqual(rejections.map(String), [], "unhandled rejections")
      assert.deepStrictEqual(warnings, [], "process warnings")
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          process.off("unhandledRejection", onRejection)
          process.off("warning", onWarning)
        })
      ),
      Effect.scoped
    )
  })
})
