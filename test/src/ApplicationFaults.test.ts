/**
 * The supervised application under a 30% fault mix, over HTTP: the real `Application.layer` over the test
 * foundation layers, two `openai` providers pointing at two local servers (a `primary` whose backup is
 * `secondary`, and a healthy `secondary`), a ChainOfThought module made by the ModuleManager, and 200
 * concurrent executions while the primary answers 30% of its requests with 429s (Retry-After), 500s, 503s,
 * held requests (client timeouts) and connection resets.
 *
 * Every execution ends in a result or a typed error (counted by tag: none lost, none hanging), the primary's
 * breaker opens and its traffic fails over to the secondary; once the primary's faults stop and the breaker's
 * recovery time has passed, a trial call closes the breaker (`provider_recovered`) and new executions are
 * served by the primary again. Servers and retries run in real time; waits are bounded (timeouts with typed
 * failures, polls with bounded schedules) and nothing is asserted about durations.
 */
import { Prediction } from "@effect-dspy/core"
import { Arithmetic, SimFaults, SimServer, SimTask } from "@effect-dspy/sim"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, LMProviders, ModuleManager } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { httpStats, SECRET } from "./support.js"

/** A bound of the test was reached: something hung or never happened. */
class Stalled extends Data.TaggedError("Stalled")<{ readonly message: string }> {}

const CALLS = 200
const questions = SimTask.generate(Arithmetic.task, 17, CALLS).map((e) => e.question)

/** The primary's breaker: 5 failures open it; a trial call is admitted 1 s after it opened. */
const RECOVERY_MS = 1_000

/** The client gives up on a held request after 1.5 s; the server holds it 3 s. */
const CLIENT_TIMEOUT_MS = 1_500

/** The transport fault mix: 30% spread over 429 (Retry-After 1 s), 500, 503, held requests and resets. */
const faultMix: SimFaults.Profile = {
  ...SimFaults.uniform(0.3, ["rate_limit", "server_error", "unavailable", "timeout", "reset"], 29),
  retryAfterSeconds: 1,
  timeoutMs: 3_000
}

/** Every error an execution may end with (a typed error of the family, known to the application). */
const typedTags = new Set([
  "LMRateLimited",
  "LMServerError",
  "LMTimeout",
  "LMBadRequest",
  "LMContextWindowExceeded",
  "LMAuthError",
  "AdapterParseError",
  "CircuitOpen",
  "RateLimited",
  "BulkheadFull",
  "ApplicationStopping",
  "ExecutionAborted"
])

/** Config: `primary` (its backup is `secondary`) and `secondary`, both of kind `openai` at local servers. */
const configFor = (primary: string, secondary: string) => ({
  modules: { defaultLmProvider: "primary", cacheEnabled: false },
  providers: {
    primary: {
      kind: "openai",
      baseUrl: primary,
      apiKey: SECRET,
      defaultModel: "sim-1",
      backup: "secondary",
      // the application's LM retries with the default provider's count
      maxRetries: 2,
      timeoutMs: CLIENT_TIMEOUT_MS,
      poolSize: CALLS
    },
    secondary: {
      kind: "openai",
      baseUrl: secondary,
      apiKey: SECRET,
      defaultModel: "sim-1",
      maxRetries: 2,
      // healthy: generous, so that a loaded machine does not turn its answers into timeouts
      timeoutMs: 10_000,
      poolSize: CALLS
    }
  },
  infrastructure: {
    circuitBreakers: {
      lm_provider_primary: { failureThreshold: 5, windowMs: 60_000, recoveryTimeMs: RECOVERY_MS }
    }
  }
})

/** The application over the test foundation layers (own Config, event store, protections, registry). */
const applicationLayer = (primary: string, secondary: string) =>
  Application.layer().pipe(
    Layer.provideMerge(
      Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
        Layer.provideMerge(Config.layerTest(configFor(primary, secondary)))
      )
    )
  )

const primaryStatus = Effect.flatMap(LMProviders.LMProviders, (p) =>
  Effect.map(p.status, (all) => all.find((s) => s.name === "primary")!)
)

const eventsOf = (type: string) => Events.query({ types: [type] })

const transitions = Effect.map(eventsOf("circuit_breaker_state_changed"), (events) =>
  events.filter((e) => e.data.key === "lm_provider_primary").map((e) => `${String(e.data.from)}->${String(e.data.to)}`)
)

const execute = (i: number) => ModuleManager.execute("qa", { question: questions[i % CALLS]! })

/** Completions answered by a server, read from its `GET /stats`. */
const completions = (server: SimServer.Running) => Effect.map(httpStats(server), (s) => s.completions)

describe("the supervised application under a 30% fault mix over HTTP", () => {
  it.live("200 concurrent executions all end (results or typed errors); the breaker fails over, then recovers", () =>
    Effect.gen(function* () {
      const primary = yield* SimServer.serve({ faults: faultMix })
      const secondary = yield* SimServer.serve()
      yield* Effect.gen(function* () {
        yield* ModuleManager.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer: int" })

        // Phase 1: 200 concurrent executions against the faulty primary.
        const outcomes = yield* Effect.forEach(
          Array.from({ length: CALLS }, (_, i) => i),
          (i) => Effect.either(execute(i)),
          { concurrency: CALLS }
        ).pipe(
          Effect.timeoutFail({
            duration: "20 seconds",
            onTimeout: () => new Stalled({ message: "the 200 executions did not all end within 20 s" })
          })
        )
        const byTag: Record<string, number> = {}
        for (const o of outcomes) {
          const tag = o._tag === "Right" ? "ok" : o.left._tag
          byTag[tag] = (byTag[tag] ?? 0) + 1
        }
        const counts = JSON.stringify(byTag)
        // nothing lost: one outcome per execution, each a result or a known typed error
        assert.strictEqual(outcomes.length, CALLS)
        assert.strictEqual(
          Object.values(byTag).reduce((a, b) => a + b, 0),
          CALLS
        )
        for (const o of outcomes) {
          if (o._tag === "Left") {
            assert.isTrue(typedTags.has(o.left._tag), `untyped failure ${o.left._tag}: ${counts}`)
            assert.isString((o.left as { code?: unknown }).code, `no error code: ${counts}`)
          } else {
            const output = o.right.output
            assert.isTrue(Prediction.isPrediction(output) && typeof output.get("answer") === "number", counts)
          }
        }
        // the primary's faults reached the application; fail-over to the healthy secondary absorbed most
        const primaryStats = yield* httpStats(primary)
        const injected = Object.values(primaryStats.faults).reduce((a, b) => a + (b ?? 0), 0)
        assert.isAbove(injected, 5, `faults injected: ${JSON.stringify(primaryStats.faults)}`)
        assert.isAtLeast(byTag.ok ?? 0, CALLS / 2, `outcomes: ${counts}`)
        // the breaker opened and the traffic failed over
        assert.include(yield* transitions, "closed->open")
        const failovers = yield* eventsOf("provider_failover")
        assert.isAtLeast(failovers.length, 1)
        assert.deepStrictEqual(failovers[0]!.data, { provider: "primary", backup: "secondary", reason: "circuit_open" })
        assert.isAtLeast((yield* primaryStatus).failovers, 1)
        assert.isAbove(yield* completions(secondary), 0, "the secondary answered failed-over requests")

        // Phase 2: the primary goes down completely until its breaker is open and its traffic is on the
        // secondary (so that the recovery below does not depend on how the mix's trial calls went).
        yield* SimServer.setFaults(primary, { rates: { unavailable: 1 } })
        yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          (i) => Effect.either(execute(i)),
          { concurrency: "unbounded" }
        ).pipe(
          Effect.zipRight(primaryStatus),
          Effect.repeat({ times: 5, until: (s) => s.circuit === "open" && s.failedOver }),
          Effect.filterOrFail(
            (s) => s.circuit === "open" && s.failedOver,
            (s) => new Stalled({ message: `the primary's breaker did not stay open: ${s.circuit}` })
          )
        )

        // Phase 3: the faults stop; after the breaker's recovery time a trial call to the primary closes it.
        yield* SimServer.setFaults(primary, SimFaults.none)
        const recoveredBefore = (yield* eventsOf("provider_recovered")).length
        yield* Effect.sleep(RECOVERY_MS)
        // (an execution that fails here, a timed-out trial say, is retried by the next poll)
        const recovered = yield* Effect.either(execute(0)).pipe(
          Effect.zipRight(primaryStatus),
          Effect.repeat({
            schedule: Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(100))),
            until: (s) => s.circuit === "closed" && !s.failedOver
          }),
          Effect.zipRight(primaryStatus),
          Effect.filterOrFail(
            (s) => s.circuit === "closed" && !s.failedOver,
            (s) => new Stalled({ message: `the primary did not recover: circuit ${s.circuit}` })
          )
        )
        assert.isAtLeast(recovered.recoveries, 1)
        const recoveries = yield* eventsOf("provider_recovered")
        assert.strictEqual(recoveries.length, recoveredBefore + 1)
        assert.deepStrictEqual(recoveries[recoveries.length - 1]!.data, { provider: "primary", backup: "secondary" })
        const moves = yield* transitions
        assert.strictEqual(moves[moves.length - 1], "half-open->closed")

        // New executions are served by the primary again.
        const primaryBefore = yield* completions(primary)
        const secondaryBefore = yield* completions(secondary)
        const fresh = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => execute(i),
          { concurrency: 5 }
        )
        assert.strictEqual(fresh.length, 20)
        assert.isAtLeast((yield* completions(primary)) - primaryBefore, 20)
        assert.strictEqual(yield* completions(secondary), secondaryBefore, "nothing failed over any more")
        assert.strictEqual((yield* primaryStatus).circuit, "closed")
      }).pipe(Effect.provide(applicationLayer(primary.url, secondary.url)))
    }).pipe(
      Effect.scoped,
      Effect.timeoutFail({
        duration: "45 seconds",
        onTimeout: () => new Stalled({ message: "the fault run did not end within 45 s" })
      })
    )
  )
})
