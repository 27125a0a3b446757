/**
 * The runtime as it was before the OTP-semantics change (issue 9), loaded next to the current one so the
 * runtime benchmarks compare both in the same run: `packages/runtime/src` is extracted from git at
 * `RUNTIME_BASELINE_REF` (default a82d3c2, the commit the change started from) into a temporary directory,
 * imported through tsx, and the directory is removed afterwards. It resolves `effect` through the runtime
 * package's own `node_modules`, so both runtimes share one Effect.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import type * as Runtime from "@effect-dspy/runtime"

/** The commit the pre-change runtime is read from. */
export const preChangeRef = process.env.RUNTIME_BASELINE_REF ?? "a82d3c2"

/** The runtime module's shape (the pre-change runtime has the subset the benchmarks use). */
export type RuntimeModule = typeof Runtime

const here = path.dirname(url.fileURLToPath(import.meta.url))

/** Loads the pre-change runtime; call `dispose` when done (it removes the extracted sources). */
export const loadPreChange = async (): Promise<{ readonly runtime: RuntimeModule; readonly dispose: () => void }> => {
  const root = execFileSync("git", ["-C", here, "rev-parse", "--show-toplevel"], { encoding: "utf8" }).trim()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-prechange-"))
  const dispose = () => fs.rmSync(dir, { recursive: true, force: true })
  process.once("exit", dispose)
  try {
    const archive = execFileSync("git", ["-C", root, "archive", preChangeRef, "packages/runtime/src"])
    execFileSync("tar", ["-x", "-C", dir], { input: archive })
    fs.symlinkSync(path.join(root, "packages", "runtime", "node_modules"), path.join(dir, "node_modules"), "dir")
    const entry = path.join(dir, "packages", "runtime", "src", "index.ts")
    const runtime = (await import(url.pathToFileURL(entry).href)) as RuntimeModule
    return { runtime, dispose }
  } catch (error) {
    dispose()
    throw error
  }
}
