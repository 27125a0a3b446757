/**
 * The event tail's fan-out. SSE clients with the same type filter share one subscription to the event store: each
 * event is encoded once and offered to every client's queue in one synchronous loop, so there is no fiber per client
 * between the store and the client's response (its writer is the only one). Heartbeats go to every client from one
 * timer; at shutdown every client's queue ends, and with it the client's response.
 */
import type { Events } from "@effect-dspy/foundation"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Sse from "../Sse.js"
import type { Gate } from "./gate.js"

/** One SSE client: its queue of encoded events, and the ids it already got from a replay (skipped when live). */
export interface Client {
  readonly queue: Queue.Queue<Uint8Array>
  seen: ReadonlySet<string> | undefined
}

interface Group {
  readonly clients: Set<Client>
  readonly fiber: Fiber.RuntimeFiber<void>
}

const encoder = new TextEncoder()

/** An event's SSE id: its timestamp and id (a reconnection replays from the timestamp, after the id). */
export const sseId = (event: Events.Event): string => `${event.timestamp}:${event.id}`

/** An event as one SSE event. */
export const toSse = (event: Events.Event): Sse.Event => ({
  id: sseId(event),
  event: event.type,
  data: JSON.stringify(event)
})

export class Broadcaster {
  private readonly groups = new Map<string, Group>()
  private closed = false

  private constructor(
    private readonly events: Events.Service,
    private readonly scope: Scope.Scope
  ) {}

  /**
   * A broadcaster over `events`, its subscriptions and heartbeat running in the current scope; the clients' streams
   * end when the gate's shutdown is signalled (or the scope closes).
   */
  static make(
    events: Events.Service,
    gate: Gate,
    heartbeatEvery: Duration.DurationInput = "15 seconds"
  ): Effect.Effect<Broadcaster, never, Scope.Scope> {
    return Effect.gen(function* () {
      const scope = yield* Effect.scope
      const broadcaster = new Broadcaster(events, scope)
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.sync(() => broadcaster.offerAll(Sse.heartbeat)),
          Schedule.spaced(heartbeatEvery)
        ).pipe(Effect.delay(heartbeatEvery))
      )
      yield* Effect.forkScoped(Effect.zipRight(Deferred.await(gate.shutdown), broadcaster.close))
      yield* Effect.addFinalizer(() => broadcaster.close)
      return broadcaster
    })
  }

  /** SSE clients attached now. */
  get clients(): number {
    let n = 0
    for (const group of this.groups.values()) n += group.clients.size
    return n
  }

  /**
   * Attaches a client to the events of `types` (all when undefined): once this returns, every event published is
   * in its queue. It is detached when the scope closes.
   */
  attach(types: ReadonlyArray<string> | undefined): Effect.Effect<Client, never, Scope.Scope> {
    const key = types === undefined ? "*" : [...new Set(types)].sort().join(",")
    return Effect.gen(this, function* () {
      const client: Client = yield* Effect.acquireRelease(
        Effect.map(Queue.unbounded<Uint8Array>(), (queue): Client => ({ queue, seen: undefined })),
        (client) => this.detach(key, client)
      )
      if (this.closed) {
        yield* Queue.shutdown(client.queue)
        return client
      }
      let group = this.groups.get(key)
      if (group === undefined) {
        const clients = new Set<Client>()
        // Should the subscription end (the event store closing), so do its clients' streams.
        const ended = Effect.suspend(() => {
          if (this.groups.get(key)?.clients === clients) this.groups.delete(key)
          return Effect.forEach(clients, (c) => Queue.shutdown(c.queue), { discard: true })
        })
        const fiber = yield* Effect.forkIn(
          Stream.runForEachChunk(this.events.subscribe(types), (chunk) =>
            Effect.sync(() => {
              for (const event of chunk) this.deliver(clients, event)
            })
          ).pipe(Effect.ensuring(ended)),
          this.scope
        )
        group = { clients, fiber }
        this.groups.set(key, group)
      }
      group.clients.add(client)
      // Subscribed once the group's reader waits on its queue (it starts suspended after subscribing).
      while (true) {
        const status = yield* Fiber.status(group.fiber)
        if (status._tag !== "Running") break
        yield* Effect.yieldNow()
      }
      return client
    })
  }

  private deliver(clients: ReadonlySet<Client>, event: Events.Event): void {
    const bytes = encoder.encode(Sse.encode(toSse(event)))
    for (const client of clients) {
      if (client.seen !== undefined && client.seen.has(event.id)) continue
      Queue.unsafeOffer(client.queue, bytes)
    }
  }

  private offerAll(bytes: Uint8Array): void {
    for (const group of this.groups.values()) for (const client of group.clients) Queue.unsafeOffer(client.queue, bytes)
  }

  private detach(key: string, client: Client): Effect.Effect<void> {
    return Effect.suspend(() => {
      const group = this.groups.get(key)
      if (group !== undefined && group.clients.delete(client) && group.clients.size === 0) {
        this.groups.delete(key)
        // Not awaited: the last client's response ends now; its group's subscription ends in the background.
        return Effect.zipRight(Queue.shutdown(client.queue), Effect.asVoid(Fiber.interruptFork(group.fiber)))
      }
      return Queue.shutdown(client.queue)
    })
  }

  /** Ends every client's stream; no client attaches afterwards. */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      const queues: Array<Queue.Queue<Uint8Array>> = []
      for (const group of this.groups.values()) for (const client of group.clients) queues.push(client.queue)
      return Effect.forEach(queues, Queue.shutdown, { discard: true })
    })
  }
}
