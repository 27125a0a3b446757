/**
 * The checks of a decoded traffic policy against a module's versions: each finding names the field and what to fix.
 */
import { PolicyInvalid } from "../../ServicesError.js"
import type { Policy } from "../TrafficPolicy.js"

/** A `PolicyInvalid` for a field. */
export const invalid = (field: string, reason: string) =>
  new PolicyInvalid({ message: `traffic policy: ${field}: ${reason}`, field, reason })

const inUnit = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1

/** What is wrong with a decoded policy, given the module's versions, if anything. */
export const check = (policy: Policy, known: ReadonlySet<string>): PolicyInvalid | undefined => {
  const version = (field: string, v: string) =>
    known.has(v)
      ? undefined
      : invalid(field, `unknown version "${v}"; the module has ${[...known].join(", ") || "none"}`)
  switch (policy._tag) {
    case "Pinned":
      return version("version", policy.version)
    case "Weighted": {
      if (policy.weights.length === 0) return invalid("weights", "give at least one version with a weight")
      const seen = new Set<string>()
      let sum = 0
      for (let i = 0; i < policy.weights.length; i++) {
        const w = policy.weights[i]!
        const bad = version(`weights[${i}].version`, w.version)
        if (bad) return bad
        if (seen.has(w.version)) return invalid(`weights[${i}].version`, `version "${w.version}" appears twice`)
        seen.add(w.version)
        if (!inUnit(w.weight)) return invalid(`weights[${i}].weight`, `must be in [0, 1], got ${w.weight}`)
        sum += w.weight
      }
      if (Math.abs(sum - 1) > 1e-9) return invalid("weights", `must sum to 1 (within 1e-9), they sum to ${sum}`)
      return undefined
    }
    case "Canary": {
      const bad = version("stable", policy.stable) ?? version("candidate", policy.candidate)
      if (bad) return bad
      if (policy.stable === policy.candidate) return invalid("candidate", "must differ from stable")
      if (!inUnit(policy.fraction)) return invalid("fraction", `must be in [0, 1], got ${policy.fraction}`)
      const rails = policy.guardRails
      if (!Number.isInteger(rails.minSamples) || rails.minSamples < 1)
        return invalid("guardRails.minSamples", `must be an integer >= 1, got ${rails.minSamples}`)
      if (rails.maxErrorRate !== undefined && !inUnit(rails.maxErrorRate))
        return invalid("guardRails.maxErrorRate", `must be in [0, 1], got ${rails.maxErrorRate}`)
      if (rails.minQuality !== undefined && !inUnit(rails.minQuality))
        return invalid("guardRails.minQuality", `must be in [0, 1], got ${rails.minQuality}`)
      if (rails.maxLatencyP95Ms !== undefined && !(Number.isFinite(rails.maxLatencyP95Ms) && rails.maxLatencyP95Ms > 0))
        return invalid("guardRails.maxLatencyP95Ms", `must be a positive number, got ${rails.maxLatencyP95Ms}`)
      return undefined
    }
    case "Shadow": {
      const bad = version("serving", policy.serving) ?? version("candidate", policy.candidate)
      if (bad) return bad
      if (policy.serving === policy.candidate) return invalid("candidate", "must differ from serving")
      if (!inUnit(policy.sample)) return invalid("sample", `must be in [0, 1], got ${policy.sample}`)
      const max = policy.maxExtraCallsPerMinute
      if (max !== undefined && !(Number.isInteger(max) && max >= 0))
        return invalid("maxExtraCallsPerMinute", `must be an integer >= 0, got ${max}`)
      return undefined
    }
    case "Bandit": {
      if (policy.versions.length < 2) return invalid("versions", "a bandit needs at least two versions")
      const seen = new Set<string>()
      for (let i = 0; i < policy.versions.length; i++) {
        const v = policy.versions[i]!
        const bad = version(`versions[${i}]`, v)
        if (bad) return bad
        if (seen.has(v)) return invalid(`versions[${i}]`, `version "${v}" appears twice`)
        seen.add(v)
      }
      const a = policy.algorithm
      if (a._tag === "EpsilonGreedy") {
        if (!inUnit(a.epsilon)) return invalid("algorithm.epsilon", `must be in [0, 1], got ${a.epsilon}`)
        if (!(Number.isFinite(a.decay) && a.decay > 0 && a.decay <= 1))
          return invalid("algorithm.decay", `must be in (0, 1], got ${a.decay}`)
        if (!(inUnit(a.floor) && a.floor <= a.epsilon))
          return invalid("algorithm.floor", `must be in [0, epsilon], got ${a.floor}`)
      }
      return undefined
    }
  }
}
