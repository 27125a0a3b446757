/**
 * The cluster tests' database: a throwaway PostgreSQL server (removed with the scope), one database on it, and
 * the module `qa` (`question -> answer`, version 1 promoted) stored under each given id.
 */
import { Module } from "@effect-dspy/core"
import { ModuleSpecs, ReleaseStore, Storage, TestPostgres as Postgres } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

/** The module spec every cluster test optimizes. */
export const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

/** Starts the server, makes the database `name` and stores the module under each of `moduleIds`. */
export const seeded = (bins: Postgres.Binaries, name: string, moduleIds: ReadonlyArray<string> = ["qa"]) =>
  Effect.gen(function* () {
    const server = yield* Postgres.start(bins)
    const url = yield* server.createDatabase(name)
    const pg = yield* Layer.build(Storage.layerPostgresClient({ url }))
    const releases = yield* Effect.provide(ReleaseStore.makePostgres, pg)
    const program = Either.getOrThrow(ModuleSpecs.programOf(spec))
    for (const moduleId of moduleIds) {
      yield* releases.create(
        { moduleId, shape: "qa", spec, promoted: 1, createdAt: 0, updatedAt: 0 },
        {
          moduleId,
          version: 1,
          state: Module.dumpState(program),
          lineage: { parent: null, reason: "created", jobId: null, optimizer: null, scores: null },
          createdAt: 0
        }
      )
    }
    return { url, pg, releases, program }
  })
