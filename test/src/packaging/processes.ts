/**
 * A child process for the binary tests: started with its output collected, killed when the scope closes.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A started child: its process, its output so far, and its exit code once it exits. */
export interface Running {
  readonly child: ChildProcess
  readonly out: { stdout: string; stderr: string }
  readonly exited: Promise<number | null>
}

/** Starts `command` with `args` in `cwd`; the child is killed (SIGKILL) when the scope closes if still running. */
export const start = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv }
): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, [...args], { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] })
      const out = { stdout: "", stderr: "" }
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out.stdout += chunk
      })
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        out.stderr += chunk
      })
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      return { child, out, exited }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** Waits until `running`'s `stream` satisfies `ready` (fails with its output if it exits first). */
export const waitFor = (running: Running, stream: "stdout" | "stderr", ready: (text: string) => boolean) =>
  Effect.async<void, Error>((resume) => {
    const source = running.child[stream]!
    const check = () => {
      if (ready(running.out[stream])) {
        done()
        resume(Effect.void)
      }
    }
    const exit = () => {
      done()
      resume(Effect.fail(new Error(`exited early:\n${running.out.stdout}\n${running.out.stderr}`)))
    }
    const done = () => {
      source.off("data", check)
      running.child.off("exit", exit)
    }
    source.on("data", check)
    running.child.on("exit", exit)
    check()
    if (!ready(running.out[stream]) && (running.child.exitCode !== null || running.child.signalCode !== null)) exit()
    return Effect.sync(done)
  })

/** The exit code once the child exits. */
export const exitCode = (running: Running) => Effect.promise(() => running.exited)
