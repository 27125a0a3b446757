/**
 * The event tail's fan-out. SSE clients with the same type filter share one subscription to the event store: each
 * event is encoded once and written to every client's body in one synchronous loop. A client's body is a node
 * `PassThrough` piped to its response (a raw body): a delivery costs a buffered write, with no fiber, queue or stream
 * pull per client between the store and the socket (at 200 subscribers, a stream per client cost about 0.1 ms of CPU a
 * delivery). Heartbeats go to every client from one timer; at shutdown every client's body ends, and with it the
 * client's response; a client that goes away (its body closed) is detached at once.
 */
import { Events } from "@effect-dspy/foundation"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { PassThrough, type Readable } from "node:stream"
import * as Sse from "../Sse.js"
import type { Gate } from "./gate.js"

/**
 * One SSE client: its body (the encoded events its response writes, as they are), and, until it
 * {@link Broadcaster.start}s, the live events held back while its replay is read.
 */
export interface Client {
  readonly out: PassThrough
  held: Array<Events.Event> | undefined
  /** Which of the group's events this client may see (a tenant's), all when undefined. */
  readonly visible: ((event: Events.Event) => boolean) | undefined
}

/**
 * How much a client's body may hold unread before the client is dropped (it reconnects with `Last-Event-ID` and is
 * replayed what it missed): a client that stopped reading, or a body its response never took, cannot grow without
 * bound.
 */
export const maxBacklogBytes = 16 * 1024 * 1024

interface Group {
  readonly clients: Set<Client>
  readonly fiber: Fiber.RuntimeFiber<void>
}

const encoder = new TextEncoder()

/**
 * An event in the wire format. Its SSE id is its timestamp and id (a reconnection replays from the timestamp, after
 * the id).
 */
export const encode = (event: Events.Event): Uint8Array =>
  encoder.encode(Sse.encode({ id: `${event.timestamp}:${event.id}`, event: event.type, data: JSON.stringify(event) }))

export class Broadcaster {
  private readonly groups = new Map<string, Group>()
  private closed = false

  private constructor(
    private readonly events: Events.Service,
    private readonly scope: Scope.Scope,
    private readonly maxBacklog: number
  ) {}

  /**
   * A broadcaster over `events`, its subscriptions and heartbeat running in the current scope; the clients' streams
   * end when the gate's shutdown is signalled (or the scope closes).
   */
  static make(
    events: Events.Service,
    gate: Gate,
    heartbeatEvery: Duration.DurationInput = "15 seconds",
    maxBacklog: number = maxBacklogBytes
  ): Effect.Effect<Broadcaster, never, Scope.Scope> {
    return Effect.gen(function* () {
      const scope = yield* Effect.scope
      const broadcaster = new Broadcaster(events, scope, maxBacklog)
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
   * Attaches a client to the events of `types` (all when undefined) that pass `visible` (all when undefined): once
   * this returns, every such event published is in its queue. It is detached when the scope closes.
   */
  attach(types: ReadonlyArray<string> | undefined, visible?: (event: Events.Event) => boolean): Effect.Effect<Client> {
    const key = types === undefined ? "*" : [...new Set(types)].sort().join(",")
    return Effect.gen(this, function* () {
      const client: Client = { out: new PassThrough(), held: [], visible }
      // A write racing a client going away is dropped, never an unhandled error.
      client.out.on("error", () => undefined)
      if (this.closed) {
        client.out.end()
        return client
      }
      let group = this.groups.get(key)
      if (group === undefined) {
        const clients = new Set<Client>()
        // Should the subscription end (the event store closing), so do its clients' bodies.
        const ended = Effect.sync(() => {
          if (this.groups.get(key)?.clients === clients) this.groups.delete(key)
          for (const c of clients) c.out.end()
        })
        const fiber = yield* Effect.forkIn(
          // Queue takes rather than a stream's pulls (tens of us a wake-up); subscribed for the fiber's life.
          Effect.scoped(
            Effect.flatMap(this.events.listen(types), (queue) =>
              Events.drainQueue(queue, (event) => this.deliver(clients, event))
            )
          ).pipe(Effect.ensuring(ended)),
          this.scope
        )
        group = { clients, fiber }
        this.groups.set(key, group)
      }
      group.clients.add(client)
      client.out.once("close", () => this.detach(key, client))
      // Subscribed once the group's reader waits on its queue (it starts suspended after subscribing).
      while (true) {
        const status = yield* Fiber.status(group.fiber)
        if (status._tag !== "Running") break
        yield* Effect.yieldNow()
      }
      return client
    })
  }

  /**
   * Starts a client: `head` (the replay) goes to its queue first, then the live events held back meanwhile (those
   * the replay has are skipped), then every live event as it is published.
   */
  start(client: Client, head: ReadonlyArray<Uint8Array>, replayed: ReadonlyArray<Events.Event>): void {
    const held = client.held ?? []
    client.held = undefined
    const seen = replayed.length === 0 ? undefined : new Set(replayed.map((e) => e.id))
    for (const bytes of head) this.send(client, bytes)
    for (const event of held) if (seen === undefined || !seen.has(event.id)) this.send(client, encode(event))
    // (held events were already filtered by `visible` when delivered)
  }

  /** Writes to a client's body unless it has ended or gone away; drops a client whose backlog is past the bound. */
  private send(client: Client, bytes: Uint8Array): void {
    if (!client.out.writable) return
    if (client.out.writableLength + client.out.readableLength > this.maxBacklog) {
      client.out.destroy()
      return
    }
    client.out.write(bytes)
  }

  private deliver(clients: ReadonlySet<Client>, event: Events.Event): void {
    let bytes: Uint8Array | undefined
    for (const client of clients) {
      if (client.visible !== undefined && !client.visible(event)) continue
      if (client.held !== undefined) client.held.push(event)
      else this.send(client, (bytes ??= encode(event)))
    }
  }

  private offerAll(bytes: Uint8Array): void {
    for (const group of this.groups.values())
      for (const client of group.clients) if (client.held === undefined) this.send(client, bytes)
  }

  /** Detaches a client whose body closed; the last client of a filter ends its group's subscription. */
  private detach(key: string, client: Client): void {
    const group = this.groups.get(key)
    if (group?.clients.delete(client) && group.clients.size === 0) {
      this.groups.delete(key)
      group.fiber.unsafeInterruptAsFork(FiberId.none)
    }
  }

  /** Ends every client's body; no client attaches afterwards. */
  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.closed = true
      for (const group of this.groups.values()) for (const client of group.clients) client.out.end()
    })
  }
}

/**
 * The response of a client: its body, written as it is (the head and the live events are already encoded), with
 * the headers of {@link Sse.response}.
 */
export const response = (body: Readable): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.raw(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
  })
