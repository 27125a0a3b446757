/**
 * Runner processes for the cluster tests and bench: `support/runnerProcess.ts` started from source (tsx) on a
 * free loopback port, waited for (bounded), signalled, and killed at the end (also when a test fails).
 */
import * as childProcess from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"

/** The runner process script. */
export const script = path.join(import.meta.dirname, "runnerProcess.ts")

/** A free loopback port. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

/** A started runner process. */
export interface RunnerProcess {
  readonly port: number
  /** `127.0.0.1:port`: the owner the job table records. */
  readonly address: string
  readonly child: childProcess.ChildProcess
  readonly output: () => string
}

/** Starts a runner and waits (up to `timeoutMs`) for its `ready` line. */
export const start = async (
  url: string,
  env: { readonly [name: string]: string } = {},
  timeoutMs = 90_000
): Promise<RunnerProcess> => {
  const port = await freePort()
  const child = childProcess.spawn(process.execPath, ["--conditions=@effect-dspy/source", "--import", "tsx", script], {
    cwd: path.join(import.meta.dirname, "..", ".."),
    env: { ...process.env, DSPY_PG_URL: url, DSPY_RUNNER_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000)
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`runner on ${port} not ready in ${timeoutMs} ms: ${output}`)),
      timeoutMs
    )
    child.stdout?.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`runner on ${port} exited (${code ?? signal}) before ready: ${output}`))
    })
  })
  return { port, address: `127.0.0.1:${port}`, child, output: () => output }
}

/** Stops a runner for good (continued first if it was stopped), waiting for its exit. */
export const kill = (runner: RunnerProcess): Promise<void> =>
  new Promise((resolve) => {
    if (runner.child.exitCode !== null || runner.child.signalCode !== null) return resolve()
    runner.child.once("exit", () => resolve())
    runner.child.kill("SIGCONT")
    runner.child.kill("SIGKILL")
  })
