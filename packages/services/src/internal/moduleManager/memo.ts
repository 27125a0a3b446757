/**
 * The execution memo: what a cache-hit execution of a module version answered, by inputs, so the same inputs are
 * served again without running the program (no prompt formatting, no cache key hashing, no LM layer).
 *
 * An answer is kept only from an execution whose every LM call was answered from the LM cache: serving it again
 * is what running the program again would do while those cache entries live. So the memo follows the cache: an
 * answer lives at most the cache's TTL (`modules.cacheTtlMs`), and every answer goes when the cache moves (a
 * delete, an invalidation, a clear, its `enabled` or TTL changed: the CacheManager's `generation`) or the
 * configuration changes. Answers are per version (a swap or rollback starts empty), per tenant and per end user
 * (as the LM cache's namespaces are).
 *
 * A memo hit replays the events the program published under the module's stamp (its `module_execution_start` /
 * `module_execution_complete`, with their parents), marked `memo: true`, with the hit's own duration and no LM
 * calls; it publishes no `lm_request` (no LM call is made).
 */
import { CoreEvents } from "@effect-dspy/core"
import { CanonicalJson, type Events } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type { Version } from "./store.js"

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

/** The answers of every module version, dropped all at once when the cache or the configuration moves. */
export class Memo {
  private byVersion = new WeakMap<Version, Map<string, Answer>>()
  private generation = -1
  private config: unknown = undefined

  /** Drops every answer when `generation` or `config` differs from the last seen. */
  private follow(generation: number, config: unknown): void {
    if (generation !== this.generation || config !== this.config) {
      this.byVersion = new WeakMap()
      this.generation = generation
      this.config = config
    }
  }

  /** The live answer of `version` for `key` (refreshed as the most recently served), if any. */
  get(version: Version, key: string, now: number, generation: number, config: unknown): Answer | undefined {
    this.follow(generation, config)
    const answers = this.byVersion.get(version)
    if (answers === undefined) return undefined
    const answer = answers.get(key)
    if (answer === undefined) return undefined
    answers.delete(key)
    if (answer.expiresAt !== 0 && answer.expiresAt <= now) return undefined
    answers.set(key, answer)
    return answer
  }

  /** Remembers an answer, dropping the least recently served past `maxEntries`. */
  set(version: Version, key: string, answer: Answer, maxEntries: number, generation: number, config: unknown): void {
    this.follow(generation, config)
    let answers = this.byVersion.get(version)
    if (answers === undefined) {
      answers = new Map()
      this.byVersion.set(version, answers)
    }
    answers.delete(key)
    answers.set(key, answer)
    while (answers.size > maxEntries) {
      const oldest = answers.keys().next()
      if (oldest.done === true) break
      answers.delete(oldest.value)
    }
  }

  /** How many answers `version` holds. */
  size(version: Version): number {
    return this.byVersion.get(version)?.size ?? 0
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
 * A run's events as a hit publishes them again, made once when the answer is remembered: each marked `memo: true`,
 * a completion's figures those of a hit (no LM call, no cost, no time: a hit takes well under a millisecond).
 */
export const prepare = (captured: ReadonlyArray<Captured>): ReadonlyArray<Captured> =>
  captured.map((c) => ({
    ...c,
    input: {
      type: c.input.type,
      data:
        c.input.type === completeType
          ? { ...c.input.data, duration_ms: 0, lm_calls: 0, cost: 0, tokens: 0, memo: true }
          : { ...c.input.data, memo: true }
    }
  }))

/**
 * Publishes an answer's events (made by {@link prepare}) again under the current request (its correlation id, fresh ids, the same parent
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
