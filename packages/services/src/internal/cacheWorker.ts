/**
 * The CacheManager's place in the supervision tree: an actor that fronts the CacheManager service (which the
 * application's layer owns, so its levels and entries survive the actor's restarts) for status and
 * maintenance requests serialised through one mailbox: `Stats`, `PurgeExpired`.
 */
import { Actor } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as CacheManager from "../CacheManager.js"

export type Call = { readonly _tag: "Stats" } | { readonly _tag: "PurgeExpired" }

export type Reply = CacheManager.Stats | number

export const actorName = "dspy/cache_manager"

export const cacheWorker = Actor.make({
  name: "cache_manager",
  init: (cache: CacheManager.Service) => Effect.succeed(cache),
  handleCall: (msg: Call, cache: CacheManager.Service) => {
    switch (msg._tag) {
      case "Stats":
        return Effect.map(cache.stats, (stats) => Actor.reply<Reply, CacheManager.Service>(stats, cache))
      case "PurgeExpired":
        return Effect.map(cache.purgeExpired, (n) => Actor.reply<Reply, CacheManager.Service>(n, cache))
    }
  }
})
