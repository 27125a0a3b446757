/**
 * The privacy policy on the application's stores: events (every event's strings redacted in the SQLite events
 * store) and the experience store (inputs, outputs and corrected answers redacted before each batch is written),
 * checked by grepping the files' bytes for planted PII; with the policy off the values are there.
 */
import { SimLM } from "@effect-dspy/sim"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Application, ExperienceStore, Loop, ModuleManager, TestRuntime } from "../../src/index.js"

const email = "ada.lovelace@example.org"
const card = "4111 1111 1111 1111"

/** Every file of `dir` (SQLite's journal and WAL included) as one text. */
const bytesOf = (dir: string): string =>
  fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f)).toString("latin1"))
    .join("\n")

const withDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "privacy-stores-"))),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("privacy on the application's stores", () => {
  const eventsRun = (privacy: Record<string, unknown>) =>
    withDir((dir) =>
      Effect.gen(function* () {
        const foundation = Layer.mergeAll(
          Events.layerSqlite({ filename: path.join(dir, "events.db") }),
          Protection.layer,
          Registry.layerTest
        ).pipe(Layer.provideMerge(Config.layerTest({ privacy })))
        const app = Application.layer({ providerFactory: (name) => Effect.succeed(SimLM.make({ name })) }).pipe(
          Layer.provideMerge(foundation)
        )
        yield* Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          // The module's id quotes a customer's e-mail: it is in the module_created event's data.
          yield* modules.create({ id: `support for ${email}`, kind: "predict", signature: "question -> answer" })
          const events = yield* Events.query({})
          assert.isTrue(events.some((e) => JSON.stringify(e.data).includes("support for")))
        }).pipe(Effect.provide(app), Effect.scoped)
        return bytesOf(dir)
      })
    )

  it.effect("events: redacted in the SQLite events store under privacy, as published with it off", () =>
    Effect.gen(function* () {
      const redacted = yield* eventsRun({ mode: "redact" })
      assert.notInclude(redacted, email)
      assert.include(redacted, "[EMAIL]")
      const off = yield* eventsRun({})
      assert.include(off, email)
    })
  )

  const experiencesRun = (privacy: Record<string, unknown>) =>
    withDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "loop.db")
        yield* Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const loop = yield* Loop.Loop
          const store = yield* ExperienceStore.ExperienceStore
          yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
          const execution = yield* modules.execute("qa", { question: `What is 2 + 3? Reply to ${email}` })
          yield* loop.feedback({
            executionId: execution.executionId,
            outcome: { success: false, corrected: { answer: `5, charged to ${card}` } }
          })
          // A later feedback of a row written before goes through the update path.
          const second = yield* modules.execute("qa", { question: "What is 1 + 1?" })
          yield* store.flush
          yield* loop.feedback({
            executionId: second.executionId,
            outcome: { success: false, corrected: { answer: `2, mail ${email}` } }
          })
          yield* store.flush
          // In memory, the process keeps what it was given.
          assert.include(JSON.stringify(store.get(execution.executionId)?.inputs), email)
        }).pipe(Effect.provide(TestRuntime.layer({ config: { privacy }, application: { loop: { filename } } })))
        return bytesOf(dir)
      })
    )

  it.effect("experiences: inputs and corrected answers redacted before they are written", () =>
    Effect.gen(function* () {
      const redacted = yield* experiencesRun({ stores: "redact" })
      assert.notInclude(redacted, email)
      assert.notInclude(redacted, card)
      assert.include(redacted, "[EMAIL]")
      assert.include(redacted, "[CARD]")
      const off = yield* experiencesRun({})
      assert.include(off, email)
      assert.include(off, card)
    })
  )

  it.effect("experiences under block: the row is written without its text, its reward kept", () =>
    Effect.gen(function* () {
      const blocked = yield* experiencesRun({ stores: "block" })
      assert.notInclude(blocked, email)
      assert.notInclude(blocked, card)
      assert.include(blocked, "What is 1 + 1?")
    })
  )
})
