import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TwoStepAdapter from "../../src/adapters/TwoStepAdapter.js"
import * as XMLAdapter from "../../src/adapters/XMLAdapter.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import type * as Provider from "../../src/lm/Provider.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import * as Predict from "../../src/predict/Predict.js"
import * as ReAct from "../../src/predict/ReAct.js"
import * as Tool from "../../src/predict/Tool.js"
import * as Module from "../../src/primitives/Module.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Streamify from "../../src/stream/Streamify.js"
import * as Fake from "../predict/FakeProvider.js"

/** A provider that streams its answers in 4-character chunks (each after `delayMs` on the clock, if given). */
const streaming = (answer: (request: Completion.CompletionRequest) => string, delayMs = 0) => {
  const log = { streams: 0, completes: 0, chunksSent: 0, closed: 0 }
  const provider: Provider.Provider = {
    name: "fake-stream",
    complete: (request) =>
      Effect.sync(() => {
        log.completes++
        return {
          id: "c",
          model: request.model,
          choices: [{ index: 0, content: answer(request), finishReason: "stop" as const }],
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          costUsd: 0,
          cacheHit: false
        }
      }),
    stream: (request) =>
      Stream.suspend(() => {
        log.streams++
        const text = answer(request)
        const pieces: Array<string> = []
        for (let i = 0; i < text.length; i += 4) pieces.push(text.slice(i, i + 4))
        return Stream.fromIterable(pieces.map((delta, i) => [delta, i] as const)).pipe(
          Stream.mapEffect(([delta, i]) =>
            Effect.as(delayMs > 0 ? Effect.sleep(`${delayMs} millis`) : Effect.void, {
              index: 0,
              delta,
              ...(i === pieces.length - 1
                ? { finishReason: "stop" as const, usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } }
                : {})
            })
          ),
          Stream.tap(() => Effect.sync(() => log.chunksSent++)),
          Stream.ensuring(Effect.sync(() => log.closed++))
        )
      }),
    embed: (inputs) => Effect.succeed(inputs.map(() => [1]))
  }
  const layer: Layer.Layer<LM.LM> = LM.layerProvider(provider, { retry: { maxRetries: 0 } })
  return { log, layer }
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const deltasOf = (events: ReadonlyArray<Streamify.Event<unknown>>, field: string, call = 0, predictor?: string) =>
  events
    .flatMap((e) =>
      e._tag === "FieldDelta" &&
      e.field === field &&
      e.call === call &&
      (predictor === undefined || e.predictor === predictor)
        ? [e.delta]
        : []
    )
    .join("")

const QA = Signature.make("question -> answer")
const reasoning = "Two plus three: add the units, [[ carry nothing ]], and get five."

describe("streamify", () => {
  it.effect("field deltas concatenate to the final field values; the output comes last", () => {
    const fake = streaming(() => Fake.chat({ reasoning, answer: "five" }))
    return Effect.gen(function* () {
      const qa = ChainOfThought.make(QA)
      const events = yield* collect(Streamify.streamify(qa)({ question: "What is 2 + 3?" }))
      const last = events.at(-1)!
      assert.strictEqual(last._tag, "Final")
      const prediction = last._tag === "Final" ? last.output : undefined
      assert.strictEqual(deltasOf(events, "reasoning"), prediction!.get("reasoning"))
      assert.strictEqual(deltasOf(events, "answer"), "five")
      assert.isAbove(events.filter((e) => e._tag === "FieldDelta").length, 4, "the text arrives in pieces")
      assert.deepStrictEqual(events[0], {
        _tag: "Status",
        kind: "predictor_start",
        predictor: "predict",
        message: "Calling Predict at predict (question: str -> reasoning: str, answer: str)..."
      })
      assert.strictEqual(prediction!.usage.totalTokens, 5)
      assert.deepStrictEqual([fake.log.streams, fake.log.completes], [1, 0])
      // the same program outside streamify completes without streaming
      const plain = yield* Module.call(qa, { question: "What is 2 + 3?" })
      assert.deepStrictEqual(plain.fields, prediction!.fields)
      assert.deepStrictEqual([fake.log.streams, fake.log.completes], [1, 1])
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("a multi-predictor program: each predictor's start, deltas tagged with its path", () => {
    const fake = streaming((r) =>
      Fake.system(r).includes("`summary`") ? Fake.chat({ summary: "short" }) : Fake.chat({ draft: "a long draft" })
    )
    const program = Module.make({
      name: "Pipeline",
      parameters: {
        write: Predict.make(Signature.make("topic -> draft")),
        shorten: Predict.make(Signature.make("draft -> summary"))
      },
      forward: (p, { topic }: { readonly topic: string }) =>
        Effect.flatMap(p.write({ topic }), (d) => p.shorten({ draft: d.get("draft") }))
    })
    return Effect.gen(function* () {
      const events = yield* collect(Streamify.streamify(program)({ topic: "cats" }))
      const starts = events.flatMap((e) => (e._tag === "Status" && e.kind === "predictor_start" ? [e.predictor] : []))
      assert.deepStrictEqual(starts, ["write", "shorten"])
      assert.strictEqual(deltasOf(events, "draft", 0, "write"), "a long draft")
      assert.strictEqual(deltasOf(events, "summary", 0, "shorten"), "short")
      // every delta of `write` comes before `shorten` starts
      const shortenAt = events.findIndex(
        (e) => e._tag === "Status" && e.kind === "predictor_start" && e.predictor === "shorten"
      )
      assert.isTrue(events.slice(shortenAt).every((e) => e._tag !== "FieldDelta" || e.predictor === "shorten"))
      const noStatus = yield* collect(Streamify.streamify(program, { statusMessages: false })({ topic: "cats" }))
      assert.isFalse(noStatus.some((e) => e._tag === "Status"))
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("ReAct: status messages around each tool call", () => {
    const isReact = (r: Completion.CompletionRequest) => Fake.system(r).includes("`next_thought`")
    const steps = (r: Completion.CompletionRequest) =>
      (Fake.lastUser(r).match(/\[\[ ## thought_\d+ ## \]\]/g) ?? []).length
    const fake = streaming((r) => {
      if (!isReact(r)) return Fake.chat({ reasoning: "found it", answer: "Paris" })
      return steps(r) === 0
        ? Fake.chat({ next_thought: "search", next_tool_name: "search", next_tool_args: '{"query":"eiffel"}' })
        : Fake.chat({ next_thought: "done", next_tool_name: "finish", next_tool_args: "{}" })
    })
    const search = Tool.make({
      name: "search",
      description: "Search",
      parameters: Schema.Struct({ query: Schema.String }),
      run: ({ query }) => Effect.succeed(`${query} is in Paris`)
    })
    return Effect.gen(function* () {
      const events = yield* collect(Streamify.streamify(ReAct.make(QA, [search]))({ question: "Where?" }))
      const statuses = events.flatMap((e) =>
        e._tag === "Status"
          ? [e.kind === "predictor_start" ? `start ${e.predictor}` : `${e.kind} ${"tool" in e ? e.tool : ""}`]
          : []
      )
      assert.deepStrictEqual(statuses, [
        "start react",
        "tool_start search",
        "tool_end search",
        "start react",
        "tool_start finish",
        "tool_end finish",
        "start extract.predict"
      ])
      const toolStart = events.find((e) => e._tag === "Status" && e.kind === "tool_start")
      assert.deepStrictEqual(toolStart !== undefined && "args" in toolStart ? toolStart.args : undefined, {
        query: "eiffel"
      })
      assert.strictEqual(deltasOf(events, "answer", 0, "extract.predict"), "Paris")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("the JSON fallback while streaming: a new call announced, its deltas are the final values", () => {
    const fake = streaming((r) =>
      Fake.lastUser(r).includes("Respond with a JSON object")
        ? JSON.stringify({ reasoning: "added them", answer: "five" })
        : "I think it is five, no sections here."
    )
    return Effect.gen(function* () {
      const events = yield* collect(Streamify.streamify(ChainOfThought.make(QA))({ question: "What is 2 + 3?" }))
      const retry = events.find((e) => e._tag === "Status" && e.kind === "lm_call")
      assert.isDefined(retry)
      if (retry?._tag === "Status" && retry.kind === "lm_call") {
        assert.strictEqual(retry.adapter, "JSONAdapter")
        assert.strictEqual(retry.call, 1)
      }
      const last = events.at(-1)!
      assert.strictEqual(last._tag, "Final")
      if (last._tag !== "Final") return
      assert.strictEqual(last.output.lmCalls, 2)
      assert.strictEqual(deltasOf(events, "reasoning", 1), last.output.get("reasoning"))
      assert.strictEqual(deltasOf(events, "answer", 1), "five")
      assert.strictEqual(fake.log.streams, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("the XMLAdapter streams its elements", () => {
    const fake = streaming(() =>
      XMLAdapter.formatAssistant(ChainOfThought.extendSignature(QA), { reasoning, answer: "five" })
    )
    return Effect.gen(function* () {
      const qa = ChainOfThought.make(QA, { adapter: XMLAdapter.make() })
      const events = yield* collect(Streamify.streamify(qa)({ question: "q" }))
      assert.strictEqual(deltasOf(events, "reasoning"), reasoning)
      assert.isTrue(events.every((e) => e._tag !== "FieldDelta" || e.adapter === "XMLAdapter"))
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("the TwoStepAdapter: the free-text call gives no deltas, the extraction streams the fields", () => {
    const fake = streaming((r) =>
      Fake.system(r).startsWith("You are a helpful assistant") ? "It is five, clearly." : Fake.chat({ answer: "five" })
    )
    return Effect.gen(function* () {
      const qa = Predict.make(QA, { adapter: TwoStepAdapter.make() })
      const events = yield* collect(Streamify.streamify(qa)({ question: "q" }))
      assert.strictEqual(deltasOf(events, "answer", 0), "")
      assert.strictEqual(deltasOf(events, "answer", 1), "five")
      assert.isTrue(events.every((e) => e._tag !== "FieldDelta" || e.adapter === "ChatAdapter"))
      const last = events.at(-1)!
      assert.isTrue(last._tag === "Final" && last.output.get("answer") === "five" && last.output.lmCalls === 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("ending the stream early interrupts the program and closes the LM stream", () => {
    const fake = streaming(() => Fake.chat({ reasoning: reasoning.repeat(5), answer: "five" }), 100)
    return Effect.gen(function* () {
      const qa = ChainOfThought.make(QA)
      const fiber = yield* Effect.fork(
        Streamify.streamify(qa)({ question: "q" }).pipe(
          Stream.filter((e) => e._tag === "FieldDelta"),
          Stream.take(1),
          Stream.runCollect
        )
      )
      yield* TestClock.adjust("1 second")
      const taken = yield* Fiber.join(fiber)
      assert.strictEqual(Chunk.size(taken), 1)
      assert.strictEqual(fake.log.closed, 1, "the provider's stream was closed")
      const total = Math.ceil(Fake.chat({ reasoning: reasoning.repeat(5), answer: "five" }).length / 4)
      assert.isBelow(fake.log.chunksSent, total)
      const sentThen = fake.log.chunksSent
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(fake.log.chunksSent, sentThen, "nothing is read after the interruption")
      // the output of a stream read to its end
      const out = yield* Streamify.output(Streamify.streamify(qa, { statusMessages: false })({ question: "q" })).pipe(
        Effect.fork,
        Effect.tap(() => TestClock.adjust("1 minute")),
        Effect.flatMap(Fiber.join)
      )
      assert.isTrue(Option.isSome(out) && out.value.get("answer") === "five")
    }).pipe(Effect.provide(fake.layer))
  })
})
