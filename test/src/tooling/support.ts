/**
 * Shared set-up of the tooling tests: a throw-away fixture repository in the system's temp folder (removed when
 * the test's scope closes) and a runner for the repository's own tools (dependency-cruiser, knip, docs:check).
 */
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The repository's root folder. */
export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..", "..")

/** What a tool printed and its exit status. */
export interface Run {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node <script> ...args` in `cwd` without a shell; never fails: the status is in the result. */
export const runNode = (script: string, args: ReadonlyArray<string>, cwd: string): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = childProcess.execFile(
      process.execPath,
      [script, ...args],
      { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resume(Effect.succeed({ status, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill())
  })

/** The file a package's binary runs, from the root's node_modules (`bin` of its package.json). */
export const binOf = (pkg: string, bin: string): string => {
  const dir = path.join(repoRoot, "node_modules", pkg)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
    readonly bin: string | Record<string, string>
  }
  return path.join(dir, typeof manifest.bin === "string" ? manifest.bin : manifest.bin[bin]!)
}

/**
 * A fixture repository in a fresh temp folder: `files` maps a relative path to its content, `links` a relative
 * path to the relative target of a symbolic link (pnpm's workspace links). Removed when the scope closes.
 */
export const fixture = (
  files: Readonly<Record<string, string>>,
  links: Readonly<Record<string, string>> = {}
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-tooling-"))
      for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
        fs.writeFileSync(path.join(dir, file), content)
      }
      for (const [link, target] of Object.entries(links)) {
        fs.mkdirSync(path.dirname(path.join(dir, link)), { recursive: true })
        fs.symlinkSync(target, path.join(dir, link), "dir")
      }
      return dir
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
