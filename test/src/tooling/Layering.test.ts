/**
 * `pnpm lint`'s dependency rules, run on a fixture repository laid out like this one: dependency-cruiser with the
 * repository's own `.dependency-cruiser.cjs` reports exactly the forbidden imports (layering, relative paths into
 * another package, value-import cycles, unresolvable imports), and knip with the repository's
 * `knip.jsonc` reports a declared dependency nothing imports and an imported package nothing declares.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { binOf, fixture, repoRoot, runNode } from "./support.js"

const manifest = (name: string, dependencies: ReadonlyArray<string> = []) =>
  JSON.stringify({
    name,
    version: "0.0.0",
    private: true,
    type: "module",
    exports: { ".": "./src/index.ts" },
    dependencies: Object.fromEntries(dependencies.map((d) => [d, d.startsWith("@effect-dspy/") ? "workspace:*" : "1"]))
  })

/** `import * as X from "spec"` lines, one per specifier, then one export using them all. */
const imports = (...specs: ReadonlyArray<string>) =>
  `${specs.map((s, i) => `import * as M${i} from "${s}"`).join("\n")}\nexport const all = [${specs.map((_, i) => `M${i}`).join(", ")}]\n`

/** pnpm's link from `from`'s node_modules to the workspace package `to` (both `group/name`). */
const link = (from: string, to: string): [string, string] => [
  `${from}/node_modules/@effect-dspy/${path.basename(to)}`,
  path.relative(`${from}/node_modules/@effect-dspy`, to)
]

const packages = {
  foundation: ["core"],
  runtime: ["foundation"],
  core: ["foundation", "runtime", "sim"],
  sim: ["core", "foundation", "optimizers"],
  optimizers: ["core", "foundation", "sim"],
  services: ["runtime", "foundation", "core", "optimizers", "sim", "bench"],
  bench: ["services"]
}

const layout = () => {
  const files: Record<string, string> = {
    "tsconfig.base.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } }),
    "package.json": JSON.stringify({ name: "fixture", private: true, type: "module" }),
    // foundation may import no workspace package
    "packages/foundation/src/index.ts": imports("node:path"),
    "packages/foundation/src/Bad.ts": imports("@effect-dspy/core"),
    // runtime may import foundation
    "packages/runtime/src/index.ts": imports("@effect-dspy/foundation", "./Actor.js"),
    // a cycle through a type-only import is allowed (an internal file importing its public module's types)
    "packages/runtime/src/Actor.ts": imports("./internal/actor.js"),
    "packages/runtime/src/internal/actor.ts": `import type * as Actor from "../Actor.js"\nexport type A = typeof Actor\n`,
    // core may import foundation, never runtime nor sim; a relative path into another package is forbidden
    "packages/core/src/index.ts": imports("@effect-dspy/foundation"),
    "packages/core/src/Bad.ts": imports(
      "@effect-dspy/runtime",
      "@effect-dspy/sim",
      "../../foundation/src/index.js",
      "./Missing.js"
    ),
    // sim may import core, never optimizers
    "packages/sim/src/index.ts": imports("@effect-dspy/core", "@effect-dspy/foundation"),
    "packages/sim/src/Bad.ts": imports("@effect-dspy/optimizers"),
    // optimizers' sources may not import sim; their tests may
    "packages/optimizers/src/index.ts": imports("@effect-dspy/core", "@effect-dspy/foundation"),
    "packages/optimizers/src/Bad.ts": imports("@effect-dspy/sim"),
    // role folders build on the contract, never the reverse
    "packages/optimizers/src/few-shot/Bootstrap.ts": imports("../Optimizer.js"),
    "packages/optimizers/src/instruction-search/Mipro.ts": imports("../few-shot/Bootstrap.js", "../Optimizer.js"),
    "packages/optimizers/src/Optimizer.ts": imports("node:path"),
    "packages/optimizers/src/internal/program.ts": imports("../few-shot/Bootstrap.js"),
    "packages/optimizers/test/Bootstrap.test.ts": imports("@effect-dspy/sim", "@effect-dspy/core"),
    // services may import every library package, never the benchmarks
    "packages/services/src/index.ts": imports(
      "@effect-dspy/runtime",
      "@effect-dspy/foundation",
      "@effect-dspy/core",
      "@effect-dspy/optimizers",
      "@effect-dspy/sim",
      "./A.js"
    ),
    "packages/services/src/Bad.ts": imports("@effect-dspy/bench"),
    "packages/services/src/A.ts": imports("./B.js"),
    "packages/services/src/B.ts": imports("./A.js"),
    "packages/bench/src/index.ts": imports("@effect-dspy/services"),
    // apps and the integration tests may import anything
    "apps/demo/package.json": manifest("@effect-dspy/demo", ["@effect-dspy/services", "@effect-dspy/bench"]),
    "apps/demo/src/main.ts": imports("@effect-dspy/services", "@effect-dspy/bench"),
    "test/src/index.ts": imports("../../packages/core/src/index.js")
  }
  const links: Record<string, string> = {}
  for (const [name, deps] of Object.entries(packages)) {
    files[`packages/${name}/package.json`] = manifest(
      `@effect-dspy/${name}`,
      deps.map((d) => `@effect-dspy/${d}`)
    )
    for (const dep of deps) {
      const [from, to] = link(`packages/${name}`, `packages/${dep}`)
      links[from] = to
    }
  }
  for (const dep of ["services", "bench"]) {
    const [from, to] = link("apps/demo", `packages/${dep}`)
    links[from] = to
  }
  return { files, links }
}

interface Violation {
  readonly from: string
  readonly to: string
  readonly rule: { readonly name: string }
  readonly cycle?: ReadonlyArray<{ readonly name: string }>
}

describe("pnpm lint: dependency rules", () => {
  it.scoped(
    "dependency-cruiser reports exactly the forbidden imports",
    () =>
      Effect.gen(function* () {
        const { files, links } = layout()
        const dir = yield* fixture(files, links)
        const depcruise = (outputType: string) =>
          runNode(
            binOf("dependency-cruiser", "depcruise"),
            [
              "--config",
              path.join(repoRoot, ".dependency-cruiser.cjs"),
              "--output-type",
              outputType,
              "packages",
              "apps",
              "test"
            ],
            dir
          )
        // as `pnpm lint` runs it: the violations make it fail
        const lint = yield* depcruise("err")
        assert.notStrictEqual(lint.status, 0, lint.stdout)
        assert.include(lint.stdout, "error layering-core: packages/core/src/Bad.ts → packages/runtime/src/index.ts")
        const run = yield* depcruise("json")
        const violations = (JSON.parse(run.stdout) as { summary: { violations: ReadonlyArray<Violation> } }).summary
          .violations
        // a cycle is reported once, as the sorted files it goes through
        const found = violations
          .map((v) =>
            v.cycle === undefined
              ? `${v.rule.name}: ${v.from} -> ${v.to}`
              : `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)]
                  .filter((f, i, all) => all.indexOf(f) === i)
                  .sort()
                  .join(", ")}`
          )
          .sort()
        assert.deepStrictEqual(
          found,
          [
            "cross-package-by-name: packages/core/src/Bad.ts -> packages/foundation/src/index.ts",
            "cross-package-by-name: test/src/index.ts -> packages/core/src/index.ts",
            "layering-core: packages/core/src/Bad.ts -> packages/runtime/src/index.ts",
            "layering-core: packages/core/src/Bad.ts -> packages/sim/src/index.ts",
            "layering-foundation: packages/foundation/src/Bad.ts -> packages/core/src/index.ts",
            "layering-no-app-imports: packages/services/src/Bad.ts -> packages/bench/src/index.ts",
            "layering-optimizers: packages/optimizers/src/Bad.ts -> packages/sim/src/index.ts",
            "layering-services: packages/services/src/Bad.ts -> packages/bench/src/index.ts",
            "optimizers-contract: packages/optimizers/src/internal/program.ts -> packages/optimizers/src/few-shot/Bootstrap.ts",
            "layering-sim: packages/sim/src/Bad.ts -> packages/optimizers/src/index.ts",
            "no-circular: packages/services/src/A.ts, packages/services/src/B.ts",
            "not-to-unresolvable: packages/core/src/Bad.ts -> ./Missing.js"
          ].sort()
        )
      }),
    60_000
  )

  it.scoped(
    "knip reports an unused dependency and an undeclared one",
    () =>
      Effect.gen(function* () {
        const dir = yield* fixture({
          "package.json": JSON.stringify({ name: "fixture", private: true, type: "module" }),
          "pnpm-workspace.yaml": 'packages:\n  - "packages/*"\n',
          "packages/core/package.json": manifest("@effect-dspy/core", ["effect", "xstate"]),
          "packages/core/src/index.ts": imports("effect", "yaml"),
          "packages/foundation/package.json": manifest("@effect-dspy/foundation", ["effect"]),
          "packages/foundation/src/index.ts": imports("effect")
        })
        const run = yield* runNode(
          binOf("knip", "knip"),
          ["--config", path.join(repoRoot, "knip.jsonc"), "--no-progress", "--reporter", "json"],
          dir
        )
        assert.notStrictEqual(run.status, 0, `knip fails on the fixture: ${run.stderr}`)
        const report = JSON.parse(run.stdout) as {
          readonly issues: ReadonlyArray<{
            readonly file: string
            readonly dependencies: ReadonlyArray<{ readonly name: string }>
            readonly unlisted: ReadonlyArray<{ readonly name: string }>
          }>
        }
        const of = (kind: "dependencies" | "unlisted") =>
          report.issues.flatMap((i) => i[kind].map((d) => `${i.file}: ${d.name}`)).sort()
        assert.deepStrictEqual(of("dependencies"), ["packages/core/package.json: xstate"])
        assert.deepStrictEqual(of("unlisted"), ["packages/core/src/index.ts: yaml"])
      }),
    60_000
  )
})
