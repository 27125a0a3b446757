/**
 * The cluster's notice channel: PostgreSQL `LISTEN/NOTIFY` on `dspy_cluster`. A process that changes a module's
 * promoted version or traffic policy publishes a notice after its write commits; every process listening gets it
 * within milliseconds. Notices are hints, not the truth: a listener applies what the database holds, so a notice
 * lost (sent while a listener was disconnected) is caught by the next reconciliation, and a stale one changes
 * nothing.
 *
 * The listener has a connection of its own (not the pool's): when it drops (the server restarted, the network
 * failed) the stream fails with `ClusterStoreError`, and the caller reconnects and reconciles.
 *
 * @example
 * ```ts
 * import { ClusterChannel } from "@effect-dspy/services"
 *
 * const notice = ClusterChannel.encode({ kind: "release", moduleId: "qa", revision: 4, origin: "runner-1" })
 * ClusterChannel.decode(notice) // the same notice back
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Pg from "pg"
import type { ClusterStoreError } from "../ServicesError.js"
import { storeError, typed } from "./internal/schema.js"

/**
 * The channel's name.
 *
 * @since 0.1.0
 * @category constants
 */
export const channel = "dspy_cluster"

/**
 * A notice: `release` (a module's promoted version changed to `revision`) or `policy` (its traffic policy changed;
 * `revision` counts the changes), and the process that made the change.
 *
 * @since 0.1.0
 * @category models
 */
export interface Notice {
  readonly kind: "release" | "policy"
  readonly moduleId: string
  readonly revision: number
  readonly origin: string
}

/** The notice as sent: with its format's version (`v`), so a newer format is recognised and skipped. */
const Wire = Schema.parseJson(
  Schema.Struct({
    v: Schema.Literal(1),
    kind: Schema.Literal("release", "policy"),
    moduleId: Schema.String,
    revision: Schema.Number,
    origin: Schema.String
  })
)

/**
 * The notice as the channel's payload (JSON, format version 1).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (notice: Notice): string => Schema.encodeSync(Wire)({ v: 1, ...notice })

/**
 * A payload read back, or undefined when it is not a notice of this format (another program's, or a newer one).
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (payload: string): Notice | undefined => {
  const decoded = Schema.decodeUnknownEither(Wire)(payload)
  if (Either.isLeft(decoded)) return undefined
  const { v: _, ...notice } = decoded.right
  return notice
}

/**
 * Publishes a notice (through the `SqlClient` in context; delivered once the statement commits).
 *
 * @since 0.1.0
 * @category publishing
 */
export const publish = (notice: Notice): Effect.Effect<void, ClusterStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    typed("notify")(Effect.asVoid(sql`SELECT pg_notify(${channel}, ${encode(notice)})`))
  )

/**
 * What a listener sees: `Connected` once it listens (after every reconnect: the time to reconcile), then notices.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = { readonly _tag: "Connected" } | { readonly _tag: "Notice"; readonly notice: Notice }

/**
 * Listens on its own connection to `url` until interrupted; fails with `ClusterStoreError` when the connection
 * cannot be made or drops (reconnecting is the caller's choice).
 *
 * @since 0.1.0
 * @category listening
 */
export const listen = (url: Redacted.Redacted<string>): Stream.Stream<Event, ClusterStoreError> =>
  Stream.asyncScoped<Event, ClusterStoreError>((emit) =>
    Effect.gen(function* () {
      const failed = storeError("listen")
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = new Pg.Client({
              connectionString: Redacted.value(url),
              connectionTimeoutMillis: 5_000,
              keepAlive: true,
              application_name: "effect-dspy-listener"
            })
            // An error before the handlers below are set must not crash the process.
            client.on("error", () => {})
            try {
              await client.connect()
            } catch (error) {
              await client.end().catch(() => undefined)
              throw error
            }
            return client
          },
          catch: (error) => failed(error instanceof Error ? error.message : String(error))
        }),
        (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("1 second"))
      )
      client.on("notification", (message) => {
        if (message.channel !== channel || message.payload === undefined) return
        const notice = decode(message.payload)
        if (notice !== undefined) void emit.single({ _tag: "Notice", notice })
      })
      client.on("error", (error) => void emit.fail(failed(error.message)))
      client.on("end", () => void emit.fail(failed("the listening connection closed")))
      yield* Effect.tryPromise({
        try: () => client.query(`LISTEN ${channel}`),
        catch: (error) => failed(error instanceof Error ? error.message : String(error))
      })
      void emit.single({ _tag: "Connected" })
    })
  )
