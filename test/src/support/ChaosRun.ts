/**
 * The chaos run shared by `Chaos.test.ts` and the `hardening-chaos` bench: the supervised application's
 * configuration for one `openai` provider (`chaos`) at a chaos server, with small timeouts, stream deadline and
 * response limit so that every hostile answer ends quickly; and `n` concurrent requests through the
 * application (four in five `ModuleManager.execute` of a ChainOfThought, one in five a stream through the
 * application's `LM`), each classified as a result, a typed error of the family, or lost.
 */
import { ChainOfThought, ChatAdapter, LM, Signature } from "@effect-dspy/core"
import { Config, Errors, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { ModuleManager } from "@effect-dspy/services"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { SECRET } from "../support.js"

/** The server options of the run: oversized bodies past the client's 64 KiB limit, drips of up to 300 ms gaps. */
export const serverOptions = { seed: 11, oversizedBytes: 256 * 1024, dripMaxGapMs: 300 } as const

/**
 * The configuration: one provider `chaos` at `url`, one retry, a 15 s timeout (a loaded machine queues 500
 * requests for seconds before they are sent; plain drips end within it), a
 * 1.5 s stream deadline, a 64 KiB response limit, a pool as large as the run, and a breaker that opens only when
 * nearly everything fails (the chaos must reach the server, not the breaker).
 */
export const config = (url: string, requests: number) => ({
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
      timeoutMs: 15_000,
      streamDeadlineMs: 1_500,
      maxResponseBytes: 64 * 1024,
      poolSize: requests
    }
  },
  infrastructure: {
    circuitBreakers: {
      lm_provider_chaos: { failureRateThreshold: 0.95, windowMs: 10_000, minimumVolume: 1_000 }
    }
  },
  events: { maxEvents: 50_000 }
})

/** What `Application.layer` needs, over the test layers (own Config, in-memory events, protections, registry). */
export const foundation = (url: string, requests: number) =>
  Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
    Layer.provideMerge(Config.layerTest(config(url, requests)))
  )

/** How one request ended. */
export type Outcome =
  | { readonly _tag: "result" }
  | { readonly _tag: "typed"; readonly tag: string }
  | { readonly _tag: "lost"; readonly why: string }

/** A result, a typed error of the family (`Errors.isDSPyError`), or lost (a defect, an interruption, another error). */
export const classify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return { _tag: "result" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && Errors.isDSPyError(failure.value)) {
    return { _tag: "typed", tag: failure.value._tag }
  }
  return { _tag: "lost", why: Cause.pretty(exit.cause).slice(0, 300) }
}

/** Outcomes counted by `result`, error tag or `lost`. */
export const tally = (outcomes: ReadonlyArray<Outcome>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const o of outcomes) {
    const key = o._tag === "typed" ? o.tag : o._tag
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

const signature = ChainOfThought.extendSignature(Signature.make("question -> answer: int"))
const adapter = ChatAdapter.make()

/**
 * Creates the module `qa` (a ChainOfThought over `question -> answer: int`; once per application) and runs `n`
 * concurrent requests; the first fifth are streams through the application's `LM`.
 */
export const run = (
  n: number,
  seed = 23
): Effect.Effect<Array<Outcome>, ModuleManager.MutationError, LM.LM | ModuleManager.ModuleManager> =>
  Effect.gen(function* () {
    const questions = SimTask.generate(Arithmetic.task, seed, n).map((e) => e.question)
    const modules = yield* ModuleManager.ModuleManager
    if (!(yield* modules.list).some((m) => m.id === "qa")) {
      yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer: int" })
    }
    // The streams start first: each waits a scheduler round (its breaker call) before sending, so behind 400
    // executions on a loaded machine none would reach the server within the timeout.
    const request = (i: number): Effect.Effect<unknown, unknown, LM.LM | ModuleManager.ModuleManager> =>
      i < n / 5
        ? LM.stream({ messages: adapter.format(signature, [], { question: questions[i]! }).messages }).pipe(
            Stream.runFold("", (text, chunk) => text + chunk.delta)
          )
        : Effect.map(ModuleManager.execute("qa", { question: questions[i]! }), (r) => r.output)
    return yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) => Effect.map(Effect.exit(request(i)), classify),
      { concurrency: n }
    )
  })
