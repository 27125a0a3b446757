/**
 * The in-memory event store.
 *
 * Layout: a ring of columns (type, timestamp, correlation id, parent id, data) indexed by sequence number, plus
 * per-correlation-id and per-type lists of sequence numbers; ids are the store's prefix plus the sequence
 * number, so no object is kept per event. Timestamps never decrease along the sequence (a clock step back is clamped to the last
 * timestamp), so every list is also in time order: a time range is two binary searches, and a query by
 * correlation id costs O(log n + matches), whatever the store size.
 *
 * Retention evicts from the front: each eviction advances the ring's head and the heads of the event's two
 * index lists (O(1)); index lists are compacted when their dead prefix passes half their length, and the ring
 * doubles when full, so the cost is amortised O(1) per event.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Correlation from "../Correlation.js"
import type { Event, EventInput, Query } from "../Events.js"
import { type Hub, idPrefix, type Retention } from "./events.js"

type Data = { readonly [key: string]: unknown }

const EMPTY: Data = Object.freeze({})
const COMPACT_MIN = 1024

/** Sequence numbers of the events with one key, oldest first; entries before `head` are evicted. */
class IndexList {
  seqs: Array<number> = []
  head = 0
}

/** The store's data structure, independent of Effect (the bench and the tests drive it directly too). */
export class MemoryStore {
  // A ring of columns indexed by `seq & mask`: no object per stored event (the `Event` objects handed out
  // are built on the way out and die young), and no copying on eviction.
  private cap = 1024
  private mask = 1023
  private types: Array<string | undefined> = new Array(1024)
  private stamps = new Float64Array(1024)
  private correlations: Array<string | undefined> = new Array(1024)
  private parents: Array<string | undefined> = new Array(1024)
  private datas: Array<Data | undefined> = new Array(1024)
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
    return this.next - this.live - this.erased.size
  }

  /** Sequence numbers removed out of order (erased by id); skipped by reads, dropped when evicted. */
  private readonly erased = new Set<number>()

  /** Removes the events with these ids (their data is dropped at once); returns how many were stored. */
  remove(ids: ReadonlyArray<string>): number {
    let n = 0
    for (const id of ids) {
      if (!id.startsWith(this.prefix)) continue
      const seq = Number(id.slice(this.prefix.length))
      if (!Number.isInteger(seq) || seq < this.live || seq >= this.next || this.erased.has(seq)) continue
      this.erased.add(seq)
      this.datas[seq & this.mask] = EMPTY
      n++
    }
    return n
  }

  /** Appends an event stamped at `now`, then applies retention. */
  append(input: EventInput, now: number, correlationId: string | undefined, parentId: string | undefined): Event {
    const timestamp = Math.max(now, this.lastTimestamp)
    this.lastTimestamp = timestamp
    if (this.next - this.live === this.cap) this.grow()
    const seq = this.next++
    const slot = seq & this.mask
    const data = input.data ?? EMPTY
    this.types[slot] = input.type
    this.stamps[slot] = timestamp
    this.correlations[slot] = correlationId
    this.parents[slot] = parentId
    this.datas[slot] = data
    addTo(this.byType, input.type, seq)
    if (correlationId !== undefined) addTo(this.byCorrelation, correlationId, seq)
    if (this.next - this.live > this.retention.maxEvents) this.evict(this.next - this.live - this.retention.maxEvents)
    this.evictOlderThan(timestamp - this.retention.maxAgeMs)
    return { id: this.prefix + seq, type: input.type, timestamp, correlationId, parentId, data }
  }

  /** Applies retention at `now`; returns how many events were removed. */
  prune(now: number): number {
    const before = this.size
    if (this.size > this.retention.maxEvents) this.evict(this.size - this.retention.maxEvents)
    this.evictOlderThan(now - this.retention.maxAgeMs)
    return before - this.size
  }

  private grow(): void {
    const cap = this.cap * 2
    const mask = cap - 1
    const types: Array<string | undefined> = new Array(cap)
    const stamps = new Float64Array(cap)
    const correlations: Array<string | undefined> = new Array(cap)
    const parents: Array<string | undefined> = new Array(cap)
    const datas: Array<Data | undefined> = new Array(cap)
    for (let seq = this.live; seq < this.next; seq++) {
      const from = seq & this.mask
      const to = seq & mask
      types[to] = this.types[from]
      stamps[to] = this.stamps[from] as number
      correlations[to] = this.correlations[from]
      parents[to] = this.parents[from]
      datas[to] = this.datas[from]
    }
    this.cap = cap
    this.mask = mask
    this.types = types
    this.stamps = stamps
    this.correlations = correlations
    this.parents = parents
    this.datas = datas
  }

  private timestampAt(seq: number): number {
    return this.stamps[seq & this.mask] as number
  }

  private at(seq: number): Event {
    const slot = seq & this.mask
    return {
      id: this.prefix + seq,
      type: this.types[slot] as string,
      timestamp: this.stamps[slot] as number,
      correlationId: this.correlations[slot],
      parentId: this.parents[slot],
      data: this.datas[slot] as Data
    }
  }

  private evictOlderThan(cutoff: number): void {
    while (this.live < this.next && this.timestampAt(this.live) < cutoff) this.evict(1)
  }

  private evict(count: number): void {
    for (let i = 0; i < count && this.live < this.next; i++) {
      const slot = this.live & this.mask
      const type = this.types[slot] as string
      const correlationId = this.correlations[slot]
      this.types[slot] = undefined
      this.correlations[slot] = undefined
      this.parents[slot] = undefined
      this.datas[slot] = undefined
      this.erased.delete(this.live)
      this.live++
      dropHead(this.byType, type)
      if (correlationId !== undefined) dropHead(this.byCorrelation, correlationId)
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
      start = lowerBound(start, end, (i) => this.timestampAt(seqAt(i)) >= from)
    }
    if (q.to !== undefined) {
      const to = q.to
      end = lowerBound(start, end, (i) => this.timestampAt(seqAt(i)) > to)
    }
    // 3. order, offset, limit
    const limit = q.limit ?? Number.POSITIVE_INFINITY
    let skip = q.offset ?? 0
    const out: Array<Event> = []
    if (limit === 0) return out
    const desc = q.order === "desc"
    for (let k = desc ? end - 1 : start; desc ? k >= start : k < end; desc ? k-- : k++) {
      const seq = seqAt(k)
      if (typeFilter !== undefined && !typeFilter.has(this.types[seq & this.mask] as string)) continue
      if (this.erased.size > 0 && this.erased.has(seq)) continue
      if (skip > 0) {
        skip--
        continue
      }
      out.push(this.at(seq))
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
      // One runtime step per publish: the clock and the correlation ids are read from the fiber directly.
      const publish = (input: EventInput): Effect.Effect<Event> =>
        Effect.withFiberRuntime<Event>((fiber) => {
          const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
          const correlationId =
            input.correlationId ?? Option.getOrUndefined(fiber.getFiberRef(Correlation.currentCorrelationId))
          const parentId = input.parentId ?? Option.getOrUndefined(fiber.getFiberRef(Correlation.currentParentId))
          return hub.deliver(store.append(input, clock.unsafeCurrentTimeMillis(), correlationId, parentId))
        })
      const query = (q: Query): Effect.Effect<Array<Event>> =>
        Effect.clockWith((clock) => Effect.sync(() => store.query(q, clock.unsafeCurrentTimeMillis())))
      const prune: Effect.Effect<number> = Effect.clockWith((clock) =>
        Effect.sync(() => store.prune(clock.unsafeCurrentTimeMillis()))
      )
      const count: Effect.Effect<number> = Effect.sync(() => store.size)
      const remove = (ids: ReadonlyArray<string>): Effect.Effect<number> => Effect.sync(() => store.remove(ids))
      // Without a fiber: the ids as given, the caller's clock.
      const publishSync = (input: EventInput, now: number): Event =>
        hub.deliverSync(store.append(input, now, input.correlationId, input.parentId))
      return { store, publish, publishSync, query, prune, count, remove }
    }
  )
