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

/**
 * The answers of every module version under each arm (its `Tags`), in one map bounded across all modules (the least
 * recently served go first), dropped all at once when the cache or the configuration moves.
 */
export class Memo {
  private answers = new Map<string, Answer>()
  private readonly ids = new WeakMap<Tags, string>()
  private nextId = 0
  private generation = -1
  private config: unknown = undefined

  /** Drops every answer when `generation` or `config` differs from the last seen. */
  private follow(generation: number, config: unknown): void {
    if (generation !== this.generation || config !== this.config) {
      this.answers = new Map()
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

  /** The live answer of a version and arm (its tags) for `key` (refreshed as the most recently served), if any. */
  get(tags: Tags, key: string, now: number, generation: number, config: unknown): Answer | undefined {
    this.follow(generation, config)
    if (this.answers.size === 0) return undefined
    const full = this.keyOf(tags, key)
    const answer = this.answers.get(full)
    if (answer === undefined) return undefined
    this.answers.delete(full)
    if (answer.expiresAt !== 0 && answer.expiresAt <= now) return undefined
    this.answers.set(full, answer)
    return answer
  }

  /** Remembers an answer, dropping the least recently served past `maxEntries` (all modules together). */
  set(tags: Tags, key: string, answer: Answer, maxEntries: number, generation: number, config: unknown): void {
    this.follow(generation, config)
    const full = this.keyOf(tags, key)
    this.answers.delete(full)
    this.answers.set(full, answer)
    while (this.answers.size > maxEntries) {
      const oldest = this.answers.keys().next()
      if (oldest.done === true) break
      this.answers.delete(oldest.value)
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
    })
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
 * Publishes an answer's events (made by {@link prepare}, so to the application's store: they are stamped) again under the current request (its correlation id, fresh ids, the same parent
 * structure). A store that cannot record one logs a warning, as `Events.publishOrLog` does: the hit is served.
 */
export const replay = (events: Events.Service, captured: ReadonlyArray<Captured>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const ids = new Map<string, string>()
    let chain: Effect.Effect<void> = Effect.void
    for (const c of captured) {
      const parent = c.parentId
      chain = Effect.zipRight(
        chain,
        Effect.suspend(() => {
          // A parent published in the run is replaced by its replay; one from outside it (the caller's) is the
          // current one's, as the store takes it from the fiber.
          const parentId = parent === undefined ? undefined : ids.get(parent)
          return Effect.matchEffect(events.publish(parentId === undefined ? c.input : { ...c.input, parentId }), {
            onFailure: (error) =>
              Effect.logWarning(`could not record the ${c.input.type} event of a memo hit: ${error.message}`),
            onSuccess: (event) =>
              Effect.sync(() => {
                ids.set(c.id, event.id)
              })
          })
        })
      )
    }
    return chain
  })
