/**
 * The loop's implementation: feedback (validated, rewarded, committed, then observed), the policy's evaluation
 * (rules, guard rails, jobs, canaries), and the policy process (an actor in the application's tree that runs the
 * evaluation when told a feedback batch committed; its state lives here, outside it, so a restart loses nothing).
 */
import { CanonicalJson, type Events, Events as EventsModule } from "@effect-dspy/foundation"
import { AdaptiveOptimizer } from "@effect-dspy/optimizers"
import { Actor, type RuntimeError } from "@effect-dspy/runtime"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as ArmStats from "../../experiments/ArmStats.js"
import type * as Experiments from "../../experiments/Experiments.js"
import type * as ModuleManager from "../../ModuleManager.js"
import type * as OptimizationCoordinator from "../../OptimizationCoordinator.js"
import {
  type ExperienceStoreError,
  FeedbackInvalid,
  FeedbackTooLate,
  FeedbackUnknownExecution,
  type LoopSettingsInvalid
} from "../../ServicesError.js"
import * as ServicesEvents from "../../ServicesEvents.js"
import * as ExperienceStore from "../ExperienceStore.js"
import * as Feedback from "../Feedback.js"
import type * as Loop from "../Loop.js"
import * as LoopPolicy from "../LoopPolicy.js"
import * as Reward from "../Reward.js"
import type { Recorder } from "../../internal/moduleManager/recording.js"
import * as FeedbackLinks from "../../routing/internal/feedbackLinks.js"

/** Where the policy process finds the loop's evaluation (installed once the loop is built). */
export interface Slot {
  evaluate: Effect.Effect<void> | undefined
  ref: Actor.ActorRef<never, never, { readonly _tag: "Evaluate" }> | undefined
}

/** An empty slot. */
export const makeSlot = (): Slot => ({ evaluate: undefined, ref: undefined })

/** The policy process: runs the evaluation when told, and once when it starts (catching up after a restart). */
const policyActor = Actor.make({
  name: "optimization_loop",
  init: (slot: Slot, self: Actor.ActorRef<never, never, { readonly _tag: "Evaluate" }>) =>
    Effect.suspend(() => {
      slot.ref = self
      return Effect.as(slot.evaluate ?? Effect.void, slot)
    }),
  handleCast: (_msg: { readonly _tag: "Evaluate" }, slot: Slot) => Effect.as(slot.evaluate ?? Effect.void, slot)
})

/** Spawns the policy process over a slot (a supervisor's child start). */
export const startProcess = (
  slot: Slot
): Effect.Effect<Actor.ActorRef<never, never, { readonly _tag: "Evaluate" }>, RuntimeError.InvalidOptions> =>
  Actor.spawn(policyActor, slot)

/** What the loop works with. */
export interface Dependencies {
  readonly store: ExperienceStore.Service
  readonly modules: ModuleManager.Service
  readonly coordinator: OptimizationCoordinator.Service
  readonly experiments: Experiments.Service
  readonly events: Events.Service
  readonly slot: Slot
  /** Where the loop's job fibers run (the application's scope). */
  readonly scope: Scope.Scope
  /** The optimizer names the coordinator knows. */
  readonly optimizers: ReadonlyArray<string>
}

/** A module's canary: the experiment, its arms and their statistics from feedback. */
interface Canary {
  readonly experimentId: string
  readonly stable: string
  readonly candidate: string
  readonly since: number
  readonly rule: LoopPolicy.Rule
  readonly jobId: string
  readonly stats: Record<string, ArmStats.ArmStats>
}

/** What the loop knows of one module. */
interface ModuleState {
  readonly watch: LoopPolicy.Watch
  state: "watching" | "optimizing" | "canary"
  canary: Canary | undefined
  rewards: number
  jobs: number
}

/** Maps the AdaptiveOptimizer's stage names to the coordinator's default registry names. */
const registryNames: Record<string, string> = {
  [AdaptiveOptimizer.stageNames.bootstrap]: "bootstrap_few_shot",
  [AdaptiveOptimizer.stageNames.simba]: "simba",
  [AdaptiveOptimizer.stageNames.mipro]: "mipro_v2",
  [AdaptiveOptimizer.stageNames.gepa]: "gepa"
}

/** The stages in order of trainset size. */
const stages = [
  AdaptiveOptimizer.stageNames.bootstrap,
  AdaptiveOptimizer.stageNames.simba,
  AdaptiveOptimizer.stageNames.mipro,
  AdaptiveOptimizer.stageNames.gepa
]

/** Builds the loop over its dependencies and installs its evaluation in the slot. */
export const make = (
  deps: Dependencies,
  options: Loop.Options
): Effect.Effect<{ readonly service: Loop.Service; readonly recorder: Recorder }> =>
  Effect.sync(() => {
    const settings = LoopPolicy.settings(options.settings ?? {})
    /** Modules' settings with their overrides (`configure`: a workflow step's triggers), by module id. */
    const overridden = new Map<string, LoopPolicy.Settings>()
    const settingsOf = (moduleId: string): LoopPolicy.Settings => overridden.get(moduleId) ?? settings
    const rewardFn = options.reward ?? Reward.standard
    const windowMs = options.feedbackWindowMs ?? 7 * 24 * 60 * 60 * 1000
    const seed = options.seed ?? 0
    const modules = new Map<string, ModuleState>()
    const decisions: Array<Loop.Decision> = []
    const spend = LoopPolicy.emptySpend()
    const totals = { lmCalls: 0, costUsd: 0, jobs: 0 }
    let running = 0
    const usage = { calls: 0, cost: 0 }
    /**
     * The registry name of the AdaptiveOptimizer's choice; when the coordinator lacks it, the nearest smaller stage
     * it has (then the nearest larger), else its `adaptive` entry.
     */
    const registryNameOf = (stage: string): string => {
      const at = stages.indexOf(stage as (typeof stages)[number])
      const order = [...stages.slice(0, at + 1).reverse(), ...stages.slice(at + 1)]
      for (const s of order) {
        const name = registryNames[s]!
        if (deps.optimizers.includes(name)) return name
      }
      return "adaptive"
    }

    const stateOf = (moduleId: string, version: number): ModuleState => {
      let m = modules.get(moduleId)
      if (m === undefined) {
        m = {
          watch: LoopPolicy.watch(moduleId, version, settingsOf(moduleId)),
          state: "watching",
          canary: undefined,
          rewards: 0,
          jobs: 0
        }
        modules.set(moduleId, m)
      }
      return m
    }

    const decide = (
      m: ModuleState,
      decision: Omit<Loop.Decision, "moduleId" | "at" | "atFeedback">
    ): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        const full: Loop.Decision = { ...decision, moduleId: m.watch.moduleId, at, atFeedback: m.rewards }
        decisions.push(full)
        return Effect.asVoid(
          EventsModule.publishOrLog(
            ServicesEvents.LoopDecision,
            {
              module_id: full.moduleId,
              action: full.action,
              rule: full.rule,
              reason: full.reason,
              ...(full.jobId === undefined ? {} : { job_id: full.jobId }),
              ...(full.version === undefined ? {} : { version: full.version }),
              ...(full.quality === undefined ? {} : { quality: full.quality }),
              ...(full.baseline === undefined ? {} : { baseline: full.baseline }),
              ...(full.threshold === undefined ? {} : { threshold: full.threshold })
            },
            { events: deps.events }
          )
        )
      })

    const adaptAfter = (m: ModuleState, rule: LoopPolicy.Rule, accepted: boolean): Effect.Effect<void> => {
      const settings = settingsOf(m.watch.moduleId)
      const change = LoopPolicy.adapt(m.watch, settings, rule, accepted)
      if (change === undefined) return Effect.void
      return decide(m, {
        action: change.to > change.from ? "threshold_raised" : "threshold_lowered",
        rule,
        reason: `the rule's last job was ${accepted ? "accepted" : `rejected ${settings.adapt.k} times in a row`}: threshold ${change.from.toFixed(3)} -> ${change.to.toFixed(3)} (bounds ${settings.adapt.min}-${settings.adapt.max})`,
        threshold: change.to
      })
    }

    /** The end of a job or canary: back to watching the version serving now. */
    const settle = (m: ModuleState): Effect.Effect<void> =>
      Effect.map(Effect.either(deps.modules.describe(m.watch.moduleId)), (info) => {
        m.state = "watching"
        m.canary = undefined
        if (Either.isRight(info) && info.right.version !== m.watch.version)
          LoopPolicy.rebase(m.watch, info.right.version)
      })

    /** Runs a job to its end, then starts its canary (swapped) or settles (anything else). */
    const runJob = (m: ModuleState, fired: LoopPolicy.Fired, jobId: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const settings = settingsOf(m.watch.moduleId)
        const job = yield* Effect.either(deps.coordinator.await(jobId))
        running--
        const now = yield* Clock.currentTimeMillis
        if (Either.isLeft(job)) {
          yield* decide(m, { action: "job_ended", rule: fired.rule, reason: job.left.message, jobId })
          yield* adaptAfter(m, fired.rule, false)
          return yield* settle(m)
        }
        const j = job.right
        const calls = j.progress.lmCalls
        const cost = usage.calls === 0 ? 0 : (calls * usage.cost) / usage.calls
        LoopPolicy.spent(spend, m.watch.moduleId, calls, cost, now)
        totals.lmCalls += calls
        totals.costUsd += cost
        yield* decide(m, {
          action: "job_ended",
          rule: fired.rule,
          reason: `job ${j.status}${j.error === undefined ? "" : `: ${j.error}`} (serving ${j.servingScore?.toFixed(1) ?? "-"}, optimized ${j.optimizedScore?.toFixed(1) ?? "-"}; ${calls} LM calls)`,
          jobId,
          ...(j.swappedVersion === undefined ? {} : { version: j.swappedVersion })
        })
        if (j.status !== "swapped" || j.swappedVersion === undefined || j.servingVersion === undefined) {
          yield* adaptAfter(m, fired.rule, false)
          return yield* settle(m)
        }
        const stable = String(j.servingVersion)
        const candidate = String(j.swappedVersion)
        const policy = yield* Effect.either(
          deps.modules.setPolicy(
            m.watch.moduleId,
            {
              _tag: "Canary",
              stable,
              candidate,
              fraction: settings.canary.fraction,
              guardRails: { maxErrorRate: Math.max(settings.maxErrorRate, 0.2), minSamples: 20 }
            },
            { experiment: { minRewards: settings.canary.minRewards } }
          )
        )
        if (Either.isLeft(policy) || policy.right.experimentId === undefined) {
          yield* decide(m, {
            action: "job_ended",
            rule: fired.rule,
            reason: `the canary could not start: ${Either.isLeft(policy) ? policy.left.message : "the policy runs as no experiment"}; v${candidate} keeps serving`,
            jobId
          })
          return yield* settle(m)
        }
        m.state = "canary"
        m.canary = {
          experimentId: policy.right.experimentId,
          stable,
          candidate,
          since: now,
          rule: fired.rule,
          jobId,
          stats: { [stable]: ArmStats.empty(), [candidate]: ArmStats.empty() }
        }
        yield* decide(m, {
          action: "canary",
          rule: fired.rule,
          reason: `v${candidate} (job ${jobId}) against v${stable}: ${Math.round(100 * settings.canary.fraction)}% of the traffic, experiment ${policy.right.experimentId}`,
          jobId,
          version: j.swappedVersion
        })
      })

    /** Starts a job for a fired rule (or records why not). */
    const startJob = (m: ModuleState, fired: LoopPolicy.Fired, now: number): Effect.Effect<void> =>
      Effect.gen(function* () {
        const settings = settingsOf(m.watch.moduleId)
        const labelled = yield* deps.store.query({
          moduleId: m.watch.moduleId,
          labelled: true,
          limit: settings.trainSize
        })
        const examples = ExperienceStore.toExamples(labelled)
        if (examples.length < settings.minTrainSize) {
          return yield* decide(m, {
            action: "hold",
            rule: fired.rule,
            reason: `${fired.reason}; but only ${examples.length} labelled experiences (a job needs ${settings.minTrainSize})`,
            ...(fired.quality === undefined ? {} : { quality: fired.quality }),
            ...(fired.baseline === undefined ? {} : { baseline: fired.baseline })
          })
        }
        // A quarter held out to score the swap decision on data the optimizer did not see.
        const valset = examples.filter((_, i) => i % 4 === 3)
        const trainset = examples.filter((_, i) => i % 4 !== 3)
        const choice = AdaptiveOptimizer.select({
          trainsetSize: trainset.length,
          available: Object.keys(registryNames),
          ...(settings.optimizer === "adaptive" ? {} : { override: settings.optimizer })
        })
        const name = settings.optimizer !== "adaptive" ? settings.optimizer : registryNameOf(choice.optimizer)
        const left = LoopPolicy.remaining(spend, settings, m.watch.moduleId, now)
        const started = yield* Effect.either(
          deps.coordinator.start({
            moduleId: m.watch.moduleId,
            optimizer: name,
            trainset,
            valset,
            budget: { maxLmCalls: Math.floor(left.lmCalls), maxCostUsd: left.costUsd },
            seed: seed + m.jobs
          })
        )
        if (Either.isLeft(started)) {
          return yield* decide(m, {
            action: "hold",
            rule: fired.rule,
            reason: `${fired.reason}; but the job did not start: ${started.left.message}`
          })
        }
        m.state = "optimizing"
        m.jobs++
        m.watch.lastJobAt = now
        m.watch.newLabelled = 0
        running++
        totals.jobs++
        yield* decide(m, {
          action: "start_job",
          rule: fired.rule,
          reason: `${fired.reason}: ${name} on ${trainset.length} recent labelled experiences (${valset.length} held out; ${choice.reason})`,
          jobId: started.right.id,
          version: m.watch.version,
          threshold: fired.threshold,
          ...(fired.quality === undefined ? {} : { quality: fired.quality }),
          ...(fired.baseline === undefined ? {} : { baseline: fired.baseline })
        })
        yield* Effect.forkIn(runJob(m, fired, started.right.id), deps.scope)
      })

    /** A canary's check: decide once both arms have enough rewards (or the most a canary takes). */
    const checkCanary = (m: ModuleState, canary: Canary): Effect.Effect<void> =>
      Effect.gen(function* () {
        const settings = settingsOf(m.watch.moduleId)
        const moduleId = m.watch.moduleId
        const policy = yield* Effect.either(deps.modules.policy(moduleId))
        const stable = canary.stats[canary.stable]!
        const candidate = canary.stats[canary.candidate]!
        if (Either.isRight(policy) && policy.right === undefined) {
          // A guard rail of the canary broke: the module rolled back by itself.
          yield* decide(m, {
            action: "roll_back",
            rule: canary.rule,
            reason: `the canary of v${canary.candidate} broke a guard rail and rolled back by itself`,
            jobId: canary.jobId
          })
          yield* adaptAfter(m, canary.rule, false)
          return yield* settle(m)
        }
        const least = Math.min(stable.rewardN, candidate.rewardN)
        if (least < settings.canary.minRewards) return
        const analysis = yield* Effect.either(deps.experiments.sync(canary.experimentId, canary.stats))
        const mean = (a: ArmStats.ArmStats) => (a.rewardN === 0 ? 0 : a.rewardSum / a.rewardN)
        const recommendation = Either.isRight(analysis) ? analysis.right.recommendation : undefined
        let promote: boolean | undefined
        let reason: string
        if (recommendation?._tag === "Promote" && recommendation.arm === canary.candidate) {
          promote = true
          reason = recommendation.reason
        } else if (recommendation?._tag === "RollBack") {
          promote = false
          reason = recommendation.reason
        } else if (least >= settings.canary.maxRewards) {
          promote = mean(candidate) >= mean(stable)
          reason = `no significant difference after ${least} rewards per arm: v${canary.candidate} ${mean(candidate).toFixed(3)} vs v${canary.stable} ${mean(stable).toFixed(3)}`
        } else return
        const experimentsNote = (e: Effect.Effect<unknown, unknown>) => Effect.ignore(e)
        if (promote) {
          yield* Effect.ignore(deps.modules.clearPolicy(moduleId))
          yield* experimentsNote(deps.experiments.promote(canary.experimentId, { arm: canary.candidate, reason }))
        } else {
          yield* Effect.ignore(
            deps.modules.rollback(moduleId, Number(canary.stable), { ifVersion: Number(canary.candidate) })
          )
          yield* Effect.ignore(deps.modules.clearPolicy(moduleId))
          yield* experimentsNote(deps.experiments.rollBack(canary.experimentId, { arm: canary.candidate, reason }))
        }
        yield* decide(m, {
          action: promote ? "promote" : "roll_back",
          rule: canary.rule,
          reason: `v${canary.candidate} ${mean(candidate).toFixed(3)} (${candidate.rewardN} rewards) vs v${canary.stable} ${mean(stable).toFixed(3)} (${stable.rewardN}): ${reason}`,
          jobId: canary.jobId,
          version: Number(promote ? canary.candidate : canary.stable),
          quality: mean(candidate),
          baseline: mean(stable)
        })
        yield* adaptAfter(m, canary.rule, promote)
        yield* settle(m)
      })

    const lock = Effect.unsafeMakeSemaphore(1)
    const evaluate: Effect.Effect<void> = lock.withPermits(1)(
      Effect.gen(function* () {
        if (!settings.enabled) return
        const now = yield* Clock.currentTimeMillis
        for (const m of modules.values()) {
          const settings = settingsOf(m.watch.moduleId)
          if (m.state === "canary" && m.canary !== undefined) {
            yield* checkCanary(m, m.canary)
            continue
          }
          if (m.state !== "watching") {
            // A rule that fires while a job runs is a decision not to act.
            const fired = LoopPolicy.fire(m.watch, settings, now)
            if (fired !== undefined)
              yield* decide(m, {
                action: "hold",
                rule: fired.rule,
                reason: `${fired.reason}; but a job of the module is running`
              })
            continue
          }
          const fired = LoopPolicy.fire(m.watch, settings, now)
          if (fired === undefined) continue
          const held = LoopPolicy.hold({
            watch: m.watch,
            settings,
            spend,
            busy: undefined,
            runningJobs: running,
            now
          })
          if (held !== undefined) {
            yield* decide(m, {
              action: "hold",
              rule: fired.rule,
              reason: `${fired.reason}; held: ${held}`,
              threshold: fired.threshold,
              ...(fired.quality === undefined ? {} : { quality: fired.quality }),
              ...(fired.baseline === undefined ? {} : { baseline: fired.baseline })
            })
            continue
          }
          yield* startJob(m, fired, now)
        }
      })
    )

    /** After a commit: the policy process evaluates (or, while it restarts, a fiber of the loop's scope does). */
    // One evaluation queued at a time: feedback arriving meanwhile is seen by it (its windows are read when it runs).
    let queued = false
    const run = Effect.zipRight(
      Effect.sync(() => {
        queued = false
      }),
      evaluate
    )
    deps.slot.evaluate = run
    /** The evaluation to queue now, or undefined when the policy is off or one is queued already. */
    const notifyNow = (): Effect.Effect<void> | undefined => {
      if (!settings.enabled || queued) return undefined
      queued = true
      const ref = deps.slot.ref
      if (ref !== undefined && ref.unsafeExitReason() === undefined)
        return Effect.catchAll(Actor.cast(ref, { _tag: "Evaluate" }), () =>
          Effect.asVoid(Effect.forkIn(run, deps.scope))
        )
      return Effect.asVoid(Effect.forkIn(run, deps.scope))
    }

    /** Counts the reward in the module's window, or in its canary's arm. */
    const observe = (e: ExperienceStore.Experience, reward: number) => {
      const m = stateOf(e.moduleId, e.version)
      m.rewards++
      const labelled = e.outcome?.corrected !== undefined
      if (m.state === "canary" && m.canary !== undefined) {
        const arm = m.canary.stats[String(e.version)]
        if (arm !== undefined && e.at >= m.canary.since)
          ArmStats.record(arm, { latencyMs: e.latencyMs, error: !e.ok, costUsd: e.costUsd, reward })
        return
      }
      if (e.version !== m.watch.version) {
        if (m.state === "watching" && e.version > m.watch.version) LoopPolicy.rebase(m.watch, e.version)
        else return
      }
      LoopPolicy.observe(m.watch, settingsOf(e.moduleId), { reward, ok: e.ok, latencyMs: e.latencyMs, labelled })
    }

    /** The checks are synchronous; only the commit is waited for (one fiber read, then attach and notify). */
    const feedback = (
      request: Feedback.Request
    ): Effect.Effect<
      Feedback.Ack,
      FeedbackUnknownExecution | FeedbackTooLate | FeedbackInvalid | ExperienceStoreError
    > =>
      // One fiber read (the clock), the checks, the wait for the batch's commit, then one synchronous step.
      Effect.withFiberRuntime(
        (
          fiber
        ): Effect.Effect<
          Feedback.Ack,
          FeedbackUnknownExecution | FeedbackTooLate | FeedbackInvalid | ExperienceStoreError
        > => {
          const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
          const valid = Feedback.validate(request)
          if (Either.isLeft(valid)) return Effect.fail(valid.left)
          const outcome = valid.right
          let found: ReadonlyArray<ExperienceStore.Experience>
          if (request.executionId !== undefined) {
            const one = deps.store.get(request.executionId)
            found = one === undefined ? [] : [one]
          } else found = deps.store.byCorrelation(request.correlationId!)
          if (found.length === 0)
            return Effect.fail(
              new FeedbackUnknownExecution({
                ...(request.executionId !== undefined ? { executionId: request.executionId } : {}),
                ...(request.correlationId !== undefined ? { byCorrelationId: request.correlationId } : {}),
                message: `No recorded execution has ${request.executionId !== undefined ? `id "${request.executionId}"` : `correlation id "${request.correlationId}"`}: it was never recorded here, or it left the experience store (its count or age bound). Give the id of an Execution this application returned.`
              })
            )
          const now = clock.unsafeCurrentTimeMillis()
          const first = found[0]!
          const age = now - first.at
          if (age > windowMs)
            return Effect.fail(
              new FeedbackTooLate({
                executionId: first.executionId,
                ageMs: age,
                windowMs,
                message: `Feedback for execution "${first.executionId}" came ${Math.round(age / 1000)} s after it, past the loop's feedback window (${Math.round(windowMs / 1000)} s); it was not recorded.`
              })
            )
          const reward = Reward.compute(rewardFn, outcome, {
            latencyMs: first.latencyMs,
            ok: first.ok,
            output: first.output
          })
          if (reward === undefined)
            return Effect.fail(
              new FeedbackInvalid({
                field: "outcome",
                message:
                  "The reward function gives no number for this outcome: give a rating, success, metric, satisfaction or a corrected answer."
              })
            )
          const fresh = found.filter((e) => e.outcome === undefined)
          // Only feedback on executions that already have some is compared (canonical JSON) for a duplicate.
          const key = fresh.length === found.length ? "" : CanonicalJson.stringify(outcome)
          const changed =
            key === "" ? [] : found.filter((e) => e.outcome !== undefined && CanonicalJson.stringify(e.outcome) !== key)
          const status: Feedback.Status = fresh.length > 0 ? "recorded" : changed.length > 0 ? "updated" : "duplicate"
          const ack: Feedback.Ack = { executionIds: found.map((e) => e.executionId), reward, status }
          if (status === "duplicate") return Effect.succeed(ack)
          return Effect.flatMap(
            deps.store.attach(changed.length === 0 ? fresh : [...fresh, ...changed], outcome, reward, now),
            () => {
              for (const e of fresh) observe(e, reward)
              const notify = notifyNow()
              // A routed execution's first feedback rewards the router's decision (once; see Router.route).
              const rewards = FeedbackLinks.linked()
                ? Effect.forEach(fresh, (e) => FeedbackLinks.reward(e.executionId, reward), { discard: true })
                : undefined
              const after =
                rewards === undefined ? notify : notify === undefined ? rewards : Effect.zipRight(rewards, notify)
              return after === undefined ? Effect.succeed(ack) : Effect.as(after, ack)
            }
          )
        }
      )

    const configure = (
      moduleId: string,
      overrides: LoopPolicy.Overrides
    ): Effect.Effect<LoopPolicy.Settings, LoopSettingsInvalid> =>
      Effect.suspend(() => {
        let next: LoopPolicy.Settings
        try {
          next = LoopPolicy.override(settings, overrides)
        } catch (e) {
          return Effect.fail(e as LoopSettingsInvalid)
        }
        if (Object.keys(overrides).length === 0) overridden.delete(moduleId)
        else overridden.set(moduleId, next)
        // A module watched already takes its rules' new thresholds (their adapted history starts again).
        const m = modules.get(moduleId)
        if (m !== undefined) {
          m.watch.rules.degradation.threshold = next.relativeDrop
          m.watch.rules.degradation.rejectedInARow = 0
          m.watch.rules.errors.threshold = next.maxErrorRate
        }
        return Effect.succeed(next)
      })

    const service: Loop.Service = {
      feedback,
      evaluate,
      settings,
      configure,
      settingsOf,
      decisions: Effect.sync(() => decisions.slice()),
      status: Effect.sync(() => ({
        enabled: settings.enabled,
        modules: [...modules.values()].map((m) => ({
          moduleId: m.watch.moduleId,
          version: m.watch.version,
          state: m.state,
          quality: LoopPolicy.quality(m.watch),
          baseline: LoopPolicy.baseline(m.watch, settingsOf(m.watch.moduleId)),
          threshold: m.watch.rules.degradation.threshold,
          rewards: m.rewards,
          jobs: m.jobs
        })),
        runningJobs: running,
        spent: { ...totals }
      }))
    }
    // Each execution goes to the store; its LM usage counts toward the cost-per-call estimate of jobs.
    const recorder: Recorder = {
      record: (e) => {
        deps.store.record(e)
        usage.calls += e.lmCalls
        usage.cost += e.costUsd
      }
    }
    return { service, recorder }
  })
