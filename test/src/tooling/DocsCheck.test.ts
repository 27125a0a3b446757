/**
 * `pnpm docs:check` (.ci/docs-check.mjs) on files written for the test: it type-checks the ```ts blocks of a
 * Markdown file and the ```ts blocks of the `@example`s of a TypeScript file against the workspace's packages,
 * reports a failing block at its file:line:column, skips ```ts nocheck and other languages, rejects fences that
 * name no language and `@example`s without a fence, and leaves no temporary file behind.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fixture, repoRoot, runNode } from "./support.js"

const script = path.join(repoRoot, ".ci", "docs-check.mjs")
const fence = "```"

const markdown = [
  "# Title", // 1
  "", // 2
  `${fence}ts`, // 3
  'import { Signature } from "@effect-dspy/core"', // 4
  'export const qa = Signature.make("question -> answer")', // 5
  fence, // 6
  "", // 7
  `${fence}ts`, // 8
  'import { Signature } from "@effect-dspy/core"', // 9
  "", // 10
  "const broken = Signature.make(42)", // 11
  fence, // 12
  "", // 13
  `${fence}ts nocheck`, // 14
  "const notChecked: number = 'a string'", // 15
  fence, // 16
  "", // 17
  `${fence}text`, // 18
  "const notTypeScript: number = 'a string'", // 19
  fence, // 20
  "", // 21
  fence, // 22
  "what language?", // 23
  fence, // 24
  ""
].join("\n")

const source = [
  "/**", // 1
  " * Doubles a number.", // 2
  " *", // 3
  " * @example", // 4
  ` * ${fence}ts`, // 5
  ' * import * as Effect from "effect/Effect"', // 6
  " * const twice: Effect.Effect<number> = Effect.succeed(2 * 21)", // 7
  " * const wrong: string = 2 * 21", // 8
  ` * ${fence}`, // 9
  " *", // 10
  " * @since 0.1.0", // 11
  " */", // 12
  "export const double = (n: number) => 2 * n", // 13
  "", // 14
  "/**", // 15
  " * @example", // 16
  " * double(2) // no fence", // 17
  " * @since 0.1.0", // 18
  " */", // 19
  "export const triple = (n: number) => 3 * n", // 20
  ""
].join("\n")

const leftovers = () =>
  fs.existsSync(path.join(repoRoot, "build"))
    ? fs.readdirSync(path.join(repoRoot, "build")).filter((n) => n.startsWith("docs-check-"))
    : []

describe("pnpm docs:check", () => {
  it.scoped(
    "reports each failing block at its file:line and each malformed example",
    () =>
      Effect.gen(function* () {
        const dir = yield* fixture({ "guide.md": markdown, "Double.ts": source })
        const md = path.join(dir, "guide.md")
        const ts = path.join(dir, "Double.ts")
        const before = leftovers()
        const run = yield* runNode(script, [md, ts], repoRoot)
        assert.strictEqual(run.status, 1, run.stdout + run.stderr)
        const lines = run.stdout.split("\n")
        const at = (file: string, line: number) => lines.filter((l) => l.startsWith(`${file}:${line}:`))
        // the Markdown block's type error, at the line of the call in guide.md
        assert.match(at(md, 11).join("\n"), /^.*guide\.md:11:31 - error TS2769: No overload matches this call/)
        // the @example's type error, at its line in Double.ts
        assert.match(at(ts, 8).join("\n"), /Double\.ts:8:10 - error TS2322: Type 'number' is not assignable/)
        // a fence without a language, an @example without a fence
        assert.match(at(md, 22).join("\n"), /names no language/)
        assert.match(at(ts, 16).join("\n"), /@example has no code fence/)
        // nothing else: the good blocks, ```ts nocheck and ```text pass
        const reported = lines.filter((l) => l.startsWith(dir))
        assert.strictEqual(reported.length, 4, reported.join("\n"))
        assert.include(run.stdout, "docs:check: 3 blocks in 2 files, FAILED")
        assert.deepStrictEqual(leftovers(), before, "the temporary folder is removed")
      }),
    120_000
  )

  it.scoped(
    "passes when every block type-checks",
    () =>
      Effect.gen(function* () {
        const good = markdown.split("\n").slice(0, 7).join("\n")
        const dir = yield* fixture({ "guide.md": good })
        const run = yield* runNode(script, [path.join(dir, "guide.md")], repoRoot)
        assert.strictEqual(run.status, 0, run.stdout + run.stderr)
        assert.include(run.stdout, "docs:check: 1 blocks in 1 files, all type-check")
      }),
    120_000
  )
})
