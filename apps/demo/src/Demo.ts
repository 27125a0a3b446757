/**
 * The demo's scenario as one Effect over a running application, so the test runs exactly what `pnpm demo`
 * runs (with smaller settings). While a steady stream of requests is served by a ChainOfThought module on
 * the arithmetic task, it:
 *
 * 1. measures the serving module's accuracy on held-out questions;
 * 2. optimizes it in the background (BootstrapFewShot, then MIPROv2) through the OptimizationCoordinator,
 *    with live progress bars, serving all the while;
 * 3. lets the coordinator hot-swap each result that beats the serving version, and measures again;
 * 4. takes the primary provider down: its breaker opens, traffic fails over to the backup, and when the
 *    provider comes back the breaker closes and traffic returns;
 * 5. kills the primary provider's, the ModuleManager's and the OptimizationCoordinator's actors: their supervisor
 *    restarts them;
 * 6. stops the traffic, waits for every request still in flight, and reports.
 */
import { Evaluate, Example } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Events } from "@effect-dspy/foundation"
import { Process, Registry } from "@effect-dspy/runtime"
import { Application, CacheManager, LMProviders, ModuleManager, OptimizationCoordinator } from "@effect-dspy/services"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Chaos from "./Chaos.js"
import * as ProgressBar from "./ProgressBar.js"
import type { OptimizationReport, Summary } from "./Summary.js"
import * as Traffic from "./Traffic.js"

/** A step of the demo did not go as it must (the message says which and what was seen). */
export class DemoStepFailed extends Data.TaggedError("DemoStepFailed")<{ readonly message: string }> {}

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

const fail = (message: string) => Effect.fail(new DemoStepFailed({ message }))

/** Waits (polling every 50 ms on Effect's Clock) until `check` holds, or fails after `within`. */
const waitUntil = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  within: Duration.DurationInput
): Effect.Effect<void, E | DemoStepFailed, R> =>
  check.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (ok) => ok }),
    Effect.asVoid,
    Effect.timeoutFail({
      duration: within,
      onTimeout: () => new DemoStepFailed({ message: `timed out waiting for ${what}` })
    })
  )

const since = (started: number) => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s`

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
    const { log, provider } = settings
    const started = performance.now()
    const step = (text: string) => log(`\n[${since(started)}] ${text}`)
    const app = yield* Application.Application
    const modules = yield* ModuleManager.ModuleManager
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    const providers = yield* LMProviders.LMProviders
    const cache = yield* CacheManager.CacheManager
    const events = yield* Events.Events
    const registry = yield* Registry.Registry

    // Data: disjoint splits of the simulated arithmetic task (the same questions a real LM gets).
    const seed = settings.seed ?? 0
    const { train, dev, test } = SimTask.splits(Arithmetic.task, {
      seed: 11 + seed,
      train: settings.sizes.train,
      dev: settings.sizes.val,
      test: settings.sizes.test
    })
    const traffic = SimTask.splits(Arithmetic.task, {
      seed: 97 + seed,
      train: 0,
      dev: 0,
      test: settings.sizes.traffic
    }).test
    const asExamples = (rows: ReadonlyArray<Arithmetic.Example>) =>
      rows.map((row) => Example.make({ question: row.question, answer: row.answer }).withInputs("question"))
    const trainset = asExamples(train)
    const valset = asExamples(dev)
    const testset = asExamples(test)

    step("The application's supervision tree:")
    log(yield* app.render)

    const created = yield* modules.create({ id: moduleId, kind: "chain_of_thought", signature })
    log(`Registered ${moduleId}: ChainOfThought(${signature}), version ${created.version}.`)

    const execute = (question: string) => Effect.map(modules.execute(moduleId, { question }), (e) => e.output)
    const accuracy = Effect.map(
      Evaluate.run({
        devset: testset,
        program: (example: Example.Any) =>
          Effect.map(modules.execute(moduleId, example.inputs().toRecord()), (e) => e.output as Evaluate.AnyPrediction),
        metric: Evaluate.answerExactMatch,
        concurrency: 8,
        maxErrors: testset.length,
        keepResults: false
      }),
      (result) => result.score
    )

    // 1. Traffic, and the baseline.
    const requests = yield* Traffic.start({
      execute,
      hot: traffic.slice(0, 12),
      fresh: traffic.slice(12),
      hotShare: 0.3,
      ratePerSecond: settings.ratePerSecond,
      initialPhase: "baseline"
    })
    step(`Serving ${settings.ratePerSecond} requests/s (30% of them popular questions) through the ModuleManager.`)
    const baselineStarted = performance.now()
    const before = yield* accuracy
    log(`Accuracy of version ${created.version} on ${testset.length} held-out questions: ${before.toFixed(1)}%`)
    const waited = performance.now() - baselineStarted
    if (waited < settings.baselineMs) yield* Effect.sleep(Duration.millis(settings.baselineMs - waited))
    const baseline = yield* requests.phase("baseline")
    log(`Baseline traffic: ${baseline.answered} answered, p50 ${baseline.latencyP50Ms.toFixed(1)} ms.`)

    // 2-3. Background optimizations, each hot-swapped only if it beats the serving version on the valset.
    yield* requests.setPhase("optimizing")
    const reports: Array<OptimizationReport> = []
    for (const plan of settings.optimizations) {
      const serving = yield* modules.describe(moduleId)
      step(`Optimizing ${moduleId} v${serving.version} in the background with ${plan.optimizer}; serving continues.`)
      const jobStarted = performance.now()
      const { id } = yield* coordinator.start({
        moduleId,
        optimizer: plan.optimizer,
        trainset,
        valset,
        metric: "exact_match",
        priority: 1,
        ...(plan.budget === undefined ? {} : { budget: plan.budget })
      })
      const bar = ProgressBar.make(settings.bars, plan.optimizer.padEnd(18))
      let lmCalls = 0
      let best: number | undefined
      let steps = 0
      let trials = 0
      const drawBar = Effect.gen(function* () {
        const live = yield* requests.phase("optimizing")
        const fractions = [
          plan.expect.steps === undefined ? undefined : steps / plan.expect.steps,
          plan.expect.trials === undefined ? undefined : trials / plan.expect.trials
        ].filter((f): f is number => f !== undefined)
        const fraction = fractions.length === 0 ? 0 : Math.min(0.99, Math.max(...fractions))
        bar.update(
          fraction,
          `${lmCalls} LM calls, best ${best === undefined ? "-" : `${best.toFixed(1)}%`}, serving p50 ${live.latencyP50Ms.toFixed(1)} ms`
        )
      })
      const watcher = yield* coordinator.progress(id).pipe(
        Stream.runForEach((update) => {
          if (update._tag === "Progress") {
            const event = update.event
            if (event._tag === "Step" && !event.resumed) {
              steps++
              lmCalls = Math.max(lmCalls, event.lmCalls)
            } else if (event._tag === "Trial") {
              trials++
              best = event.bestScore
            } else if (event._tag === "Completed") {
              lmCalls = Math.max(lmCalls, event.lmCalls)
            }
          }
          return drawBar
        }),
        Effect.ignore,
        Effect.fork
      )
      const job = yield* coordinator.await(id)
      yield* Fiber.interrupt(watcher)
      const seconds = ((performance.now() - jobStarted) / 1000).toFixed(1)
      bar.done(`${job.status} in ${seconds} s`)
      reports.push({
        optimizer: plan.optimizer,
        status: job.status,
        servingScore: job.servingScore ?? null,
        optimizedScore: job.optimizedScore ?? null,
        fromVersion: job.moduleVersion,
        swappedVersion: job.swappedVersion ?? null,
        lmCalls: Math.max(lmCalls, job.progress.lmCalls),
        trials: job.progress.trials,
        durationMs: Math.round(performance.now() - jobStarted)
      })
      if (job.status === "failed") return yield* fail(`the ${plan.optimizer} job failed: ${job.error}`)
      log(
        job.status === "swapped"
          ? `  valset ${job.servingScore?.toFixed(1)} -> ${job.optimizedScore?.toFixed(1)}: hot-swapped as version ${job.swappedVersion} (requests in flight finish on the version they started with).`
          : `  valset ${job.servingScore?.toFixed(1)} -> ${job.optimizedScore?.toFixed(1)}: below the swap margin, version ${job.moduleVersion} keeps serving.`
      )
    }
    const optimizing = yield* requests.phase("optimizing")
    log(
      `Serving while optimizing: p50 ${optimizing.latencyP50Ms.toFixed(1)} ms (baseline ${baseline.latencyP50Ms.toFixed(1)} ms), ${optimizing.failed} failed of ${optimizing.sent}.`
    )

    yield* requests.setPhase("optimized")
    const current = yield* modules.describe(moduleId)
    const after = yield* accuracy
    step(
      `Accuracy of version ${current.version} on the same held-out questions: ${after.toFixed(1)}% (was ${before.toFixed(1)}%).`
    )

    // 4. A provider outage: breaker, fail-over, recovery.
    const statusOf = (name: string) => Effect.map(providers.status, (all) => all.find((s) => s.name === name)!)
    const primaryBefore = yield* statusOf(provider.primary)
    const outageStarted = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    yield* requests.setPhase("outage")
    step(`Taking ${provider.primary} down: every call to it fails with 503 for ${settings.outageMs / 1000} s.`)
    yield* settings.chaos.start(provider.primary, { failureRate: 1 })
    yield* waitUntil(
      `${provider.primary}'s breaker to open`,
      Effect.map(statusOf(provider.primary), (s) => s.failovers > primaryBefore.failovers),
      "30 seconds"
    )
    const opened = yield* statusOf(provider.primary)
    log(`  breaker ${opened.circuit}: traffic fails over to ${provider.backup}.`)
    yield* Effect.sleep(Duration.millis(settings.outageMs))
    yield* settings.chaos.stop(provider.primary)
    yield* requests.setPhase("recovery")
    log(`  ${provider.primary} is back; the breaker lets a trial call through after its recovery time.`)
    yield* waitUntil(
      `${provider.primary} to recover`,
      Effect.map(statusOf(provider.primary), (s) => s.recoveries > primaryBefore.recoveries && s.circuit === "closed"),
      Duration.millis(settings.recoveryMs + 30_000)
    )
    const transitions = yield* events.query({
      types: ["circuit_breaker_state_changed", "provider_failover", "provider_recovered"],
      from: outageStarted
    })
    const breakerKey = `lm_provider_${provider.primary}`
    const breakerStates: Array<string> = []
    for (const event of transitions) {
      const at = `+${((event.timestamp - outageStarted) / 1000).toFixed(2)}s`
      if (event.type === "circuit_breaker_state_changed") {
        if (event.data["key"] !== breakerKey) continue
        if (breakerStates.length === 0) breakerStates.push(String(event.data["from"]))
        breakerStates.push(String(event.data["to"]))
        log(`  ${at} breaker ${event.data["from"]} -> ${event.data["to"]}`)
      } else {
        log(`  ${at} ${event.type} (${event.data["provider"]} -> ${event.data["backup"]})`)
      }
    }
    const outage = yield* requests.phase("outage")
    const backupStatus = yield* statusOf(provider.backup)
    log(
      `  during the outage: ${outage.answered} answered, ${outage.failed} failed; ${backupStatus.calls} calls served by ${provider.backup}.`
    )

    // 5. Crash actors: their supervisors restart them; traffic keeps being answered.
    yield* requests.setPhase("crash")
    step("Killing the primary provider's actor, the ModuleManager's and the OptimizationCoordinator's.")
    const restarts: Array<{ actor: string; before: string; after: string }> = []
    for (const name of [
      LMProviders.actorName(provider.primary),
      ModuleManager.actorName,
      OptimizationCoordinator.actorName
    ]) {
      const victim = yield* registry.lookup(name)
      yield* Process.kill(victim)
      let replacement: Process.Process | undefined
      yield* waitUntil(
        `${name} to be restarted`,
        Effect.map(registry.whereis(name), (found) => {
          if (found._tag === "Some" && found.value.pid !== victim.pid) replacement = found.value
          return replacement !== undefined
        }),
        "10 seconds"
      )
      restarts.push({ actor: name, before: String(victim.pid), after: String(replacement!.pid) })
      log(`  ${name}: ${String(victim.pid)} killed, restarted as ${String(replacement!.pid)}`)
    }
    // Changes go through the ModuleManager's actor: the restarted one takes them (executions never stopped).
    const probe = yield* modules.create({ id: `${moduleId}_predict`, kind: "predict", signature })
    log(`  the restarted ModuleManager takes changes: created ${probe.id} (version ${probe.version}).`)
    const afterCrash = yield* modules.describe(moduleId)
    log(yield* app.render)
    yield* Effect.sleep(Duration.millis(Math.min(1000, settings.outageMs)))

    // 6. Drain and report.
    yield* requests.stop
    const report = yield* requests.report
    const statuses = yield* providers.status
    const cacheStats = yield* cache.stats
    const sum = (f: (s: LMProviders.ProviderStatus) => number) => statuses.reduce((a, s) => a + f(s), 0)
    const summary: Summary = {
      provider,
      accuracy: { before, after, examples: testset.length },
      servingVersion: { before: created.version, after: afterCrash.version },
      optimizations: reports,
      requests: {
        sent: report.total.sent,
        answered: report.total.answered,
        failed: report.total.failed,
        lost: report.total.sent - report.total.answered - report.total.failed
      },
      errorsByType: report.total.errors,
      latency: { p50Ms: report.total.latencyP50Ms, p99Ms: report.total.latencyP99Ms },
      servingDuringOptimization: {
        baselineP50Ms: baseline.latencyP50Ms,
        optimizingP50Ms: optimizing.latencyP50Ms
      },
      phases: report.phases,
      lm: {
        calls: sum((s) => s.calls),
        promptTokens: sum((s) => s.promptTokens),
        completionTokens: sum((s) => s.completionTokens),
        tokens: sum((s) => s.promptTokens + s.completionTokens),
        costUsd: Math.round(sum((s) => s.costUsd) * 1e6) / 1e6,
        byProvider: Object.fromEntries(statuses.map((s) => [s.name, s.calls]))
      },
      cache: { hits: cacheStats.hits, misses: cacheStats.misses, hitRate: cacheStats.hitRate },
      faults: {
        injected: settings.chaos.injected(provider.primary),
        failovers: sum((s) => s.failovers),
        recoveries: sum((s) => s.recoveries),
        breakerStates
      },
      restarts,
      durationMs: Math.round(performance.now() - started)
    }
    return summary
  })
