/**
 * Swap propagation across application instances sharing PostgreSQL (cluster mode).
 *
 * `swap_propagation_p99_ms`: three application instances on one throwaway PostgreSQL server (each with its own pool
 * and listening connection, as three processes would have); instance A swaps a module, and the figure is the time
 * from A's swap call to both B and C serving the new version (B and C poll their own module table every
 * millisecond, no database read). The periodic reconciliation is set far off (60 s), so what is measured is the
 * LISTEN/NOTIFY path; its p50 is reported as the baseline. Target p99 <= 500 ms.
 *
 * The server is started as the PostgreSQL tests start theirs (`initdb` in a temp dir, a free loopback port, removed
 * afterwards; binaries from `EFFECT_DSPY_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`); without them the
 * bench prints nothing and says why. `CLUSTER_SWAP_ITERATIONS=50 pnpm bench cluster-swap` for a quick look
 * (default 200 swaps).
 */
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, nowUs, quantile } from "../Harness.js"

const ITERATIONS = Number(process.env.CLUSTER_SWAP_ITERATIONS ?? 200)

/** The server binaries and, as root, the `postgres` user's ids (PostgreSQL refuses to run as root). */
const binaries = (): { bin: string; user: { uid: number; gid: number } | undefined } | string => {
  const override = process.env.EFFECT_DSPY_PG_BIN
  let bin = override
  if (bin === undefined || bin === "") {
    const root = "/usr/lib/postgresql"
    const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)) : []
    const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
    if (newest === undefined) return "no PostgreSQL binaries (apt-get install -y postgresql, or set EFFECT_DSPY_PG_BIN)"
    bin = path.join(root, newest, "bin")
  }
  if (process.getuid?.() !== 0) return { bin, user: undefined }
  const id = (flag: string) => childProcess.spawnSync("id", [flag, "postgres"], { encoding: "utf8" })
  const uid = id("-u")
  const gid = id("-g")
  if (uid.status !== 0) return "running as root without a `postgres` user to run the server as"
  return { bin, user: { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

/** A throwaway server: its URL, and a stop that removes everything. */
const startPostgres = async (
  bins: Exclude<ReturnType<typeof binaries>, string>
): Promise<{ url: string; stop: () => Promise<void> }> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-bench-pg-"))
  if (bins.user !== undefined) fs.chownSync(dir, bins.user.uid, bins.user.gid)
  const options = bins.user === undefined ? {} : { uid: bins.user.uid, gid: bins.user.gid }
  const data = path.join(dir, "data")
  const init = childProcess.spawnSync(
    path.join(bins.bin, "initdb"),
    ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
    { ...options, cwd: "/", encoding: "utf8" }
  )
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const port = await freePort()
  const server = childProcess.spawn(
    path.join(bins.bin, "postgres"),
    ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
    { ...options, cwd: "/", stdio: "ignore" }
  )
  for (let i = 0; ; i++) {
    const ready = childProcess.spawnSync(path.join(bins.bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)])
    if (ready.status === 0) break
    if (i > 400) throw new Error("postgres did not start within 20 s")
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () =>
      new Promise((resolve) => {
        server.once("exit", () => {
          fs.rmSync(dir, { recursive: true, force: true })
          resolve()
        })
        server.kill("SIGINT")
      })
  }
}

const instance = (url: string) =>
  ManagedRuntime.make(
    TestRuntime.layer({
      config: {
        storage: { backend: "postgres", postgres: { url, maxConnections: 3 } },
        cluster: { sync: { reconcileMs: 60_000 } }
      }
    })
  )

const bench: Bench = {
  name: "cluster",
  description: "swap propagation between application instances sharing PostgreSQL (LISTEN/NOTIFY)",
  run: async (report) => {
    const bins = binaries()
    if (typeof bins === "string") {
      process.stderr.write(`cluster-swap skipped: ${bins}\n`)
      return
    }
    const server = await startPostgres(bins)
    const apps = [instance(server.url), instance(server.url), instance(server.url)] as const
    try {
      const [a, ...followers] = apps
      await a.runPromise(ModuleManager.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
      for (const f of followers)
        await f.runPromise(ModuleManager.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
      const versionOf = (app: (typeof apps)[number]) =>
        app.runPromise(
          Effect.flatMap(ModuleManager.ModuleManager, (m) => Effect.map(m.describe("qa"), (i) => i.version))
        )
      const samples: Array<number> = []
      for (let i = 0; i < ITERATIONS; i++) {
        const t0 = nowUs()
        const info = await a.runPromise(ModuleManager.swap("qa", { instructions: { self: `Answer (${i}).` } }))
        for (const f of followers) {
          const deadline = Date.now() + 10_000
          while ((await versionOf(f)) < info.version) {
            if (Date.now() > deadline) throw new Error(`version ${info.version} not served within 10 s`)
            await new Promise((r) => setTimeout(r, 1))
          }
        }
        samples.push((nowUs() - t0) / 1000)
      }
      const sorted = [...samples].sort((x, y) => x - y)
      report({
        bench: "cluster",
        metric: "swap_propagation_p99_ms",
        value: quantile(sorted, 0.99),
        unit: "ms",
        baseline: quantile(sorted, 0.5),
        target: "<= 500 ms",
        n: sorted.length
      })
    } finally {
      for (const app of apps) await app.dispose()
      await server.stop()
    }
  }
}

export default bench
