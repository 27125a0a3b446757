/**
 * A throwaway PostgreSQL server for tests: `initdb` in a temp dir, `postgres` on a free loopback port with its
 * unix socket in that dir (no system service, no shared state), stopped and removed when the scope closes (also
 * when the test fails). Durability is off (`fsync=off`): these servers hold test data only.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, the temp dir is chowned to the `postgres` user
 * (created by the Debian package) and `initdb` / `postgres` run as that user through `setpriv` (which execs, so
 * the child's pid is the server's and a signal reaches it), or `runuser -u postgres --` when `setpriv` is
 * missing. As another user they run as that user.
 *
 * Binaries: `EFFECT_DSPY_PG_BIN` (a bin directory, or `none` to check the skip path), else the newest
 * `/usr/lib/postgresql/<version>/bin` (Debian), else `initdb` on PATH. When none is found,
 * {@link findPostgres} gives `undefined` and the PostgreSQL tests are skipped with a message naming the package.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** Where the server binaries are, and who runs them. */
export interface Binaries {
  readonly bin: string
  /** The unprivileged user to run as (when this process is root). */
  readonly user: { readonly name: string; readonly uid: number; readonly gid: number } | undefined
}

const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

const onPath = (name: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (executable(path.join(dir, name))) return path.join(dir, name)
  }
  return undefined
}

const debianBin = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  let versions: Array<string>
  try {
    versions = fs.readdirSync(root)
  } catch {
    return undefined
  }
  const sorted = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  for (const v of sorted) if (executable(path.join(root, v, "bin", "postgres"))) return path.join(root, v, "bin")
  return undefined
}

const skip = (why: string): undefined => {
  console.warn(`PostgreSQL tests skipped: ${why}`)
  return undefined
}

let found: Binaries | undefined | null = null

/** The PostgreSQL binaries and the user to run them as, or `undefined` (tests skip) when they are missing. */
export const findPostgres = (): Binaries | undefined => {
  if (found !== null) return found
  found = (() => {
    const override = process.env.EFFECT_DSPY_PG_BIN
    if (override === "none") return skip("EFFECT_DSPY_PG_BIN=none.")
    const initdb = onPath("initdb")
    const bin =
      override !== undefined && override !== ""
        ? override
        : (debianBin() ?? (initdb === undefined ? undefined : path.dirname(initdb)))
    if (bin === undefined || !executable(path.join(bin, "postgres")) || !executable(path.join(bin, "initdb"))) {
      return skip(
        "no initdb/postgres found. Install them (Debian/Ubuntu: `apt-get install -y postgresql`; no service needs to run) or set EFFECT_DSPY_PG_BIN to their bin directory."
      )
    }
    if (process.getuid?.() !== 0) return { bin, user: undefined }
    const id = (flag: string) => childProcess.spawnSync("id", [flag, "postgres"], { encoding: "utf8" })
    const uid = id("-u")
    const gid = id("-g")
    if (uid.status !== 0 || gid.status !== 0) {
      return skip(
        "running as root, and PostgreSQL refuses root: create a `postgres` user (the Debian package does) to run the server as."
      )
    }
    return { bin, user: { name: "postgres", uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } }
  })()
  return found
}

/** The command line that runs `file args` as the binaries' user. */
const asUser = (bins: Binaries, file: string, args: ReadonlyArray<string>): [string, Array<string>] => {
  if (bins.user === undefined) return [file, [...args]]
  if (onPath("setpriv") !== undefined) {
    return ["setpriv", [`--reuid=${bins.user.uid}`, `--regid=${bins.user.gid}`, "--clear-groups", "--", file, ...args]]
  }
  return ["runuser", ["-u", bins.user.name, "--", file, ...args]]
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

/** A running throwaway server. */
export interface PostgresServer {
  readonly port: number
  /** The URL of a database on it (`postgres://postgres@127.0.0.1:PORT/NAME`). */
  readonly urlOf: (database: string) => Redacted.Redacted<string>
  /** Creates a fresh database and gives its URL (each test takes its own: isolation without a new server). */
  readonly createDatabase: (name: string) => Effect.Effect<Redacted.Redacted<string>, Error>
  /** Stops the server (a fast shutdown: connections are closed); its data stays. */
  readonly stop: Effect.Effect<void>
  /** Starts it again after {@link stop}, on the same port and data, and waits until it accepts connections. */
  readonly start: Effect.Effect<void, Error>
}

const run = (bins: Binaries, tool: string, args: ReadonlyArray<string>): Effect.Effect<void, Error> =>
  Effect.suspend(() => {
    const [file, argv] = asUser(bins, path.join(bins.bin, tool), args)
    const result = childProcess.spawnSync(file, argv, { encoding: "utf8", timeout: 60_000, cwd: "/" })
    return result.status === 0
      ? Effect.void
      : Effect.fail(new Error(`${tool} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`))
  })

const exited = (child: childProcess.ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

const stop = (child: childProcess.ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (exited(child)) return resolve()
    const hard = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(hard)
      resolve()
    })
    child.kill("SIGINT") // fast shutdown: connections are closed, nothing is waited for
  })

/** Starts a throwaway server for the scope; everything it made is removed when the scope closes. */
export const start = (bins: Binaries): Effect.Effect<PostgresServer, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-pg-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    if (bins.user !== undefined) {
      fs.chmodSync(dir, 0o700)
      fs.chownSync(dir, bins.user.uid, bins.user.gid)
    }
    const data = path.join(dir, "data")
    yield* run(bins, "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    const port = yield* Effect.promise(freePort)
    const [file, argv] = asUser(bins, path.join(bins.bin, "postgres"), [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off"
    ])
    let log = ""
    const spawn = (): childProcess.ChildProcess => {
      const child = childProcess.spawn(file, argv, { stdio: ["ignore", "ignore", "pipe"], cwd: "/" })
      child.stderr?.on("data", (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4_000)
      })
      return child
    }
    // Ready once pg_isready says so (at most 20 s).
    const ready = (child: childProcess.ChildProcess) =>
      Effect.tryPromise({
        try: async () => {
          for (let i = 0; i < 400; i++) {
            if (exited(child)) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}): ${log}`)
            const answer = childProcess.spawnSync(
              path.join(bins.bin, "pg_isready"),
              ["-h", "127.0.0.1", "-p", String(port), "-q"],
              { timeout: 5_000 }
            )
            if (answer.status === 0) return
            await new Promise((r) => setTimeout(r, 50))
          }
          throw new Error(`postgres did not accept connections on port ${port} within 20 s: ${log}`)
        },
        catch: (e) => e as Error
      })
    let child: childProcess.ChildProcess = yield* Effect.acquireRelease(Effect.sync(spawn), () =>
      Effect.promise(() => stop(child))
    )
    yield* ready(child)
    const urlOf = (database: string) => Redacted.make(`postgres://postgres@127.0.0.1:${port}/${database}`)
    const server: PostgresServer = {
      port,
      urlOf,
      createDatabase: (name) =>
        Effect.as(run(bins, "createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]), urlOf(name)),
      stop: Effect.promise(() => stop(child)),
      start: Effect.suspend(() => {
        if (!exited(child)) return Effect.void
        child = spawn()
        return ready(child)
      })
    }
    return server
  })
