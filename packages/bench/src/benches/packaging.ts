/**
 * The packages as a user installs them: every public package built, packed and installed from its tarball into
 * fresh projects outside the workspace (scripts/packaging.mjs, as the pack test does). Reports
 *
 * - `import_time_core_ms` / `import_time_effect_openai_ms`: the time plain `node` takes to import the installed
 *   `@effect-dspy/core`, and to import `effect` and `openai` alone (the same installed copies), each in a fresh
 *   process, alternating, measured inside the process around the dynamic `import()`;
 *   `import_time_core_ratio` is the first over the second (target <= 2);
 * - `install_size_core_mb`: `node_modules` of a project that installs `@effect-dspy/core` (with its peers),
 *   everything it pulls in counted once;
 * - `install_size_all_mb` for all public packages, and `package_size_<name>_kb`, each package's own files.
 */
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Packaging from "../../../../scripts/packaging.mjs"
import { type Bench, round } from "../Harness.js"

const RUNS = 15

/** Bytes under `dir`, each file counted once (pnpm links the same file from several places), symlinks skipped. */
const diskBytes = (dir: string): number => {
  const seen = new Set<string>()
  let total = 0
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) {
        const stat = fs.statSync(full)
        const key = `${stat.dev}:${stat.ino}`
        if (!seen.has(key)) {
          seen.add(key)
          total += stat.size
        }
      }
    }
  }
  walk(dir)
  return total
}

/** Milliseconds a fresh `node` process in `cwd` spends importing `specifiers` (one after the other). */
const importMs = (cwd: string, specifiers: ReadonlyArray<string>): number => {
  const script = [
    "const start = performance.now()",
    ...specifiers.map((s) => `await import(${JSON.stringify(s)})`),
    "console.log(performance.now() - start)"
  ].join("\n")
  const out = childProcess.execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd,
    encoding: "utf8"
  })
  return Number(out.trim())
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

const bench: Bench = {
  name: "packaging",
  description: "installed packages: plain-node import time of @effect-dspy/core vs effect + openai, install sizes",
  run: async (report) => {
    const dir = Packaging.tempDir("effect-dspy-bench-packaging-")
    try {
      await Packaging.build()
      const tarballs = await Packaging.pack(path.join(dir, "tarballs"))
      const core = await Packaging.createProject(path.join(dir, "core"), {
        tarballs,
        packages: ["@effect-dspy/core"],
        extra: ["openai"]
      })

      // Warm the file system cache once for each, then alternate.
      importMs(core, ["@effect-dspy/core"])
      importMs(core, ["effect", "openai"])
      const coreMs: Array<number> = []
      const baseMs: Array<number> = []
      for (let i = 0; i < RUNS; i++) {
        coreMs.push(importMs(core, ["@effect-dspy/core"]))
        baseMs.push(importMs(core, ["effect", "openai"]))
      }
      const coreMean = mean(coreMs)
      const baseMean = mean(baseMs)
      report({ bench: "packaging", metric: "import_time_core_ms", value: coreMean, unit: "ms" })
      report({ bench: "packaging", metric: "import_time_effect_openai_ms", value: baseMean, unit: "ms" })
      report({
        bench: "packaging",
        metric: "import_time_core_ratio",
        value: coreMean / baseMean,
        unit: "x",
        baseline: 1,
        ratio: round(coreMean / baseMean, 3),
        target: "<= 2"
      })
      report({
        bench: "packaging",
        metric: "install_size_core_mb",
        value: diskBytes(path.join(core, "node_modules")) / 1e6,
        unit: "MB"
      })

      const all = await Packaging.createProject(path.join(dir, "all"), {
        tarballs,
        packages: Object.keys(tarballs)
      })
      report({
        bench: "packaging",
        metric: "install_size_all_mb",
        value: diskBytes(path.join(all, "node_modules")) / 1e6,
        unit: "MB"
      })
      for (const name of Object.keys(tarballs)) {
        const own = fs.realpathSync(path.join(all, "node_modules", name))
        report({
          bench: "packaging",
          metric: `package_size_${name.replace("@effect-dspy/", "")}_kb`,
          value: diskBytes(own) / 1e3,
          unit: "kB"
        })
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
