import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Events from "../src/Events.js"

describe("Events.publishSync", () => {
  it.scoped("the memory store appends and delivers at once, with the ids and time given", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const queue = yield* events.listen(["tick"])
      const publishSync = events.publishSync
      assert.isDefined(publishSync)
      const first = publishSync!({ type: "tick", data: { n: 1 }, correlationId: "req_1" }, 1_000)!
      const second = publishSync!({ type: "tick", data: { n: 2 }, correlationId: "req_1", parentId: first.id }, 1_001)!
      assert.strictEqual(first.timestamp, 1_000)
      assert.strictEqual(second.parentId, first.id)
      assert.isUndefined(publishSync!({ type: "", data: {} }, 1_002), "an input publish refuses is not recorded")
      const stored = yield* events.query({ correlationId: "req_1" })
      assert.deepStrictEqual(
        stored.map((e) => e.data.n),
        [1, 2]
      )
      const delivered = yield* Queue.takeAll(queue)
      assert.deepStrictEqual(
        Array.from(delivered, (e) => e.id),
        [first.id, second.id]
      )
    })
  )

  it.effect("a synchronous redaction applies to it; an effectful one leaves it out", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const redact = (input: Events.EventInput): Events.EventInput => ({ ...input, data: { secret: "[redacted]" } })
      const redacted = Events.withRedactionSync(events, redact)
      const event = redacted.publishSync!({ type: "note", data: { secret: "sk-123" } }, 5)!
      assert.strictEqual(event.data.secret, "[redacted]")
      const stored = yield* events.query({ types: ["note"] })
      assert.strictEqual(stored[0]!.data.secret, "[redacted]")
      assert.isUndefined(Events.withRedaction(events, (input) => Effect.succeed(redact(input))).publishSync)
    })
  )
})
