/**
 * The pack test: every public package packed (`pnpm pack`), installed from its tarball into a fresh project
 * outside the workspace, a user's TypeScript program type-checked there against the installed declarations
 * (`tsc --strict`, declarations checked too) and run with plain `node` (ChainOfThought on the simulated LM,
 * Evaluate, BootstrapFewShot, the supervised Application started, used and closed), and the `effect-dspy` and
 * `effect-dspy-sim-server` binaries run. Then the demo's build runs with plain `node` (no tsx). It builds the
 * workspace first (`pnpm build`: turbo, cached and incremental).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Packaging from "../../../scripts/packaging.mjs"
import * as Processes from "./processes.js"
import { program, tsconfig } from "./program.js"

/** The environment of the user's processes: no provider key and no config file, so the LM is simulated. */
const environment = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith("OPENAI_") && !name.startsWith("ANTHROPIC_") && !name.startsWith("EFFECT_DSPY")
  )
)

/** Runs `command` in `cwd` with the user's environment; fails with its output when it exits non-zero. */
const exec = (cwd: string, command: string, args: ReadonlyArray<string>) =>
  Effect.promise(() => Packaging.run(command, args, { cwd, env: environment }))

/** The files of a tarball (`tar -tzf`), without the leading `package/`. */
const tarballFiles = (tarball: string) =>
  Effect.map(exec(path.dirname(tarball), "tar", ["-tzf", tarball]), (out) =>
    out
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => line.replace(/^package\//, ""))
  )

const withTempDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => Packaging.tempDir("effect-dspy-pack-")),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("the packed packages, installed outside the workspace", () => {
  it.effect(
    "type-check and run a user's program with plain node, and the CLI runs",
    () =>
      withTempDir((dir) =>
        Effect.gen(function* () {
          assert.isFalse(dir.startsWith(Packaging.workspaceRoot), "the project must be outside the workspace")
          yield* Effect.promise(() => Packaging.build())
          const tarballs = yield* Effect.promise(() => Packaging.pack(path.join(dir, "tarballs")))
          assert.deepStrictEqual(Object.keys(tarballs).length, Packaging.publicPackages.length)

          // What each tarball holds: the build, the README and LICENSE; no tests, no workspace: ranges.
          for (const [name, tarball] of Object.entries(tarballs)) {
            const files = yield* tarballFiles(tarball)
            for (const file of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]) {
              assert.include(files, file, `${name} packs ${file}`)
            }
            assert.isFalse(
              files.some((file) => file.startsWith("test/") || file.endsWith(".tsbuildinfo")),
              `${name} packs no tests and no build info`
            )
            const manifest = yield* exec(dir, "tar", ["-xzOf", tarball, "package/package.json"])
            assert.notInclude(manifest, "workspace:", `${name}'s packed manifest has real versions`)
            assert.notInclude(manifest, '"private"', `${name} is publishable`)
            // One repository for all, each package in its folder; the same issue tracker.
            const fields = JSON.parse(manifest) as {
              readonly repository: { readonly url: string; readonly directory: string }
              readonly homepage: string
              readonly bugs: { readonly url: string }
            }
            const root = JSON.parse(fs.readFileSync(path.join(Packaging.workspaceRoot, "package.json"), "utf8")) as {
              readonly repository: { readonly url: string }
              readonly bugs: { readonly url: string }
            }
            const folder = `packages/${name.replace("@effect-dspy/", "")}`
            assert.strictEqual(fields.repository.url, root.repository.url, `${name}'s repository`)
            assert.strictEqual(fields.repository.directory, folder)
            assert.include(fields.homepage, folder)
            assert.strictEqual(fields.bugs.url, root.bugs.url, `${name}'s bugs`)
          }

          const project = yield* Effect.promise(() =>
            Packaging.createProject(path.join(dir, "app"), {
              tarballs,
              packages: Object.keys(tarballs),
              extra: ["typescript", "@types/node"]
            })
          )
          fs.mkdirSync(path.join(project, "src"))
          fs.writeFileSync(path.join(project, "src", "main.ts"), program)
          fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))

          // The installed packages resolve to their build, not to TypeScript sources.
          const resolved = yield* exec(project, process.execPath, [
            "--input-type=module",
            "-e",
            'console.log(import.meta.resolve("@effect-dspy/core"))'
          ])
          assert.match(resolved.trim(), /node_modules\/.*@effect-dspy\/core\/dist\/index\.js$/)

          yield* exec(project, process.execPath, [
            path.join(project, "node_modules", "typescript", "bin", "tsc"),
            "-p",
            ".",
            "--strict"
          ])
          const out = JSON.parse((yield* exec(project, process.execPath, ["dist/main.js"])).trim()) as {
            readonly reasoning: unknown
            readonly answer: unknown
            readonly before: number
            readonly after: number
            readonly demos: number
            readonly version: number
            readonly tree: string
          }
          assert.strictEqual(typeof out.reasoning, "string")
          assert.strictEqual(typeof out.answer, "number")
          assert.isAtLeast(out.before, 0)
          assert.isAtMost(out.before, 100)
          assert.isAtLeast(out.after, 0)
          assert.isAbove(out.demos, 0, "BootstrapFewShot put demos into the compiled program")
          assert.strictEqual(out.version, 1)
          assert.include(out.tree, "module_manager")
          assert.include(out.tree, "lm_providers")

          const bin = path.join(project, "node_modules", ".bin", "effect-dspy")
          const help = yield* exec(project, bin, ["--help"])
          assert.include(help, "run")
          assert.include(help, "version")
          const line = JSON.parse(
            yield* exec(project, bin, [
              "run",
              "--signature",
              "question -> answer: int",
              "--input",
              '{"question":"What is 4 + 4?"}'
            ])
          ) as { readonly output: { readonly fields: { readonly answer: unknown } }; readonly version: number }
          assert.strictEqual(typeof line.output.fields.answer, "number")
          assert.strictEqual(line.version, 1)

          // The simulated LM server's binary: started on a free loopback port, asked one question, stopped.
          yield* Effect.scoped(
            Effect.gen(function* () {
              const server = yield* Processes.start(
                path.join(project, "node_modules", ".bin", "effect-dspy-sim-server"),
                ["--port", "0"],
                { cwd: project, env: environment }
              )
              yield* Processes.waitFor(server, "stdout", (text) => text.includes("\n"))
              const { url } = JSON.parse(server.out.stdout.split("\n")[0]!) as { readonly url: string }
              assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
              const completion = (yield* Effect.promise(() =>
                fetch(`${url}/chat/completions`, {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body: JSON.stringify({
                    model: "sim-1",
                    messages: [{ role: "user", content: "What is 2 + 3?" }]
                  })
                }).then((response) => response.json())
              )) as {
                readonly object: string
                readonly choices: ReadonlyArray<{ readonly message: { readonly content: string } }>
              }
              // An OpenAI-shaped completion whose text answers with a number (the simulated LM may get it wrong).
              assert.strictEqual(completion.object, "chat.completion")
              assert.match(completion.choices[0]!.message.content, /Answer: -?\d+/)
              const stats = (yield* Effect.promise(() =>
                fetch(url.replace(/\/v1$/, "/stats")).then((response) => response.json())
              )) as { readonly completions: number }
              assert.strictEqual(stats.completions, 1)
              server.child.kill("SIGTERM")
              assert.strictEqual(yield* Processes.exitCode(server), 0, server.out.stderr)
            })
          )
        })
      ),
    600_000
  )
})

describe("the demo's build", () => {
  it.scoped(
    "runs with plain node (no tsx): serves traffic, and on SIGINT drains and prints its summary",
    () =>
      Effect.gen(function* () {
        yield* Effect.promise(() => Packaging.build())
        const bin = path.join(Packaging.workspaceRoot, "apps", "demo", "dist", "bin.js")
        assert.isTrue(fs.existsSync(bin), "pnpm build compiles the demo into apps/demo/dist")
        // Plain node: no loader, no --import, no source condition, so every workspace package loads from its dist.
        const env = { ...environment }
        delete env.NODE_OPTIONS
        const demo = yield* Processes.start(process.execPath, [bin, "--json"], { cwd: Packaging.workspaceRoot, env })
        yield* Processes.waitFor(demo, "stderr", (text) => text.includes("requests/s"))
        demo.child.kill("SIGINT")
        assert.strictEqual(yield* Processes.exitCode(demo), 130, demo.out.stderr)
        const summary = JSON.parse(demo.out.stdout) as {
          readonly stopped: string
          readonly requests: { readonly sent: number; readonly lost: number }
        }
        assert.strictEqual(summary.stopped, "SIGINT")
        assert.isAbove(summary.requests.sent, 0)
        assert.strictEqual(summary.requests.lost, 0)
      }),
    300_000
  )
})
