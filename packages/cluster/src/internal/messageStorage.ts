/**
 * The cluster's message storage: `@effect/cluster`'s `SqlMessageStorage` (its tables, migrations and queries), with
 * a request's final reply saved in one statement. The stock storage saves it in a transaction of four round trips
 * (`BEGIN`, the request marked processed, the reply inserted, `COMMIT`); every job's `Run` ends with one, so it was
 * about a third of the statements a job cost its runner. Here a data-modifying `WITH` marks the request processed
 * and inserts the reply in one statement, which PostgreSQL commits as one (all or nothing, as the transaction
 * was). Chunk replies (streams; no entity of ours sends them) keep the stock path.
 *
 * The messages the storage reads back answer through the storage's `saveReply` (their `respond`): they are rebound
 * to this one. Reply handlers (a local sender waiting for a reply) are the stock `MessageStorage.make`'s.
 */
import { PersistenceError } from "@effect/cluster/ClusterError"
import * as Message from "@effect/cluster/Message"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as Reply from "@effect/cluster/Reply"
import * as Snowflake from "@effect/cluster/Snowflake"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import type * as Rpc from "@effect/rpc/Rpc"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The stock storage's table prefix (`cluster_messages`, `cluster_replies`). */
const prefix = "cluster"

/** The storage over the `SqlClient` in context (PostgreSQL). */
export const make: Effect.Effect<
  MessageStorage.MessageStorage["Type"],
  never,
  SqlClient.SqlClient | Snowflake.Generator
> = Effect.gen(function* () {
  const stock = yield* SqlMessageStorage.make({ prefix })
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const messages = sql(`${prefix}_messages`)
  const replies = sql(`${prefix}_replies`)
  // The request marked processed (its last reply this one) and the reply stored: one statement, one commit.
  const saveExit = (reply: Reply.ReplyWithContext<Rpc.Any>) =>
    Effect.flatMap(Reply.serialize(reply), (encoded) =>
      encoded._tag === "WithExit"
        ? sql`WITH processed AS (
              UPDATE ${messages} SET processed = TRUE, last_reply_id = ${encoded.id}
              WHERE request_id = ${encoded.requestId} RETURNING id
            )
            INSERT INTO ${replies} (id, kind, request_id, payload, sequence)
            VALUES (${encoded.id}, 0, ${encoded.requestId}, ${JSON.stringify(encoded.exit)}, NULL)`.pipe(
            Effect.asVoid,
            PersistenceError.refail,
            Effect.withTracerEnabled(false)
          )
        : stock.saveReply(reply)
    )
  let storage: MessageStorage.MessageStorage["Type"] | undefined
  const respond = (reply: Reply.ReplyWithContext<Rpc.Any>) => storage!.saveReply(reply)
  // Requests read back from the storage answer through this storage's saveReply.
  const rebind = <R extends Rpc.Any>(incoming: Array<Message.Incoming<R>>): Array<Message.Incoming<R>> =>
    incoming.map((message) =>
      message._tag === "IncomingRequest"
        ? new Message.IncomingRequest<R>({
            envelope: message.envelope,
            lastSentReply: message.lastSentReply,
            respond
          })
        : message
    )
  storage = yield* MessageStorage.make({
    saveRequest: stock.saveRequest,
    saveEnvelope: stock.saveEnvelope,
    saveReply: (reply) => (reply.reply._tag === "WithExit" ? saveExit(reply) : stock.saveReply(reply)),
    clearReplies: stock.clearReplies,
    repliesFor: stock.repliesFor,
    repliesForUnfiltered: stock.repliesForUnfiltered,
    requestIdForPrimaryKey: stock.requestIdForPrimaryKey,
    unprocessedMessages: (shardIds) => Effect.map(stock.unprocessedMessages(shardIds), rebind),
    unprocessedMessagesById: (ids) => Effect.map(stock.unprocessedMessagesById(ids), rebind),
    resetAddress: stock.resetAddress,
    clearAddress: stock.clearAddress,
    resetShards: stock.resetShards
  })
  return storage
})

/** The storage as a layer over the `SqlClient` in context. */
export const layer: Layer.Layer<MessageStorage.MessageStorage, never, SqlClient.SqlClient> = Layer.effect(
  MessageStorage.MessageStorage,
  make
).pipe(Layer.provide(Snowflake.layerGenerator))
