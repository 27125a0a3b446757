/**
 * The coordinator's state, owned here: the jobs by id, the queue (highest priority first, then first come), the
 * jobs running, the worker limit, the last sequence number and whether the coordinator is closing. Every change
 * goes through this record's methods; the ones that must be atomic with a decision (queue, start, cancel, fill
 * workers) run under {@link State.locked}.
 */
import * as Effect from "effect/Effect"
import type { Live } from "./jobs.js"

export class State {
  private readonly byId = new Map<string, Live>()
  private readonly waiting: Array<Live> = []
  private readonly active = new Set<Live>()
  private limit: number
  private seq = 0
  private closed = false

  private constructor(
    private readonly lock: Effect.Semaphore,
    workers: number
  ) {
    this.limit = workers
  }

  static make(workers: number): Effect.Effect<State> {
    return Effect.map(Effect.makeSemaphore(1), (lock) => new State(lock, workers))
  }

  /** Runs `effect` with the state's lock held: no other locked change interleaves. */
  locked<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.lock.withPermits(1)(effect)
  }

  // Jobs ---------------------------------------------------------------------------------------------------

  add(live: Live): void {
    this.byId.set(live.row.id, live)
    this.seq = Math.max(this.seq, live.row.seq)
  }

  get(id: string): Live | undefined {
    return this.byId.get(id)
  }

  /** Every job, oldest first. */
  get jobs(): ReadonlyArray<Live> {
    return Array.from(this.byId.values())
  }

  /** The next job's sequence number. */
  nextSeq(): number {
    return ++this.seq
  }

  // The queue ------------------------------------------------------------------------------------------------

  enqueue(live: Live): void {
    this.waiting.push(live)
    this.waiting.sort((a, b) => b.row.priority - a.row.priority || a.row.seq - b.row.seq)
  }

  /** Takes the job out of the queue; whether it was there. */
  dequeue(live: Live): boolean {
    const index = this.waiting.indexOf(live)
    if (index >= 0) this.waiting.splice(index, 1)
    return index >= 0
  }

  /** The queue, in start order. */
  get queue(): ReadonlyArray<Live> {
    return this.waiting
  }

  // Workers ------------------------------------------------------------------------------------------------

  /** Whether a worker is free for one more job (and the coordinator is not closing). */
  get hasFreeWorker(): boolean {
    return !this.closed && this.active.size < this.limit
  }

  markRunning(live: Live): void {
    this.active.add(live)
  }

  markStopped(live: Live): void {
    this.active.delete(live)
  }

  setWorkers(limit: number): void {
    this.limit = limit
  }

  get workers(): { readonly limit: number; readonly running: number; readonly queued: number } {
    return { limit: this.limit, running: this.active.size, queued: this.waiting.length }
  }

  // Lifecycle ----------------------------------------------------------------------------------------------

  close(): void {
    this.closed = true
  }

  get closing(): boolean {
    return this.closed
  }
}
