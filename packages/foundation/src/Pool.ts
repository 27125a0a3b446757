/**
 * A resource pool in the manner of poolboy: up to `size` resident resources plus up to `overflow` temporary
 * ones. Resources are made on demand by a scoped acquire effect (its finalizers release them). A returned
 * resident resource goes back to the idle list (or straight to the oldest waiter); a returned overflow
 * resource (one beyond `size`) is released. When every resource is out, a checkout waits in FIFO order at
 * most `checkoutTimeoutMs` (read through Effect's Clock) and then fails with {@link PoolTimeout}.
 *
 * A broken resource is `invalidate`d: released when returned (at once if idle), so the next checkout makes a
 * fresh one. `resize` replaces the settings live. Waiting is interruptible and leaks nothing. When the scope
 * that made the pool closes, idle resources are released, and resources still out are released when returned.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as ConfigSchema from "./ConfigSchema.js"
import { decodeSettings, type ProtectionSettingsInvalid } from "./internal/protection.js"
import { PoolTimeout } from "./FoundationError.js"

export {
  /**
   * Settings given to a protection do not match its schema.
   *
   * @since 0.1.0
   * @category errors
   */
  ProtectionSettingsInvalid
} from "./internal/protection.js"

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { PoolTimeout }

/**
 * What a pool holds now. `total` counts every resource made (or being made) and not yet released.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly total: number
  readonly idle: number
  readonly inUse: number
  readonly waiting: number
}

/**
 * A pool of resources of type `A`, whose making may fail with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pool<A, E = never> {
  readonly name: string
  /** Checks a resource out for the effect and returns it after, whatever the outcome. */
  readonly use: <B, E2, R>(f: (resource: A) => Effect.Effect<B, E2, R>) => Effect.Effect<B, E | E2 | PoolTimeout, R>
  /** Checks a resource out for the life of the current scope. */
  readonly get: Effect.Effect<A, E | PoolTimeout, Scope.Scope>
  /** Marks a resource broken: it is released when returned (at once if idle) and never handed out again. */
  readonly invalidate: (resource: A) => Effect.Effect<void>
  /** What the pool holds now. */
  readonly stats: Effect.Effect<Stats>
  /** The settings in force. */
  readonly settings: Effect.Effect<ConfigSchema.PoolSettings>
  /** Replaces the settings live: surplus idle resources are released, new capacity serves waiters at once. */
  readonly resize: (
    settings: typeof ConfigSchema.PoolSettings.Encoded
  ) => Effect.Effect<void, ProtectionSettingsInvalid>
}

interface Item<A> {
  readonly value: A
  readonly scope: Scope.CloseableScope
  invalid: boolean
}

/** What a waiter is handed: a resource, or the right to make one. */
type Grant<A> = { readonly _tag: "Item"; readonly item: Item<A> } | { readonly _tag: "Slot" }

const decode = decodeSettings(ConfigSchema.PoolSettings, "pool", "PoolSettings")

/**
 * Creates a pool whose resources are made by `acquire` (a scoped effect: its finalizers run when the resource
 * is released). Invalid settings fail with {@link ProtectionSettingsInvalid}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E, R>(
  name: string,
  settings: typeof ConfigSchema.PoolSettings.Encoded,
  acquire: Effect.Effect<A, E, R>
): Effect.Effect<Pool<A, E>, ProtectionSettingsInvalid, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function* () {
    let current = yield* decode(name, settings)
    const context = yield* Effect.context<Exclude<R, Scope.Scope>>()
    let total = 0
    let closed = false
    const idle: Array<Item<A>> = []
    const out = new Map<A, Item<A>>()
    const waiters: Array<Deferred.Deferred<Grant<A>>> = []

    const release = (item: Item<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        total--
        grantSlots()
        return Scope.close(item.scope, Exit.void)
      })

    /** Gives waiters the right to make a resource while there is capacity. */
    const grantSlots = () => {
      while (!closed && waiters.length > 0 && total < current.size + current.overflow) {
        total++
        Deferred.unsafeDone(waiters.shift()!, Effect.succeed<Grant<A>>({ _tag: "Slot" }))
      }
    }

    /** Makes a resource in a slot already counted in `total`; on failure the slot is given back. */
    const create: Effect.Effect<Item<A>, E> = Effect.uninterruptible(
      Effect.flatMap(Scope.make(), (scope) =>
        acquire.pipe(
          Scope.extend(scope),
          Effect.provide(context),
          Effect.map((value): Item<A> => ({ value, scope, invalid: false })),
          Effect.tapErrorCause((cause) =>
            Effect.zipRight(
              Scope.close(scope, Exit.failCause(cause)),
              Effect.sync(() => {
                total--
                grantSlots()
              })
            )
          )
        )
      )
    )

    /** Takes a granted resource or slot into use. */
    const take = (grant: Grant<A>): Effect.Effect<Item<A>, E> =>
      grant._tag === "Item" ? Effect.succeed(grant.item) : create

    /** Returns a resource: to a waiter, to the idle list, or released (broken, overflow, or pool closed). */
    const checkin = (item: Item<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        out.delete(item.value)
        if (item.invalid || closed || total > current.size) {
          if (!item.invalid && !closed && waiters.length > 0) {
            Deferred.unsafeDone(waiters.shift()!, Effect.succeed<Grant<A>>({ _tag: "Item", item }))
            return Effect.void
          }
          return release(item)
        }
        if (waiters.length > 0) {
          Deferred.unsafeDone(waiters.shift()!, Effect.succeed<Grant<A>>({ _tag: "Item", item }))
          return Effect.void
        }
        idle.push(item)
        return Effect.void
      })

    /** Gives back what a waiter was handed as its wait ended without it (timeout or interruption). */
    const giveBack = (grant: Grant<A>): Effect.Effect<void> =>
      grant._tag === "Item"
        ? checkin(grant.item)
        : Effect.sync(() => {
            total--
            grantSlots()
          })

    const timeout = () =>
      new PoolTimeout({
        name,
        timeoutMs: current.checkoutTimeoutMs,
        message: `Pool "${name}" had no free resource within ${current.checkoutTimeoutMs} ms (${current.size} resident + ${current.overflow} overflow, all in use); the call was not made. Retry later, or raise size, overflow or checkoutTimeoutMs.`
      })

    const wait: Effect.Effect<Grant<A>, PoolTimeout> = Effect.suspend(() => {
      const waiter = Deferred.unsafeMake<Grant<A>>(FiberId.none)
      waiters.push(waiter)
      const cleanup = Effect.suspend(() => {
        const index = waiters.indexOf(waiter)
        if (index >= 0) {
          waiters.splice(index, 1)
          return Effect.void
        }
        // Handed a grant just as the wait ended: give it back.
        return Effect.flatMap(Deferred.poll(waiter), (done) =>
          Option.isSome(done) ? Effect.flatMap(done.value, giveBack) : Effect.void
        )
      })
      return Deferred.await(waiter).pipe(
        Effect.onInterrupt(() => cleanup),
        Effect.timeoutFail({ duration: current.checkoutTimeoutMs, onTimeout: timeout })
      )
    })

    /**
     * Checks a resource out. Only the wait itself is interruptible: once a grant is in hand it is taken into
     * use (or given back) without a gap where an interruption could lose it.
     */
    const checkout: Effect.Effect<Item<A>, E | PoolTimeout> = Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<Item<A>, E | PoolTimeout> => {
        if (closed) return Effect.dieMessage(`Pool "${name}" is closed: its scope has ended.`)
        const item = idle.pop()
        if (item !== undefined) return Effect.succeed(item)
        if (total < current.size + current.overflow) {
          total++
          return create
        }
        return Effect.flatMap(restore(wait), take)
      }).pipe(Effect.tap((item) => Effect.sync(() => out.set(item.value, item))))
    )

    const use = <B, E2, R2>(f: (resource: A) => Effect.Effect<B, E2, R2>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(checkout), (item) => Effect.ensuring(restore(f(item.value)), checkin(item)))
      )

    const get: Effect.Effect<A, E | PoolTimeout, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(checkout), (item) =>
        Effect.as(
          Effect.addFinalizer(() => checkin(item)),
          item.value
        )
      )
    )

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const items = idle.splice(0, idle.length)
        return Effect.forEach(items, release, { discard: true })
      })
    )

    return {
      name,
      use,
      get,
      invalidate: (resource) =>
        Effect.suspend(() => {
          const inUse = out.get(resource)
          if (inUse !== undefined) {
            inUse.invalid = true
            return Effect.void
          }
          const index = idle.findIndex((item) => item.value === resource)
          if (index < 0) return Effect.void
          const [item] = idle.splice(index, 1)
          return release(item!)
        }),
      stats: Effect.sync(() => ({
        total,
        idle: idle.length,
        inUse: total - idle.length,
        waiting: waiters.length
      })),
      settings: Effect.sync(() => current),
      resize: (input) =>
        Effect.flatMap(decode(name, input), (next) =>
          Effect.suspend(() => {
            current = next
            const surplus: Array<Item<A>> = []
            while (total - surplus.length > current.size && idle.length > 0) surplus.push(idle.shift()!)
            grantSlots()
            return Effect.forEach(surplus, release, { discard: true })
          })
        )
    } satisfies Pool<A, E>
  })
