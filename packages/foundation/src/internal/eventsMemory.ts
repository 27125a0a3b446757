/**
 * The in-memory event store.
 *
 * Layout: one array of events in append (sequence) order, plus per-correlation-id and per-type lists of
 * sequence numbers. Timestamps never decrease along the sequence (a clock step back is clamped to the last
 * timestamp), so every list is also in time order: a time range is two binary searches, and a query by
 * correlation id costs O(log n + matches), whatever the store size.
 *
 * Retention evicts from the front: each eviction advances the head of the main array and of the event's two
 * index lists (O(1)); the arrays are compacted when their dead prefix passes half their length, so the cost
 * is amortised O(1) per event.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Correlation from "../Correlation.js"
import type { Event, EventInput, Query } from "../Events.js"
import { type Hub, idPrefix, type Retention } from "./events.js"

const EMPTY: { readonly [key: string]: unknown } = Object.freeze({})
const COMPACT_MIN = 1024

/** Sequence numbers of the events with one key, oldest first; entries before `head` are evicted. */
class IndexList {
  seqs: Array<number> = []
  head = 0
}

/** The store's data structure, independent of Effect (the bench and the tests drive it directly too). */
export class MemoryStore {
  private buf: Array<Event | undefined> = []
  private bufBase = 0
  private live = 0
  private next = 0
  private lastTimestamp = Number.NEGATIVE_INFINITY
  private readonly byCorrelation = new Map<string, IndexList>()
  private readonly byType = new Map<string, IndexList>()

  constructor(
    public retention: Retention,
    private readonly prefix: string
  ) {}

  /** How many events are stored. */
  get size(): number {
    return this.next - this.live
  }

  /** Appends an event stamped at `now`, then applies retention. */
  append(input: EventInput, now: number, correlationId: string | undefined, parentId: string | undefined): Event {
    const timestamp = Math.max(now, this.lastTimestamp)
    this.lastTimestamp = timestamp
    const seq = this.next++
    const event: Event = {
      id: this.prefix + seq.toString(36),
      type: input.type,
      timestamp,
      correlationId,
      parentId,
      data: input.data ?? EMPTY
    }
    this.buf.push(event)
    addTo(this.byType, input.type, seq)
    if (correlationId !== undefined) addTo(this.byCorrelation, correlationId, seq)
    if (this.next - this.live > this.retention.maxEvents) this.evict(this.next - this.live - this.retention.maxEvents)
    this.evictOlderThan(timestamp - this.retention.maxAgeMs)
    return event
  }

  /** Applies retention at `now`; returns how many events were removed. */
  prune(now: number): number {
    const before = this.size
    if (this.size > this.retention.maxEvents) this.evict(this.size - this.retention.maxEvents)
    this.evictOlderThan(now - this.retention.maxAgeMs)
    return before - this.size
  }

  private at(seq: number): Event {
    return this.buf[seq - this.bufBase] as Event
  }

  private evictOlderThan(cutoff: number): void {
    while (this.live < this.next && this.at(this.live).timestamp < cutoff) this.evict(1)
  }

  private evict(count: number): void {
    for (let i = 0; i < count && this.live < this.next; i++) {
      const index = this.live - this.bufBase
      const event = this.buf[index] as Event
      this.buf[index] = undefined
      this.live++
      dropHead(this.byType, event.type)
      if (event.correlationId !== undefined) dropHead(this.byCorrelation, event.correlationId)
    }
    const dead = this.live - this.bufBase
    if (dead >= COMPACT_MIN && dead * 2 >= this.buf.length) {
      this.buf = this.buf.slice(dead)
      this.bufBase = this.live
    }
  }

  /** The events matching a (validated) query, after applying age retention at `now`. */
  query(q: Query, now: number): Array<Event> {
    this.evictOlderThan(now - this.retention.maxAgeMs)
    // 1. the candidates, as a sorted run of sequence numbers: [start, end) of `seqs` (or of the store)
    let seqs: ReadonlyArray<number> | undefined
    let start: number
    let end: number
    let typeFilter: ReadonlySet<string> | undefined
    const types = q.types
    if (q.correlationId !== undefined) {
      const list = this.byCorrelation.get(q.correlationId)
      if (list === undefined) return []
      seqs = list.seqs
      start = list.head
      end = list.seqs.length
      if (types !== undefined) typeFilter = new Set(types)
    } else if (types !== undefined) {
      if (types.length === 0) return []
      if (types.length === 1) {
        const list = this.byType.get(types[0] as string)
        if (list === undefined) return []
        seqs = list.seqs
        start = list.head
      } else {
        const merged: Array<number> = []
        for (const type of new Set(types)) {
          const list = this.byType.get(type)
          if (list === undefined) continue
          for (let i = list.head; i < list.seqs.length; i++) merged.push(list.seqs[i] as number)
        }
        merged.sort((a, b) => a - b)
        seqs = merged
        start = 0
      }
      end = seqs.length
    } else {
      start = this.live
      end = this.next
    }
    const seqAt = seqs === undefined ? (i: number) => i : (i: number) => seqs[i] as number
    // 2. the time range, by binary search (timestamps never decrease along the sequence)
    if (q.from !== undefined) {
      const from = q.from
      start = lowerBound(start, end, (i) => this.at(seqAt(i)).timestamp >= from)
    }
    if (q.to !== undefined) {
      const to = q.to
      end = lowerBound(start, end, (i) => this.at(seqAt(i)).timestamp > to)
    }
    // 3. order, offset, limit
    const limit = q.limit ?? Number.POSITIVE_INFINITY
    let skip = q.offset ?? 0
    const out: Array<Event> = []
    if (limit === 0) return out
    const desc = q.order === "desc"
    for (let k = desc ? end - 1 : start; desc ? k >= start : k < end; desc ? k-- : k++) {
      const event = this.at(seqAt(k))
      if (typeFilter !== undefined && !typeFilter.has(event.type)) continue
      if (skip > 0) {
        skip--
        continue
      }
      out.push(event)
      if (out.length >= limit) break
    }
    return out
  }
}

const addTo = (index: Map<string, IndexList>, key: string, seq: number): void => {
  let list = index.get(key)
  if (list === undefined) {
    list = new IndexList()
    index.set(key, list)
  }
  list.seqs.push(seq)
}

const dropHead = (index: Map<string, IndexList>, key: string): void => {
  const list = index.get(key)
  if (list === undefined) return
  list.head++
  if (list.head >= list.seqs.length) index.delete(key)
  else if (list.head >= COMPACT_MIN && list.head * 2 >= list.seqs.length) {
    list.seqs = list.seqs.slice(list.head)
    list.head = 0
  }
}

/** The first index in [lo, hi) where `pred` holds (pred is monotone: false...false true...true), else hi. */
const lowerBound = (lo: number, hi: number, pred: (i: number) => boolean): number => {
  let a = lo
  let b = hi
  while (a < b) {
    const mid = (a + b) >>> 1
    if (pred(mid)) b = mid
    else a = mid + 1
  }
  return a
}

/** The Effect-facing operations of a memory store. */
export const makeOps = (retention: Retention, hub: Hub) =>
  Effect.map(
    Effect.clockWith((clock) => clock.currentTimeMillis),
    (now) => {
      const store = new MemoryStore(retention, idPrefix(now))
      const publish = (input: EventInput): Effect.Effect<Event> =>
        Effect.clockWith((clock) =>
          Effect.withFiberRuntime<Event>((fiber) => {
            const correlationId =
              input.correlationId ?? Option.getOrUndefined(fiber.getFiberRef(Correlation.currentCorrelationId))
            const parentId = input.parentId ?? Option.getOrUndefined(fiber.getFiberRef(Correlation.currentParentId))
            const event = store.append(input, clock.unsafeCurrentTimeMillis(), correlationId, parentId)
            return hub.deliver(event)
          })
        )
      const query = (q: Query): Effect.Effect<Array<Event>> =>
        Effect.clockWith((clock) => Effect.sync(() => store.query(q, clock.unsafeCurrentTimeMillis())))
      const prune: Effect.Effect<number> = Effect.clockWith((clock) =>
        Effect.sync(() => store.prune(clock.unsafeCurrentTimeMillis()))
      )
      const count: Effect.Effect<number> = Effect.sync(() => store.size)
      return { store, publish, query, prune, count }
    }
  )
