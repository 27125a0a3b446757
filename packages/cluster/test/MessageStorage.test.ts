/**
 * The cluster's message storage on a throwaway PostgreSQL: a `Run` request read back from the storage answers its
 * final reply in one statement (no transaction), marking the request processed and storing the reply, which the
 * storage then reads back as the request's reply.
 */
import * as EntityAddress from "@effect/cluster/EntityAddress"
import * as EntityId from "@effect/cluster/EntityId"
import * as EntityType from "@effect/cluster/EntityType"
import * as Envelope from "@effect/cluster/Envelope"
import * as Message from "@effect/cluster/Message"
import * as Reply from "@effect/cluster/Reply"
import * as ShardId from "@effect/cluster/ShardId"
import * as Snowflake from "@effect/cluster/Snowflake"
import * as Headers from "@effect/platform/Headers"
import { Storage, TestPostgres as Postgres } from "@effect-dspy/services"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Run } from "../src/JobEntity.js"
import * as MessageStorage from "../src/internal/messageStorage.js"

const bins = Postgres.findPostgres()

/** The client, counting the transactions run through it (and through its `withoutTransforms` copies). */
const counting = (client: SqlClient.SqlClient, counter: { transactions: number }): SqlClient.SqlClient =>
  new Proxy(client, {
    get(target, property, receiver) {
      if (property === "withTransaction") {
        return <A, E, R>(effect: Effect.Effect<A, E, R>) => {
          counter.transactions++
          return target.withTransaction(effect)
        }
      }
      if (property === "withoutTransforms") return () => counting(target.withoutTransforms(), counter)
      return Reflect.get(target, property, receiver)
    }
  })

describe.skipIf(bins === undefined)("message storage (PostgreSQL)", () => {
  it.live(
    "answers a request read back in one statement: processed, its reply stored",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* Postgres.start(bins!)
          const url = yield* server.createDatabase("messages")
          const pg = yield* Layer.build(Storage.layerPostgresClient({ url }))
          const sql = Context.get(pg, SqlClient.SqlClient)
          const counter = { transactions: 0 }
          const storage = yield* MessageStorage.make.pipe(
            Effect.provideService(SqlClient.SqlClient, counting(sql, counter)),
            Effect.provide(Snowflake.layerGenerator)
          )
          const ids = yield* Snowflake.makeGenerator
          const requestId = ids.unsafeNext()
          const address = EntityAddress.make({
            shardId: ShardId.make("default", 1),
            entityType: EntityType.EntityType.make("OptimizationJob"),
            entityId: EntityId.make("job_1")
          })
          const request = new Message.OutgoingRequest<typeof Run>({
            envelope: Envelope.makeRequest<typeof Run>({
              requestId,
              address,
              tag: "Run",
              payload: { jobId: "job_1" },
              headers: Headers.empty
            }),
            lastReceivedReply: Option.none(),
            rpc: Run,
            context: Context.empty(),
            respond: () => Effect.void
          })
          yield* storage.saveRequest(request)
          const incoming = yield* storage.unprocessedMessages([address.shardId])
          assert.strictEqual(incoming.length, 1)
          const message = incoming[0]!
          assert.strictEqual(message._tag, "IncomingRequest")
          if (message._tag !== "IncomingRequest") return
          const before = counter.transactions
          const replyId = ids.unsafeNext()
          yield* message.respond(
            new Reply.ReplyWithContext<typeof Run>({
              reply: new Reply.WithExit<typeof Run>({ requestId, id: replyId, exit: Exit.succeed("swapped") }),
              context: Context.empty(),
              rpc: Run
            })
          )
          assert.strictEqual(counter.transactions - before, 0, "the reply is one statement, not a transaction")
          const rows = yield* sql<{ processed: boolean; last_reply_id: string }>`
            SELECT processed, last_reply_id::text AS last_reply_id FROM cluster_messages WHERE id = ${String(requestId)}`
          assert.deepStrictEqual(
            rows.map((r) => ({ processed: r.processed, lastReply: r.last_reply_id })),
            [{ processed: true, lastReply: String(replyId) }]
          )
          const replies = yield* storage.repliesFor([request])
          assert.strictEqual(replies.length, 1)
          const reply = replies[0]!
          assert.strictEqual(reply._tag, "WithExit")
          if (reply._tag === "WithExit") assert.deepStrictEqual(reply.exit, Exit.succeed("swapped"))
        })
      ),
    60_000
  )
})
