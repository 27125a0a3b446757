import { Events, Subject } from "@effect-dspy/foundation"
import { CacheManager, DataRights, ExperienceStore, ReleaseStore } from "@effect-dspy/services"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, nowUs, round } from "../Harness.js"

/**
 * Erasing an end user (`DataRights.erase`) on the SQLite stores: 1,000 of their executions with feedback, an event
 * each under its correlation id, 1,000 LM cache entries in their namespace (L1 and L2), and a saved program whose
 * versions hold demos made from their inputs, among as much of another user's data that stays. The peer is writing
 * those 1,000 executions (recorded and committed) in the same run.
 */
const bench: Bench = {
  name: "tenants",
  description: "data rights: erase one end user's 1,000 executions (and their events, cache entries, demos) on SQLite",
  run: async (report) => {
    const N = 1_000
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-erase-"))
    try {
      const program = Effect.scoped(
        Effect.gen(function* () {
          const experiences = yield* ExperienceStore.makeSqlite(path.join(dir, "experiences.db"))
          const events = Context.get(
            yield* Layer.build(Events.layerSqlite({ filename: path.join(dir, "events.db") })),
            Events.Events
          )
          const releases = yield* ReleaseStore.makeSqlite({ filename: path.join(dir, "releases.db") })
          const cache = yield* CacheManager.make({ path: path.join(dir, "cache.db"), maxEntries: 5 * N })
          const now = Date.now()
          const plant = (subject: string) =>
            Effect.gen(function* () {
              const start = nowUs()
              for (let i = 0; i < N; i++)
                experiences.record({
                  executionId: `${subject}-ex-${i}`,
                  correlationId: `${subject}-req-${i}`,
                  moduleId: "qa",
                  version: 1,
                  inputs: { question: `${subject} question ${i}` },
                  output: { answer: `answer ${i}` },
                  ok: true,
                  latencyMs: 3,
                  lmCalls: 1,
                  costUsd: 0.0001,
                  at: now - N + i,
                  reward: 1,
                  outcome: { success: true },
                  feedbackAt: now,
                  subject
                })
              yield* experiences.flush
              const writeS = (nowUs() - start) / 1e6
              for (let i = 0; i < N; i++)
                yield* events.publish({
                  type: "module_execution_complete",
                  correlationId: `${subject}-req-${i}`,
                  data: { i }
                })
              const ns = CacheManager.namespaceOf("lm", { subject })
              for (let i = 0; i < N; i++) yield* cache.set(ns, `k${i}`, { text: `${subject} cached ${i}` })
              return writeS
            })
          const writeS = yield* plant("user-1")
          yield* plant("user-2")
          const demos = (subject: string) =>
            Array.from({ length: 8 }, (_, i) => ({ fields: { question: `${subject} question ${i}`, answer: "a" } }))
          yield* releases.create(
            { moduleId: "qa", shape: "predict", spec: null, promoted: 1, createdAt: 0, updatedAt: 0 },
            {
              moduleId: "qa",
              version: 1,
              state: { predictors: { self: { instructions: "", demos: [...demos("user-1"), ...demos("user-2")] } } },
              lineage: { parent: null, reason: "created", jobId: null, optimizer: null, scores: null },
              createdAt: 0
            }
          )
          const rights = yield* DataRights.make(
            yield* DataRights.sourcesFromContext.pipe(
              Effect.provideService(ExperienceStore.ExperienceStore, experiences),
              Effect.provideService(Events.Events, events),
              Effect.provideService(ReleaseStore.ReleaseStore, releases),
              Effect.provideService(CacheManager.CacheManager, cache)
            )
          )
          const start = nowUs()
          const erased = yield* rights.erase({ subject: "user-1" })
          const eraseS = (nowUs() - start) / 1e6
          if (erased.counts.experiences !== N || erased.counts.events !== N || (erased.counts.cache ?? 0) < N)
            throw new Error(`erase missed records: ${JSON.stringify(erased.counts)}`)
          if ((yield* experiences.query({ subject: "user-2" })).length !== N) throw new Error("user 2 lost data")
          if (Subject.digest("user-1") === Subject.digest("user-2")) throw new Error("digest collision")
          return { writeS, eraseS }
        })
      )
      const { writeS, eraseS } = await Effect.runPromise(program)
      report({
        bench: "tenants",
        metric: "erase_1000_executions_s",
        value: round(eraseS, 3),
        unit: "s",
        baseline: round(writeS, 3),
        ratio: round(eraseS / writeS, 2),
        target: "<= 2"
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
