/**
 * Workflow runs and data rights: a run made for an end user (foundation's `Subject`) records them; the run store's
 * data-rights source exports it whole (inputs, step outputs) and erases it, with the events of its request and the
 * demos made from its inputs, and keeps another user's run. On SQLite.
 */
import { Correlation, Subject } from "@effect-dspy/foundation"
import { DataRights, ExperienceStore } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RunStore, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const text = `
version: 1
name: ask
inputs:
  query: str
steps:
  - id: one
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
outputs: { first: "{one.agent}" }
`

describe("workflow runs and data rights", () => {
  it.effect("a run made for an end user is exported whole and erased; another user's run is kept", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "wf-rights-"))),
      (dir) =>
        Effect.gen(function* () {
          const store = yield* RunStore.makeSqlite(path.join(dir, "runs.db"))
          yield* Effect.gen(function* () {
            const engine = yield* WorkflowEngine.WorkflowEngine
            const w = yield* Workflow.parse(text, "ask.yaml")
            const ask = (subject: string, query: string) =>
              engine
                .run(w, { query }, { runId: `run-${subject}` })
                .pipe(Correlation.withCorrelationId(`req-${subject}`), Subject.withSubject(subject))
            yield* ask("user-1", "U1-QUERY-fig")
            yield* ask("user-2", "U2-QUERY-date")
            assert.strictEqual((yield* store.get("run-user-1"))?.subject, "user-1")

            const rights = yield* DataRights.make([
              ...(yield* DataRights.sourcesFromContext),
              RunStore.rightsSource(store)
            ])
            const archive = entriesText(yield* rights.export({ subject: "user-1" }))
            assert.include(archive, "U1-QUERY-fig")
            assert.notInclude(archive, "U2-QUERY-date")
            assert.strictEqual((yield* rights.export({ subject: "user-1" })).manifest.sources.workflow_runs, 1)
            const report = yield* rights.erase({ subject: "user-1" })
            assert.strictEqual(report.counts.workflow_runs, 1)
            assert.strictEqual(yield* store.get("run-user-1"), undefined)
            assert.strictEqual((yield* store.get("run-user-2"))?.subject, "user-2")
            const experiences = yield* ExperienceStore.ExperienceStore
            assert.strictEqual((yield* experiences.query({ subject: "user-1" })).length, 0)
          }).pipe(Effect.provide(Runtime.layerWithStore(store)))
        }).pipe(Effect.scoped),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
  )
})

const entriesText = (archive: { readonly entries: ReadonlyArray<unknown> }) => JSON.stringify(archive.entries)
