/**
 * Group commit: the items submitted within `windowMs` of the first, and those submitted while a write is on its
 * way, go to the database together in the next write (one statement instead of one an item). Each submit returns
 * only once the write holding its item has ended, with that write's outcome, so an item is as durable as with a
 * statement of its own.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

/** Writes `item` with the others submitted at the same time; answers the outcome of the write that held it. */
export type Submit<I, O, E> = (item: I) => Effect.Effect<O, E>

/** A group commit over `write` (given the items of a batch in submission order). */
export const make = <I, O, E>(
  write: (batch: ReadonlyArray<I>) => Effect.Effect<O, E>,
  windowMs: number
): Submit<I, O, E> => {
  let pending: Array<{ readonly item: I; readonly done: Deferred.Deferred<O, E> }> = []
  let flushing = false
  const flush: Effect.Effect<void> = Effect.gen(function* () {
    // Let the items submitted within the window join the first write.
    yield* Effect.sleep(windowMs)
    while (pending.length > 0) {
      const batch = pending
      pending = []
      const outcome = yield* Effect.exit(write(batch.map((p) => p.item)))
      for (const p of batch) yield* Deferred.done(p.done, outcome)
    }
    flushing = false
  })
  return (item) =>
    Effect.flatMap(Deferred.make<O, E>(), (done) => {
      pending.push({ item, done })
      if (flushing) return Deferred.await(done)
      flushing = true
      return Effect.zipRight(Effect.forkDaemon(flush), Deferred.await(done))
    })
}
