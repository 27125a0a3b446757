/**
 * Fiber-local values for the length of an effect: what `Effect.locally` and `Effect.locallyWith` do, in a few
 * runtime steps instead of some thirty. `Effect.locally` is an `acquireUseRelease` (a read, a write, an exit
 * value, a release effect and their continuations); these set the fiber reference directly on the running fiber,
 * run the effect interruptibly inside an uninterruptible region, and put the previous value back when it ends
 * (success, failure or interruption). The request path sets several such values (the correlation id, the parent
 * event, the tenant, the privacy policy's module names) on every execution.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"

/**
 * The running fiber's own setter: Effect 3's `FiberRuntime` has it (it is what `FiberRef.set` calls), its public
 * `RuntimeFiber` type does not. Checked once; without it, these fall back to Effect's combinators.
 */
interface Settable {
  setFiberRef<X>(ref: FiberRef.FiberRef<X>, value: X): void
}

let direct: boolean | undefined

const settable = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Settable | undefined => {
  if (direct === undefined) direct = typeof (fiber as unknown as Partial<Settable>).setFiberRef === "function"
  return direct ? (fiber as unknown as Settable) : undefined
}

/**
 * Runs `self` with `ref` set to `value`; the previous value is back when `self` ends, however it ends.
 *
 * @since 0.1.0
 * @category combinators
 */
export const locally = <A, E, R, V>(self: Effect.Effect<A, E, R>, ref: FiberRef.FiberRef<V>, value: V) =>
  locallyWith(self, ref, () => value)

/**
 * Runs `self` with `ref` set to `f` of its current value; the previous value is back when `self` ends, however it
 * ends.
 *
 * @since 0.1.0
 * @category combinators
 */
export const locallyWith = <A, E, R, V>(
  self: Effect.Effect<A, E, R>,
  ref: FiberRef.FiberRef<V>,
  f: (current: V) => V
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E, R>((runtimeFiber) => {
      const fiber = settable(runtimeFiber as Fiber.RuntimeFiber<unknown, unknown>)
      if (fiber === undefined) return Effect.locallyWith(restore(self), ref, f)
      const previous = runtimeFiber.getFiberRef(ref)
      fiber.setFiberRef(ref, f(previous))
      return Effect.matchCauseEffect(restore(self), {
        onFailure: (cause) => {
          fiber.setFiberRef(ref, previous)
          return Effect.failCause(cause)
        },
        onSuccess: (value) => {
          fiber.setFiberRef(ref, previous)
          return Effect.succeed(value)
        }
      })
    })
  )

/**
 * Runs `self` with `context` as its whole context: `Effect.provideContext` (itself an `Effect.locally` of the
 * context's fiber reference), in a few steps.
 *
 * @since 0.1.0
 * @category combinators
 */
export const provideContext = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  context: Context.Context<R>
): Effect.Effect<A, E> =>
  locally(self, FiberRef.currentContext, context as Context.Context<never>) as Effect.Effect<A, E>

/**
 * Runs `self` with `service` added to its context under `tag`: `Effect.provideService`, in a few steps.
 *
 * @since 0.1.0
 * @category combinators
 */
export const provideService = <A, E, R, I, S>(
  self: Effect.Effect<A, E, R>,
  tag: Context.Tag<I, S>,
  service: NoInfer<S>
): Effect.Effect<A, E, Exclude<R, I>> =>
  locallyWith(self, FiberRef.currentContext, (context) => Context.add(context, tag, service)) as Effect.Effect<
    A,
    E,
    Exclude<R, I>
  >
