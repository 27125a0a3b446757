import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as InProcess from "./support/cli.js"

const bin = url.fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const packageVersion = (
  JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version

/** The environment without provider keys or a config file, so the default provider is the simulated LM. */
const environment = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith("OPENAI_") && !name.startsWith("ANTHROPIC_") && !name.startsWith("EFFECT_DSPY")
  )
)

interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the `effect-dspy` executable from source (tsx, the workspace's source condition) with `args`. */
const executable = (...args: ReadonlyArray<string>) =>
  Effect.async<Outcome>((resume) => {
    const child = childProcess.spawn(
      process.execPath,
      ["--conditions=@effect-dspy/source", "--import", "tsx", bin, ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: environment }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill())
  })

/**
 * Runs the command line in this process (test/support/cli.ts): the same program as the executable, without the
 * seconds a process takes to start from source. The tests of the executable itself (help, a failure's exit code
 * and message) run it as a process.
 */
const cli = (...args: ReadonlyArray<string>) => InProcess.run(args)

describe("effect-dspy", () => {
  it.effect("--help lists the run and version commands", () =>
    Effect.gen(function* () {
      const { code, stdout } = yield* executable("--help")
      assert.strictEqual(code, 0)
      assert.include(stdout, "effect-dspy")
      assert.include(stdout, "run")
      assert.include(stdout, "--signature")
      assert.include(stdout, "version")
    })
  )

  it.effect("version prints the package's version", () =>
    Effect.gen(function* () {
      const { code, stdout } = yield* cli("version")
      assert.strictEqual(code, 0)
      assert.strictEqual(stdout.trim(), packageVersion)
    })
  )

  it.effect("run makes one module call on the simulated LM and prints its output as JSON", () =>
    Effect.gen(function* () {
      const { code, stdout, stderr } = yield* cli(
        "run",
        "--signature",
        "question -> answer: float",
        "--input",
        JSON.stringify({ question: "What is 2 + 3?" })
      )
      assert.strictEqual(code, 0, stderr)
      const line = JSON.parse(stdout.trim()) as {
        output: { fields: { reasoning: unknown; answer: unknown }; lmCalls: number }
        version: number
      }
      assert.strictEqual(line.version, 1)
      assert.strictEqual(typeof line.output.fields.answer, "number")
      assert.strictEqual(typeof line.output.fields.reasoning, "string")
      assert.strictEqual(line.output.lmCalls, 1)
    })
  )

  it.effect("run with --kind predict has no reasoning field", () =>
    Effect.gen(function* () {
      const { code, stdout, stderr } = yield* cli(
        "run",
        "--kind",
        "predict",
        "--signature",
        "question -> answer: float",
        "--input",
        JSON.stringify({ question: "What is 7 - 4?" })
      )
      assert.strictEqual(code, 0, stderr)
      const line = JSON.parse(stdout.trim()) as { output: { fields: Record<string, unknown> } }
      assert.deepStrictEqual(Object.keys(line.output.fields), ["answer"])
    })
  )

  it.effect("run with --adapter two_step makes the free-text call and the extraction call", () =>
    Effect.gen(function* () {
      const { code, stdout, stderr } = yield* cli(
        "run",
        "--kind",
        "predict",
        "--adapter",
        "two_step",
        "--signature",
        "question -> answer: float",
        "--input",
        JSON.stringify({ question: "What is 7 - 4?" })
      )
      assert.strictEqual(code, 0, stderr)
      const line = JSON.parse(stdout.trim()) as { output: { fields: Record<string, unknown>; lmCalls: number } }
      assert.strictEqual(typeof line.output.fields.answer, "number")
      assert.strictEqual(line.output.lmCalls, 2)
      const bad = yield* cli("run", "--adapter", "yaml", "--signature", "question -> answer", "--input", "{}")
      assert.notStrictEqual(bad.code, 0)
      assert.include(bad.stderr, "xml")
    })
  )

  it.effect("run rejects an --input that is not a JSON object, saying what to give", () =>
    Effect.gen(function* () {
      const { code, stdout, stderr } = yield* executable("run", "--signature", "question -> answer", "--input", "[1,2]")
      assert.notStrictEqual(code, 0)
      assert.strictEqual(stdout, "")
      assert.include(stderr, "--input must be a JSON object")
    })
  )

  it.effect("run reads --config: a config file with an unknown key fails naming the file", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-cli-"))),
      (dir) =>
        Effect.gen(function* () {
          const file = path.join(dir, "app.yaml")
          fs.writeFileSync(file, "modules:\n  notASetting: 1\n")
          const { code, stderr } = yield* cli(
            "run",
            "--config",
            file,
            "--signature",
            "question -> answer",
            "--input",
            JSON.stringify({ question: "What is 2 + 3?" })
          )
          assert.notStrictEqual(code, 0)
          assert.include(stderr, "ConfigInvalid")
          assert.include(stderr, file)
        }),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
  )
})
