/**
 * Traffic policies in the module table: a policy decoded against the module's versions and resolved to them
 * once (the request path then does one synchronous `route` and one map lookup), and the tags an execution of
 * one version under one arm carries (metric labels, span attributes, events stamped with the version and arm),
 * made once per pair.
 */
import { LM } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as MetricLabel from "effect/MetricLabel"
import * as TrafficPolicy from "../../experiments/TrafficPolicy.js"
import type { PolicyStatus } from "../../ModuleManager.js"
import type { PolicyInvalid } from "../../ServicesError.js"
import type { Entry, Routing, Tags, Version } from "./store.js"

/** An event store that stamps every event's data with the module version and arm, then records it. */
const stamped = (events: Events.Service, stamp: { readonly [key: string]: unknown }): Events.Service => ({
  ...events,
  publish: (input) => events.publish({ ...input, data: { ...input.data, ...stamp } }),
  // Not stamped: no synchronous publish through it.
  publishSync: undefined
})

/** The tags of an execution of `version` under `arm` (`undefined`: no policy), made once per pair. */
export const tagsOf = (
  entry: Entry,
  version: Version,
  arm: string | undefined,
  base: { readonly lm: LM.Service; readonly events: Events.Service }
): Tags => {
  const key = arm === undefined ? version.version : `${version.version}|${arm}`
  const found = entry.tags.get(key)
  if (found !== undefined) return found
  const armLabel = arm ?? "none"
  const duration = [
    MetricLabel.make("module_id", entry.id),
    MetricLabel.make("module_version", String(version.version)),
    MetricLabel.make("arm", armLabel)
  ]
  const stamp = { module_id: entry.id, module_version: version.version, arm: armLabel }
  const events = stamped(base.events, stamp)
  const tags: Tags = {
    duration,
    success: [MetricLabel.make("outcome", "success"), ...duration],
    failure: [MetricLabel.make("outcome", "failure"), ...duration],
    context: Context.make(LM.LM, base.lm).pipe(Context.add(Events.Events, events)),
    events,
    stamp,
    spanAttributes: {
      "dspy.module.id": entry.id,
      "dspy.module.version": version.version,
      "dspy.module.arm": armLabel
    }
  }
  // Bounded: versions come and go; a module's tags are remade when it holds too many.
  if (entry.tags.size > 256) entry.tags.clear()
  entry.tags.set(key, tags)
  return tags
}

/** The module's versions by the names policies give them (their numbers as strings). */
const versionsByName = (entry: Entry): Map<string, Version> => {
  const byName = new Map<string, Version>()
  for (const v of entry.versions) byName.set(String(v.version), v)
  return byName
}

/**
 * A policy decoded against the module's versions (`PolicyInvalid` names what to fix) and resolved to them.
 */
export const makeRouting = (
  entry: Entry,
  input: unknown,
  source: "api" | "config",
  seed: number
): Effect.Effect<Routing, PolicyInvalid> => {
  const byName = versionsByName(entry)
  return Effect.map(TrafficPolicy.decode(input, [...byName.keys()]), (policy) => {
    const versions = new Map<string, Version>()
    for (const name of TrafficPolicy.versionsOf(policy)) versions.set(name, byName.get(name)!)
    // A policy changed at run time keeps the history of the arms it still names.
    const previous = entry.routing?.router.state().arms
    const router = TrafficPolicy.make(policy, previous === undefined ? { seed } : { seed, stats: previous })
    return { policy, router, source, versions, handled: false, experiment: undefined }
  })
}

/** What `policy` reports about a module's routing. */
export const statusOf = (entry: Entry, routing: Routing): PolicyStatus => {
  const arms: Record<string, ReturnType<Routing["router"]["state"]>["arms"][string]> = {}
  for (const name of routing.versions.keys()) {
    const stats = routing.router.stats(name)
    if (stats !== undefined) arms[name] = stats
  }
  return {
    moduleId: entry.id,
    policy: routing.policy,
    source: routing.source,
    arms,
    breach: routing.router.breach(),
    ...(routing.experiment === undefined ? {} : { experimentId: routing.experiment })
  }
}
