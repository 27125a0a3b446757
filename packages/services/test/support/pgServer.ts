/**
 * One throwaway PostgreSQL server per test file (see postgres.ts): started in `beforeAll`, stopped and removed in
 * `afterAll`; each test takes a fresh database on it (`database()`), so the tests of a file share the server's
 * start-up cost but no data.
 */
import { afterAll, beforeAll } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Postgres from "./postgres.js"

/** The binaries, or undefined (the file's PostgreSQL tests skip). */
export const binaries = Postgres.findPostgres()

/** Starts the file's server before its tests; `database()` gives a fresh database URL on it. */
export const shared = (): {
  readonly database: () => Effect.Effect<Redacted.Redacted<string>, Error>
  /** The server itself (to stop and start it). */
  readonly server: () => Postgres.PostgresServer
} => {
  let server: Postgres.PostgresServer | undefined
  let scope: Scope.CloseableScope | undefined
  let next = 0
  beforeAll(async () => {
    if (binaries === undefined) return
    scope = Effect.runSync(Scope.make())
    server = await Effect.runPromise(Scope.extend(Postgres.start(binaries), scope))
  }, 60_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 30_000)
  return {
    server: () => {
      if (server === undefined) throw new Error("the PostgreSQL server did not start")
      return server
    },
    database: () =>
      Effect.suspend(() =>
        server === undefined
          ? Effect.fail(new Error("the PostgreSQL server did not start"))
          : server.createDatabase(`t${process.pid}_${next++}`)
      )
  }
}
