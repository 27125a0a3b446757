/**
 * A real redis-server for tests: started on a free loopback port with persistence off (`--save ""
 * --appendonly no`), ready once it answers PING, killed when the scope closes. `kill`, `restart`, `pause` and
 * `resume` let a test break it mid-run. When `redis-server` is not on PATH and the process runs as root, one
 * `apt-get install -y redis-server` is tried; if it is still missing, {@link findRedisServer} gives `undefined`
 * and the Redis tests are skipped with a message naming the package to install. `EFFECT_DSPY_REDIS_SERVER` may
 * name the binary (or be `none` to check the skip path).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"

const onPath = (name: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

let found: Promise<string | undefined> | undefined

/** The redis-server binary, installing it once with apt-get when missing and running as root. */
export const findRedisServer = (): Promise<string | undefined> => {
  found ??= (async () => {
    // EFFECT_DSPY_REDIS_SERVER names the binary to use; "none" runs the suite as if Redis were missing.
    const override = process.env.EFFECT_DSPY_REDIS_SERVER
    if (override === "none") {
      console.warn("Redis tests skipped: EFFECT_DSPY_REDIS_SERVER=none.")
      return undefined
    }
    if (override !== undefined && override !== "") return override
    const first = onPath("redis-server")
    if (first !== undefined) return first
    if (process.getuid?.() === 0 && onPath("apt-get") !== undefined) {
      childProcess.spawnSync("apt-get", ["install", "-y", "redis-server"], { stdio: "ignore", timeout: 180_000 })
      const second = onPath("redis-server")
      if (second !== undefined) return second
    }
    console.warn(
      "Redis tests skipped: redis-server is not on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`) to run them."
    )
    return undefined
  })()
  return found
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

const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    let answer = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString()
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
  })

/** A running redis-server and the means to break it. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** SIGKILL: the server is gone (connections drop). */
  readonly kill: Effect.Effect<void>
  /** Starts it again on the same port (empty: persistence is off) and waits for PING. */
  readonly restart: Effect.Effect<void>
  /** SIGSTOP: the server still holds its connections but never answers. */
  readonly pause: Effect.Effect<void>
  /** SIGCONT after {@link pause}. */
  readonly resume: Effect.Effect<void>
}

const spawnServer = async (binary: string, port: number): Promise<childProcess.ChildProcess> => {
  const child = childProcess.spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
    { stdio: "ignore" }
  )
  for (let i = 0; i < 250; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`)
    if (await ping(port)) return child
    await new Promise((r) => setTimeout(r, 20))
  }
  child.kill("SIGKILL")
  throw new Error(`redis-server did not answer PING on port ${port} within 5 s`)
}

const stop = (child: childProcess.ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** Starts a redis-server for the scope; fails when it does not come up. */
export const start = (binary: string): Effect.Effect<RedisServer, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const port = yield* Effect.tryPromise({ try: freePort, catch: (e) => e as Error })
    let child: childProcess.ChildProcess = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => spawnServer(binary, port), catch: (e) => e as Error }),
      () => Effect.promise(() => stop(child))
    )
    const server: RedisServer = {
      port,
      url: `redis://127.0.0.1:${port}`,
      kill: Effect.promise(() => stop(child)),
      restart: Effect.promise(async () => {
        await stop(child)
        child = await spawnServer(binary, port)
      }),
      pause: Effect.sync(() => {
        child.kill("SIGSTOP")
      }),
      resume: Effect.sync(() => {
        child.kill("SIGCONT")
      })
    }
    return server
  })
