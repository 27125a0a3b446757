import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import * as Events from "../src/Events.js"

describe("Events.listen and forEachEvent", () => {
  it.effect("listen queues the events of its types published while its scope is open, then stops", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const scope = yield* Scope.make()
      const queue = yield* Scope.extend(events.listen(["tick"]), scope)
      yield* events.publish({ type: "tick", data: { n: 1 } })
      yield* events.publish({ type: "other", data: { n: 2 } })
      yield* events.publish({ type: "tick", data: { n: 3 } })
      const got = yield* Queue.takeAll(queue)
      assert.deepStrictEqual(
        Array.from(got, (e) => e.data.n),
        [1, 3]
      )
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* Queue.isShutdown(queue))
      // Nobody listens any more: a publish is not queued anywhere (and does not fail).
      yield* events.publish({ type: "tick", data: { n: 4 } })
    })
  )

  it.scoped("forEachEvent folds every matching event in order, from the moment it returns, past a throwing fold", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      yield* events.publish({ type: "tick", data: { n: 0 } })
      const seen: Array<number> = []
      yield* Events.forEachEvent(events, ["tick", "boom"], (event) => {
        if (event.type === "boom") throw new Error("bad event")
        seen.push(event.data.n as number)
      })
      for (let n = 1; n <= 5; n++) {
        yield* events.publish({ type: "tick", data: { n } })
        if (n === 2) yield* events.publish({ type: "boom", data: {} })
        yield* events.publish({ type: "ignored", data: { n: -n } })
      }
      for (let i = 0; i < 5 && seen.length < 5; i++) yield* Effect.yieldNow()
      assert.deepStrictEqual(seen, [1, 2, 3, 4, 5])
    })
  )
})
