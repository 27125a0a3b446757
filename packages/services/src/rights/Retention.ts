/**
 * Retention: per tenant, how long its end users' data is kept. A supervised process ({@link childSpec}) erases,
 * on a Clock timer, what each tenant recorded before `now - maxAgeMs` (executions and their feedback, the events
 * of their requests, the workflow runs, the demos made from them) through `DataRights.erase`, each run with its
 * `data_erased` audit event (`reason: "retention"`). A failed run crashes the process, which its supervisor
 * restarts; the next tick erases what the failed one left.
 *
 * @example
 * ```ts
 * import { DataRights, Retention } from "@effect-dspy/services"
 * import { Supervisor } from "@effect-dspy/runtime"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const rights = yield* DataRights.DataRights
 *   yield* Supervisor.start({
 *     name: "retention",
 *     strategy: "one_for_one",
 *     children: [Retention.childSpec(rights, { policies: [{ tenant: "acme", maxAgeMs: 30 * 86_400_000 }] })]
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Actor, Supervisor } from "@effect-dspy/runtime"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as DataRights from "./DataRights.js"
import type { DataRightsIncomplete, DataRightsInvalid } from "./RightsError.js"

/**
 * A tenant's retention: its data older than `maxAgeMs` is erased.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  readonly tenant: string
  readonly maxAgeMs: number
}

/**
 * Settings of the process: the policies, and how often they are applied (Clock ms; default one hour).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly policies: ReadonlyArray<Policy>
  readonly intervalMs?: number
}

/**
 * Applies every policy once, now: the erasure report of each tenant.
 *
 * @since 0.1.0
 * @category constructors
 */
export const runOnce = (
  rights: DataRights.Service,
  policies: ReadonlyArray<Policy>
): Effect.Effect<ReadonlyArray<DataRights.Report>, DataRightsInvalid | DataRightsIncomplete> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.forEach(policies, (policy) =>
      rights.erase({ tenant: policy.tenant, before: now - policy.maxAgeMs }, { reason: "retention" })
    )
  )

/**
 * What the process answers: `Status` gives its {@link State}; `RunNow` applies the policies at once.
 *
 * @since 0.1.0
 * @category supervision
 */
export type Call = { readonly _tag: "Status" } | { readonly _tag: "RunNow" }

/**
 * The state of the process: its runs and the records they erased.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface State {
  readonly rights: DataRights.Service
  readonly options: Options
  readonly runs: number
  readonly erased: number
}

/**
 * The replies to {@link Call}.
 *
 * @since 0.1.0
 * @category supervision
 */
export type Reply = { readonly runs: number; readonly erased: number }

/**
 * The arguments of {@link actor}.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface Args {
  readonly rights: DataRights.Service
  readonly options: Options
}

const run = (state: State): Effect.Effect<State, DataRightsInvalid | DataRightsIncomplete> =>
  Effect.map(runOnce(state.rights, state.options.policies), (reports) => ({
    ...state,
    runs: state.runs + 1,
    erased: state.erased + reports.reduce((n, r) => n + r.total, 0)
  }))

/**
 * The retention process (OTP GenServer style): a `Sweep` on an `Actor.sendInterval` timer read through the
 * Clock applies the policies; a failure stops the process (its supervisor restarts it).
 *
 * @since 0.1.0
 * @category supervision
 */
export const actor: Actor.Definition<
  Args,
  State,
  Call,
  Reply,
  never,
  { readonly _tag: "Sweep" },
  DataRightsInvalid | DataRightsIncomplete,
  never
> = Actor.make<Args, State, Call, Reply, never, { readonly _tag: "Sweep" }, DataRightsInvalid | DataRightsIncomplete>({
  name: "retention",
  init: (args, self) =>
    Effect.gen(function* () {
      for (const p of args.options.policies)
        if (!(p.maxAgeMs > 0)) return yield* Effect.dieMessage(`Retention: maxAgeMs of "${p.tenant}" must be > 0`)
      yield* Actor.sendInterval(self, { _tag: "Sweep" }, Duration.millis(args.options.intervalMs ?? 3_600_000))
      return { rights: args.rights, options: args.options, runs: 0, erased: 0 }
    }),
  handleCall: (msg, state) =>
    msg._tag === "Status"
      ? Effect.succeed(Actor.reply<Reply, State>({ runs: state.runs, erased: state.erased }, state))
      : Effect.map(run(state), (next) => Actor.reply<Reply, State>({ runs: next.runs, erased: next.erased }, next)),
  handleInfo: (_msg, state) => run(state)
})

/**
 * The retention process's child spec for a supervision tree (id `retention`, a permanent worker).
 *
 * @since 0.1.0
 * @category supervision
 */
export const childSpec = (rights: DataRights.Service, options: Options): Supervisor.ChildSpec =>
  Supervisor.worker("retention", Actor.spawn(actor, { rights, options }))
