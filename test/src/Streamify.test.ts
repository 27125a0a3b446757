/**
 * DSPy's streaming tutorial through the public API only: `Streamify.streamify` over programs on the simulated LM
 * (in process and over HTTP): field deltas that concatenate to the final values, status messages for a
 * multi-predictor program and for ReAct's tool calls, the JSON fallback while streaming, and an early end that
 * stops the request.
 */
import { ChainOfThought, Module, Predict, ReAct, Signature, Streamify, Tool } from "@effect-dspy/core"
import { Arithmetic, Multihop, SimFaults, SimLM, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { withServer } from "./support.js"

const questions = SimTask.generate(Arithmetic.task, 21, 3).map((e) => e.question)
const cot = ChainOfThought.make(Signature.make("question -> answer: int"))

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const text = (events: ReadonlyArray<Streamify.Event<unknown>>, predictor: string, field: string, call = 0) =>
  events
    .flatMap((e) =>
      e._tag === "FieldDelta" && e.predictor === predictor && e.field === field && e.call === call ? [e.delta] : []
    )
    .join("")

describe("streamify on the simulated LM", () => {
  it.effect("ChainOfThought: the reasoning and answer deltas concatenate to the final values", () =>
    Effect.gen(function* () {
      for (const question of questions) {
        const events = yield* collect(Streamify.streamify(cot)({ question }))
        const last = events.at(-1)!
        assert.strictEqual(last._tag, "Final")
        if (last._tag !== "Final") return
        assert.strictEqual(text(events, "predict", "reasoning"), last.output.get("reasoning"))
        assert.strictEqual(text(events, "predict", "answer"), String(last.output.get("answer")))
        // the same answer as a call without streaming
        const plain = yield* Module.call(cot, { question })
        assert.deepStrictEqual(plain.fields, last.output.fields)
      }
    }).pipe(Effect.provide(SimLM.layer({ chunkChars: 5 })))
  )

  it.effect("a multi-predictor program announces each predictor as it starts", () =>
    Effect.gen(function* () {
      const program = Module.make({
        name: "SolveAndCheck",
        parameters: {
          solve: ChainOfThought.make(Signature.make("question -> answer: int")),
          check: Predict.make(Signature.make("question, answer: int -> verdict: bool"))
        },
        forward: (p, { question }: { readonly question: string }) =>
          Effect.flatMap(p.solve({ question }), (s) => p.check({ question, answer: s.get("answer") }))
      })
      const events = yield* collect(Streamify.streamify(program)({ question: questions[0]! }))
      const order = events.flatMap((e) =>
        e._tag === "Status" && e.kind === "predictor_start"
          ? [`start ${e.predictor}`]
          : e._tag === "Final"
            ? ["final"]
            : []
      )
      assert.deepStrictEqual(order, ["start solve.predict", "start check", "final"])
      assert.isAbove(text(events, "solve.predict", "reasoning").length, 0)
    }).pipe(Effect.provide(SimLM.layer()))
  )

  it.effect("ReAct: each tool call between its start and end status", () =>
    Effect.gen(function* () {
      const search = Tool.make({
        name: "search",
        description: "Search the knowledge base for documents matching a query",
        parameters: Schema.Struct({ query: Schema.String }),
        run: ({ query }) => Effect.sync(() => Multihop.search(query, 3).join("\n"))
      })
      const agent = ReAct.make(Signature.make("question -> answer"), [search], { maxIters: 6 })
      const question = SimTask.generate(Multihop.task, 3, 1)[0]!.question
      const events = yield* collect(Streamify.streamify(agent)({ question }))
      const tools = events.flatMap((e) =>
        e._tag === "Status" && (e.kind === "tool_start" || e.kind === "tool_end") ? [`${e.kind} ${e.tool}`] : []
      )
      assert.isAtLeast(tools.length, 4)
      assert.strictEqual(tools[0], "tool_start search")
      for (let i = 0; i < tools.length; i += 2) {
        assert.strictEqual(tools[i + 1], tools[i]!.replace("tool_start", "tool_end"))
      }
      const last = events.at(-1)!
      assert.isTrue(last._tag === "Final" && last.output.get("trajectory")["tool_name_0"] === "search")
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it.effect("the JSON fallback while streaming: a malformed first answer is asked again and streamed as JSON", () => {
    // a fault seed whose first call drops a section marker and whose second call is clean
    const rates = { missing_marker: 0.5 }
    const seed = Array.from({ length: 200 }, (_, s) => s).find(
      (s) =>
        SimFaults.draw({ rates, seed: s }, 0) === "missing_marker" &&
        SimFaults.draw({ rates, seed: s }, 1) === undefined
    )!
    return Effect.gen(function* () {
      const events = yield* collect(Streamify.streamify(cot)({ question: questions[1]! }))
      const retry = events.find((e) => e._tag === "Status" && e.kind === "lm_call")
      assert.isTrue(retry?._tag === "Status" && retry.kind === "lm_call" && retry.adapter === "JSONAdapter")
      const last = events.at(-1)!
      assert.strictEqual(last._tag, "Final")
      if (last._tag !== "Final") return
      assert.strictEqual(last.output.lmCalls, 2)
      assert.strictEqual(text(events, "predict", "reasoning", 1), last.output.get("reasoning"))
      assert.strictEqual(text(events, "predict", "answer", 1), String(last.output.get("answer")))
    }).pipe(Effect.provide(SimLM.layer({ faults: { rates, seed } })))
  })

  it.live("over HTTP: taking the first delta of a slow stream ends the request at once", () =>
    // 8 characters every 400 ms: the first delta comes after ~3 chunks, the whole answer would take ~15 s
    withServer({ faults: { rates: { slow_stream: 1 }, slowChunkMs: 400 }, chunkChars: 8 }, {}, (server) =>
      Effect.gen(function* () {
        const first = yield* Streamify.streamify(cot, { statusMessages: false })({ question: questions[2]! }).pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.timeoutFail({ duration: "6 seconds", onTimeout: () => new Error("the stream did not end") })
        )
        assert.strictEqual(Chunk.unsafeHead(first)._tag, "FieldDelta")
        assert.strictEqual(server.stats().streams, 1)
      })
    ).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
