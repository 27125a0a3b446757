/**
 * The ModuleManager service over its dependencies: executions and reads straight from the module table, in the
 * caller's fiber; changes through the actor ({@link mutate}).
 */
import { LM, Module } from "@effect-dspy/core"
import {
  CanonicalJson,
  CircuitBreaker,
  type ConfigSchema,
  Correlation,
  Errors,
  Events,
  FiberLocal,
  Subject,
  Tenant
} from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as MetricLabel from "effect/MetricLabel"
import {
  type ExecuteError,
  type ExecuteOptions,
  type Execution,
  executionDuration,
  executions,
  type FallbackChain,
  type FallbackStep,
  fallbacks,
  memoHits,
  type ModuleInfo,
  type MutationError,
  type PolicyStatus,
  type ReloadOutcome,
  type ServeReason,
  type Service,
  shadowExecutions
} from "../../ModuleManager.js"
import { type ModuleNotFound, ModuleVersionNotFound, type PolicyInvalid } from "../../ServicesError.js"
import * as ServicesEvents from "../../ServicesEvents.js"
import * as AdaptiveTimeout from "../../latency/AdaptiveTimeout.js"
import { type Dependencies, hostOf, mutate } from "./actor.js"
import * as PolicyExperiments from "./experiments.js"
import * as Memo from "./memo.js"
import { describeEntry, notFound } from "./programs.js"
import { nextExecutionId, type Recorder } from "./recording.js"
import { statusOf, tagsOf } from "./routing.js"
import { type Entry, ModuleStore, type Routing, type Tags, type Version } from "./store.js"

/** Effect's default tracer (its spans go nowhere). */
const defaultTracer = Effect.runSync(Effect.tracer)

/** A reward in [0, 1] from the caller's function; a function that throws or answers out of range gives none. */
const safeReward = (reward: (output: unknown) => number, output: unknown): number | undefined => {
  try {
    const r = reward(output)
    return Number.isFinite(r) && r >= 0 && r <= 1 ? r : undefined
  } catch {
    return undefined
  }
}

/** A short JSON preview of a shadow run's output, for its event. */
const preview = (output: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(output) ?? String(output)
  } catch {
    text = String(output)
  }
  return text.length > 500 ? `${text.slice(0, 500)}...` : text
}

/** Keeps a module's last answer for these inputs (the oldest go past the bound). */
const remember = (entry: Entry, key: string, output: unknown): void => {
  entry.lastOutputs.delete(key)
  entry.lastOutputs.set(key, output)
  if (entry.lastOutputs.size > maxStaleOutputs) {
    const oldest = entry.lastOutputs.keys().next()
    if (oldest.done !== true) entry.lastOutputs.delete(oldest.value)
  }
}

const fallbackLabelCache = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const fallbackLabels = (moduleId: string, step: FallbackStep): ReadonlyArray<MetricLabel.MetricLabel> => {
  const key = `${moduleId}|${step}`
  let labels = fallbackLabelCache.get(key)
  if (labels === undefined) {
    labels = [MetricLabel.make("module_id", moduleId), MetricLabel.make("step", step)]
    fallbackLabelCache.set(key, labels)
  }
  return labels
}

const toFamily = (error: unknown): Errors.DSPyErrorLike =>
  Errors.isDSPyError(error)
    ? error
    : new Errors.UnexpectedError({
        message: `The module failed with a value outside the error family: ${String(error)}`,
        cause: error
      })

/** How many shadow runs of one module may be in flight; a sampled request past it is not shadowed. */
const maxShadowsInFlight = 8

/** How many last answers a module keeps for its `stale_cache` fallback step. */
const maxStaleOutputs = 1000

/** The failures a fallback chain does not answer: the application is stopping. */
const final = (error: ExecuteError): boolean =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  (error._tag === "ApplicationStopping" || error._tag === "ExecutionAborted")

/**
 * Builds the ModuleManager service over its dependencies (the application does this; the actor is started by
 * its supervisor with the same dependencies).
 */
export const make = (deps: Dependencies): Service => {
  const store = deps.store
  // What a program runs with: the application's LM (the supervised providers) and its event store.
  const base = { lm: deps.lm, events: deps.events }
  const call = <A, E>(msg: Parameters<typeof mutate>[1]) => mutate(deps, msg) as unknown as Effect.Effect<A, E>
  const host = hostOf(deps)
  // Each module's successful latencies, for its adaptive timeout (config `latency.timeouts`).
  const latency = AdaptiveTimeout.make({ minSamples: 20, windowSize: 256, floorMs: 10, capMs: 30_000 })
  let latencySettings: ConfigSchema.DSPyConfig["latency"] | undefined
  /** The body under the module's adaptive timeout when `latency.timeouts` is enabled; its latency recorded. */
  const adaptive = (id: string, body: Effect.Effect<unknown, ExecuteError>): Effect.Effect<unknown, ExecuteError> =>
    Effect.flatMap(deps.config.current, (c) => {
      if (c.latency !== latencySettings) {
        latencySettings = c.latency
        latency.reconfigure(AdaptiveTimeout.settingsOf(c.latency))
      }
      if (!c.latency.timeouts.enabled) return AdaptiveTimeout.timed(latency, id, body)
      return AdaptiveTimeout.timeout(latency, id, c.latency.timeouts, body, {
        onTimeout: (deadlineMs) =>
          new CircuitBreaker.CallTimeout({
            key: `module:${id}`,
            timeoutMs: Math.round(deadlineMs),
            message: `Module "${id}" did not finish within its adaptive timeout of ${Math.round(deadlineMs)} ms (p${Math.round(c.latency.timeouts.quantile * 100)} of its recent latencies x ${c.latency.timeouts.multiplier}, within latency.floorMs..capMs); raise latency.timeouts.multiplier or latency.floorMs if executions this slow are expected.`
          })
      })
    })

  /** Runs one version: under the module's protections, or (a fallback step) bare. Counted, tagged, timed. */
  const runVersion = (
    entry: Entry,
    version: Version,
    arm: string | undefined,
    inputs: unknown,
    protectedRun: boolean,
    onEnd?: (ok: boolean, latencyMs: number, output: unknown) => Effect.Effect<void> | undefined,
    capture?: Array<Memo.Captured>
  ): Effect.Effect<unknown, ExecuteError> => {
    const tags = tagsOf(entry, version, arm, base)
    const program = Module.call(version.program as Module.Any, inputs) as Effect.Effect<unknown, unknown, LM.LM>
    // A run whose answer may be remembered records the events it publishes (a memo hit replays them).
    const context =
      capture === undefined
        ? tags.context
        : Context.add(tags.context, Events.Events, Memo.capturing(tags.events, capture))
    const run = Effect.mapError(FiberLocal.provideContext(program, context), toFamily)
    // One fiber read for the clock and the tracer: the spans inside carry the module's attributes when a tracer
    // records them (Effect's default one sends its spans nowhere, and core opens none under it).
    return Effect.withFiberRuntime((fiber) => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const body = fiber.currentTracer === defaultTracer ? run : Effect.annotateSpans(run, tags.spanAttributes)
      const started = clock.unsafeCurrentTimeMillis()
      const guarded: Effect.Effect<unknown, ExecuteError> = protectedRun
        ? deps.protection.executeProtected(
            `module:${entry.id}`,
            { breaker: entry.breaker, limiter: entry.limiter },
            adaptive(entry.id, body)
          )
        : body
      return guarded.pipe(
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            new Errors.UnexpectedError({
              message: `Module "${entry.id}" died: ${defect instanceof Error ? defect.message : String(defect)}`,
              cause: defect
            })
          )
        ),
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            entry.executions++
            const ok = exit._tag === "Success"
            if (!ok) entry.failures++
            const elapsed = clock.unsafeCurrentTimeMillis() - started
            executionDuration.unsafeUpdate(elapsed, tags.duration)
            executions.unsafeUpdate(1, ok ? tags.success : tags.failure)
            return (onEnd === undefined ? undefined : onEnd(ok, elapsed, ok ? exit.value : undefined)) ?? Effect.void
          })
        )
      )
    })
  }

  /**
   * Feeds the policy's statistics (a canary's breach is then acted upon by {@link afterCanary}) and its
   * experiment's, when it runs as one.
   */
  const observer =
    (routing: Routing, arm: string, options: ExecuteOptions | undefined) =>
    (ok: boolean, latencyMs: number, output: unknown): Effect.Effect<void> | undefined => {
      const reward = ok && options?.reward !== undefined ? safeReward(options.reward, output) : undefined
      const observation = { latencyMs, error: !ok, costUsd: 0, reward }
      routing.router.observe(arm, observation)
      return routing.experiment === undefined ? undefined : PolicyExperiments.observe(host, routing, arm, observation)
    }

  /** A canary's breach, acted upon once: the actor rolls the module back (compare-and-swap) in the background. */
  const afterCanary = (entry: Entry, routing: Routing): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (routing.handled) return Effect.void
      const breach = routing.router.breach()
      if (breach === undefined) return Effect.void
      routing.handled = true
      const rollback = Effect.flatMap(
        mutate(deps, { _tag: "CanaryRollback", id: entry.id, routing, breach }),
        (done) => (done === undefined ? Effect.void : PolicyExperiments.canaryRolledBack(host, routing, breach))
      )
      return Effect.asVoid(Effect.forkDaemon(Effect.ignoreLogged(rollback)))
    })

  /** Runs the shadowed version in the background: recorded, never served, at most a few in flight. */
  const shadowRun = (
    entry: Entry,
    routing: Routing,
    name: string,
    served: Version,
    inputs: unknown
  ): Effect.Effect<void> => {
    const version = routing.versions.get(name)
    if (version === undefined || entry.shadowsInFlight >= maxShadowsInFlight) return Effect.void
    entry.shadowsInFlight++
    const run = runVersion(entry, version, name, inputs, false, (ok, latencyMs) => {
      const observation = { latencyMs, error: !ok, costUsd: 0 }
      routing.router.observe(name, observation)
      shadowExecutions.unsafeUpdate(1, tagsOf(entry, version, name, base).duration)
      return routing.experiment === undefined ? undefined : PolicyExperiments.observe(host, routing, name, observation)
    }).pipe(
      Effect.exit,
      Effect.flatMap((exit) =>
        Events.publishOrLog(
          ServicesEvents.ModuleShadowExecution,
          {
            module_id: entry.id,
            version: version.version,
            served_version: served.version,
            status: exit._tag === "Success" ? "ok" : "error",
            output: exit._tag === "Success" ? preview(exit.value) : ""
          },
          { events: deps.events }
        )
      ),
      Effect.ensuring(Effect.sync(() => entry.shadowsInFlight--))
    )
    // Not awaited: the served path goes on at once; the shadow's fiber is the application's, not the caller's.
    return Effect.asVoid(Effect.forkDaemon(run))
  }

  /** The steps of the module's fallback chain after `version` failed with `error`, in order. */
  const fallBack = (
    executionId: string,
    entry: Entry,
    chain: FallbackChain,
    version: Version,
    reason: ServeReason,
    arm: string | undefined,
    inputs: unknown,
    key: string | undefined,
    error: ExecuteError
  ): Effect.Effect<Execution, ExecuteError> => {
    const served = (step: FallbackStep, index: number, v: Version, output: unknown, stale: boolean) =>
      Effect.as(
        Effect.zipRight(
          Effect.sync(() => fallbacks.unsafeUpdate(1, fallbackLabels(entry.id, step))),
          Events.publishOrLog(
            ServicesEvents.ModuleFallback,
            {
              module_id: entry.id,
              step,
              index,
              version: v.version,
              cause: error instanceof Error ? error.message : String(error)
            },
            { events: deps.events }
          )
        ),
        {
          executionId,
          moduleId: entry.id,
          version: v.version,
          output,
          reason,
          arm,
          fallback: step,
          stale
        } satisfies Execution
      )
    const attempt = (index: number): Effect.Effect<Execution, ExecuteError> => {
      const step = chain.steps[index]
      if (step === undefined) return Effect.fail(error)
      const next = attempt(index + 1)
      switch (step) {
        case "previous": {
          const at = entry.versions.indexOf(version)
          const previous =
            at > 0 ? entry.versions[at - 1] : entry.versions.find((v) => v !== version && v.version < version.version)
          if (previous === undefined) return next
          return Effect.matchEffect(runVersion(entry, previous, arm, inputs, false), {
            onFailure: () => next,
            onSuccess: (output) => served(step, index, previous, output, false)
          })
        }
        case "stale_cache": {
          if (key === undefined || !entry.lastOutputs.has(key)) return next
          return served(step, index, version, entry.lastOutputs.get(key), true)
        }
        case "simpler": {
          const simpler = chain.simpler
          if (simpler === undefined) return next
          const simplerVersion: Version = { ...version, program: simpler }
          return Effect.matchEffect(runVersion(entry, simplerVersion, "simpler", inputs, false), {
            onFailure: () => next,
            onSuccess: (output) => served(step, index, version, output, false)
          })
        }
        case "default":
          return "default" in chain && chain.default !== undefined
            ? served(step, index, version, chain.default, false)
            : next
      }
    }
    return attempt(0)
  }

  /**
   * Hands the finished execution to the recorder: one object, one synchronous call (the store batches writes),
   * with the LM usage of the execution (its calls and cost).
   */
  const record = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    recorder: Recorder | undefined,
    keep: ((execution: Execution, usage: LM.UsageTotals) => void) | undefined,
    served: Effect.Effect<Execution, ExecuteError>,
    executionId: string,
    moduleId: string,
    chosen: number,
    inputs: unknown
  ): Effect.Effect<Execution, ExecuteError> =>
    // Reads of the calling fiber (the clock; at the end, the correlation id `Correlation.ensureCorrelationId` set
    // around the run), one callback at the end (the LM usage counted by `LM.meterUsage`: one counter object, no
    // Ref, no Scope): no further effects.
    {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const at = clock.unsafeCurrentTimeMillis()
      return LM.meterUsage(served, (exit, usage) => {
        if (exit._tag === "Success" && keep !== undefined) keep(exit.value, usage)
        if (recorder === undefined) return
        const correlationId = Option.getOrUndefined(fiber.getFiberRef(Correlation.currentCorrelationId))
        const subject = Option.getOrUndefined(fiber.getFiberRef(Subject.currentSubject))
        const tenant = Option.getOrUndefined(fiber.getFiberRef(Tenant.Tenant))
        const ok = exit._tag === "Success"
        const execution = ok ? exit.value : undefined
        recorder.record({
          executionId,
          correlationId,
          moduleId,
          version: execution === undefined ? chosen : execution.version,
          inputs,
          output: execution?.output,
          ok,
          latencyMs: clock.unsafeCurrentTimeMillis() - at,
          lmCalls: ok ? usage.calls : 0,
          costUsd: ok ? usage.costUsd : 0,
          at,
          reward: undefined,
          outcome: undefined,
          feedbackAt: undefined,
          subject,
          tenant
        })
      })
    }

  /**
   * Swaps and rollbacks requested and not applied yet, by module id (the latest one's completion). With config
   * `latency.swapWaitMs` above 0, an execution of such a module waits at most that long for it to land, so it
   * is served by the new version rather than the one being replaced.
   */
  const landing = new Map<string, Deferred.Deferred<void>>()
  const landingChange = <A, E>(id: string, change: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      const done = Deferred.unsafeMake<void>(FiberId.none)
      landing.set(id, done)
      return Effect.ensuring(
        change,
        Effect.suspend(() => {
          if (landing.get(id) === done) landing.delete(id)
          return Deferred.succeed(done, undefined)
        })
      )
    })

  /** The execution memo: answers of cache-hit executions, by version and inputs (see `memo.ts`). */
  const memo = new Memo.Memo()
  const memoGeneration = deps.memoGeneration
  const memoNow = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
    Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()

  /**
   * The memo key of an execution, or `undefined` when it is not remembered: the memo or the cache is off, no
   * cache generation is known (an LM cache other than the CacheManager's), the module is a registered program
   * (it may do more than call the LM) or has a rate limit (each execution spends a token), or the inputs are not
   * plain JSON of a bounded size. The key holds the tenant and the end user, as the LM cache's namespace does.
   */
  const memoKeyOf = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    entry: Entry,
    inputs: unknown
  ): string | undefined => {
    if (memoGeneration === undefined || deps.config.snapshot === undefined) return undefined
    if (entry.origin._tag !== "Spec" || entry.limiter !== undefined) return undefined
    const modules = deps.config.snapshot().modules
    if (!modules.memoEnabled || !modules.cacheEnabled) return undefined
    return Memo.keyOf(
      inputs,
      Option.getOrUndefined(fiber.getFiberRef(Tenant.Tenant)),
      Option.getOrUndefined(fiber.getFiberRef(Subject.currentSubject))
    )
  }

  /**
   * What every memo hit does once its events are replayed: the execution counted (metrics included) and recorded
   * like any other, with no LM call.
   */
  const countHit = (
    entry: Entry,
    tags: Tags,
    hit: {
      readonly execution: Execution
      readonly inputs: unknown
      readonly correlationId: string
      readonly at: number
      readonly elapsed: number
      readonly subject: string | undefined
      readonly tenant: string | undefined
    }
  ): void => {
    entry.executions++
    executionDuration.unsafeUpdate(hit.elapsed, tags.duration)
    executions.unsafeUpdate(1, tags.success)
    memoHits.unsafeUpdate(1, tags.duration)
    deps.recorder?.current?.record({
      executionId: hit.execution.executionId,
      correlationId: hit.correlationId,
      moduleId: hit.execution.moduleId,
      version: hit.execution.version,
      inputs: hit.inputs,
      output: hit.execution.output,
      ok: true,
      latencyMs: hit.elapsed,
      lmCalls: 0,
      costUsd: 0,
      at: hit.at,
      reward: undefined,
      outcome: undefined,
      feedbackAt: undefined,
      subject: hit.subject,
      tenant: hit.tenant
    })
  }

  /**
   * Serves a remembered answer: the events of the run that gave it replayed under this request, the execution
   * counted, observed by the module's policy and recorded like any other (with no LM call), nothing run.
   */
  const serveMemo = (
    entry: Entry,
    routing: Routing | undefined,
    version: Version,
    tags: Tags,
    reason: ServeReason,
    arm: string | undefined,
    inputs: unknown,
    key: string | undefined,
    answer: Memo.Answer,
    onEnd: ((ok: boolean, latencyMs: number, output: unknown) => Effect.Effect<void> | undefined) | undefined,
    shadow: Effect.Effect<void> | undefined,
    executionId: string,
    id: string
  ): Effect.Effect<Execution, ExecuteError> => {
    const refused = deps.drain.refusal(`module "${id}" execution`)
    if (refused !== undefined) return Effect.fail(refused)
    const execution: Execution = {
      executionId,
      moduleId: id,
      version: version.version,
      output: answer.output,
      reason,
      arm,
      fallback: undefined,
      stale: false
    }
    const served = Effect.withFiberRuntime<Execution, ExecuteError>((fiber) => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const at = clock.unsafeCurrentTimeMillis()
      // The request's correlation id, else a new one, given to the events and the record as they are made (no
      // fiber reference written and restored: a FiberRefs write copies the fiber's map of references).
      const correlationId =
        Option.getOrUndefined(fiber.getFiberRef(Correlation.currentCorrelationId)) ?? Correlation.makeId()
      return Effect.flatMap(Memo.replay(deps.events, answer.events, correlationId), () => {
        const elapsed = clock.unsafeCurrentTimeMillis() - at
        if (key !== undefined) remember(entry, key, answer.output)
        countHit(entry, tags, {
          execution,
          inputs,
          correlationId,
          at,
          elapsed,
          subject: Option.getOrUndefined(fiber.getFiberRef(Subject.currentSubject)),
          tenant: Option.getOrUndefined(fiber.getFiberRef(Tenant.Tenant))
        })
        const observed = onEnd === undefined ? undefined : onEnd(true, elapsed, answer.output)
        return observed === undefined ? Effect.succeed(execution) : Effect.as(observed, execution)
      })
    })
    const chosen =
      routing !== undefined && routing.policy._tag === "Canary"
        ? Effect.ensuring(served, afterCanary(entry, routing))
        : served
    // A shadow run forked from here takes the request's correlation id from the fiber: it is set for it.
    return shadow === undefined ? chosen : Correlation.ensureCorrelationId(Effect.zipRight(shadow, chosen))
  }

  /**
   * A memo hit served without a fiber (see `Service.executeRemembered`): the same checks, answer, events, record
   * and metrics as `serveMemo`, for an unscoped caller with no options; `undefined` whenever anything asks for the
   * effectful path.
   */
  const executeRemembered = (id: string, inputs: unknown): Execution | undefined => {
    const publishSync = deps.events.publishSync
    if (publishSync === undefined || memoGeneration === undefined || deps.config.snapshot === undefined)
      return undefined
    if (landing.size > 0 && landing.has(id)) return undefined
    const entry = store.entries.get(id)
    if (entry === undefined || entry.routing !== undefined || entry.fallback !== undefined) return undefined
    if (entry.origin._tag !== "Spec" || entry.limiter !== undefined || !deps.drain.isAccepting) return undefined
    const config = deps.config.snapshot()
    if (!config.modules.memoEnabled || !config.modules.cacheEnabled) return undefined
    const memoKey = Memo.keyOf(inputs, undefined, undefined)
    if (memoKey === undefined) return undefined
    const version = entry.current
    const tags = tagsOf(entry, version, undefined, base)
    // The application's clock is the system's (a test clock's answers are stored at its time: they miss here).
    const now = Date.now()
    const answer = memo.get(tags, memoKey, now, memoGeneration(), config)
    if (answer === undefined) return undefined
    const correlationId = Correlation.makeId()
    Memo.replaySync(publishSync, answer.events, correlationId, now)
    const execution: Execution = {
      executionId: nextExecutionId(),
      moduleId: id,
      version: version.version,
      output: answer.output,
      reason: "promoted",
      arm: undefined,
      fallback: undefined,
      stale: false
    }
    countHit(entry, tags, {
      execution,
      inputs,
      correlationId,
      at: now,
      elapsed: 0,
      subject: undefined,
      tenant: undefined
    })
    return execution
  }

  const execute = (
    module: string | { readonly id: string },
    inputs: unknown,
    options?: ExecuteOptions
  ): Effect.Effect<Execution, ExecuteError> =>
    // One fiber read: for the swap wait (rare) and, when the execution is recorded, for its clock.
    Effect.withFiberRuntime((fiber) => {
      const pending = landing.size === 0 ? undefined : landing.get(typeof module === "string" ? module : module.id)
      if (pending === undefined) return executeWith(fiber, module, inputs, options)
      return Effect.flatMap(deps.config.current, (c) =>
        c.latency.swapWaitMs <= 0
          ? executeNow(module, inputs, options)
          : Effect.zipRight(
              Effect.timeoutOption(Deferred.await(pending), Duration.millis(c.latency.swapWaitMs)),
              executeNow(module, inputs, options)
            )
      )
    })

  const executeNow = (
    module: string | { readonly id: string },
    inputs: unknown,
    options?: ExecuteOptions
  ): Effect.Effect<Execution, ExecuteError> =>
    Effect.withFiberRuntime((fiber) => executeWith(fiber, module, inputs, options))

  const executeWith = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    module: string | { readonly id: string },
    inputs: unknown,
    options?: ExecuteOptions
  ): Effect.Effect<Execution, ExecuteError> => {
    const id = typeof module === "string" ? module : module.id
    const entry = store.entries.get(id)
    if (entry === undefined) return Effect.fail(notFound(id))
    const executionId = nextExecutionId()
    // The version is chosen once, here: the call runs it to the end whatever swaps happen meanwhile.
    const routing = entry.routing
    let version: Version
    let reason: ServeReason
    let arm: string | undefined
    let onEnd: ((ok: boolean, latencyMs: number, output: unknown) => Effect.Effect<void> | undefined) | undefined
    let shadow: Effect.Effect<void> | undefined
    if (routing === undefined) {
      version = entry.current
      reason = "promoted"
      arm = undefined
    } else {
      const decision = routing.router.route(options?.callerKey)
      version = routing.versions.get(decision.serve) ?? entry.current
      reason = decision.reason
      arm = decision.arm
      onEnd = observer(routing, decision.arm, options)
      if (decision.shadow !== undefined) shadow = shadowRun(entry, routing, decision.shadow, version, inputs)
    }
    const chain = entry.fallback
    const key = chain?.steps.includes("stale_cache") === true ? CanonicalJson.stringify(inputs) : undefined
    const memoKey = memoKeyOf(fiber, entry, inputs)
    if (memoKey !== undefined) {
      const tags = tagsOf(entry, version, arm, base)
      const answer = memo.get(tags, memoKey, memoNow(fiber), memoGeneration!(), deps.config.snapshot!())
      if (answer !== undefined) {
        return serveMemo(
          entry,
          routing,
          version,
          tags,
          reason,
          arm,
          inputs,
          key,
          answer,
          onEnd,
          shadow,
          executionId,
          id
        )
      }
    }
    const capture: Array<Memo.Captured> | undefined = memoKey === undefined ? undefined : []
    // The cache's generation and the configuration the run starts under: an answer is kept only if neither moved
    // before it ended (an invalidation landing mid-run could otherwise leave a stale answer remembered).
    const startedGeneration = memoKey === undefined ? 0 : memoGeneration!()
    const startedConfig = memoKey === undefined ? undefined : deps.config.snapshot!()
    const end =
      key === undefined
        ? onEnd
        : (ok: boolean, latencyMs: number, output: unknown) => {
            if (ok) remember(entry, key, output)
            return onEnd === undefined ? undefined : onEnd(ok, latencyMs, output)
          }
    const run = Effect.map(
      runVersion(entry, version, arm, inputs, true, end, capture),
      (output): Execution => ({
        executionId,
        moduleId: id,
        version: version.version,
        output,
        reason,
        arm,
        fallback: undefined,
        stale: false
      })
    )
    const chosen =
      routing !== undefined && routing.policy._tag === "Canary"
        ? Effect.ensuring(run, afterCanary(entry, routing))
        : run
    const withShadow = shadow === undefined ? chosen : Effect.zipRight(shadow, chosen)
    const served =
      chain === undefined
        ? withShadow
        : Effect.catchAll(withShadow, (error) =>
            final(error)
              ? Effect.fail(error)
              : fallBack(executionId, entry, chain, version, reason, arm, inputs, key, error)
          )
    const recorder = deps.recorder?.current
    const keep =
      memoKey === undefined || capture === undefined
        ? undefined
        : (execution: Execution, usage: LM.UsageTotals) => {
            // Only an answer the cache gave in full: running the program again would give it again.
            if (execution.fallback !== undefined || usage.calls === 0 || usage.cacheHits !== usage.calls) return
            if (usage.failures !== 0) return
            const config = deps.config.snapshot!()
            if (memoGeneration!() !== startedGeneration || config !== startedConfig) return
            const ttl = config.modules.cacheTtlMs
            const tags = tagsOf(entry, version, arm, base)
            memo.set(
              tags,
              memoKey,
              {
                output: execution.output,
                events: Memo.prepare(capture, tags.stamp),
                expiresAt: ttl === 0 ? 0 : memoNow(fiber) + ttl
              },
              config.modules.memoMaxEntries,
              startedGeneration,
              config
            )
          }
    const recorded =
      recorder === undefined && keep === undefined
        ? served
        : record(fiber, recorder, keep, served, executionId, id, version.version, inputs)
    return deps.drain.track(`module "${id}" execution`, Correlation.ensureCorrelationId(recorded))
  }

  const find = (id: string): Effect.Effect<Entry, ModuleNotFound> =>
    Effect.suspend(() => {
      const entry = store.entries.get(id)
      return entry === undefined ? Effect.fail(notFound(id)) : Effect.succeed(entry)
    })

  return {
    // The handles' types are the callers' (a handle is its id at run time).
    // A policy configured for the module (Config) runs as an experiment from its start.
    create: (spec) =>
      Effect.tap(call<ModuleInfo & never, MutationError>({ _tag: "Create", spec }), () =>
        PolicyExperiments.start(host, spec.id, undefined)
      ),
    register: (id, program, options) =>
      Effect.tap(
        call<ModuleInfo & never, MutationError>({ _tag: "Register", id, program, protection: options?.protection }),
        () => PolicyExperiments.start(host, id, undefined)
      ),
    execute: execute as Service["execute"],
    executeRemembered,
    swap: (id, patch) => landingChange(id, call<ModuleInfo, MutationError>({ _tag: "Swap", id, patch })),
    rollback: (id, toVersion, options) =>
      landingChange(
        id,
        call<ModuleInfo, MutationError>({ _tag: "Rollback", id, toVersion, ifVersion: options?.ifVersion })
      ),
    reload: (id) => landingChange(id, call<ReloadOutcome, MutationError>({ _tag: "Reload", id })),
    remove: (id) =>
      Effect.suspend(() => {
        const experiment = store.entries.get(id)?.routing?.experiment
        return Effect.zipRight(
          call<undefined, MutationError>({ _tag: "Remove", id }),
          PolicyExperiments.conclude(host, experiment, "the module was removed")
        )
      }),
    setPolicy: (id, policy, options) =>
      Effect.flatMap(
        call<PolicyStatus, MutationError | PolicyInvalid>({
          _tag: "SetPolicy",
          id,
          policy,
          source: "api",
          seed: options?.seed ?? 0
        }),
        (status) =>
          // A followed policy (another process's, cluster mode) runs as an experiment only where it was set.
          options?.follow === true
            ? Effect.succeed(status)
            : Effect.map(PolicyExperiments.start(host, id, options?.experiment), (experimentId) =>
                experimentId === undefined ? status : { ...status, experimentId }
              )
      ),
    clearPolicy: (id) =>
      Effect.suspend(() => {
        const experiment = store.entries.get(id)?.routing?.experiment
        return Effect.zipRight(
          call<undefined, MutationError>({ _tag: "ClearPolicy", id }),
          PolicyExperiments.conclude(host, experiment, "the traffic policy was cleared")
        )
      }),
    policy: (id) =>
      Effect.map(find(id), (entry) => (entry.routing === undefined ? undefined : statusOf(entry, entry.routing))),
    setFallback: (id, chain) => Effect.asVoid(call<undefined, MutationError>({ _tag: "SetFallback", id, chain })),
    describe: (id) => Effect.flatMap(find(id), describeEntry),
    list: Effect.suspend(() =>
      Effect.forEach(
        Array.from(store.entries.values()).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        describeEntry
      )
    ),
    history: (id) =>
      Effect.map(find(id), (entry) =>
        entry.versions.map((v) => ({
          version: v.version,
          createdAt: v.createdAt,
          reason: v.reason,
          current: v === entry.current,
          parent: v.lineage.parent,
          jobId: v.lineage.jobId
        }))
      ),
    program: (id, version) =>
      Effect.flatMap(find(id), (entry) => {
        if (version === undefined) return Effect.succeed(entry.current.program)
        const found = entry.versions.find((v) => v.version === version)
        return found === undefined
          ? Effect.fail(
              new ModuleVersionNotFound({
                moduleId: id,
                version,
                message: `Module "${id}" has no version ${version}; its versions are ${entry.versions.map((v) => v.version).join(", ")}.`
              })
            )
          : Effect.succeed(found.program)
      })
  }
}

/** A fresh, empty module table (owned by whoever outlives the actor: the application's layer). */
export const makeStore = (): ModuleStore => new ModuleStore()
