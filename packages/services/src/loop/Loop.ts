/**
 * The real-time optimization loop: observe -> decide -> optimize -> canary -> promote or roll back, with no
 * human in it. Every execution of the application's modules is recorded in the {@link ExperienceStore}; delayed
 * feedback ({@link Service.feedback}) gives it a reward; the loop's policy process (`optimization_loop` in the
 * application's tree) watches each module's serving version and, when a rule of {@link LoopPolicy} fires and no
 * guard rail holds, starts an optimization job on the module's recent labelled experiences (the optimizer chosen
 * by the AdaptiveOptimizer's rules), hands a swapped result to a canary experiment (the traffic policies'
 * experiments), and promotes it or rolls it back from the rewards of both arms. Every decision, and every decision
 * not to act, is a `loop_decision` event and an entry of {@link Service.decisions}. See `docs/loop.md`.
 *
 * @example
 * ```ts
 * import { Application, Loop, ModuleManager } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   const loop = yield* Loop.Loop
 *   yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   const execution = yield* modules.execute("qa", { question: "2 + 3?" })
 *   // Later, when the outcome is known:
 *   return yield* loop.feedback({ executionId: execution.executionId, outcome: { corrected: { answer: "5" } } })
 * }).pipe(Effect.provide(Application.layerDefault({ loop: { settings: { enabled: true } } })))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as ExperienceStore from "./ExperienceStore.js"
import type * as Feedback from "./Feedback.js"
import type * as LoopPolicy from "./LoopPolicy.js"
import type * as Reward from "./Reward.js"
import type {
  ExperienceStoreError,
  FeedbackInvalid,
  FeedbackTooLate,
  FeedbackUnknownExecution,
  LoopSettingsInvalid
} from "../ServicesError.js"

/**
 * Options of the loop (the application's `loop` option).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The experience store's SQLite file. By default `loop.db` next to the release store's file (in memory when the
   * release store is).
   */
  readonly filename?: string
  readonly bounds?: ExperienceStore.Bounds
  /** The policy's settings over `LoopPolicy.defaults` (its `enabled` is false by default). */
  readonly settings?: Parameters<typeof LoopPolicy.settings>[0]
  /** The reward function (default `Reward.standard`). */
  readonly reward?: Reward.RewardFn
  /** How long after an execution its feedback is taken (default 7 days). */
  readonly feedbackWindowMs?: number
  /** The seed of the jobs the loop starts (default 0). */
  readonly seed?: number
  /** Whether executions are recorded (default true; without, feedback finds no execution). */
  readonly record?: boolean
}

/**
 * One decision of the policy, as logged (the same as its `loop_decision` event), with the number of rewards the
 * module had observed when it was taken (`atFeedback`) and when (`at`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly moduleId: string
  readonly action:
    | "start_job"
    | "hold"
    | "job_ended"
    | "canary"
    | "promote"
    | "roll_back"
    | "threshold_raised"
    | "threshold_lowered"
  readonly rule: string
  readonly reason: string
  readonly jobId?: string
  readonly version?: number
  readonly quality?: number
  readonly baseline?: number
  readonly threshold?: number
  readonly at: number
  readonly atFeedback: number
}

/**
 * One module as the loop sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleStatus {
  readonly moduleId: string
  readonly version: number
  /** `watching`, `optimizing` (a job runs), `canary` (its result is being compared). */
  readonly state: "watching" | "optimizing" | "canary"
  readonly quality: number | undefined
  readonly baseline: number | undefined
  /** The degradation rule's threshold now (adaptive). */
  readonly threshold: number
  /** Rewards observed for the module since the loop started. */
  readonly rewards: number
  readonly jobs: number
}

/**
 * The loop now: its modules, its jobs running, what it spent today and in all.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly enabled: boolean
  readonly modules: ReadonlyArray<ModuleStatus>
  readonly runningJobs: number
  readonly spent: { readonly lmCalls: number; readonly costUsd: number; readonly jobs: number }
}

/**
 * The loop service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Attaches a delayed outcome to an execution (see `Feedback` for what it answers). */
  readonly feedback: (
    request: Feedback.Request
  ) => Effect.Effect<Feedback.Ack, FeedbackUnknownExecution | FeedbackTooLate | FeedbackInvalid | ExperienceStoreError>
  /** Runs the policy now (the policy process runs it after each committed feedback batch). */
  readonly evaluate: Effect.Effect<void>
  readonly status: Effect.Effect<Status>
  /** Every decision so far, oldest first. */
  readonly decisions: Effect.Effect<ReadonlyArray<Decision>>
  /** The settings in force (the loop's; a module with overrides uses {@link Service.settingsOf}). */
  readonly settings: LoopPolicy.Settings
  /**
   * Registers a module's triggers over the loop's settings (a workflow step's `optimization` block does this
   * when the workflow is prepared): its rules fire, and its jobs train, by them from the next evaluation.
   * Replaces the module's earlier overrides; `{}` clears them. Returns the module's settings.
   */
  readonly configure: (
    moduleId: string,
    overrides: LoopPolicy.Overrides
  ) => Effect.Effect<LoopPolicy.Settings, LoopSettingsInvalid>
  /** The settings a module's rules and jobs use: its overrides over the loop's settings. */
  readonly settingsOf: (moduleId: string) => LoopPolicy.Settings
}

/**
 * The loop's tag (provided by `Application.layer`).
 *
 * @since 0.1.0
 * @category tags
 */
export class Loop extends Context.Tag("@effect-dspy/services/Loop")<Loop, Service>() {}

/**
 * The registry name of the loop's policy process.
 *
 * @since 0.1.0
 * @category constants
 */
export const actorName = "dspy/optimization_loop"

/**
 * Attaches feedback with the loop in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const feedback = (
  request: Feedback.Request
): Effect.Effect<
  Feedback.Ack,
  FeedbackUnknownExecution | FeedbackTooLate | FeedbackInvalid | ExperienceStoreError,
  Loop
> => Effect.flatMap(Loop, (loop) => loop.feedback(request))
