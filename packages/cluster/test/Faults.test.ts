/**
 * Cluster faults with real processes: 3 runners on a throwaway PostgreSQL, jobs on the simulated LM. A runner
 * killed (-9) mid-job: the job resumes on another runner from its checkpoints, ends once, swaps once. A runner
 * frozen (SIGSTOP) mid-job: its shards move, the job finishes elsewhere, and once continued (SIGCONT) the frozen
 * runner neither runs it again nor applies its stale work.
 */
import { ClusterJobs, Runner } from "@effect-dspy/cluster"
import { Example } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Database from "./support/database.js"
import * as Context from "effect/Context"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { TestPostgres as Postgres } from "@effect-dspy/services"
import { optimizers } from "./support/registry.js"
import * as Runners from "./support/runners.js"

const bins = Postgres.findPostgres()

const trainset = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) =>
    Example.make({ question: `What is ${i + offset} + ${i + 2}?`, answer: String(2 * i + offset + 2) }).withInputs(
      "question"
    )
  )

/** Polls `check` every 200 ms until it gives a value (bounded: a real process is waited for). */
const poll = <A>(
  what: string,
  timeoutMs: number,
  check: Effect.Effect<A | undefined, unknown>,
  onTimeout?: () => string
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const found = yield* check
      if (found !== undefined) return found
      yield* Effect.sleep("200 millis")
    }
    return yield* Effect.dieMessage(
      `timed out after ${timeoutMs} ms waiting for ${what}${onTimeout === undefined ? "" : `: ${onTimeout()}`}`
    )
  })

describe.skipIf(bins === undefined)("cluster faults (3 runner processes)", () => {
  it.live(
    "kill -9 and SIGSTOP a runner mid-job: resumed elsewhere from checkpoints, finished once, swapped once",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { pg, releases, url } = yield* Database.seeded(bins!, "cluster")
          const runners = yield* Effect.acquireRelease(
            Effect.promise(async () => {
              // The first runner creates the cluster's tables; the others join it.
              const first = await Runners.start(Redacted.value(url), { DSPY_LATENCY_MS: "150" })
              const others = await Promise.all(
                [1, 2].map(() => Runners.start(Redacted.value(url), { DSPY_LATENCY_MS: "150" }))
              )
              return [first, ...others]
            }),
            (started) => Effect.promise(() => Promise.all(started.map(Runners.kill)))
          )
          const byAddress = (address: string | undefined) => runners.find((r) => r.address === address)
          const client = yield* Layer.build(Runner.layerClient({ url, optimizers }))
          const jobs = Context.get(client, ClusterJobs.ClusterJobs)
          const versionsOf = (jobId: string) =>
            Effect.map(releases.load("qa"), (stored) =>
              Option.getOrThrow(stored).versions.filter((v) => v.lineage.jobId === jobId)
            )

          let last: ClusterJobs.Job | undefined
          let tables = ""
          const sql = Context.get(pg, SqlClient.SqlClient)
          const diagnose = () =>
            `${JSON.stringify(last)}\n${tables}\n${runners.map((r) => `--- ${r.address}\n${r.output().slice(-3000)}`).join("\n")}`
          const dump = Effect.gen(function* () {
            const messages = yield* sql`SELECT shard_id, entity_id, processed, last_read, tag FROM cluster_messages`
            const runnersRows = yield* sql`SELECT * FROM cluster_runners`
            const locks =
              yield* sql`SELECT address, count(*) AS n, max(acquired_at) AS at FROM cluster_locks GROUP BY address`
            tables = JSON.stringify({ messages, runnersRows, locks }, null, 1)
          }).pipe(Effect.orDie)
          const waitJob = (id: string, what: string, done: (job: ClusterJobs.Job) => boolean) =>
            poll(
              what,
              60_000,
              Effect.map(Effect.zipLeft(jobs.status(id), dump), (job) => {
                last = job
                return done(job) ? job : undefined
              }),
              diagnose
            )

          // 1. kill -9 the runner of a job mid-way.
          const size = 30
          const a = yield* jobs.submit({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(size, 1) })
          const midA = yield* waitJob(
            a.id,
            "job A to commit 5 units",
            (job) => job.units >= 5 && job.status === "running"
          )
          const killed = byAddress(midA.owner)
          assert.isDefined(killed, `job A's owner ${midA.owner} is one of the runners`)
          killed!.child.kill("SIGKILL")
          const doneA = yield* waitJob(a.id, "job A to end", (job) => ClusterJobs.isTerminal(job.status))
          assert.strictEqual(doneA.status, "swapped", doneA.error)
          assert.notStrictEqual(doneA.owner, killed!.address, "resumed on another runner")
          assert.strictEqual(doneA.runs, 2, "one run before the kill, one after")
          assert.isAtLeast(doneA.resumedUnits, 5, "the resumed run read back the units committed before the kill")
          assert.strictEqual(doneA.units, size, "no unit committed twice")
          const swapsA = yield* versionsOf(a.id)
          assert.strictEqual(swapsA.length, 1, "swapped once")
          assert.strictEqual(swapsA[0]!.version, doneA.swappedVersion)

          // 2. SIGSTOP the runner of the next job; continue it once the job has finished elsewhere.
          const b = yield* jobs.submit({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(size, 100) })
          const midB = yield* waitJob(
            b.id,
            "job B to commit 5 units",
            (job) => job.units >= 5 && job.status === "running"
          )
          const frozen = byAddress(midB.owner)
          assert.isDefined(frozen)
          frozen!.child.kill("SIGSTOP")
          const doneB = yield* waitJob(b.id, "job B to end on another runner", (job) =>
            ClusterJobs.isTerminal(job.status)
          )
          assert.strictEqual(doneB.status, "swapped", doneB.error)
          assert.notStrictEqual(doneB.owner, frozen!.address)
          frozen!.child.kill("SIGCONT")
          // The continued runner's fiber wakes mid-unit: give it time to try its stale write and its swap.
          yield* Effect.sleep("4 seconds")
          const afterB = yield* jobs.status(b.id)
          assert.strictEqual(afterB.status, "swapped")
          assert.strictEqual(afterB.runs, doneB.runs, "not run again")
          assert.strictEqual(afterB.swappedVersion, doneB.swappedVersion)
          assert.strictEqual(afterB.units, size, "the stale run committed nothing")
          const swapsB = yield* versionsOf(b.id)
          assert.strictEqual(swapsB.length, 1, "swapped once")
          const stored = Option.getOrThrow(yield* releases.load("qa"))
          assert.strictEqual(stored.module.promoted, doneB.swappedVersion)
        })
      ),
    180_000
  )
})
