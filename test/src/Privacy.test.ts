/**
 * PII planted in a program's inputs never leaves the process under `mask`, `redact` or `block`: not in what the
 * LM receives, the disk cache, the LM history, events, spans, the saved program (bootstrapped demos included) or
 * an exported release bundle. Under `detect` the requests go as they are, but events and spans stay clean; under
 * `mask` the caller still gets its own data back. Every artefact is grepped for the planted values, as the
 * secrets test does for the API key.
 */
import { Config, Events, Telemetry } from "@effect-dspy/foundation"
import {
  ChainOfThought,
  Completion,
  Example,
  LM,
  Module,
  Predict,
  Privacy,
  ProviderKind,
  Signature
} from "@effect-dspy/core"
import type { Provider } from "@effect-dspy/core"
import { BootstrapFewShot, Optimizer } from "@effect-dspy/optimizers"
import { ReleaseBundle, ReleaseStore } from "@effect-dspy/services"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

const EMAIL = "ada.lovelace@example.com"
const CARD = "4111 1111 1111 1111"
const PHONE = "+44 20 7946 0958"
const SSN = "123-45-6788"
const planted = [EMAIL, CARD, PHONE, SSN]
const withPii = (question: string) => `${question} (Customer ${EMAIL}, card ${CARD}, phone ${PHONE}, SSN ${SSN}.)`

const QA = Signature.make("question -> answer: int")
const questions = SimTask.generate(Arithmetic.task, 21, 10)
const trainset = questions.map((e) =>
  Example.make({ question: withPii(e.question), answer: e.answer }).withInputs("question")
)

const assertClean = (text: string, where: string) => {
  for (const value of planted) assert.notInclude(text, value, `${value} leaked into ${where}`)
}

/** The simulated LM, recording every request it receives (what left the process). */
const recordingSim = () => {
  const sent: Array<Completion.CompletionRequest> = []
  const sim = SimLM.make()
  const provider: Provider.Provider = {
    ...sim,
    complete: (request) =>
      Effect.suspend(() => {
        sent.push(request)
        return sim.complete(request)
      })
  }
  return { sent, provider }
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-dspy-privacy-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** Every file of a directory as text (the cache's SQLite database and its journal). */
const readAll = (dir: string) =>
  Effect.promise(async () => {
    const names = await fs.readdir(dir)
    const texts = await Promise.all(names.map((n) => fs.readFile(path.join(dir, n), "latin1")))
    return texts.join("\n")
  })

interface Artefacts {
  readonly sent: string
  readonly cache: string
  readonly history: string
  readonly events: string
  readonly spans: string
  readonly saved: Exit.Exit<string, unknown>
  readonly bundle: Exit.Exit<string, unknown>
  readonly predicted: Exit.Exit<{ readonly answer: unknown; readonly reasoning: unknown }, unknown>
  readonly eventTypes: ReadonlyArray<string>
}

/**
 * Runs a program under a privacy setting (predict, bootstrap + save, cached calls, a release bundle export) and
 * collects every artefact as text.
 */
const runUnder = (privacy: { readonly [key: string]: unknown }) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const cacheDir = path.join(dir, "cache")
    yield* Effect.promise(() => fs.mkdir(cacheDir))
    const { sent, provider } = recordingSim()
    const app = LM.layerCached({ path: path.join(cacheDir, "lm-cache.sqlite") }).pipe(
      Layer.provide(ProviderKind.layer("simulated", () => Effect.succeed(provider))),
      Layer.provideMerge(Config.layerTest({ privacy, modules: { cacheEnabled: true } })),
      Layer.provideMerge(Layer.mergeAll(Events.layerMemory, Telemetry.layerTest, ReleaseStore.layerMemory))
    )
    const artefacts = yield* Effect.gen(function* () {
      const cot = ChainOfThought.make(QA)
      const predicted = yield* Effect.exit(
        Effect.map(Module.call(cot, { question: trainset[0]!.get("question") as string }), (p) => ({
          answer: p.get("answer"),
          reasoning: p.get("reasoning")
        }))
      )
      // The same call again: a cache hit.
      yield* Effect.exit(Module.call(cot, { question: trainset[0]!.get("question") as string }))

      const compiled = yield* Effect.exit(
        Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 3, maxLabeledDemos: 0 }), cot, {
          trainset,
          // Every trace is kept as a demo: the demos then carry the customers' inputs, which is the case to test.
          metric: () => true
        })
      )
      // Without a policy in the way the demos carry the planted values: the test would prove nothing otherwise.
      const program = Exit.isSuccess(compiled) ? compiled.value.program : cot
      const file = path.join(dir, "program.json")
      const saved = yield* Effect.exit(
        Effect.flatMap(Module.save(program, file), () => Effect.promise(() => fs.readFile(file, "utf8")))
      )

      const store = yield* ReleaseStore.ReleaseStore
      const state = Module.dumpState(program)
      yield* store.create(
        { moduleId: "qa", shape: "s", spec: { note: `owner ${EMAIL}` }, promoted: 1, createdAt: 0, updatedAt: 0 },
        {
          moduleId: "qa",
          version: 1,
          state,
          lineage: { parent: null, reason: "test", jobId: null, optimizer: null, scores: null },
          createdAt: 0
        }
      )
      const bundle = yield* Effect.exit(Effect.map(ReleaseBundle.exportBundle("qa"), (b) => JSON.stringify(b)))

      const lm = yield* LM.LM
      const history = `${JSON.stringify(yield* lm.history)}\n${yield* lm.inspectHistory(1000)}`
      const events = yield* Events.query({})
      const spans = yield* Telemetry.finishedSpans
      return {
        sent: JSON.stringify(sent),
        history,
        events: JSON.stringify(events),
        eventTypes: events.map((e) => e.type),
        spans: JSON.stringify(spans.map((s) => ({ n: s.name, a: s.attributes, e: s.events, s: s.status }))),
        saved,
        bundle,
        predicted,
        demosBeforeSave: Exit.isSuccess(compiled) ? JSON.stringify(Module.dumpState(compiled.value.program)) : ""
      }
    }).pipe(Effect.provide(app), Effect.scoped)
    // The cache's files, read after the layer closed (everything written).
    return { ...artefacts, cache: yield* readAll(cacheDir) } satisfies Artefacts & { demosBeforeSave: string }
  }).pipe(Effect.scoped)

describe("planted PII never leaves the process", () => {
  for (const mode of ["mask", "redact"] as const) {
    it.live(`${mode}: not in requests, cache, history, events, spans, saved program or release bundle`, () =>
      Effect.gen(function* () {
        const a = yield* runUnder({ mode })
        assert.isTrue(Exit.isSuccess(a.predicted), "the program ran")
        assert.isAbove(a.sent.length, 2)
        assertClean(a.sent, "the LM requests")
        assert.include(a.sent, mode === "mask" ? "<EMAIL_1>" : "[EMAIL]")
        assertClean(a.cache, "the disk cache")
        assertClean(a.history, "the LM history")
        assertClean(a.events, "events")
        assert.include(a.eventTypes, "pii_detected")
        assertClean(a.spans, "spans")
        assert.include(a.spans, "module.ChainOfThought", "spans were recorded")
        assert.isTrue(Exit.isSuccess(a.saved))
        if (Exit.isSuccess(a.saved)) assertClean(a.saved.value, "the saved program")
        assert.include(a.demosBeforeSave, EMAIL, "the bootstrapped demos carried the e-mail in memory")
        assert.isTrue(Exit.isSuccess(a.bundle))
        if (Exit.isSuccess(a.bundle)) assertClean(a.bundle.value, "the release bundle")
      })
    )
  }

  it.live("mask: the caller gets its own data back in outputs that echo it (Predict over an echoing LM)", () =>
    Effect.gen(function* () {
      const sent: Array<string> = []
      // An LM that answers with the question it was given, in the ChatAdapter's format.
      const echo: Provider.Provider = {
        ...SimLM.make(),
        complete: (request) =>
          Effect.sync(() => {
            const user = Completion.textOf(request.messages.at(-1)!.content)
            sent.push(JSON.stringify(request))
            const question = user.slice(user.indexOf("]]") + 2, user.indexOf("Respond with")).trim()
            return {
              id: "echo",
              model: request.model,
              choices: [
                {
                  index: 0,
                  content: `[[ ## answer ## ]]\nYou wrote: ${question}\n\n[[ ## completed ## ]]`,
                  finishReason: "stop" as const
                }
              ],
              usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
              costUsd: 0,
              cacheHit: false
            }
          })
      }
      const question = withPii("Please update my details.")
      const dir = yield* tempDir
      const predict = Predict.make("question -> answer")
      const [first, second] = yield* Effect.all([
        Module.call(predict, { question }),
        Module.call(predict, { question })
      ]).pipe(
        Effect.provide(
          LM.layerCached({ path: path.join(dir, "cache.sqlite") }).pipe(
            Layer.provide(ProviderKind.layer("simulated", () => Effect.succeed(echo))),
            Layer.provide(Config.layerTest({ privacy: { mode: "mask", leakage: "block" } }))
          )
        ),
        Effect.scoped
      )
      assert.strictEqual(first.get("answer"), `You wrote: ${question}`)
      assert.strictEqual(second.get("answer"), `You wrote: ${question}`, "from the cache, unmasked again")
      assert.strictEqual(sent.length, 1)
      assertClean(sent[0]!, "the LM request")
      assert.include(sent[0]!, "<EMAIL_1>")
      // The cached answer echoed the request: it is stored with the placeholders, never the values.
      const cache = yield* readAll(dir)
      assert.include(cache, "<EMAIL_1>")
      assertClean(cache, "the disk cache")
    }).pipe(Effect.scoped)
  )

  it.live("block: nothing is sent, saved or exported; typed errors name the kinds", () =>
    Effect.gen(function* () {
      const a = yield* runUnder({ mode: "block" })
      assert.strictEqual(a.sent, "[]", "no request left")
      assert.isTrue(Exit.isFailure(a.predicted))
      if (Exit.isFailure(a.predicted)) assert.include(JSON.stringify(a.predicted.cause), "PrivacyBlocked")
      assertClean(a.history, "the LM history")
      assertClean(a.events, "events")
      assertClean(a.spans, "spans")
      assertClean(a.cache, "the disk cache")
      assert.isTrue(Exit.isFailure(a.bundle), "the bundle with an e-mail in its spec is refused")
      if (Exit.isSuccess(a.saved)) assertClean(a.saved.value, "the saved program")
    })
  )

  it.live("detect: requests go as they are, but events and spans carry only kinds", () =>
    Effect.gen(function* () {
      const a = yield* runUnder({ mode: "detect" })
      assert.include(a.sent, EMAIL)
      assert.include(a.eventTypes, "pii_detected")
      assertClean(a.events, "events")
      assertClean(a.spans, "spans")
    })
  )

  it.live("a saved program keeps an allowed value (privacy.allow)", () =>
    Effect.gen(function* () {
      const a = yield* runUnder({ mode: "redact", allow: [EMAIL] })
      assert.isTrue(Exit.isSuccess(a.saved))
      if (Exit.isSuccess(a.saved)) {
        assert.include(a.saved.value, EMAIL)
        assert.notInclude(a.saved.value, CARD)
      }
    })
  )

  it.live("the Privacy.scrub API a later store calls (experiences, feedback, API logs) applies the same policy", () =>
    Effect.gen(function* () {
      const record = { input: withPii("What is 2 + 2?"), output: "4" }
      const scrubbed = yield* Privacy.scrub("experiences", record).pipe(
        Effect.provide(Config.layerTest({ privacy: { mode: "mask" } }))
      )
      assertClean(JSON.stringify(scrubbed), "a scrubbed record")
    })
  )
})
