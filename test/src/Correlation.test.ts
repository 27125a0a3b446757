/**
 * One MultiHopQA run over HTTP under one correlation id: every finished span (Telemetry.layerTest, the LM
 * request spans included) and every event (Events.layerMemory: module_execution_*, the multi-hop steps,
 * lm_request) of the run carries that id, and parent ids (of events and of spans) form one proper tree.
 */
import { Correlation, Events, Telemetry } from "@effect-dspy/foundation"
import { Module, MultiHopQA } from "@effect-dspy/core"
import { Multihop, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { withServer } from "./support.js"

const ID = "req_it_multihop_1"

/** Checks that `parent` links among `ids` form one tree: one root, every other node's parent known, no cycles. */
const assertTree = (
  nodes: ReadonlyArray<{ readonly id: string; readonly parent: string | undefined }>,
  what: string
) => {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  assert.strictEqual(byId.size, nodes.length, `${what}: ids are unique`)
  const roots = nodes.filter((n) => n.parent === undefined)
  assert.strictEqual(roots.length, 1, `${what}: exactly one root`)
  for (const n of nodes) {
    if (n.parent !== undefined) assert.isTrue(byId.has(n.parent), `${what}: the parent of ${n.id} is in the run`)
    // walking up ends at the root within nodes.length steps (no cycles)
    let at: string | undefined = n.id
    let steps = 0
    while (at !== undefined && steps <= nodes.length) {
      at = byId.get(at)?.parent
      steps++
    }
    assert.isAtMost(steps, nodes.length, `${what}: no cycle above ${n.id}`)
  }
  return roots[0]!
}

describe("one MultiHopQA run, one correlation id", () => {
  it.live("every span and every event of the run shares the id; parent ids form a tree", () => {
    const example = SimTask.generate(Multihop.task, 4, 1)[0]!
    const qa = MultiHopQA.make({
      retrieve: (query) => Effect.sync(() => Multihop.search(query, 3))
    })
    return withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const prediction = yield* Module.call(qa, { question: example.question }).pipe(
          Correlation.withCorrelationId(ID)
        )
        assert.isString(prediction.get("answer"))
        const lmCalls = prediction.lmCalls
        assert.isAtLeast(lmCalls, 3)
        assert.strictEqual(server.stats().completions, lmCalls)

        // ---- events
        const events = yield* Events.query({})
        assert.isTrue(events.length > 0)
        for (const e of events) assert.strictEqual(e.correlationId, ID, `event ${e.type} carries the run's id`)
        const types = new Set(events.map((e) => e.type))
        for (const t of ["module_execution_start", "module_execution_complete", "lm_request"])
          assert.isTrue(types.has(t), t)
        assert.strictEqual(events.filter((e) => e.type === "lm_request").length, lmCalls)
        const root = assertTree(
          events.map((e) => ({ id: e.id, parent: e.parentId })),
          "events"
        )
        const rootEvent = events.find((e) => e.id === root.id)!
        assert.strictEqual(rootEvent.type, "module_execution_start")
        assert.strictEqual(rootEvent.data.module, "MultiHopQA")
        // each lm_request hangs under the predictor call that made it
        const byId = new Map(events.map((e) => [e.id, e]))
        for (const e of events.filter((x) => x.type === "lm_request")) {
          const parent = byId.get(e.parentId!)!
          assert.strictEqual(parent.type, "module_execution_start")
          assert.strictEqual(parent.data.module, "Predict")
        }
        // every completion event closes its start event
        for (const e of events.filter((x) => x.type === "module_execution_complete")) {
          assert.strictEqual(byId.get(e.parentId!)?.type, "module_execution_start")
        }

        // ---- spans
        const spans = yield* Telemetry.finishedSpans
        const names = spans.map((s) => s.name)
        assert.strictEqual(names.filter((n) => n === "lm.request").length, lmCalls)
        assert.include(names, "module.MultiHopQA")
        assert.strictEqual(new Set(spans.map((s) => s.spanContext().traceId)).size, 1, "one trace")
        const spanRoot = assertTree(
          spans.map((s) => ({ id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId })),
          "spans"
        )
        assert.strictEqual(spans.find((s) => s.spanContext().spanId === spanRoot.id)!.name, "module.MultiHopQA")
        for (const s of spans) {
          const id = s.attributes[Telemetry.correlationAttribute]
          assert.strictEqual(id, ID, `span ${s.name} carries the run's correlation id`)
        }
      })
    ).pipe(Effect.provide(Layer.merge(Telemetry.layerTest, Events.layerMemory)), Effect.scoped)
  })

  it.live("two concurrent runs keep their own ids: events and spans do not mix", () => {
    const examples = SimTask.generate(Multihop.task, 6, 2)
    const qa = MultiHopQA.make({ retrieve: (query) => Effect.sync(() => Multihop.search(query, 3)), concurrency: 2 })
    const ids = ["req_it_a", "req_it_b"] as const
    return withServer({}, {}, () =>
      Effect.gen(function* () {
        const predictions = yield* Effect.forEach(
          [0, 1],
          (i) => Module.call(qa, { question: examples[i]!.question }).pipe(Correlation.withCorrelationId(ids[i]!)),
          { concurrency: 2 }
        )
        const all = yield* Events.query({})
        const spans = yield* Telemetry.finishedSpans
        for (const [i, id] of ids.entries()) {
          const events = yield* Events.query({ correlationId: id })
          assert.strictEqual(events.filter((e) => e.type === "lm_request").length, predictions[i]!.lmCalls)
          assertTree(
            events.map((e) => ({ id: e.id, parent: e.parentId })),
            `events of ${id}`
          )
          const mine = spans.filter((s) => s.attributes[Telemetry.correlationAttribute] === id)
          assert.strictEqual(new Set(mine.map((s) => s.spanContext().traceId)).size, 1, `${id}: one trace`)
          assertTree(
            mine.map((s) => ({ id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId })),
            `spans of ${id}`
          )
        }
        assert.strictEqual(all.filter((e) => e.correlationId !== ids[0] && e.correlationId !== ids[1]).length, 0)
      })
    ).pipe(Effect.provide(Layer.merge(Telemetry.layerTest, Events.layerMemory)), Effect.scoped)
  })

  it.live("without a given id, the run makes one and every span and event of the run carries it", () => {
    const example = SimTask.generate(Multihop.task, 8, 1)[0]!
    const qa = MultiHopQA.make({ retrieve: (query) => Effect.sync(() => Multihop.search(query, 3)) })
    return withServer({}, {}, () =>
      Effect.gen(function* () {
        yield* Module.call(qa, { question: example.question })
        const events = yield* Events.query({})
        const made = new Set(events.map((e) => e.correlationId))
        assert.strictEqual(made.size, 1, "one id for the whole run")
        const id = [...made][0]
        assert.isString(id)
        const spans = yield* Telemetry.finishedSpans
        for (const s of spans) {
          const got = s.attributes[Telemetry.correlationAttribute]
          assert.strictEqual(got, id, `span ${s.name} carries the run's correlation id`)
        }
      })
    ).pipe(Effect.provide(Layer.merge(Telemetry.layerTest, Events.layerMemory)), Effect.scoped)
  })
})
