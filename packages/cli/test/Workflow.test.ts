import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as InProcess from "./support/cli.js"

/**
 * Runs the command line in this process (test/support/cli.ts), without provider keys or a config file, so the
 * default provider is the simulated LM. Files are named relative to `cwd`.
 */
const cli = (cwd: string, ...rawArgs: ReadonlyArray<string>) =>
  InProcess.run(rawArgs.map((a) => (/^[\w-]+\.(yaml|db)$/.test(a) ? path.join(cwd, a) : a)))

const workflow = `version: 1
name: route
inputs:
  query: str
steps:
  - id: route
    prompt:
      template: "Route this: {inputs.query}"
      outputs: { agent: str }
  - id: pick
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
outputs:
  agent: "{pick.agent}"
`

const inTempDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-wf-"))
      fs.writeFileSync(path.join(dir, "route.yaml"), workflow)
      fs.writeFileSync(path.join(dir, "bad.yaml"), workflow.replace("{inputs.query}", "{inputs.nope}"))
      return dir
    }),
    f,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("effect-dspy workflow / migrate", () => {
  it.effect(
    "validate, describe and run a workflow: progress on stderr, one JSON result on stdout, the run stored",
    () =>
      inTempDir((dir) =>
        Effect.gen(function* () {
          const valid = yield* cli(dir, "workflow", "validate", "route.yaml")
          assert.strictEqual(valid.code, 0, valid.stderr)
          assert.strictEqual(JSON.parse(valid.stdout).valid, true)

          const bad = yield* cli(dir, "workflow", "validate", "bad.yaml")
          assert.notStrictEqual(bad.code, 0)
          assert.include(bad.stderr, "WorkflowInvalid")
          assert.include(bad.stderr, "bad.yaml:8:")
          assert.include(bad.stderr, "{inputs.nope} has no source")

          const described = yield* cli(dir, "workflow", "describe", "route.yaml")
          assert.strictEqual(described.code, 0, described.stderr)
          assert.include(described.stdout, "stateDiagram-v2")
          assert.include(described.stdout, "route --> pick")

          const run = yield* cli(
            dir,
            "workflow",
            "run",
            "route.yaml",
            "--input",
            JSON.stringify({ query: "show me videos of volcanoes" }),
            "--run-id",
            "cli-1",
            "--store",
            "runs.db"
          )
          assert.strictEqual(run.code, 0, run.stderr)
          const result = JSON.parse(run.stdout)
          assert.strictEqual(result.status, "succeeded")
          assert.isString(result.outputs.agent)
          assert.include(run.stderr, "step route")
          assert.isTrue(fs.existsSync(path.join(dir, "runs.db")))

          const again = yield* cli(dir, "workflow", "resume", "route.yaml", "--run-id", "cli-1", "--store", "runs.db")
          assert.notStrictEqual(again.code, 0)
          assert.include(again.stderr, "RunNotResumable")

          const missing = yield* cli(dir, "workflow", "run", "route.yaml", "--store", "runs.db")
          assert.notStrictEqual(missing.code, 0)
          assert.include(missing.stderr, `missing input "query"`)
        })
      ),
    60_000
  )

  it.effect(
    "migrate prints a dry-run diff and never overwrites without --force",
    () =>
      inTempDir((dir) =>
        Effect.gen(function* () {
          const dry = yield* cli(dir, "migrate", "route.yaml")
          assert.strictEqual(dry.code, 0, dry.stderr)
          assert.include(dry.stderr, "+     mode: evaluation")
          assert.include(dry.stderr, "dry run: nothing written")
          assert.include(dry.stdout, "signature: query -> agent")
          fs.writeFileSync(path.join(dir, "out.yaml"), "keep me")
          const refused = yield* cli(dir, "migrate", "route.yaml", "--out", "out.yaml")
          assert.notStrictEqual(refused.code, 0)
          assert.include(refused.stderr, "MigrateWriteRefused")
          assert.strictEqual(fs.readFileSync(path.join(dir, "out.yaml"), "utf8"), "keep me")
          const forced = yield* cli(dir, "migrate", "route.yaml", "--out", "out.yaml", "--force")
          assert.strictEqual(forced.code, 0, forced.stderr)
          assert.include(fs.readFileSync(path.join(dir, "out.yaml"), "utf8"), "mode: evaluation")
        })
      ),
    60_000
  )
})
