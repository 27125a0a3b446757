/**
 * A learned router: it chooses, per request, one of several handlers (modules, versions of a module, any
 * effect), learning from rewards which one serves each *segment* of the traffic best. The segment is a function
 * of the input (a key, a classifier's output); each segment has its own multi-armed bandit over the handlers,
 * run by the experiments' `Bandit` (epsilon-greedy with decay and a floor, or Thompson sampling).
 *
 * Every decision gets an id, a confidence (the posterior mean of the chosen handler's reward,
 * `(1 + rewards) / (2 + rewarded decisions)`) and a `router_decision` event; `reward(decisionId, value)` (a value in
 * [0, 1], once per decision) feeds the bandit, the `router_rewarded` event and the calibration report
 * (confidence against observed reward: bins and ECE). The state (arm statistics, decisions and their links to
 * the executions they routed to, calibration) lives in the `RouterStore` in context (the application's: PostgreSQL
 * with `storage.backend: postgres`), or in SQLite (`filename`), else in memory; a router made again on the same store
 * resumes it: the same preferences, and rewards for decisions made before the restart are taken (the loop's feedback
 * on an execution routed before the restart too).
 *
 * Choices are seeded: decision `t` of a segment draws from `Random` keyed by the seed, the router, the segment
 * and `t`, so a run (and a resumed run) is reproducible.
 *
 * @example
 * ```ts
 * import { Router } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const router = yield* Router.make({
 *       id: "answerer",
 *       handlers: {
 *         short: (question: string) => Effect.succeed(`short answer to ${question}`),
 *         long: (question: string) => Effect.succeed(`long answer to ${question}`)
 *       },
 *       segment: (question) => (question.length > 40 ? "long-question" : "short-question"),
 *       algorithm: { _tag: "Thompson" },
 *       seed: 7
 *     })
 *     const routed = yield* router.route("What is 2 + 2?")
 *     yield* router.reward(routed.id, 1)
 *     return yield* router.calibration
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Events, Random } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ArmStats from "../experiments/ArmStats.js"
import * as Bandit from "../experiments/Bandit.js"
import { RouterConfigError, RouterRewardRejected, type RouterStoreError } from "../ServicesError.js"
import * as ServicesEvents from "../ServicesEvents.js"
import * as Calibration from "./Calibration.js"
import * as FeedbackLinks from "./internal/feedbackLinks.js"
import * as internalStore from "./internal/routerStore.js"
import * as RouterStore from "./RouterStore.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  RouterConfigError,
  /**
   * @since 0.1.0
   * @category errors
   */
  RouterRewardRejected,
  /**
   * @since 0.1.0
   * @category errors
   */
  RouterStoreError
} from "../ServicesError.js"

/**
 * The layout version of the router's SQLite file.
 *
 * @since 0.1.0
 * @category constants
 */
export const LAYOUT_VERSION: number = RouterStore.LAYOUT_VERSION

/**
 * The options of a router.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<I, A, E, R> {
  /** Names the router in its events and its file (several routers may share a file). */
  readonly id: string
  /** The handlers by name (at least one). A handler added later starts with no statistics. */
  readonly handlers: { readonly [name: string]: (input: I) => Effect.Effect<A, E, R> }
  /** The segment of an input: a key, or an effect (a classifier). */
  readonly segment: (input: I) => string | Effect.Effect<string, E, R>
  /** The bandit of each segment (default: Thompson sampling). */
  readonly algorithm?: Bandit.Algorithm
  /** The seed of every choice (default 0). */
  readonly seed?: number
  /** A SQLite file of its own for the state (default: the `RouterStore` in context, else memory: not kept). */
  readonly filename?: string
  /** The calibration report's bins (default 10). */
  readonly calibrationBins?: number
  /** Decisions kept for rewards (the newest; default 100,000); an older decision's reward is `unknown_decision`. */
  readonly maxDecisions?: number
}

/**
 * A decision: which handler serves a request, and how confident the router is in it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly id: string
  readonly router: string
  readonly segment: string
  readonly handler: string
  /** The chosen handler's posterior mean reward in this segment, when chosen. */
  readonly confidence: number
  /** True when the chosen handler was not the one with the best mean (exploration). */
  readonly explored: boolean
}

/**
 * A decision and the chosen handler's output.
 *
 * @since 0.1.0
 * @category models
 */
export interface Routed<A> extends Decision {
  readonly output: A
}

/**
 * One handler's statistics in one segment.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerStats {
  readonly handler: string
  readonly decisions: number
  readonly rewards: number
  readonly meanReward: number | undefined
  /** The posterior mean `(1 + reward sum) / (2 + rewards)`. */
  readonly confidence: number
}

/**
 * A learned router.
 *
 * @since 0.1.0
 * @category models
 */
export interface Router<I, A, E, R> {
  readonly id: string
  readonly handlers: ReadonlyArray<string>
  /** Chooses a handler for `input` (recorded) without running it. */
  readonly decide: (input: I) => Effect.Effect<Decision, E | RouterStoreError, R>
  /**
   * Chooses a handler for `input` and runs it. Its failure is the route's; the decision stays unrewarded. When the
   * output is a managed module's execution (`ModuleHandlers.modules`), the real-time loop's first feedback on it
   * (`Loop.feedback`, by execution or correlation id) rewards the decision with the feedback's reward.
   */
  readonly route: (input: I) => Effect.Effect<Routed<A>, E | RouterStoreError, R>
  /** Rewards a decision with a value in [0, 1] (once). */
  readonly reward: (decisionId: string, value: number) => Effect.Effect<void, RouterRewardRejected | RouterStoreError>
  /** Each segment's handler statistics, by segment. */
  readonly stats: Effect.Effect<{ readonly [segment: string]: ReadonlyArray<HandlerStats> }>
  /** Confidence against observed reward over every rewarded decision. */
  readonly calibration: Effect.Effect<Calibration.Report>
}

interface Segment {
  readonly stats: Array<ArmStats.ArmStats>
  /** Decisions made in the segment (the bandit's `t`). */
  t: number
}

const posteriorMean = (stats: typeof ArmStats.ArmStats.Type): number => {
  const successes = Math.min(Math.max(stats.rewardSum, 0), stats.rewardN)
  return (1 + successes) / (2 + stats.rewardN)
}

const validate = <I, A, E, R>(options: Options<I, A, E, R>): Effect.Effect<void, RouterConfigError> => {
  const fail = (option: string, message: string) =>
    Effect.fail(new RouterConfigError({ router: options.id, option, message }))
  if (options.id.length === 0) return fail("id", "A router needs a non-empty id.")
  if (Object.keys(options.handlers).length === 0)
    return fail("handlers", `Router "${options.id}" has no handlers: give at least one.`)
  const a = options.algorithm
  if (a?._tag === "EpsilonGreedy") {
    const unit = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1
    if (!unit(a.epsilon) || !unit(a.decay) || !unit(a.floor))
      return fail(
        "algorithm",
        `Router "${options.id}": epsilon, decay and floor must each be in [0, 1] (got ${a.epsilon}, ${a.decay}, ${a.floor}).`
      )
  }
  const bins = options.calibrationBins
  if (bins !== undefined && !(Number.isInteger(bins) && bins > 0))
    return fail("calibrationBins", `Router "${options.id}": calibrationBins must be a positive integer, got ${bins}.`)
  const max = options.maxDecisions
  if (max !== undefined && !(Number.isInteger(max) && max > 0))
    return fail("maxDecisions", `Router "${options.id}": maxDecisions must be a positive integer, got ${max}.`)
  const seed = options.seed
  if (seed !== undefined && !Number.isInteger(seed))
    return fail("seed", `Router "${options.id}": the seed must be an integer, got ${seed}.`)
  return Effect.void
}

/**
 * Makes a router, resuming the state kept for its id (in `filename`, else the `RouterStore` in context). Its file
 * is closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, A, E, R>(
  options: Options<I, A, E, R>
): Effect.Effect<Router<I, A, E, R>, RouterConfigError | RouterStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* validate(options)
    const id = options.id
    const handlers = Object.keys(options.handlers)
    const index = new Map(handlers.map((h, i) => [h, i]))
    const algorithm: Bandit.Algorithm = options.algorithm ?? { _tag: "Thompson" }
    const seed = options.seed ?? 0
    const binCount = options.calibrationBins ?? 10
    const storeOptions = { bins: binCount, maxDecisions: options.maxDecisions ?? 100_000 }
    // Its own file when named; else the store in context (the application's); else memory.
    const given = yield* Effect.serviceOption(RouterStore.RouterStore)
    const store =
      options.filename !== undefined
        ? yield* internalStore.openFile(options.filename, id, storeOptions)
        : yield* (given._tag === "Some" ? given.value : RouterStore.makeMemory()).open(id, storeOptions)
    const loaded = yield* store.load
    const events = yield* Effect.serviceOption(Events.Events)
    const segments = new Map<string, Segment>()
    const segmentOf = (name: string): Segment => {
      let segment = segments.get(name)
      if (segment === undefined) {
        segment = { stats: handlers.map(() => ArmStats.empty()), t: 0 }
        segments.set(name, segment)
      }
      return segment
    }
    for (const arm of loaded.arms) {
      const segment = segmentOf(arm.segment)
      // Pulls of a handler no longer given still count as the segment's decisions (the bandit's `t`).
      segment.t += arm.pulls
      const i = index.get(arm.handler)
      if (i === undefined) continue
      const s = segment.stats[i]!
      s.pulls = arm.pulls
      s.rewardN = arm.rewardN
      s.rewardSum = arm.rewardSum
      s.rewardSumSq = arm.rewardSumSq
    }
    const bins = Calibration.empty(binCount)
    for (const row of loaded.bins) {
      const bin = bins[row.bin]
      if (bin === undefined) continue
      bin.n = row.n
      bin.confidenceSum = row.confidenceSum
      bin.rewardSum = row.rewardSum
      bin.squaredErrorSum = row.squaredErrorSum
    }
    let nextSeq = loaded.nextSeq
    const rewardLock = yield* Effect.makeSemaphore(1)

    const choose = (segmentName: string) =>
      Effect.gen(function* () {
        const segment = segmentOf(segmentName)
        const rng = Random.fromState(Random.hashParts(seed, id, segmentName, segment.t))
        const chosen = Bandit.select(algorithm, segment.stats, rng, segment.t)
        let best = 0
        for (let i = 1; i < segment.stats.length; i++) {
          if (posteriorMean(segment.stats[i]!) > posteriorMean(segment.stats[best]!)) best = i
        }
        const stats = segment.stats[chosen]!
        const decision: Decision = {
          id: `${id}/${nextSeq}`,
          router: id,
          segment: segmentName,
          handler: handlers[chosen]!,
          confidence: posteriorMean(stats),
          explored: posteriorMean(stats) < posteriorMean(segment.stats[best]!)
        }
        const seq = nextSeq
        nextSeq += 1
        segment.t += 1
        ArmStats.pull(stats)
        const at = yield* Clock.currentTimeMillis
        yield* store.decide({ ...decision, seq, createdAt: at })
        yield* Events.publishOrLog(
          ServicesEvents.RouterDecision,
          {
            router: id,
            decision_id: decision.id,
            segment: segmentName,
            handler: decision.handler,
            confidence: decision.confidence,
            explored: decision.explored
          },
          { events }
        )
        return decision
      })

    const decide = (input: I): Effect.Effect<Decision, E | RouterStoreError, R> =>
      Effect.suspend(() => {
        const segment = options.segment(input)
        return Effect.flatMap(Effect.isEffect(segment) ? segment : Effect.succeed(segment), choose)
      })

    const reject = (decisionId: string, reason: RouterRewardRejected["reason"], message: string) =>
      Effect.fail(new RouterRewardRejected({ router: id, decisionId, reason, message }))

    const reward = (decisionId: string, value: number) =>
      rewardLock.withPermits(1)(
        Effect.gen(function* () {
          if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
            return yield* reject(
              decisionId,
              "invalid_value",
              `Router "${id}": a reward is a number in [0, 1], got ${value}; map the outcome to [0, 1] first.`
            )
          }
          const row = yield* store.decision(decisionId)
          if (row === undefined) {
            return yield* reject(
              decisionId,
              "unknown_decision",
              `Router "${id}" has no decision "${decisionId}": it was never made here, or it is older than the ${options.maxDecisions ?? 100_000} decisions kept (maxDecisions).`
            )
          }
          if (row.reward !== null) {
            return yield* reject(
              decisionId,
              "already_rewarded",
              `Router "${id}": decision "${decisionId}" already has its reward (${row.reward}); a decision takes one reward.`
            )
          }
          const bin = Calibration.binOf(binCount, row.confidence)
          yield* store.reward({
            id: decisionId,
            segment: row.segment,
            handler: row.handler,
            value,
            bin,
            confidence: row.confidence
          })
          const i = index.get(row.handler)
          if (i !== undefined) {
            const s = segmentOf(row.segment).stats[i]!
            s.rewardN += 1
            s.rewardSum += value
            s.rewardSumSq += value * value
          }
          Calibration.add(bins, row.confidence, value)
          yield* Events.publishOrLog(
            ServicesEvents.RouterRewarded,
            { router: id, decision_id: decisionId, segment: row.segment, handler: row.handler, reward: value },
            { events }
          )
        })
      )

    // The decisions linked to executions for the loop's feedback (those stored before a restart too); forgotten in
    // memory when the router closes, kept in the store for the next start.
    const owner = {}
    yield* Effect.addFinalizer(() => Effect.sync(() => FeedbackLinks.drop(owner)))
    for (const l of loaded.links) FeedbackLinks.link(l.executionId, owner, (value) => reward(l.decisionId, value))
    const router: Router<I, A, E, R> = {
      id,
      handlers,
      decide,
      route: (input) =>
        Effect.flatMap(decide(input), (decision) =>
          Effect.flatMap(options.handlers[decision.handler]!(input), (output) => {
            // A managed module's execution: the loop's feedback on it rewards this decision (stored, so a restart
            // before the feedback keeps the link).
            const executionId = FeedbackLinks.executionIdOf(output)
            if (executionId === undefined) return Effect.succeed({ ...decision, output })
            FeedbackLinks.link(executionId, owner, (value) => reward(decision.id, value))
            return Effect.as(store.link(decision.id, executionId), { ...decision, output })
          })
        ),
      reward,
      stats: Effect.sync(() => {
        const out: { [segment: string]: ReadonlyArray<HandlerStats> } = {}
        for (const [name, segment] of Array.from(segments.entries()).sort(([a], [b]) => (a < b ? -1 : 1))) {
          out[name] = segment.stats.map((s, i) => ({
            handler: handlers[i]!,
            decisions: s.pulls,
            rewards: s.rewardN,
            meanReward: ArmStats.meanReward(s),
            confidence: posteriorMean(s)
          }))
        }
        return out
      }),
      calibration: Effect.sync(() => Calibration.report(bins))
    }
    return router
  })
