/**
 * One run of a job on this runner: claim it (a new epoch) and read its module's version from the release store in
 * the same statement, compile with the fenced checkpoints (resuming every unit an earlier run committed), then swap
 * by compare-and-swap on the version the job started from, ending the job in the same statement. A run taken over
 * by another (its epoch is stale) or cancelled stops at its next write, or at its swap, and changes nothing; a swap
 * is made once (a second one finds the job ended, the job's version already stored, or fails the compare-and-swap).
 */
import { Example, LM, Module } from "@effect-dspy/core"
import { Checkpoint, Optimizer } from "@effect-dspy/optimizers"
import { ClusterChannel, ModuleSpecs, type ModuleManager, type ReleaseStore } from "@effect-dspy/services"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Fenced from "./fencedCheckpoints.js"
import * as GroupCommit from "./groupCommit.js"
import * as Scoring from "./scoring.js"
import type { JobTable } from "./jobTable.js"
import type { WorkerPool } from "./workerPool.js"

/** What a run needs from its runner. */
export interface WorkerEnv {
  readonly runner: string
  /** The origin of the swap notices this runner sends (`SwapPropagation`). */
  readonly origin: string
  readonly table: JobTable
  readonly releases: ReleaseStore.Service
  readonly checkpoints: Checkpoint.Service
  readonly lm: LM.Service
  readonly optimizers: { readonly [name: string]: Optimizer.Optimizer }
  readonly metrics: { readonly [name: string]: Optimizer.Metric }
  readonly jobConcurrency: number
  /**
   * Records that this runner received a job that waits for a worker (`JobTable.accept`; the jobs received within a
   * millisecond in one statement: {@link receipts}).
   */
  readonly receive: (jobId: string) => Effect.Effect<void, string>
  /** The runner's job workers: a run holds one while it works. */
  readonly workers: WorkerPool
  /** Examples per evaluation shard sent to the runners (0: the job scores its evaluations itself). */
  readonly scoreShardSize: number
  /** How long a shard may take before the job scores it itself. */
  readonly scoreTimeoutMs: number
  /** Sends a shard to its entity (`ScoringEntity.EvaluationShard`). */
  readonly sendShard: Parameters<typeof Scoring.remote>[0]["send"]
}

/** The data a job stores: its examples in their saved form. */
export interface JobData {
  readonly trainset: ReadonlyArray<Example.ExampleJson>
  readonly valset?: ReadonlyArray<Example.ExampleJson>
}

const now = Effect.clockWith((clock) => clock.currentTimeMillis)

class Stop {
  constructor(
    readonly status: string,
    readonly error: string
  ) {}
}

/** The receipts of a runner, group-committed (a burst of jobs arriving together is recorded in one statement). */
export const receipts = (table: JobTable, runner: string): WorkerEnv["receive"] =>
  GroupCommit.make((ids: ReadonlyArray<string>) => Effect.flatMap(now, (at) => table.accept(ids, runner, at)), 1)

/** The version of the module this job's swap made, if one is stored (a swap is made once). */
const swappedBy = (env: WorkerEnv, moduleId: string, jobId: string) =>
  Effect.map(env.releases.load(moduleId), (stored) =>
    Option.flatMap(stored, (s) =>
      Option.map(Option.fromNullable(s.versions.find((v) => v.lineage.jobId === jobId)), (v) => v.version)
    )
  )

/**
 * Runs the job `jobId` on this runner (holding one of its workers); answers the status it ended in. A job that
 * has to wait for a worker is first recorded as received here (`WorkerEnv.receive`), so the watchdog counts its
 * wait as progress, not as a lost message.
 */
export const run = (env: WorkerEnv, jobId: string): Effect.Effect<string> =>
  Effect.flatMap(env.workers.withWorkerIfAvailable(runHeld(env, jobId)), (ran) =>
    Option.isSome(ran)
      ? Effect.succeed(ran.value)
      : Effect.zipRight(
          Effect.catchAll(env.receive(jobId), (reason) =>
            Effect.logWarning(`cluster job ${jobId}: could not record its receipt: ${reason}`)
          ),
          env.workers.withWorker(runHeld(env, jobId))
        )
  ).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.interrupt
        : Effect.as(Effect.logError(`cluster job ${jobId} could not run`, cause), "error")
    )
  )

/** One run, with a worker held. */
const runHeld = (env: WorkerEnv, jobId: string) =>
  Effect.gen(function* () {
    yield* Effect.logDebug(`cluster job ${jobId}: run starts on ${env.runner}`)
    // The claim reads the module's spec, base state and latest version in the same statement.
    const claim = yield* env.table.start(jobId, env.runner, yield* now)
    if (claim._tag === "Missing") return "missing"
    if (claim._tag === "Finished") return claim.row.status
    const row = claim.row
    // A first run has no earlier run's units to read back (its namespace holds none).
    const fenced = yield* Fenced.make(env.checkpoints, env.table, jobId, row.epoch, { empty: row.runs === 1 })
    const finish = (changes: {
      readonly status: string
      readonly swappedVersion?: number
      readonly score?: number
      readonly error?: string
    }) =>
      Effect.flatMap(now, (at) =>
        Effect.map(env.table.finish(jobId, row.epoch, { ...changes, resumedUnits: fenced.resumed(), at }), (written) =>
          written ? changes.status : "superseded"
        )
      )
    const outcome = yield* Effect.either(
      Effect.gen(function* () {
        const optimizer = env.optimizers[row.optimizer]
        if (optimizer === undefined)
          return yield* Effect.fail(new Stop("failed", `unknown optimizer "${row.optimizer}"`))
        const metric = env.metrics[row.metric]
        if (metric === undefined) return yield* Effect.fail(new Stop("failed", `unknown metric "${row.metric}"`))
        const release = claim.release
        if (release === undefined) {
          return yield* Effect.fail(new Stop("failed", `module "${row.moduleId}" is not in the release store`))
        }
        if (!release.baseState.found) {
          return yield* Effect.fail(
            new Stop("failed", `module "${row.moduleId}" has no version ${row.baseVersion} in the release store`)
          )
        }
        const skeleton = ModuleSpecs.programOf(release.spec as ModuleManager.ModuleSpec)
        if (Either.isLeft(skeleton)) return yield* Effect.fail(new Stop("failed", skeleton.left.message))
        const student = Module.loadState(skeleton.right, release.baseState.state)
        if (Either.isLeft(student)) return yield* Effect.fail(new Stop("failed", student.left.message))
        const data = JSON.parse(row.data) as JobData
        const examples = (set: ReadonlyArray<Example.ExampleJson>) => set.map((json) => Example.fromJSON(json))
        const compiled = yield* Optimizer.compile(optimizer, student.right, {
          trainset: examples(data.trainset),
          ...(data.valset === undefined ? {} : { valset: examples(data.valset) }),
          metric,
          seed: row.seed,
          runId: jobId,
          concurrency: env.jobConcurrency,
          ...(env.scoreShardSize > 0
            ? {
                remoteScoring: Scoring.remote({
                  jobId,
                  epoch: row.epoch,
                  spec: release.spec,
                  metric: row.metric,
                  shardSize: env.scoreShardSize,
                  timeoutMs: env.scoreTimeoutMs,
                  send: env.sendShard
                })
              }
            : {})
        }).pipe(
          Effect.provideService(Checkpoint.CheckpointStore, fenced.store),
          Effect.provideService(LM.LM, env.lm),
          Effect.mapError((e) =>
            fenced.superseded() ? new Stop("superseded", "") : new Stop("failed", Optimizer.describeError(e))
          )
        )
        const score = compiled.report.bestScore
        // Only an earlier run of this job can have swapped it (the first run skips the read): a run of an earlier
        // release, which swapped and ended the job in two statements, may have stopped between them.
        const already =
          row.runs > 1
            ? yield* Effect.mapError(swappedBy(env, row.moduleId, jobId), (e) => new Stop("failed", e.message))
            : Option.none<number>()
        if (Option.isSome(already)) return { ended: false, swappedVersion: already.value, score }
        const version = (release.latestVersion ?? row.baseVersion) + 1
        const at = yield* now
        // The swap ends the job in the same statement, fenced by the run's epoch: a run taken over by another (or
        // cancelled) swaps nothing.
        const swapped = yield* Effect.either(
          env.table.swap(
            jobId,
            row.epoch,
            {
              moduleId: row.moduleId,
              version,
              parent: row.baseVersion,
              state: JSON.stringify(Module.dumpState(compiled.program) ?? null),
              lineage: JSON.stringify({
                parent: row.baseVersion,
                reason: "optimization",
                jobId,
                optimizer: row.optimizer,
                scores: score === undefined ? null : { optimized: score }
              } satisfies ReleaseStore.Lineage)
            },
            {
              resumedUnits: fenced.resumed(),
              ...(score === undefined ? {} : { score }),
              at,
              channel: ClusterChannel.channel,
              notice: ClusterChannel.encode({
                kind: "release",
                moduleId: row.moduleId,
                revision: version,
                origin: env.origin
              })
            }
          )
        )
        if (Either.isRight(swapped)) {
          if (swapped.right === "swapped") return { ended: true, swappedVersion: version, score }
          if (swapped.right === "superseded") return yield* Effect.fail(new Stop("superseded", ""))
        }
        // Another run of this job may have won the compare-and-swap: then the swap is made (once).
        const after = yield* Effect.mapError(swappedBy(env, row.moduleId, jobId), (e) => new Stop("failed", e.message))
        if (Option.isSome(after)) return { ended: false, swappedVersion: after.value, score }
        return yield* Effect.fail(
          new Stop(
            "rejected",
            Either.isRight(swapped)
              ? `not swapped: module "${row.moduleId}" changed since version ${row.baseVersion} (the job's base); start a new job on the version serving now`
              : `not swapped: ${swapped.left}`
          )
        )
      })
    )
    if (Either.isRight(outcome)) {
      if (outcome.right.ended) return "swapped"
      return yield* finish({
        status: "swapped",
        swappedVersion: outcome.right.swappedVersion,
        ...(outcome.right.score === undefined ? {} : { score: outcome.right.score })
      })
    }
    const stop = outcome.left
    if (typeof stop === "string") return yield* finish({ status: "failed", error: stop })
    if (stop.status === "superseded") return "superseded"
    return yield* finish({ status: stop.status, error: stop.error })
  })
