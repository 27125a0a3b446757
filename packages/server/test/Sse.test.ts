import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import { Sse } from "../src/index.js"
import { client, collectSse, postJson, sse, start } from "./support.js"

describe("Sse", () => {
  it("parses events split anywhere, with CRLF, multi-line data, comments and ids", () => {
    const text = `: hello\r\nid: 7\r\nevent: tick\r\ndata: {"a":1}\r\ndata: second\r\n\r\n${Sse.encode({ id: "8", data: "x\ny" })}`
    for (let cut = 0; cut <= text.length; cut++) {
      const seen: Array<Sse.Event> = []
      const parser = Sse.makeParser((e) => seen.push(e))
      parser.feed(text.slice(0, cut))
      parser.feed(text.slice(cut))
      assert.deepStrictEqual(seen, [
        { id: "7", event: "tick", data: '{"a":1}\nsecond' },
        { id: "8", event: undefined, data: "x\ny" }
      ])
      assert.strictEqual(parser.lastEventId(), "8")
    }
  })
})

const publishN = (events: Events.Service, from: number, to: number) =>
  Effect.forEach(
    Array.from({ length: to - from }, (_, i) => from + i),
    (n) => events.publish({ type: "api_test", data: { n } }),
    { discard: true }
  )

describe("SSE endpoints over loopback", () => {
  it.scopedLive(
    "the event tail delivers live events; a reconnection with Last-Event-ID replays what it missed, once",
    () =>
      Effect.gen(function* () {
        const h = yield* start()
        const events = Context.get(h.context, Events.Events)
        const headers = { authorization: `Bearer ${h.keys.reader}` }
        const url = `${h.url}/events/stream?types=api_test`
        // First connection: ready, then 5 events; it disconnects after the 5th.
        const first = yield* Stream.runCollect(
          sse(url, headers).pipe(
            Stream.tap((e) => (e.event === "ready" ? publishN(events, 0, 5) : Effect.void)),
            Stream.filter((e) => e.event === "api_test"),
            Stream.take(5)
          )
        )
        const firstNs = Chunk.toArray(first).map((e) => JSON.parse(e.data).data.n)
        assert.deepStrictEqual(firstNs, [0, 1, 2, 3, 4])
        // While disconnected, 5 more.
        yield* publishN(events, 5, 10)
        const lastId = Chunk.toArray(first)[4]!.id as string
        const second = yield* Stream.runCollect(
          sse(url, { ...headers, "last-event-id": lastId }).pipe(
            Stream.tap((e) => (e.event === "ready" ? publishN(events, 10, 12) : Effect.void)),
            Stream.filter((e) => e.event === "api_test"),
            Stream.take(7)
          )
        )
        assert.deepStrictEqual(
          Chunk.toArray(second).map((e) => JSON.parse(e.data).data.n),
          [5, 6, 7, 8, 9, 10, 11]
        )
      })
  )

  it.scopedLive("a job's progress streams from its start to its end; a reconnection resumes after Last-Event-ID", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
      const trainset = [
        ["What is 2 + 3?", "5"],
        ["What is 4 + 4?", "8"],
        ["What is 9 - 2?", "7"],
        ["What is 3 * 3?", "9"]
      ].map(([question, answer]) => ({ fields: { question, answer }, inputs: ["question"] }))
      const started = yield* admin.jobs.start({
        payload: { moduleId: "qa", optimizer: "bootstrap_few_shot", trainset, valset: trainset }
      })
      const url = `${h.url}/jobs/${started.id}/progress`
      const headers = { authorization: `Bearer ${h.keys.reader}` }
      const all = Chunk.toArray(yield* Stream.runCollect(sse(url, headers)))
      assert.isAbove(all.length, 2)
      assert.deepStrictEqual(
        all.map((e) => e.id),
        all.map((_, i) => String(i))
      )
      const last = JSON.parse(all[all.length - 1]!.data) as { status: string }
      assert.include(["succeeded", "swapped", "rejected", "failed"], last.status)
      // The job has ended: a new connection replays it all, and one resuming after id 1 gets the rest.
      const replay = Chunk.toArray(yield* Stream.runCollect(sse(url, headers)))
      assert.deepStrictEqual(
        replay.map((e) => e.event),
        all.map((e) => e.event)
      )
      const resumed = Chunk.toArray(yield* Stream.runCollect(sse(url, { ...headers, "last-event-id": "1" })))
      assert.deepStrictEqual(
        resumed.map((e) => e.id),
        all.slice(2).map((e) => e.id)
      )
      const job = yield* admin.jobs.status({ path: { id: started.id } })
      assert.strictEqual(job.status, last.status)
    })
  )

  it.scopedLive("an execution streams over SSE: started, then its result", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
      const response = yield* Effect.promise(() =>
        fetch(`${h.url}/modules/qa/execute/stream`, {
          method: "POST",
          headers: { authorization: `Bearer ${h.keys.executor}`, "content-type": "application/json" },
          body: JSON.stringify({ inputs: { question: "What is 1 + 1?" } })
        }).then(async (r) => ({ status: r.status, type: r.headers.get("content-type"), text: await r.text() }))
      )
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.type, "text/event-stream")
      const seen: Array<Sse.Event> = []
      Sse.makeParser((e) => seen.push(e)).feed(response.text)
      assert.deepStrictEqual(
        seen.map((e) => e.event),
        ["started", "result"]
      )
      assert.strictEqual(JSON.parse(seen[1]!.data).moduleId, "qa")
    })
  )

  it.scopedLive(
    "load: 1,000 concurrent executions over HTTP with 200 SSE subscribers attached; nothing lost",
    () =>
      Effect.gen(function* () {
        const h = yield* start({ rateLimit: false })
        const events = Context.get(h.context, Events.Events)
        const admin = yield* client(h.url, h.keys.admin)
        yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
        const headers = { authorization: `Bearer ${h.keys.reader}` }
        const subscribers = 200
        const executions = 1_000
        const published = executions / 10
        let ready = 0
        const fibers = yield* Effect.forEach(
          Array.from({ length: subscribers }),
          () =>
            Effect.fork(
              collectSse(`${h.url}/events/stream?types=api_load`, headers, "api_load", published, () => ready++)
            ),
          { concurrency: "unbounded" }
        )
        while (ready < subscribers) yield* Effect.sleep("20 millis")
        // Every subscriber must see every event published during the executions. The executions go through
        // a plain node:http agent (all 1,000 in flight at once, one connection each): the client costs little CPU.
        const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
        yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
        const results = yield* Effect.forEach(
          Array.from({ length: executions }, (_, i) => i),
          (i) =>
            Effect.tap(
              postJson(
                agent,
                `${h.url}/modules/qa/execute`,
                { authorization: `Bearer ${h.keys.executor}` },
                { inputs: { question: `What is ${i % 10} + 1?` } }
              ),
              // Every 10th execution publishes an event: 100 events x 200 subscribers = 20,000 deliveries.
              () => (i % 10 === 0 ? events.publish({ type: "api_load", data: { i } }) : Effect.void)
            ),
          { concurrency: executions }
        )
        assert.strictEqual(results.length, executions)
        assert.isTrue(results.every((r) => r.status === 200 && (r.body as { moduleId: string }).moduleId === "qa"))
        for (const fiber of fibers) {
          const got = yield* Fiber.join(fiber)
          assert.strictEqual(got.length, published)
          assert.strictEqual(new Set(got.map((e) => JSON.parse(e.data).data.i)).size, published)
        }
        const described = yield* admin.modules.describe({ path: { id: "qa" } })
        assert.strictEqual(described.executions, executions)
      }),
    { timeout: 240_000 }
  )
})
