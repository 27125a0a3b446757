/**
 * The LM cache hit path: computing the key of a request (sha256 of its canonical JSON) and serving a fresh copy
 * from the memory LRU, as `LM.complete` does before any provider call. Baseline: a bare `Map` lookup plus
 * `structuredClone` of the same response (no key hashing). Also reported: the lookup alone (key known), a full
 * `LM.complete` served from the cache (span, history, usage, metrics included), and a read from the SQLite tier
 * (memory miss, disk hit).
 */
import { type Completion, LM, LMCache } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, quantile } from "../Harness.js"
import * as Harness from "../Harness.js"

const BATCH = 100
const SAMPLES = 2000

const sampleSync = (operation: (i: number) => unknown): Array<number> =>
  Harness.sampleSync(operation, { samples: SAMPLES, batch: BATCH, warmup: 20_000 })

const request: Completion.CompletionRequest = {
  model: "gpt-4o-mini",
  messages: [
    {
      role: "system",
      content:
        "Your input fields are:\n1. `question` (str)\nYour output fields are:\n1. `reasoning` (str)\n2. `answer` (str)\nAll interactions will be structured in the following way, with the appropriate values filled in."
    },
    {
      role: "user",
      content: "[[ ## question ## ]]\nWhat is the capital of France?\n\nRespond with the corresponding output fields."
    }
  ],
  temperature: 0,
  maxTokens: 512,
  n: 1
}

const response: Completion.CompletionResponse = {
  id: "chatcmpl-abc",
  model: "gpt-4o-mini",
  choices: [
    {
      index: 0,
      content:
        "[[ ## reasoning ## ]]\nParis has been the capital of France since the 10th century.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
      finishReason: "stop"
    }
  ],
  usage: { promptTokens: 120, completionTokens: 30, totalTokens: 150 },
  costUsd: 0.000036,
  cacheHit: false
}

const bench: Bench = {
  name: "cache",
  description: "LM cache hit path (key + memory LRU + fresh copy) against Map + structuredClone",
  run: async (report) => {
    const target = "<= 10 us"
    // Baseline: a bare Map lookup + structuredClone of the same response.
    const map = new Map<string, Completion.CompletionResponse>([["k", response]])
    const baseline = quantile(
      sampleSync(() => structuredClone(map.get("k"))),
      0.5
    )
    report({ bench: "cache", metric: "baseline_map_structured_clone_p50", value: baseline, unit: "us" })

    const scope = Effect.runSync(Scope.make())
    const cache = Effect.runSync(Scope.extend(LMCache.make({ maxEntries: 10_000 }), scope))
    const key = cache.key(request)
    Effect.runSync(cache.set(key, response))

    const hit = quantile(
      sampleSync(() => Effect.runSync(cache.get(cache.key(request)))),
      0.5
    )
    report({ bench: "cache", metric: "hit_path_p50", value: hit, unit: "us", baseline, target })

    const getOnly = quantile(
      sampleSync(() => Effect.runSync(cache.get(key))),
      0.5
    )
    report({ bench: "cache", metric: "get_known_key_p50", value: getOnly, unit: "us", baseline })

    const provider = {
      name: "bench",
      complete: () => Effect.succeed(response),
      stream: () => Stream.empty,
      embed: () => Effect.succeed([])
    }
    const lm = Effect.runSync(LM.make({ provider, model: "gpt-4o-mini", cache }))
    const lmRequest: LM.Request = request
    Effect.runSync(lm.complete(lmRequest))
    const lmHit = quantile(
      sampleSync(() => Effect.runSync(lm.complete(lmRequest))),
      0.5
    )
    report({ bench: "cache", metric: "lm_complete_hit_p50", value: lmHit, unit: "us", baseline })

    // The disk tier: a memory of one entry in front of SQLite, alternating two keys, so every get reads disk.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cache-"))
    const disk = Effect.runSync(Scope.extend(LMCache.make({ maxEntries: 1, path: path.join(dir, "cache.db") }), scope))
    const other = { ...request, rolloutId: 1 }
    const keys = [disk.key(request), disk.key(other)]
    Effect.runSync(disk.set(keys[0]!, response))
    Effect.runSync(disk.set(keys[1]!, response))
    const diskHit = quantile(
      sampleSync((i) => Effect.runSync(disk.get(keys[i % 2]!))),
      0.5
    )
    report({ bench: "cache", metric: "disk_hit_p50", value: diskHit, unit: "us", baseline })
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export default bench
