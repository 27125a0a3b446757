import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Sse } from "../src/index.js"
import { Broadcaster, encode } from "../src/internal/broadcast.js"
import { Gate } from "../src/internal/gate.js"

const decoder = new TextDecoder()

/** The SSE events in a client's queue now. */
const drain = (queue: Queue.Queue<Uint8Array>) =>
  Effect.map(Queue.takeAll(queue), (chunk) => {
    const seen: Array<Sse.Event> = []
    const parser = Sse.makeParser((e) => seen.push(e))
    for (const bytes of chunk) parser.feed(decoder.decode(bytes))
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
      const got = (q: Queue.Queue<Uint8Array>) =>
        Effect.map(drain(q), (seen) => seen.map((e) => [e.event, JSON.parse(e.data).data.n]))
      assert.deepStrictEqual(yield* got(a.queue), [
        ["tick", 1],
        ["tick", 3]
      ])
      assert.deepStrictEqual(yield* got(b.queue), [
        ["tick", 1],
        ["tick", 3]
      ])
      assert.deepStrictEqual(yield* got(all.queue), [
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
      assert.strictEqual(yield* Queue.size(client.queue), 0)
      broadcaster.start(client, [encode(first)], [first])
      yield* events.publish({ type: "tick", data: { n: 3 } })
      yield* Effect.yieldNow()
      const seen = yield* drain(client.queue)
      assert.deepStrictEqual(
        seen.map((e) => JSON.parse(e.data).data.n),
        [1, 2, 3]
      )
    })
  )

  it.scoped("the last client of a filter leaving ends its subscription; shutdown ends every client's stream", () =>
    Effect.gen(function* () {
      const { events, subscribers } = yield* countedEvents
      const gate = yield* Gate.make
      const broadcaster = yield* Broadcaster.make(events, gate)
      const scope = yield* Scope.make()
      yield* Scope.extend(broadcaster.attach(["tick"]), scope)
      assert.strictEqual(subscribers(), 1)
      yield* Scope.close(scope, Exit.void)
      // The subscription ends in the background.
      while (subscribers() > 0) yield* Effect.yieldNow()
      assert.strictEqual(broadcaster.clients, 0)

      const client = yield* broadcaster.attach(["tick"])
      broadcaster.start(client, [], [])
      const reader = yield* Effect.fork(Stream.runCollect(Stream.fromQueue(client.queue)))
      yield* events.publish({ type: "tick", data: { n: 1 } })
      // Delivered to the client's queue, then read from it.
      while ((yield* Queue.size(client.queue)) === 0) yield* Effect.yieldNow()
      while ((yield* Queue.size(client.queue)) > 0) yield* Effect.yieldNow()
      yield* Deferred.succeed(gate.shutdown, undefined)
      const read = yield* Fiber.join(reader)
      assert.strictEqual(Chunk.size(read), 1)
    })
  )
})
