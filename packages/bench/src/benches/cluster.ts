/**
 * Cluster mode (`@effect-dspy/cluster`): runner processes on a throwaway PostgreSQL (started here, removed after),
 * sharing latency-bound optimization jobs on the simulated LM (50 ms a call; each runner 2 job workers and 8
 * concurrent LM calls; a job is BootstrapFewShot's teacher on each of its 12 examples, 4 at a time, one
 * checkpointed unit each, then its swap by compare-and-swap; one module per job).
 *
 * 1. `jobs_per_min_1_runner` / `jobs_per_min_3_runners`: jobs finished a minute, from the first submit to the last
 *    job's end, with 1 runner (`JOBS_PER_RUNNER` jobs) and with 3 (three times as many; the jobs spread over the
 *    runners by their shard). `scaling` is their ratio (target >= 2.5). `cpu_per_runner_*`: each runner's CPU time
 *    over the run, as a percentage of one core (from /proc), the mean over the runners; `cpu_ms_per_job_*`: the
 *    runners' CPU time over the run a job (less sensitive to a busy machine); `cpu_idle_per_runner`: a runner's CPU
 *    at rest (polling, heartbeats, health pings), over 3 s before the window. `pg_cpu_ms_per_job_*`: the PostgreSQL
 *    server's CPU time over the run a job (its postmaster and backends, from /proc), `pg_cpu_idle` the server's at
 *    rest; `bench_cpu_ms_per_job_*`: this process's (the client submitting the jobs and polling for their end). All
 *    of them share the machine's cores with the runners. Each runner first runs 4 warm-up jobs
 *    (not measured), so the JIT has compiled the job path as in a long-lived runner. `watchdog_resends`: jobs that
 *    ran only after the watchdog sent them again (their message was not delivered; target 0).
 * 2. `failover_resume_s`: a runner killed (-9) mid-job -> the job committing units again on another runner
 *    (target <= 10 s; the shard lock expiry is 4 s, health pings 1 s).
 *
 * `JOBS_PER_RUNNER=10 pnpm bench cluster` for a quick look (default 30). Needs the PostgreSQL server binaries
 * (Debian: `apt-get install -y postgresql`); prints nothing when they are missing. Profiling: with
 * `CLUSTER_CPU_PROF_DIR=<dir>` each runner writes a CPU profile of the measured window there
 * (`runner-<pid>.cpuprofile`; starting the profiler costs about a second of CPU, so the CPU figures of such a run
 * are not comparable); `CLUSTER_ONE_ONLY=1` stops after the 1-runner run; `CLUSTER_SQL_STATS=1` prints the window's
 * statements by calls (it needs `pg_stat_statements` preloaded: `EFFECT_DSPY_PG_BIN` pointing at a bin directory
 * whose `postgres` adds `-c shared_preload_libraries=pg_stat_statements`).
 */
import { ClusterJobs, Runner } from "@effect-dspy/cluster"
import { Example, Module } from "@effect-dspy/core"
import { BootstrapFewShot } from "@effect-dspy/optimizers"
import { ModuleSpecs, ReleaseStore, Storage } from "@effect-dspy/services"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { type Bench, round } from "../Harness.js"
import { TestPostgres as Postgres } from "@effect-dspy/services"

const JOBS_PER_RUNNER = Number(process.env.JOBS_PER_RUNNER ?? 30)
/** Jobs a runner runs before the measured window (JIT warm-up). */
const WARMUP_PER_RUNNER = 4
const EXAMPLES = 12
const script = path.join(import.meta.dirname, "cluster", "runner.ts")
const optimizers = {
  bootstrap_all: BootstrapFewShot.make({
    maxBootstrappedDemos: 1000,
    maxLabeledDemos: 0,
    maxRounds: 1,
    maxErrors: 1000
  })
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

interface RunnerProcess {
  readonly address: string
  readonly child: childProcess.ChildProcess
}

const startRunner = async (url: string, env: { readonly [name: string]: string } = {}): Promise<RunnerProcess> => {
  const port = await freePort()
  const child = childProcess.spawn(process.execPath, ["--conditions=@effect-dspy/source", "--import", "tsx", script], {
    env: { ...process.env, DSPY_PG_URL: url, DSPY_RUNNER_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000)
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner ${port} not ready in 120 s: ${output}`)), 120_000)
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`runner ${port} exited (${code ?? signal}): ${output}`))
    })
  })
  return { address: `127.0.0.1:${port}`, child }
}

const stopRunner = (runner: RunnerProcess): Promise<void> =>
  new Promise((resolve) => {
    if (runner.child.exitCode !== null || runner.child.signalCode !== null) return resolve()
    runner.child.once("exit", () => resolve())
    if (process.env.CLUSTER_CPU_PROF_DIR === undefined) return runner.child.kill("SIGKILL")
    // Profiling: a clean exit writes the profile (a kill -9 would lose it).
    runner.child.kill("SIGTERM")
    setTimeout(() => runner.child.kill("SIGKILL"), 15_000).unref()
  })

/** A process's CPU time in seconds (user + system, from /proc; 0 where there is no /proc). */
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** The CPU seconds of the PostgreSQL server on `port`: its postmaster and every process it started (from /proc). */
const postgresCpuSeconds = (port: number): number => {
  try {
    const procs = fs
      .readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .flatMap((pid) => {
        try {
          const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
          const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ")
          return [{ pid: Number(pid), ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / 100 }]
        } catch {
          return []
        }
      })
    const postmaster = procs.find((p) => {
      try {
        const argv = fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0")
        return argv.some((a) => a.endsWith("postgres")) && argv.includes("-p") && argv.includes(String(port))
      } catch {
        return false
      }
    })
    if (postmaster === undefined) return 0
    return procs.filter((p) => p.pid === postmaster.pid || p.ppid === postmaster.pid).reduce((a, p) => a + p.cpu, 0)
  } catch {
    return 0
  }
}

const trainset = (offset: number) =>
  Array.from({ length: EXAMPLES }, (_, i) =>
    Example.make({ question: `What is ${offset + i} + ${i + 3}?`, answer: String(offset + 2 * i + 3) }).withInputs(
      "question"
    )
  )

const spec = (id: string) => ({ id, kind: "predict", signature: "question -> answer" }) as const

/** Polls until `check` gives a value (bounded). */
const poll = async <A>(what: string, timeoutMs: number, check: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = await check()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`cluster bench: timed out waiting for ${what}`)
}

const bench: Bench = {
  name: "cluster",
  description:
    "Cluster mode on PostgreSQL: latency-bound optimization jobs a minute on 1 and 3 runner processes (scaling), and the failover time after kill -9",
  run: async (report) => {
    const bins = Postgres.findPostgres()
    if (bins === undefined) return
    const scope = Effect.runSync(Scope.make())
    const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Scope.extend(effect, scope))
    const runners: Array<RunnerProcess> = []
    try {
      const server = await run(Postgres.start(bins))
      let moduleCount = 0

      /** A fresh database with `modules` modules, and a client of the cluster on it. */
      const setup = async (name: string, modules: number) => {
        const url = await run(server.createDatabase(name))
        const pg = await run(Layer.build(Storage.layerPostgresClient({ url })))
        const releases = await Effect.runPromise(Effect.provide(ReleaseStore.makePostgres, pg))
        const ids: Array<string> = []
        for (let i = 0; i < modules; i++) {
          const id = `m${moduleCount++}`
          const program = Either.getOrThrow(ModuleSpecs.programOf(spec(id)))
          await Effect.runPromise(
            releases.create(
              { moduleId: id, shape: id, spec: spec(id), promoted: 1, createdAt: 0, updatedAt: 0 },
              {
                moduleId: id,
                version: 1,
                state: Module.dumpState(program),
                lineage: { parent: null, reason: "created", jobId: null, optimizer: null, scores: null },
                createdAt: 0
              }
            )
          )
          ids.push(id)
        }
        return { url, ids, sql: Context.get(pg, SqlClient.SqlClient) }
      }

      /** Waits (bounded) until `count` runners hold fresh shard locks: the shards have settled after the joins. */
      const settled = (sql: SqlClient.SqlClient, count: number) =>
        poll(`${count} runners holding shards`, 60_000, async () => {
          const rows = await Effect.runPromise(
            sql<{ n: unknown }>`SELECT COUNT(DISTINCT address) AS n FROM cluster_locks
              WHERE acquired_at > NOW() - INTERVAL '3 seconds'`.pipe(Effect.orDie)
          )
          return Number(rows[0]?.n ?? 0) === count ? true : undefined
        })

      /** How many jobs have ended (one count, not every job's row). */
      const finishedCount = async (sql: SqlClient.SqlClient): Promise<number> => {
        const rows = await Effect.runPromise(
          sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM dspy_cluster_jobs
            WHERE status IN ${sql.in(ClusterJobs.terminalStatuses)}`.pipe(Effect.orDie)
        )
        return Number(rows[0]?.n ?? 0)
      }

      /** Diagnostics (`CLUSTER_SQL_STATS=1`): the statements of the window by calls, on stderr. */
      const sqlStats = async (sql: SqlClient.SqlClient, action: "reset" | "print") => {
        const effect =
          action === "reset"
            ? Effect.zipRight(
                sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`,
                sql`SELECT pg_stat_statements_reset()`
              )
            : Effect.map(
                sql<{ calls: unknown; ms: unknown; query: string }>`SELECT calls, total_exec_time AS ms, query
                  FROM pg_stat_statements ORDER BY calls DESC LIMIT 40`,
                (rows) => {
                  for (const r of rows) {
                    process.stderr.write(
                      `${String(r.calls).padStart(7)} ${Number(r.ms).toFixed(0).padStart(6)} ms  ${r.query.replace(/\s+/g, " ").slice(0, 160)}\n`
                    )
                  }
                }
              )
        await Effect.runPromise(
          Effect.catchAll(effect, (e) => Effect.sync(() => process.stderr.write(`cluster bench: sql stats: ${e}\n`)))
        )
      }

      const throughput = async (count: number) => {
        const {
          ids: allIds,
          sql,
          url
        } = await setup(`throughput_${count}`, count * (JOBS_PER_RUNNER + WARMUP_PER_RUNNER))
        const warmupIds = allIds.slice(0, count * WARMUP_PER_RUNNER)
        const ids = allIds.slice(count * WARMUP_PER_RUNNER)
        // The first runner creates the cluster's tables; the others join it.
        const first = await startRunner(Redacted.value(url), { DSPY_LATENCY_MS: "50" })
        const started = [
          first,
          ...(await Promise.all(
            Array.from({ length: count - 1 }, () => startRunner(Redacted.value(url), { DSPY_LATENCY_MS: "50" }))
          ))
        ]
        runners.push(...started)
        await settled(sql, count)
        // A moment more for the last shards handed over between the runners.
        await new Promise((resolve) => setTimeout(resolve, 2000))
        const client = await run(Layer.build(Runner.layerClient({ url, optimizers })))
        const jobs = Context.get(client, ClusterJobs.ClusterJobs)
        // Warm-up jobs (not measured): the runners' code compiled by the JIT before the window, as in a long-lived
        // runner; they spread over the runners by their shards like the measured ones.
        const warmups = await Effect.runPromise(
          Effect.forEach(
            warmupIds,
            (moduleId, i) =>
              Effect.map(
                jobs.submit({ moduleId, optimizer: "bootstrap_all", trainset: trainset(500_000 + 1000 * i) }),
                (job) => job.id
              ),
            { concurrency: 16 }
          )
        )
        await poll(`${warmups.length} warm-up jobs`, 300_000, async () =>
          (await finishedCount(sql)) === warmups.length ? true : undefined
        )
        // The runners' CPU at rest (their polling, heartbeats, health pings), over 3 s.
        const idleBefore = started.map((r) => cpuSeconds(r.child.pid))
        const pgIdleBefore = postgresCpuSeconds(server.port)
        await new Promise((resolve) => setTimeout(resolve, 3000))
        const idle = started.map((r, i) => ((cpuSeconds(r.child.pid) - idleBefore[i]!) / 3) * 100)
        const pgIdle = ((postgresCpuSeconds(server.port) - pgIdleBefore) / 3) * 100
        if (process.env.CLUSTER_SQL_STATS !== undefined) await sqlStats(sql, "reset")
        const cpuBefore = started.map((r) => cpuSeconds(r.child.pid))
        const pgBefore = postgresCpuSeconds(server.port)
        const benchBefore = process.cpuUsage()
        // Profiling (`CLUSTER_CPU_PROF_DIR`): the runners profile the measured window only.
        if (process.env.CLUSTER_CPU_PROF_DIR !== undefined) for (const r of started) r.child.kill("SIGUSR2")
        const t0 = performance.now()
        // Submitted concurrently: what is measured is the runners' throughput, not one client's round trips.
        const submitStarted = performance.now()
        const submitted = await Effect.runPromise(
          Effect.forEach(
            ids,
            (moduleId, i) =>
              Effect.map(
                jobs.submit({ moduleId, optimizer: "bootstrap_all", trainset: trainset(1000 * i) }),
                (job) => job.id
              ),
            { concurrency: 16 }
          )
        )
        const submitMs = (performance.now() - submitStarted) / submitted.length
        // Polled with a count (reading every job's row each time would load the bench and the server).
        await poll(`${submitted.length} jobs on ${count} runner(s)`, 600_000, async () =>
          (await finishedCount(sql)) === warmups.length + submitted.length ? true : undefined
        )
        const seconds = (performance.now() - t0) / 1000
        const cpuUsed = started.map((r, i) => cpuSeconds(r.child.pid) - cpuBefore[i]!)
        const pgUsed = postgresCpuSeconds(server.port) - pgBefore
        const benchUsage = process.cpuUsage(benchBefore)
        if (process.env.CLUSTER_SQL_STATS !== undefined) await sqlStats(sql, "print")
        const cpu = cpuUsed.map((used) => (used / seconds) * 100)
        const measured = new Set(submitted)
        const all = (await Effect.runPromise(jobs.list)).filter((j) => measured.has(j.id))
        const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
        const owners = new Map<string, number>()
        for (const j of all) owners.set(j.owner ?? "none", (owners.get(j.owner ?? "none") ?? 0) + 1)
        process.stderr.write(
          `cluster bench, ${count} runner(s): ${seconds.toFixed(1)} s; mean wait ${mean(all.map((j) => (j.startedAt ?? 0) - j.createdAt)).toFixed(0)} ms, max wait ${Math.max(...all.map((j) => (j.startedAt ?? 0) - j.createdAt))} ms, runs ${all.reduce((a, j) => a + j.runs, 0)}, mean run ${mean(all.map((j) => (j.finishedAt ?? 0) - (j.startedAt ?? 0))).toFixed(0)} ms; max delivery ${Math.max(...all.map((j) => (j.receivedAt ?? 0) - j.createdAt))} ms; jobs by runner ${JSON.stringify([...owners.values()])}\n`
        )
        const swapped = all.filter((j) => j.status === "swapped").length
        if (swapped !== submitted.length) {
          process.stderr.write(`cluster bench: ${swapped} of ${submitted.length} jobs swapped\n`)
        }
        await Promise.all(started.map(stopRunner))
        return {
          perMin: (submitted.length / seconds) * 60,
          cpu: cpu.reduce((a, b) => a + b, 0) / cpu.length,
          cpuMsPerJob: (cpuUsed.reduce((a, b) => a + b, 0) * 1000) / submitted.length,
          idle: idle.reduce((a, b) => a + b, 0) / idle.length,
          // Jobs that started only after the watchdog sent them again (their first message was not delivered in time).
          resends: all.filter((j) => j.resends > 0).length,
          submitMs,
          pgMsPerJob: (pgUsed * 1000) / submitted.length,
          pgIdle,
          benchMsPerJob: (benchUsage.user + benchUsage.system) / 1000 / submitted.length
        }
      }

      const one = await throughput(1)
      if (process.env.CLUSTER_ONE_ONLY !== undefined) {
        report({ bench: "cluster", metric: "jobs_per_min_1_runner", value: one.perMin, unit: "jobs/min" })
        report({ bench: "cluster", metric: "cpu_per_runner_1_runner", value: one.cpu, unit: "% of a core" })
        report({ bench: "cluster", metric: "cpu_ms_per_job_1_runner", value: one.cpuMsPerJob, unit: "ms" })
        report({ bench: "cluster", metric: "pg_cpu_ms_per_job_1_runner", value: one.pgMsPerJob, unit: "ms" })
        report({ bench: "cluster", metric: "bench_cpu_ms_per_job_1_runner", value: one.benchMsPerJob, unit: "ms" })
        report({ bench: "cluster", metric: "cpu_idle_per_runner", value: one.idle, unit: "% of a core" })
        report({ bench: "cluster", metric: "pg_cpu_idle", value: one.pgIdle, unit: "% of a core" })
        report({ bench: "cluster", metric: "watchdog_resends", value: one.resends, unit: "jobs", target: "0" })
        return
      }
      const three = await throughput(3)
      report({ bench: "cluster", metric: "jobs_per_min_1_runner", value: one.perMin, unit: "jobs/min" })
      report({ bench: "cluster", metric: "cpu_per_runner_1_runner", value: one.cpu, unit: "% of a core" })
      report({ bench: "cluster", metric: "cpu_ms_per_job_1_runner", value: one.cpuMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "submit_ms_per_job_1_runner", value: one.submitMs, unit: "ms" })
      report({
        bench: "cluster",
        metric: "jobs_per_min_3_runners",
        value: three.perMin,
        unit: "jobs/min",
        baseline: one.perMin
      })
      report({ bench: "cluster", metric: "cpu_per_runner_3_runners", value: three.cpu, unit: "% of a core" })
      report({ bench: "cluster", metric: "cpu_ms_per_job_3_runners", value: three.cpuMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "pg_cpu_ms_per_job_1_runner", value: one.pgMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "pg_cpu_ms_per_job_3_runners", value: three.pgMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "bench_cpu_ms_per_job_1_runner", value: one.benchMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "bench_cpu_ms_per_job_3_runners", value: three.benchMsPerJob, unit: "ms" })
      report({ bench: "cluster", metric: "pg_cpu_idle", value: (one.pgIdle + three.pgIdle) / 2, unit: "% of a core" })
      report({
        bench: "cluster",
        metric: "cpu_idle_per_runner",
        value: (one.idle + 3 * three.idle) / 4,
        unit: "% of a core"
      })
      report({
        bench: "cluster",
        metric: "watchdog_resends",
        value: one.resends + three.resends,
        unit: "jobs",
        target: "0"
      })
      report({
        bench: "cluster",
        metric: "scaling",
        value: round(three.perMin / one.perMin, 3),
        unit: "x",
        target: ">= 2.5"
      })

      // Failover: a long job (one unit at a time), its runner killed once it has committed 5 units.
      const { ids, url } = await setup("failover", 1)
      const env = { DSPY_LATENCY_MS: "50", DSPY_JOB_CONCURRENCY: "1" }
      const firstRunner = await startRunner(Redacted.value(url), env)
      const started = [firstRunner, ...(await Promise.all([1, 2].map(() => startRunner(Redacted.value(url), env))))]
      runners.push(...started)
      const client = await run(Layer.build(Runner.layerClient({ url, optimizers })))
      const jobs = Context.get(client, ClusterJobs.ClusterJobs)
      const long = Array.from({ length: 200 }, (_, i) =>
        Example.make({ question: `What is ${i} + 7?`, answer: String(i + 7) }).withInputs("question")
      )
      const { id } = await Effect.runPromise(
        jobs.submit({ moduleId: ids[0]!, optimizer: "bootstrap_all", trainset: long })
      )
      const mid = await poll("the job to commit 5 units", 120_000, async () => {
        const job = await Effect.runPromise(jobs.status(id))
        return job.units >= 5 && job.status === "running" ? job : undefined
      })
      const victim = started.find((r) => r.address === mid.owner)
      if (victim === undefined) throw new Error(`cluster bench: the job's owner ${mid.owner} is not a runner`)
      const killedAt = performance.now()
      victim.child.kill("SIGKILL")
      const unitsAtKill = (await Effect.runPromise(jobs.status(id))).units
      await poll("the job to progress again", 120_000, async () => {
        const job = await Effect.runPromise(jobs.status(id))
        return job.owner !== victim.address && job.units > unitsAtKill ? job : undefined
      })
      report({
        bench: "cluster",
        metric: "failover_resume_s",
        value: (performance.now() - killedAt) / 1000,
        unit: "s",
        target: "<= 10"
      })
    } finally {
      await Promise.all(runners.map(stopRunner))
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export default bench
