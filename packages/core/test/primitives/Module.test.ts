import { Correlation, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Example from "../../src/primitives/Example.js"
import * as Module from "../../src/primitives/Module.js"
import * as Trace from "../../src/primitives/Trace.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Fake from "../predict/FakeProvider.js"
import { Metrics } from "@effect-dspy/foundation"

const querySig = Signature.make("question -> query")
const answerSig = Signature.make("question, context: list[str] -> answer")

/** A two-hop program: two query generators (an array) and a chain of thought answering. */
const program = Module.make({
  name: "TwoHop",
  parameters: {
    hops: [Predict.make(querySig), Predict.make(querySig)],
    answer: ChainOfThought.make(answerSig)
  },
  forward: (p, inputs: { readonly question: string }) =>
    Effect.gen(function* () {
      const context: Array<string> = []
      for (const hop of p.hops) {
        const q = yield* hop({ question: inputs.question })
        context.push(`doc about ${q.get("query")}`)
      }
      return yield* p.answer({ question: inputs.question, context })
    })
})

/** Answers depend on the instructions and the number of demos, so state changes change predictions. */
const fake = () =>
  Fake.make((request) => {
    const sys = Fake.system(request)
    const demos = (request.messages.length - 2) / 2
    const tag = sys.includes("Be precise.") ? "precise" : "plain"
    return sys.includes("`query`")
      ? Fake.chat({ query: `${tag}-q${demos}` })
      : Fake.chat({ reasoning: "because", answer: `${tag}-a${demos}` })
  })

describe("Module", () => {
  it("lists predictors by dotted path and replaces them immutably", () => {
    assert.deepStrictEqual(
      Module.namedPredictors(program).map((p) => p.path),
      ["hops[0]", "hops[1]", "answer.predict"]
    )
    assert.deepStrictEqual(
      Module.namedPredictors(Predict.make(querySig)).map((p) => p.path),
      ["self"]
    )
    const demo = Example.make({ question: "q", query: "z" })
    const updated = Either.getOrThrow(Module.withDemos(program, { "hops[1]": [demo] }))
    assert.strictEqual(Module.demos(program)["hops[1]"]!.length, 0)
    assert.strictEqual(Module.demos(updated)["hops[1]"]!.length, 1)
    // unchanged sub-trees are shared
    assert.strictEqual(updated.parameters.answer, program.parameters.answer)
    const renamed = Either.getOrThrow(Module.withInstructions(updated, { "answer.predict": "Be precise." }))
    assert.strictEqual(Module.instructions(renamed)["answer.predict"], "Be precise.")
    assert.notStrictEqual(Module.instructions(program)["answer.predict"], "Be precise.")
    const bad = Module.withPredictor(program, "nope", Predict.make(querySig))
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) {
      assert.strictEqual(bad.left._tag, "UnknownPredictorPath")
      assert.include(bad.left.message, "hops[0], hops[1], answer.predict")
    }
    const all = Module.mapPredictors(program, (p, at) => Predict.withInstructions(p, `at ${at}`))
    assert.deepStrictEqual(Object.values(Module.instructions(all)), ["at hops[0]", "at hops[1]", "at answer.predict"])
    assert.strictEqual(Module.clone(program), program)
  })

  it.effect("calls bound predictors at their paths; the trace names each call", () => {
    const f = fake()
    return Effect.gen(function* () {
      const { value, trace } = yield* Trace.traced(Module.call(program, { question: "Who?" }))
      assert.strictEqual(value.get("answer"), "plain-a0")
      assert.deepStrictEqual(
        trace.map((e) => e.predictorPath),
        ["hops[0]", "hops[1]", "answer.predict"]
      )
      assert.deepStrictEqual(trace[2]!.inputs, {
        question: "Who?",
        context: ["doc about plain-q0", "doc about plain-q0"]
      })
      assert.deepStrictEqual(trace[2]!.outputs, { reasoning: "because", answer: "plain-a0" })
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("dumpState -> loadState round trip gives identical state and predictions", () => {
    const f = fake()
    return Effect.gen(function* () {
      const tuned = Either.getOrThrow(
        Module.withDemos(Either.getOrThrow(Module.withInstructions(program, { "answer.predict": "Be precise." })), {
          "answer.predict": [Example.make({ question: "q", context: ["c"], reasoning: "r", answer: "a" })]
        })
      )
      const state = Module.dumpState(tuned)
      const json = JSON.parse(JSON.stringify(state))
      assert.notInclude(JSON.stringify(state), "apiKey")
      const loaded = Either.getOrThrow(Module.loadState(program, json))
      assert.deepStrictEqual(Module.dumpState(loaded), state)
      const before = yield* Module.call(tuned, { question: "Who?" })
      const after = yield* Module.call(loaded, { question: "Who?" })
      assert.strictEqual(before.get("answer"), "precise-a1")
      assert.deepStrictEqual(after.toRecord(), before.toRecord())
      const plain = yield* Module.call(program, { question: "Who?" })
      assert.notDeepEqual(plain.toRecord(), before.toRecord())
    }).pipe(Effect.provide(f.layer))
  })

  it("loadState fails with typed errors on bad shape, unknown or missing paths, other fields", () => {
    const state = Module.dumpState(program)
    const notState = Module.loadState(program, { hello: 1 })
    assert.isTrue(Either.isLeft(notState) && notState.left._tag === "ModuleStateError")
    const extra = Module.loadState(program, {
      ...state,
      predictors: { ...state.predictors, ghost: state.predictors["hops[0]"]! }
    })
    assert.isTrue(Either.isLeft(extra) && extra.left._tag === "UnknownPredictorPath")
    const { "hops[1]": _dropped, ...rest } = state.predictors
    const missing = Module.loadState(program, { ...state, predictors: rest })
    assert.isTrue(Either.isLeft(missing) && missing.left._tag === "ModuleStateError")
    if (Either.isLeft(missing)) assert.include(missing.left.message, "hops[1]")
    const other = Module.loadState(program, {
      ...state,
      predictors: { ...state.predictors, "hops[0]": state.predictors["answer.predict"]! }
    })
    assert.isTrue(Either.isLeft(other) && other.left._tag === "ModuleStateError")
    if (Either.isLeft(other) && other.left._tag === "ModuleStateError")
      assert.strictEqual(other.left.reason, "mismatch")
  })

  it.effect("save -> load through a file; a missing file is an io error", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "module-state-"))
      const file = path.join(dir, "program.json")
      const tuned = Either.getOrThrow(Module.withInstructions(program, { "hops[0]": "Search well." }))
      yield* Module.save(tuned, file)
      const loaded = yield* Module.load(program, file)
      assert.deepStrictEqual(Module.dumpState(loaded), Module.dumpState(tuned))
      const error = yield* Effect.flip(Module.load(program, path.join(dir, "absent.json")))
      assert.strictEqual(error._tag, "ModuleStateError")
      if (error._tag === "ModuleStateError") assert.strictEqual(error.reason, "io")
      fs.rmSync(dir, { recursive: true, force: true })
    })
  )

  it.effect("records module_execution events under one correlation id with parent ids, and metrics", () => {
    const f = fake()
    return Effect.gen(function* () {
      const before = yield* Metric.value(Metric.tagged(Metrics.moduleExecutionSuccess, "module", "TwoHop"))
      yield* Module.call(program, { question: "Who?" }).pipe(Correlation.withCorrelationId("req_test"))
      const events = yield* Effect.flatMap(Events.Events, (e) => e.query({ correlationId: "req_test" }))
      const starts = events.filter((e) => e.type === "module_execution_start")
      const completes = events.filter((e) => e.type === "module_execution_complete")
      // TwoHop, Predict x2, ChainOfThought, Predict
      assert.strictEqual(starts.length, 5)
      assert.strictEqual(completes.length, 5)
      const root = starts.find((e) => e.data.module === "TwoHop")!
      assert.isUndefined(root.parentId)
      const cot = starts.find((e) => e.data.module === "ChainOfThought")!
      assert.strictEqual(cot.parentId, root.id)
      const inner = starts.filter((e) => e.data.module === "Predict")
      assert.deepStrictEqual(
        inner.map((e) => e.parentId),
        [root.id, root.id, cot.id]
      )
      const done = completes.find((e) => e.data.module === "TwoHop")!
      assert.strictEqual(done.data.lm_calls, 3)
      assert.strictEqual(done.data.status, "ok")
      assert.closeTo(done.data.cost as number, 0.003, 1e-9)
      assert.isNumber(done.data.duration_ms)
      const after = yield* Metric.value(Metric.tagged(Metrics.moduleExecutionSuccess, "module", "TwoHop"))
      assert.strictEqual(after.count - before.count, 1)
      const histogram = yield* Metric.value(Metric.tagged(Metrics.moduleExecutionDuration, "module", "TwoHop"))
      assert.isTrue(MetricState.isHistogramState(histogram) && histogram.count >= 1)
    }).pipe(Effect.provide(Layer.merge(f.layer, Events.layerMemory)))
  })

  it.effect("opens a span per module call when a tracer is installed", () => {
    const f = fake()
    return Effect.gen(function* () {
      const base = yield* Effect.tracer
      const names: Array<string> = []
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          names.push(name)
          return base.span(name, parent, context, links, startTime, kind, options)
        },
        context: base.context
      })
      yield* Module.call(program, { question: "Who?" }).pipe(Effect.withTracer(recording))
      assert.deepStrictEqual(
        names.filter((n) => n.startsWith("module.")),
        ["module.TwoHop", "module.Predict", "module.Predict", "module.ChainOfThought", "module.Predict"]
      )
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a failed call's complete event says so and still counts its LM calls", () => {
    const broken = Fake.make(() => "not parseable")
    return Effect.gen(function* () {
      const error = yield* Effect.flip(
        Predict.forward(Predict.make(querySig), { question: "q" }).pipe(Correlation.withCorrelationId("req_fail"))
      )
      assert.strictEqual(error._tag, "AdapterParseError")
      const events = yield* Effect.flatMap(Events.Events, (e) =>
        e.query({ correlationId: "req_fail", types: ["module_execution_complete"] })
      )
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]!.data.status, "error")
      assert.strictEqual(events[0]!.data.lm_calls, 2)
      assert.include(String(events[0]!.data.error), "AdapterParseError")
    }).pipe(Effect.provide(Layer.merge(broken.layer, Events.layerMemory)))
  })
})
