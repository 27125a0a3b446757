/**
 * The supervised application against a chaos server over HTTP: the real `Application.layer`, its one `openai`
 * provider pointing at a local server (`support/ChaosServer.ts`) that answers a seeded mix of valid answers
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
import { ChainOfThought, ChatAdapter, LM, Signature } from "@effect-dspy/core"
import { Config, Errors, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Application, ModuleManager } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChaosServer from "./support/ChaosServer.js"
import { SECRET } from "./support.js"

/** A bound of the test was reached: something hung. */
class Stalled extends Data.TaggedError("Stalled")<{ readonly message: string }> {}

const REQUESTS = 500
const questions = SimTask.generate(Arithmetic.task, 23, REQUESTS).map((e) => e.question)
const signature = ChainOfThought.extendSignature(Signature.make("question -> answer: int"))
const adapter = ChatAdapter.make()

/** Small limits, so that every hostile answer ends (typed) within a second or so. */
const configFor = (url: string) => ({
  modules: { defaultLmProvider: "chaos", cacheEnabled: false },
  providers: {
    chaos: {
      kind: "openai",
      baseUrl: url,
      apiKey: SECRET,
      defaultModel: "chaos-1",
      maxRetries: 1,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      timeoutMs: 5_000,
      streamDeadlineMs: 1_500,
      maxResponseBytes: 64 * 1024,
      poolSize: REQUESTS
    }
  },
  infrastructure: {
    // rate mode, opened only when nearly everything fails: the chaos must reach the server, not the breaker
    circuitBreakers: {
      lm_provider_chaos: { failureRateThreshold: 0.95, windowMs: 10_000, minimumVolume: 1_000 }
    }
  },
  events: { maxEvents: 50_000 }
})

/** One request: an execution of the module, or (every fifth) a stream through the application's LM. */
const request = (i: number): Effect.Effect<unknown, unknown, LM.LM | ModuleManager.ModuleManager> =>
  i % 5 === 4
    ? LM.stream({ messages: adapter.format(signature, [], { question: questions[i]! }).messages }).pipe(
        Stream.runFold("", (text, chunk) => text + chunk.delta)
      )
    : Effect.map(ModuleManager.execute("qa", { question: questions[i]! }), (r) => r.output)

type Outcome =
  | { readonly _tag: "result" }
  | { readonly _tag: "typed"; readonly tag: string }
  | { readonly _tag: "lost"; readonly why: string }

const classify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return { _tag: "result" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && Errors.isDSPyError(failure.value)) {
    return { _tag: "typed", tag: failure.value._tag }
  }
  return { _tag: "lost", why: Cause.pretty(exit.cause).slice(0, 300) }
}

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
      const server = yield* Scope.extend(
        ChaosServer.serve({ seed: 11, oversizedBytes: 256 * 1024, dripMaxGapMs: 300 }),
        serverScope
      )
      const foundation = Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
        Layer.provideMerge(Config.layerTest(configFor(server.url)))
      )
      yield* Effect.gen(function* () {
        const appScope = yield* Scope.make()
        const app = yield* Layer.buildWithScope(Application.layer({ shutdownGracePeriod: "2 seconds" }), appScope)
        const outcomes = yield* Effect.gen(function* () {
          yield* ModuleManager.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer: int" })
          return yield* Effect.forEach(
            Array.from({ length: REQUESTS }, (_, i) => i),
            (i) => Effect.map(Effect.exit(request(i)), classify),
            { concurrency: REQUESTS }
          )
        }).pipe(
          Effect.provide(app),
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new Stalled({ message: "the 500 requests did not all end within 30 s" })
          })
        )
        yield* Scope.close(appScope, Exit.void)

        const byTag: Record<string, number> = {}
        for (const o of outcomes) {
          const key = o._tag === "typed" ? o.tag : o._tag
          byTag[key] = (byTag[key] ?? 0) + 1
        }
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
      }).pipe(Effect.provide(foundation))

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
