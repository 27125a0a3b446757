/**
 * The experiments service's implementation: records in memory (live statistics per arm), checks every
 * `checkEvery` observations, persistence through the store before memory changes, events, auto-apply.
 */
import { Events } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import {
  ExperimentInvalid,
  ExperimentNotFound,
  ExperimentStatusConflict,
  type ExperimentStoreError
} from "../../ServicesError.js"
import * as ServicesEvents from "../../ServicesEvents.js"
import * as Analysis from "../Analysis.js"
import * as ArmStats from "../ArmStats.js"
import * as ExperimentRecord from "../ExperimentRecord.js"
import * as ExperimentStore from "../ExperimentStore.js"
import type * as Experiments from "../Experiments.js"
import * as TrafficPolicy from "../TrafficPolicy.js"

interface Live {
  record: ExperimentRecord.ExperimentRecord
  readonly stats: Record<string, ArmStats.ArmStats>
  sinceCheck: number
}

const invalid = (field: string, reason: string) =>
  new ExperimentInvalid({ message: `experiment: ${field}: ${reason}`, field, reason })

const conflict = (record: ExperimentRecord.ExperimentRecord, operation: string) =>
  new ExperimentStatusConflict({
    message: `experiment '${record.id}' is ${record.status}: cannot ${operation} it`,
    experimentId: record.id,
    operation,
    status: record.status
  })

const notFound = (id: string) =>
  new ExperimentNotFound({ message: `no experiment has the id '${id}'`, experimentId: id })

const copyStats = (stats: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>) => {
  const out: Record<string, ArmStats.ArmStats> = {}
  for (const [arm, s] of Object.entries(stats)) out[arm] = ArmStats.copy(s)
  return out
}

const errorText = (error: unknown): string =>
  error instanceof Error
    ? error.message
    : typeof error === "object" && error !== null && "message" in error
      ? String((error as { readonly message: unknown }).message)
      : String(error)

/** What is wrong with an observation, if anything (statistics taking NaN or a reward of 7 would be poisoned). */
const checkObservation = (o: ArmStats.Observation): ExperimentInvalid | undefined => {
  if (!(Number.isFinite(o.latencyMs) && o.latencyMs >= 0))
    return invalid("observation.latencyMs", `must be a finite number >= 0, got ${o.latencyMs}`)
  if (!(Number.isFinite(o.costUsd) && o.costUsd >= 0))
    return invalid("observation.costUsd", `must be a finite number >= 0, got ${o.costUsd}`)
  if (o.reward !== undefined && !(Number.isFinite(o.reward) && o.reward >= 0 && o.reward <= 1))
    return invalid("observation.reward", `must be in [0, 1], got ${o.reward}`)
  return undefined
}

/** Builds the service over the store in context, loading its records. */
export const make: Effect.Effect<Experiments.Service, ExperimentStoreError, ExperimentStore.ExperimentStore> =
  Effect.gen(function* () {
    const store = yield* ExperimentStore.ExperimentStore
    const events = yield* Effect.serviceOption(Events.Events)
    const lock = yield* Effect.makeSemaphore(1)
    const live = new Map<string, Live>()
    const appliers = new Map<string, Experiments.Applier>()
    for (const record of yield* store.list())
      live.set(record.id, { record, stats: copyStats(record.stats), sinceCheck: 0 })

    const publish = <Type extends string, A, I extends Events.Data>(
      definition: Events.Definition<Type, A, I>,
      data: NoInfer<A>
    ) => Effect.asVoid(Events.publishOrLog(definition, data, { events }))

    const find = (id: string) =>
      Effect.suspend(() => {
        const entry = live.get(id)
        return entry === undefined ? Effect.fail(notFound(id)) : Effect.succeed(entry)
      })

    /** Persists a new version of the record, then (only then) makes it the one in memory. */
    const save = (entry: Live, next: ExperimentRecord.ExperimentRecord) =>
      Effect.as(
        Effect.tap(store.put(next), () => {
          entry.record = next
        }),
        next
      )

    const snapshot = (entry: Live): ExperimentRecord.ExperimentRecord => ({
      ...entry.record,
      stats: copyStats(entry.stats)
    })

    const checkArm = (entry: Live, arm: string) =>
      entry.record.arms.includes(arm)
        ? Effect.void
        : Effect.fail(
            invalid(
              "arm",
              `'${arm}' is not an arm of experiment '${entry.record.id}' (${entry.record.arms.join(", ")})`
            )
          )

    const finish = (
      entry: Live,
      status: "promoted" | "rolled_back",
      decision: Experiments.Decision,
      automatic: boolean
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const outcome: ExperimentRecord.Outcome = {
          decision: status === "promoted" ? "promote" : "roll_back",
          arm: decision.arm,
          reason: decision.reason,
          automatic,
          ...(decision.breach === undefined ? {} : { breach: decision.breach }),
          at: now
        }
        const record = yield* save(entry, { ...snapshot(entry), status, outcome, updatedAt: now })
        if (status === "promoted")
          yield* publish(ServicesEvents.ExperimentPromoted, {
            experiment_id: record.id,
            module_id: record.moduleId,
            arm: decision.arm,
            reason: decision.reason,
            automatic
          })
        else
          yield* publish(ServicesEvents.ExperimentRolledBack, {
            experiment_id: record.id,
            module_id: record.moduleId,
            baseline: record.baseline,
            arm: decision.arm,
            ...(decision.breach === undefined ? {} : { rail: decision.breach.rail }),
            reason: decision.reason,
            automatic
          })
        return record
      })

    const concludeEntry = (entry: Live, reason: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const record = yield* save(entry, {
          ...snapshot(entry),
          status: "concluded",
          concludedReason: reason,
          updatedAt: now
        })
        yield* publish(ServicesEvents.ExperimentConcluded, {
          experiment_id: record.id,
          module_id: record.moduleId,
          reason
        })
        return record
      })

    const autoApply = (entry: Live, recommendation: Analysis.Recommendation) =>
      Effect.gen(function* () {
        if (recommendation._tag === "KeepTesting") return
        const record = yield* concludeEntry(entry, recommendation.reason)
        const promote = recommendation._tag === "Promote"
        const action: Experiments.Action = promote
          ? {
              _tag: "Promote",
              experimentId: record.id,
              moduleId: record.moduleId,
              arm: recommendation.arm,
              reason: recommendation.reason
            }
          : {
              _tag: "RollBack",
              experimentId: record.id,
              moduleId: record.moduleId,
              baseline: record.baseline,
              arm: recommendation.arm,
              reason: recommendation.reason,
              ...(recommendation.breach === undefined ? {} : { breach: recommendation.breach })
            }
        const applier = appliers.get(record.moduleId)
        const failed = (error: string) =>
          publish(ServicesEvents.ExperimentApplyFailed, {
            experiment_id: record.id,
            module_id: record.moduleId,
            action: promote ? "promote" : "roll_back",
            error
          })
        if (applier === undefined) return yield* failed(`no applier is registered for module '${record.moduleId}'`)
        const applied = yield* Effect.either(Effect.suspend(() => applier(action)))
        if (applied._tag === "Left") return yield* failed(errorText(applied.left))
        yield* finish(
          entry,
          promote ? "promoted" : "rolled_back",
          {
            arm: recommendation.arm,
            reason: recommendation.reason,
            ...(recommendation._tag === "RollBack" && recommendation.breach !== undefined
              ? { breach: recommendation.breach }
              : {})
          },
          true
        )
      })

    const check = (entry: Live) =>
      Effect.gen(function* () {
        if (entry.record.status !== "running") return yield* Effect.fail(conflict(entry.record, "analyze"))
        const { settings } = entry.record
        const previous = entry.record.analysis
        const analysis = Analysis.analyze({
          baseline: entry.record.baseline,
          arms: entry.stats,
          settings: {
            alpha: settings.alpha,
            qualityTau2: settings.qualityTau2,
            errorTau2: settings.errorTau2,
            minRewards: settings.minRewards,
            ...(settings.guardRails === undefined ? {} : { guardRails: settings.guardRails })
          },
          ...(previous === undefined ? {} : { previous })
        })
        const now = yield* Clock.currentTimeMillis
        const record = yield* save(entry, { ...snapshot(entry), analysis, updatedAt: now })
        entry.sinceCheck = 0
        const r = analysis.recommendation
        const before = previous?.recommendation
        const changed =
          r._tag !== "KeepTesting" &&
          (before === undefined || before._tag === "KeepTesting" || before._tag !== r._tag || before.arm !== r.arm)
        if (changed)
          yield* publish(ServicesEvents.ExperimentRecommended, {
            experiment_id: record.id,
            module_id: record.moduleId,
            recommendation: r._tag === "Promote" ? "promote" : "roll_back",
            arm: r.arm,
            reason: r.reason,
            observations: Object.values(entry.stats).reduce((n, s) => n + s.n, 0)
          })
        if (settings.autoApply) yield* autoApply(entry, r)
        return analysis
      })

    const service: Experiments.Service = {
      start: (request) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            if (request.moduleId.trim() === "") return yield* Effect.fail(invalid("moduleId", "give the module's id"))
            if (request.baseline.trim() === "")
              return yield* Effect.fail(invalid("baseline", "give the baseline version"))
            const arms = [...new Set([request.baseline, ...request.arms])]
            if (arms.length < 2)
              return yield* Effect.fail(invalid("arms", "an experiment needs at least one arm besides the baseline"))
            if (arms.some((a) => a.trim() === "")) return yield* Effect.fail(invalid("arms", "an arm's name is empty"))
            const settings: ExperimentRecord.Settings = {
              ...Analysis.defaults,
              checkEvery: 100,
              autoApply: false,
              ...request.settings
            }
            if (!(settings.alpha > 0 && settings.alpha < 1))
              return yield* Effect.fail(invalid("settings.alpha", `must be in (0, 1), got ${settings.alpha}`))
            if (!(settings.qualityTau2 > 0) || !(settings.errorTau2 > 0))
              return yield* Effect.fail(invalid("settings.qualityTau2", "the mixing variances must be positive"))
            if (!(Number.isInteger(settings.checkEvery) && settings.checkEvery >= 1))
              return yield* Effect.fail(
                invalid("settings.checkEvery", `must be an integer >= 1, got ${settings.checkEvery}`)
              )
            const rails = settings.guardRails
            if (rails !== undefined) {
              const unit = (x: number | undefined) => x === undefined || (Number.isFinite(x) && x >= 0 && x <= 1)
              if (!(Number.isInteger(rails.minSamples) && rails.minSamples >= 1))
                return yield* Effect.fail(
                  invalid("settings.guardRails.minSamples", `must be an integer >= 1, got ${rails.minSamples}`)
                )
              if (!unit(rails.maxErrorRate) || !unit(rails.minQuality))
                return yield* Effect.fail(
                  invalid("settings.guardRails", "maxErrorRate and minQuality must be in [0, 1]")
                )
              if (rails.maxLatencyP95Ms !== undefined && !(rails.maxLatencyP95Ms > 0))
                return yield* Effect.fail(
                  invalid("settings.guardRails.maxLatencyP95Ms", `must be positive, got ${rails.maxLatencyP95Ms}`)
                )
            }
            const policy = request.policy === undefined ? undefined : yield* TrafficPolicy.decode(request.policy, arms)
            for (const other of live.values())
              if (other.record.moduleId === request.moduleId && other.record.status === "running")
                return yield* Effect.fail(
                  invalid(
                    "moduleId",
                    `module '${request.moduleId}' already runs experiment '${other.record.id}'; conclude it first`
                  )
                )
            let id = request.id
            if (id === undefined) {
              let n = 1
              while (live.has(`${request.moduleId}-${n}`)) n++
              id = `${request.moduleId}-${n}`
            } else if (id.trim() === "") return yield* Effect.fail(invalid("id", "the id is empty"))
            else if (live.has(id)) return yield* Effect.fail(invalid("id", `experiment '${id}' exists already`))
            const now = yield* Clock.currentTimeMillis
            const stats = Object.fromEntries(arms.map((a) => [a, ArmStats.empty()]))
            const record: ExperimentRecord.ExperimentRecord = {
              schemaVersion: ExperimentRecord.SCHEMA_VERSION,
              id,
              moduleId: request.moduleId,
              baseline: request.baseline,
              arms,
              ...(policy === undefined ? {} : { policy }),
              status: "running",
              settings,
              stats,
              createdAt: now,
              updatedAt: now
            }
            yield* store.put(record)
            live.set(id, { record, stats: copyStats(stats), sinceCheck: 0 })
            yield* publish(ServicesEvents.ExperimentStarted, {
              experiment_id: id,
              module_id: record.moduleId,
              baseline: record.baseline,
              arms,
              auto_apply: settings.autoApply
            })
            return record
          })
        ),
      observe: (id, arm, observation) =>
        Effect.gen(function* () {
          const entry = yield* find(id)
          if (entry.record.status !== "running") return yield* Effect.fail(conflict(entry.record, "observe"))
          yield* checkArm(entry, arm)
          const bad = checkObservation(observation)
          if (bad !== undefined) return yield* Effect.fail(bad)
          const stats = entry.stats[arm]!
          ArmStats.pull(stats)
          ArmStats.record(stats, observation)
          entry.sinceCheck += 1
          if (entry.sinceCheck >= entry.record.settings.checkEvery)
            yield* lock.withPermits(1)(
              Effect.suspend(() =>
                // Another fiber may have checked (or concluded) meanwhile.
                entry.record.status === "running" && entry.sinceCheck >= entry.record.settings.checkEvery
                  ? Effect.asVoid(check(entry))
                  : Effect.void
              )
            )
        }),
      sync: (id, stats) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const entry = yield* find(id)
            if (entry.record.status !== "running") return yield* Effect.fail(conflict(entry.record, "sync"))
            for (const arm of entry.record.arms) {
              const given = stats[arm]
              if (given !== undefined) entry.stats[arm] = ArmStats.copy(given)
            }
            return yield* check(entry)
          })
        ),
      analyze: (id) => lock.withPermits(1)(Effect.flatMap(find(id), check)),
      conclude: (id, reason) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const entry = yield* find(id)
            if (entry.record.status !== "running") return yield* Effect.fail(conflict(entry.record, "conclude"))
            return yield* concludeEntry(entry, reason)
          })
        ),
      promote: (id, decision) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const entry = yield* find(id)
            const status = entry.record.status
            if (status !== "running" && status !== "concluded")
              return yield* Effect.fail(conflict(entry.record, "promote"))
            yield* checkArm(entry, decision.arm)
            return yield* finish(entry, "promoted", decision, false)
          })
        ),
      rollBack: (id, decision) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const entry = yield* find(id)
            const status = entry.record.status
            if (status !== "running" && status !== "concluded")
              return yield* Effect.fail(conflict(entry.record, "roll back"))
            yield* checkArm(entry, decision.arm)
            return yield* finish(entry, "rolled_back", decision, false)
          })
        ),
      get: (id) => Effect.map(find(id), snapshot),
      list: (moduleId) =>
        Effect.sync(() =>
          [...live.values()]
            .filter((e) => moduleId === undefined || e.record.moduleId === moduleId)
            .map(snapshot)
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        ),
      registerApplier: (moduleId, applier) =>
        Effect.acquireRelease(
          Effect.sync(() => void appliers.set(moduleId, applier)),
          () =>
            Effect.sync(() => {
              if (appliers.get(moduleId) === applier) appliers.delete(moduleId)
            })
        )
    }
    return service
  })
