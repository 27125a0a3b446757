/**
 * The demo's scenario as one Effect over a running application, so the test runs exactly what `pnpm demo`
 * runs (with smaller settings). It sets the stage (data, a ChainOfThought module on the arithmetic task, steady
 * traffic) and plays the phases of `phases/` in order, serving all the while:
 *
 * 1. `Baseline`: the serving module's accuracy on held-out questions;
 * 2-3. `Optimize`: BootstrapFewShot, then MIPROv2, in the background through the OptimizationCoordinator, with
 *    live progress bars; each result that beats the serving version is hot-swapped, and the accuracy measured again;
 * 3b. `Canary`: half the traffic to the optimized version, half to the one it replaced, labelled requests
 *    scoring both, guard rails on; promoted when no rail breaks (a broken rail rolls back by itself);
 * 4. `Outage`: the primary provider goes down; its breaker opens, traffic fails over to the backup, and when the
 *    provider comes back the breaker closes and traffic returns;
 * 5. `Crashes`: the primary provider's, the ModuleManager's and the OptimizationCoordinator's actors are killed;
 *    their supervisors restart them;
 * 6. `Report`: the traffic stops, every request still in flight is awaited, and the summary is built;
 * 5b. `Loop`: a second module serves labelled traffic with feedback; the simulated LM drifts; the application's
 *    real-time loop detects it, optimizes on recent experiences, canaries and promotes by itself;
 * 7. `Restart` (with `releasesFile`): an application restarted on the same release database restores the
 *    module's promoted version.
 *
 * When `settings.stop` completes first (`pnpm demo` completes it on SIGINT or SIGTERM), the phase under way is
 * interrupted, the traffic stops and the requests in flight get `drainGraceMs` to end (those still running then
 * count as failed, `Interrupted`), and the summary so far is returned, with `stopped` naming what stopped it.
 */
import type { Events } from "@effect-dspy/foundation"
import type { SimDrift } from "@effect-dspy/sim"
import type { Registry } from "@effect-dspy/runtime"
import type {
  Application,
  CacheManager,
  Loop,
  LMProviders,
  ModuleManager,
  OptimizationCoordinator,
  ReleaseStore,
  Experiments
} from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Chaos from "./Chaos.js"
import * as Baseline from "./phases/Baseline.js"
import * as Canary from "./phases/Canary.js"
import * as LoopPhase from "./phases/Loop.js"
import * as Crashes from "./phases/Crashes.js"
import * as Optimize from "./phases/Optimize.js"
import * as Outage from "./phases/Outage.js"
import * as Report from "./phases/Report.js"
import * as Restart from "./phases/Restart.js"
import * as Stage from "./phases/Stage.js"
import type * as ProgressBar from "./ProgressBar.js"
import type { LoopReport, Summary } from "./Summary.js"

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
  /** Offsets the seeds of the data (splits and traffic); default 0. */
  readonly seed?: number
  /**
   * Stops the demo early when it completes, with a reason (the signal's name in `pnpm demo`); the demo runs to
   * its end without it.
   */
  readonly stop?: Effect.Effect<string>
  /**
   * The release database the application keeps the module's versions in (as `Setup.layer`'s `releasesFile`):
   * with one, the demo restarts an application on it at the end and reports what it restored.
   */
  readonly releasesFile?: string
  /** The simulated LM's drift control (the loop phase injects a drift through it; without one it is skipped). */
  readonly drift?: SimDrift.Control
  /** The loop phase's sizes: the drift's onset and the most requests before a decision (defaults 450, 2,500). */
  readonly loop?: { readonly onset?: number; readonly maxRequests?: number; readonly after?: number }
  /** How long the requests in flight get to end after an early stop (default 5 s). */
  readonly drainGraceMs?: number
  /** Optimizers by the coordinator's names, in order, each with an expected size for its progress bar. */
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
  | ReleaseStore.ReleaseStore
  | Experiments.Experiments
  | Loop.Loop
  | LMProviders.LMProviders
  | CacheManager.CacheManager
  | Events.Events
  | Registry.Registry
  | Scope.Scope
> =>
  Effect.gen(function* () {
    const started = performance.now()
    const stage = yield* Stage.start(settings, moduleId, signature)
    const phases: { -readonly [K in keyof Report.Phases]?: Report.Phases[K] } = {}
    let loop: LoopReport | null = null
    const scenario = Effect.gen(function* () {
      const baseline = yield* Baseline.run(stage)
      phases.baseline = baseline
      phases.optimized = yield* Optimize.run(stage, baseline)
      phases.canary = yield* Canary.run(stage, phases.optimized)
      phases.outage = yield* Outage.run(stage)
      phases.crashes = yield* Crashes.run(stage)
      loop = yield* LoopPhase.run(stage, settings.drift, settings.loop)
      return null
    })
    const stopped = yield* Effect.raceFirst(scenario, settings.stop ?? Effect.never)
    if (stopped !== null) {
      const graceMs = settings.drainGraceMs ?? 5_000
      stage.step(`Stopped (${stopped}): the traffic stops; requests in flight get ${graceMs / 1000} s to end.`)
      yield* stage.requests.drain(Duration.millis(graceMs))
    }
    const summary = yield* Report.run(stage, phases, started, stopped)
    const releases = yield* Restart.run(stage, settings.releasesFile, signature)
    return { ...summary, releases, loop, durationMs: Math.round(performance.now() - started) }
  })
