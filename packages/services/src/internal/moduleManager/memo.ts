/**
 * The execution memo: what a cache-hit execution of a module version answered, by inputs, so the same inputs are
 * served again without running the program (no prompt formatting, no cache key hashing, no LM layer).
 *
 * An answer is kept only from an execution whose every LM call was answered from the LM cache: serving it again
 * is what running the program again would do while those cache entries live. So the memo follows the cache: an
 * answer lives at most the cache's TTL (`modules.cacheTtlMs`), and every answer goes when the cache moves (a
 * delete, an invalidation, a clear, its `enabled` or TTL changed: the CacheManager's `generation`) or the
 * configuration changes. Answers are per version and arm (a swap or rollback starts empty), per tenant and per end user
 * (as the LM cache's namespaces are).
 *
 * A memo hit replays the events the program published under the module's stamp (its `module_execution_start` /
 * `module_execution_complete`, with their parents), marked `memo: true`, with the hit's own duration and no LM
 * calls; it publishes no `lm_request` (no LM call is made).
 */
import { CoreEvents } from "@effect-dspy/core"
import { CanonicalJson, type Events } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type { Tags } from "./store.js"

/**
 * An event the program published (through the module's stamped store): what it published, and the id and parent
 * the store gave it (a nested call's parent comes from the fiber, not from the input).
 */
export interface Captured {
  readonly input: Events.EventInput
  readonly id: string
  readonly parentId: string | undefined
}

/** A remembered answer. */
export interface Answer {
  readonly output: unknown
  /** The run's events as a hit publishes them again (see {@link prepare}). */
  readonly events: ReadonlyArray<Captured>
  /** When it expires (ms since the epoch); 0: never (a cache without TTL). */
  readonly expiresAt: number
}

/** Inputs whose canonical JSON is longer than this are not remembered (the key would outweigh the answer). */
export const maxKeyChars = 16_384

/**
 * The memo key of `inputs` for a tenant and an end user, or `undefined` when they cannot be remembered (not plain
 * JSON, or too long).
 */
export const keyOf = (inputs: unknown, tenant: string | undefined, subject: string | undefined): string | undefined => {
  let json: string
  try {
    json = CanonicalJson.stringify(inputs)
  } catch {
    return undefined
  }
  if (json === undefined || json.length > maxKeyChars) return undefined
  return tenant === undefined && subject === undefined ? json : `${tenant ?? ""}\u0000${subject ?? ""}\u0000${json}`
}

/** A kept answer, its full key, and whether it was served since the eviction hand last passed it. */
interface Slot {
  readonly key: string
  answer: Answer
  used: boolean
}

/**
 * The answers of every module version under each arm (its `Tags`), in one map bounded across all modules, dropped
 * all at once when the cache or the configuration moves. Past the bound, the oldest answer not served since the
 * eviction hand last passed it goes (the CLOCK approximation of least recently used): a hit only sets a flag, and
 * the order is an array, not a `Map`'s insertion order (taking a `Map`'s first entry walks the holes of the ones
 * deleted before it).
 */
export class Memo {
  private answers = new Map<string, Slot>()
  private order: Array<Slot | undefined> = []
  private head = 0
  private readonly ids = new WeakMap<Tags, string>()
  private nextId = 0
  private generation = -1
  private config: unknown = undefined

  /** Drops every answer when `generation` or `config` differs from the last seen. */
  private follow(generation: number, config: unknown): void {
    if (generation !== this.generation || config !== this.config) {
      this.answers = new Map()
      this.order = []
      this.head = 0
      this.generation = generation
      this.config = config
    }
  }

  /** The key of `key` under a version and arm: a short id of its tags, then the inputs' key. */
  private keyOf(tags: Tags, key: string): string {
    let id = this.ids.get(tags)
    if (id === undefined) {
      id = `${(this.nextId++).toString(36)}\u0001`
      this.ids.set(tags, id)
    }
    return id + key
  }

  /** The live answer of a version and arm (its tags) for `key`, if any (marked as served). */
  get(tags: Tags, key: string, now: number, generation: number, config: unknown): Answer | undefined {
    this.follow(generation, config)
    if (this.answers.size === 0) return undefined
    const full = this.keyOf(tags, key)
    const slot = this.answers.get(full)
    if (slot === undefined) return undefined
    if (slot.answer.expiresAt !== 0 && slot.answer.expiresAt <= now) {
      this.answers.delete(full)
      return undefined
    }
    slot.used = true
    return slot.answer
  }

  /** Remembers an answer; past `maxEntries` (all modules together), the least recently served go. */
  set(tags: Tags, key: string, answer: Answer, maxEntries: number, generation: number, config: unknown): void {
    this.follow(generation, config)
    const full = this.keyOf(tags, key)
    const existing = this.answers.get(full)
    if (existing !== undefined) {
      existing.answer = answer
      existing.used = true
      return
    }
    // Served by the run that gave it: as recent as a hit.
    const slot: Slot = { key: full, answer, used: true }
    this.answers.set(full, slot)
    this.order.push(slot)
    while (this.answers.size > maxEntries && this.head < this.order.length) {
      const oldest = this.order[this.head]!
      this.order[this.head++] = undefined
      // Gone already (expired, or an older slot of a key set again after it expired): skipped.
      if (this.answers.get(oldest.key) !== oldest) continue
      if (oldest.used) {
        oldest.used = false
        this.order.push(oldest)
      } else this.answers.delete(oldest.key)
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head)
      this.head = 0
    }
  }

  /** How many answers are kept. */
  get size(): number {
    return this.answers.size
  }
}

/** An event store that records what is published through it (and the ids given) in `into`. */
export const capturing = (events: Events.Service, into: Array<Captured>): Events.Service => ({
  ...events,
  publish: (input) =>
    Effect.map(events.publish(input), (event) => {
      into.push({ input, id: event.id, parentId: event.parentId })
      return event
    }),
  // Not captured: no synchronous publish through it.
  publishSync: undefined
})

const completeType = CoreEvents.ModuleExecutionComplete.type

/**
 * A run's events as a hit publishes them again, made once when the answer is remembered: each marked `memo: true`
 * and stamped with the module's version and arm (`stamp`, as the module's store stamps them), a completion's figures
 * those of a hit (no LM call, no cost, no time: a hit takes well under a millisecond).
 */
export const prepare = (
  captured: ReadonlyArray<Captured>,
  stamp: { readonly [key: string]: unknown }
): ReadonlyArray<Captured> =>
  captured.map((c) => ({
    ...c,
    input: {
      type: c.input.type,
      data:
        c.input.type === completeType
          ? { ...c.input.data, duration_ms: 0, lm_calls: 0, cost: 0, tokens: 0, memo: true, ...stamp }
          : { ...c.input.data, memo: true, ...stamp }
    }
  }))

/**
 * The `i`th captured event as it is published again: under `correlationId`, its parent (when published in the run)
 * replaced by that parent's replay, whose id is in `given` (a handful of events: a search beats a map). A parent from
 * outside the run (the caller's) is left to the store, which takes the current one.
 */
const replayed = (
  captured: ReadonlyArray<Captured>,
  given: ReadonlyArray<string | undefined>,
  i: number,
  correlationId: string
): Events.EventInput => {
  const c = captured[i]!
  let parentId: string | undefined
  if (c.parentId !== undefined) {
    for (let j = 0; j < i; j++) if (captured[j]!.id === c.parentId) parentId = given[j]
  }
  return parentId === undefined ? { ...c.input, correlationId } : { ...c.input, correlationId, parentId }
}

/**
 * {@link replay} through a store's synchronous publish (no fiber: the parent of a top-level event is none), `now`
 * the events' timestamp.
 */
export const replaySync = (
  publishSync: (input: Events.EventInput, now: number) => Events.Event | undefined,
  captured: ReadonlyArray<Captured>,
  correlationId: string,
  now: number
): void => {
  const given: Array<string | undefined> = []
  for (let i = 0; i < captured.length; i++) given[i] = publishSync(replayed(captured, given, i, correlationId), now)?.id
}

/**
 * Publishes an answer's events (made by {@link prepare}, so to the application's store: they are stamped) again under
 * the request's correlation id (given: no fiber reference is written for it), with fresh ids and the same parent
 * structure. A store that cannot record one logs a warning, as `Events.publishOrLog` does: the hit is served.
 */
export const replay = (
  events: Events.Service,
  captured: ReadonlyArray<Captured>,
  correlationId: string
): Effect.Effect<void> => {
  // The id each replayed event was given, by its index in `captured`.
  const given: Array<string | undefined> = []
  const step = (i: number): Effect.Effect<void> => {
    if (i === captured.length) return Effect.void
    return Effect.matchEffect(events.publish(replayed(captured, given, i, correlationId)), {
      onFailure: (error) =>
        Effect.zipRight(
          Effect.logWarning(`could not record the ${captured[i]!.input.type} event of a memo hit: ${error.message}`),
          step(i + 1)
        ),
      onSuccess: (event) => {
        given[i] = event.id
        return step(i + 1)
      }
    })
  }
  return step(0)
}
