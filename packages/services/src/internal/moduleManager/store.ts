/**
 * The module table: like an ETS table owned by the application's layer, it outlives restarts of the
 * ModuleManager actor. Only the actor writes it (creates, swaps, rollbacks are serialised through its
 * mailbox); callers read the current version synchronously and execute it in their own fibers. A version is
 * an immutable program value, so a swap is one reference write: calls in flight keep the version they read.
 */
import type { CircuitBreaker, Events, RateLimiter } from "@effect-dspy/foundation"
import type { LM, Module } from "@effect-dspy/core"
import type * as MetricLabel from "effect/MetricLabel"
import type * as Context from "effect/Context"
import type * as TrafficPolicy from "../../experiments/TrafficPolicy.js"
import type { FallbackChain } from "../../ModuleManager.js"
import type { Lineage } from "../../releases/ReleaseStore.js"

/** How a module was made. */
export type Origin =
  | { readonly _tag: "Spec"; readonly kind: string; readonly signature: string }
  | { readonly _tag: "Program" }

/** One version of a module. */
export interface Version {
  readonly version: number
  readonly program: Module.Program
  readonly createdAt: number
  /** What made this version: `created`, `swapped`, `rolled_back(<n>)`, `restored`, `imported`. */
  readonly reason: string
  /** Where it came from (as stored in the release store). */
  readonly lineage: Lineage
}

/** A managed module. `versions` grows at the end and drops its oldest past `modules.maxVersions`; `current` is its last. */
export interface Entry {
  readonly id: string
  readonly origin: Origin
  /** The fingerprint of the program's shape (a re-registration with another shape is refused). */
  readonly shape: string
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly limiter: RateLimiter.RateLimiter | undefined
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  /**
   * `labels` with `outcome` = `success` / `failure`. Made once: a metric update with the same label array is
   * a cache hit, while a fresh array per call costs a metric key and a registry lookup.
   */
  readonly successLabels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly failureLabels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly createdAt: number
  versions: Array<Version>
  current: Version
  executions: number
  failures: number
  /** The module's traffic policy, when it has one (else its current version serves). */
  routing: Routing | undefined
  /** The module's fallback chain, when it has one. */
  fallback: FallbackChain | undefined
  /** Per version and arm: metric labels and the run context, made once (see `tagsOf`). */
  readonly tags: Map<number | string, Tags>
  /** The last answers by inputs (for the `stale_cache` fallback step), bounded. */
  readonly lastOutputs: Map<string, unknown>
  /** Shadow runs in flight (bounded: a shadow never queues). */
  shadowsInFlight: number
}

/** A traffic policy in force: its router and the versions it names, resolved once. */
export interface Routing {
  readonly policy: TrafficPolicy.Policy
  readonly router: TrafficPolicy.Router
  readonly source: "api" | "config"
  readonly versions: ReadonlyMap<string, Version>
  /** Set once the canary's breach was acted upon (one rollback per breach). */
  handled: boolean
  /** The experiment the policy runs as, while it takes observations (see `experiments.ts`). */
  experiment: string | undefined
}

/** What an execution of one version under one arm is tagged with. */
export interface Tags {
  readonly success: ReadonlyArray<MetricLabel.MetricLabel>
  readonly failure: ReadonlyArray<MetricLabel.MetricLabel>
  readonly duration: ReadonlyArray<MetricLabel.MetricLabel>
  /** The program's context: the application's LM and an event store whose events carry the version and arm. */
  readonly context: Context.Context<LM.LM | Events.Events>
  /** That event store (the one in `context`). */
  readonly events: Events.Service
  /** What that store adds to every event's data: the module id, version and arm. */
  readonly stamp: { readonly [key: string]: unknown }
  readonly spanAttributes: { readonly [key: string]: unknown }
}

export class ModuleStore {
  readonly entries = new Map<string, Entry>()
}
