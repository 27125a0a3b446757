import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import { Sse } from "../src/index.js"
import { Broadcaster, encode } from "../src/internal/broadcast.js"
import { Gate } from "../src/internal/gate.js"

const decoder = new TextDecoder()

/** The SSE events written to a client's body so far. */
const drain = (out: Readable) =>
  Effect.sync(() => {
    const seen: Array<Sse.Event> = []
    const parser = Sse.makeParser((e) => seen.push(e))
    for (let bytes = out.read(); bytes !== null; bytes = out.read()) parser.feed(decoder.decode(bytes))
    return seen
  })

/** An in-memory event store that counts its live subscriptions. */
const countedEvents = Effect.map(Events.makeMemory(), (events) => {
  let active = 0
  const service: Events.Service = {
    ...events,
    subscribe: (types) =>
      Stream.unwrapScoped(
        Effect.as(
          Effect.acquireRelease(
            Effect.sync(() => active++),
            () => Effect.sync(() => active--)
          ),
          events.subscribe(types)
        )
      ),
    listen: (types) =>
      Effect.zipRight(
        Effect.acquireRelease(
          Effect.sync(() => active++),
          () => Effect.sync(() => active--)
        ),
        events.listen(types)
      )
  }
  return { events: service, subscribers: () => active }
})

describe("Broadcaster", () => {
  it.scoped("clients of one filter share a subscription and each gets each matching event once", () =>
    Effect.gen(function* () {
      const { events, subscribers } = yield* countedEvents
      const gate = yield* Gate.make
      const broadcaster = yield* Broadcaster.make(events, gate)
      const a = yield* broadcaster.attach(["tick"])
      const b = yield* broadcaster.attach(["tick"])
      const all = yield* broadcaster.attach(undefined)
      for (const client of [a, b, all]) broadcaster.start(client, [], [])
      assert.strictEqual(broadcaster.clients, 3)
      // Two filters: two subscriptions to the store, not three.
      assert.strictEqual(subscribers(), 2)
      yield* events.publish({ type: "tick", data: { n: 1 } })
      yield* events.publish({ type: "other", data: { n: 2 } })
      yield* events.publish({ type: "tick", data: { n: 3 } })
      yield* Effect.yieldNow()
      const got = (q: Readable) => Effect.map(drain(q), (seen) => seen.map((e) => [e.event, JSON.parse(e.data).data.n]))
      assert.deepStrictEqual(yield* got(a.out), [
        ["tick", 1],
        ["tick", 3]
      ])
      assert.deepStrictEqual(yield* got(b.out), [
        ["tick", 1],
        ["tick", 3]
      ])
      assert.deepStrictEqual(yield* got(all.out), [
        ["tick", 1],
        ["other", 2],
        ["tick", 3]
      ])
    })
  )

  it.scoped("a client gets its replay, then the events held back meanwhile (not those replayed), then live ones", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const broadcaster = yield* Broadcaster.make(events, yield* Gate.make)
      const client = yield* broadcaster.attach(["tick"])
      // Published while the replay is read: held back, and the one the replay has is not sent twice.
      const first = yield* events.publish({ type: "tick", data: { n: 1 } })
      yield* events.publish({ type: "tick", data: { n: 2 } })
      yield* Effect.yieldNow()
      assert.strictEqual(client.out.readableLength, 0)
      broadcaster.start(client, [encode(first)], [first])
      yield* events.publish({ type: "tick", data: { n: 3 } })
      yield* Effect.yieldNow()
      const seen = yield* drain(client.out)
      assert.deepStrictEqual(
        seen.map((e) => JSON.parse(e.data).data.n),
        [1, 2, 3]
      )
    })
  )

  it.scoped("the last client of a filter leaving ends its subscription; shutdown ends every client's body", () =>
    Effect.gen(function* () {
      const { events, subscribers } = yield* countedEvents
      const gate = yield* Gate.make
      const broadcaster = yield* Broadcaster.make(events, gate)
      const leaving = yield* broadcaster.attach(["tick"])
      assert.strictEqual(subscribers(), 1)
      // The client goes away (its response closed): detached, and its filter's subscription ends in the background.
      leaving.out.destroy()
      while (subscribers() > 0 || broadcaster.clients > 0) yield* Effect.yieldNow()

      const client = yield* broadcaster.attach(["tick"])
      broadcaster.start(client, [], [])
      const chunks: Array<string> = []
      client.out.on("data", (bytes: Buffer) => chunks.push(decoder.decode(bytes)))
      const ended = Effect.async<void>((resume) => {
        client.out.once("end", () => resume(Effect.void))
      })
      yield* events.publish({ type: "tick", data: { n: 1 } })
      while (chunks.length === 0) yield* Effect.yieldNow()
      yield* Deferred.succeed(gate.shutdown, undefined)
      yield* ended
      const seen: Array<Sse.Event> = []
      const parser = Sse.makeParser((e) => seen.push(e))
      for (const text of chunks) parser.feed(text)
      assert.deepStrictEqual(
        seen.map((e) => JSON.parse(e.data).data.n),
        [1]
      )
    })
  )

  it.scoped(
    "a client that does not read is dropped once its backlog passes the bound (it reconnects and replays)",
    () =>
      Effect.gen(function* () {
        const events = yield* Events.makeMemory()
        const broadcaster = yield* Broadcaster.make(events, yield* Gate.make, "15 seconds", 2_000)
        const reader = yield* broadcaster.attach(["tick"])
        const stalled = yield* broadcaster.attach(["tick"])
        broadcaster.start(reader, [], [])
        broadcaster.start(stalled, [], [])
        let read = 0
        reader.out.on("data", (bytes: Buffer) => {
          read += bytes.length
        })
        for (let n = 0; n < 40; n++) {
          yield* events.publish({ type: "tick", data: { n, pad: "x".repeat(200) } })
          yield* Effect.yieldNow()
        }
        while (broadcaster.clients > 1) yield* Effect.yieldNow()
        assert.isTrue(stalled.out.destroyed)
        assert.isFalse(reader.out.destroyed)
        assert.isAbove(read, 2_000)
      })
  )
})
