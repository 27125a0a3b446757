/**
 * The dispatcher: the one process that decides which queued jobs start when (`optimization_coordinator` in the
 * application's tree). The coordinator installs its `pump` (fill free workers from the queue) in a slot made
 * before the tree; the process records itself there when it starts. Its state is the coordinator's, not its
 * own, so a restarted process catches up at once (its `init` fills free workers).
 */
import { Actor, type RuntimeError } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The dispatcher's call: fill free workers, answering when done. */
export type DispatcherCall = { readonly _tag: "Dispatch" }

/** The dispatcher's cast: fill free workers, no answer. */
export type DispatcherCast = { readonly _tag: "Wake" }

/** Where the dispatcher process and the coordinator meet. */
export interface Dispatcher {
  pump: Effect.Effect<void> | undefined
  ref: Actor.ActorRef<DispatcherCall, void, DispatcherCast> | undefined
}

/** An empty dispatcher slot (no coordinator, no process yet). */
export const makeDispatcher = (): Dispatcher => ({ pump: undefined, ref: undefined })

// A pump started is finished: a kill in the middle must not leave a job launched without its worker.
const pumpOf = (dispatcher: Dispatcher): Effect.Effect<void> =>
  dispatcher.pump === undefined ? Effect.void : Effect.uninterruptible(dispatcher.pump)

/** The dispatcher process: fills free workers when asked, and once when it starts (catching up after a restart). */
export const dispatcherActor = Actor.make({
  name: "optimization_coordinator",
  init: (dispatcher: Dispatcher, self: Actor.ActorRef<DispatcherCall, void, DispatcherCast>) =>
    Effect.suspend(() => {
      dispatcher.ref = self
      return Effect.as(pumpOf(dispatcher), dispatcher)
    }),
  handleCall: (_msg: DispatcherCall, dispatcher: Dispatcher) =>
    Effect.as(pumpOf(dispatcher), Actor.reply<void, Dispatcher>(undefined, dispatcher)),
  handleCast: (_msg: DispatcherCast, dispatcher: Dispatcher) => Effect.as(pumpOf(dispatcher), dispatcher)
})

/** Spawns the dispatcher process over a slot (a supervisor's child start). */
export const startDispatcher = (
  dispatcher: Dispatcher
): Effect.Effect<Actor.ActorRef<DispatcherCall, void, DispatcherCast>, RuntimeError.InvalidOptions> =>
  Actor.spawn(dispatcherActor, dispatcher)

const liveRef = (dispatcher: Dispatcher) => {
  const ref = dispatcher.ref
  return ref !== undefined && ref.unsafeExitReason() === undefined ? ref : undefined
}

/**
 * Installs `pump` in the slot (for as long as the current scope) and answers the two ways of asking for it:
 * `wake` (a cast, no wait) and `dispatch` (a call, waiting until workers are filled). While the process is
 * down (restarting), a fiber in `jobScope` (for `wake`) or the caller (for `dispatch`) pumps instead: never a
 * wait for a restart.
 */
export const connect = (
  dispatcher: Dispatcher,
  pump: Effect.Effect<void>,
  jobScope: Scope.Scope,
  closing: () => boolean
): Effect.Effect<{ readonly wake: Effect.Effect<void>; readonly dispatch: Effect.Effect<void> }, never, Scope.Scope> =>
  Effect.gen(function* () {
    dispatcher.pump = pump
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (dispatcher.pump === pump) dispatcher.pump = undefined
      })
    )
    const wake: Effect.Effect<void> = Effect.suspend(() => {
      const ref = liveRef(dispatcher)
      return ref === undefined
        ? Effect.asVoid(Effect.forkIn(pump, jobScope))
        : Effect.orDie(Actor.cast(ref, { _tag: "Wake" }))
    })
    const dispatch: Effect.Effect<void> = Effect.suspend(() => {
      if (closing()) return Effect.void
      const ref = liveRef(dispatcher)
      return ref === undefined ? pump : Effect.catchAll(Actor.call(ref, { _tag: "Dispatch" }, "30 seconds"), () => pump)
    })
    return { wake, dispatch }
  })
