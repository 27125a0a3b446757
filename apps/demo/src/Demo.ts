/**
 * The demo's scenario as one Effect over a running application, so the test runs exactly what `pnpm demo`
 * runs (with smaller settings). It sets the stage (data, a ChainOfThought module on the arithmetic task, steady
 * traffic) and plays the phases of `phases/` in order, serving all the while:
 *
 * 1. `Baseline`: the serving module's accuracy on held-out questions;
 * 2-3. `Optimize`: BootstrapFewShot, then MIPROv2, in the background through the OptimizationCoordinator, with
 *    live progress bars; each result that beats the serving version is hot-swapped, and the accuracy measured again;
 * 4. `Outage`: the primary provider goes down; its breaker opens, traffic fails over to the backup, and when the
 *    provider comes back the breaker closes and traffic returns;
 * 5. `Crashes`: the primary provider's, the ModuleManager's and the OptimizationCoordinator's actors are killed;
 *    their supervisors restart them;
 * 6. `Report`: the traffic stops, every request still in flight is awaited, and the summary is built.
 */
import type { Events } from "@effect-dspy/foundation"
import type { Registry } from "@effect-dspy/runtime"
import type {
  Application,
  CacheManager,
  LMProviders,
  ModuleManager,
  OptimizationCoordinator
} from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Chaos from "./Chaos.js"
import * as Baseline from "./phases/Baseline.js"
import * as Crashes from "./phases/Crashes.js"
import * as Optimize from "./phases/Optimize.js"
import * as Outage from "./phases/Outage.js"
import * as Report from "./phases/Report.js"
import * as Stage from "./phases/Stage.js"
import type * as ProgressBar from "./ProgressBar.js"
import type { Summary } from "./Summary.js"

/** How the demo runs. */
export interface Settings {
  /** Progress lines (stderr in `pnpm demo`). */
  readonly log: (line: string) => void
  /** Where progress bars are drawn. */
  readonly bars: ProgressBar.Output
  readonly provider: {
    readonly kind: string
    readonly model: string
    readonly primary: string
    readonly backup: string
  }
  readonly chaos: Chaos.Chaos
  /** Examples: train (optimizer), val (swap decisions), test (reported accuracy), traffic (fresh questions). */
  readonly sizes: { readonly train: number; readonly val: number; readonly test: number; readonly traffic: number }
  readonly ratePerSecond: number
  /** How long the traffic runs before the optimizations start, and how long the outage lasts. */
  readonly baselineMs: number
  readonly outageMs: number
  /** The breaker's recovery time (the demo waits up to this plus a margin for the provider to come back). */
  readonly recoveryMs: number
  /** Optimizers by the coordinator's names, in order, each with an expected size for its progress bar. */
  /** Offsets the seeds of the data (splits and traffic); default 0. */
  readonly seed?: number
  readonly optimizations: ReadonlyArray<{
    readonly optimizer: string
    readonly expect: { readonly steps?: number; readonly trials?: number }
    readonly budget?: { readonly maxLmCalls?: number; readonly maxCostUsd?: number }
  }>
}

/** The module the demo serves. */
export const moduleId = "arithmetic_qa"

const signature = "question -> answer: float"

/** Runs the demo against the application in context and returns its summary. */
export const run = (
  settings: Settings
): Effect.Effect<
  Summary,
  unknown,
  | Application.Application
  | ModuleManager.ModuleManager
  | OptimizationCoordinator.OptimizationCoordinator
  | LMProviders.LMProviders
  | CacheManager.CacheManager
  | Events.Events
  | Registry.Registry
  | Scope.Scope
> =>
  Effect.gen(function* () {
    const started = performance.now()
    const stage = yield* Stage.start(settings, moduleId, signature)
    const baseline = yield* Baseline.run(stage)
    const optimized = yield* Optimize.run(stage, baseline)
    const outage = yield* Outage.run(stage)
    const crashes = yield* Crashes.run(stage)
    return yield* Report.run(stage, { baseline, optimized, outage, crashes }, started)
  })
