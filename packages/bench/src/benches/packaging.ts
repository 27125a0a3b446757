/**
 * The packages as a user installs them: every public package built, packed and installed from its tarball into
 * fresh projects outside the workspace (scripts/packaging.mjs, as the pack test does). Reports
 *
 * - `import_time_core_ms` / `import_time_effect_openai_ms`: the time plain `node` takes to import the installed
 *   `@effect-dspy/core`, and to import `effect` and `openai` alone (the same installed copies), each in a fresh
 *   process, alternating, measured inside the process around the dynamic `import()` (mean, sd and n of the
 *   runs); `import_time_core_ratio` is the first mean over the second (target <= 2);
 * - `import_cpu_*`: the same as CPU time (user + system) of the importing process, less sensitive to the
 *   machine's load than the wall-clock time;
 * - `install_size_core_mb`: `node_modules` of a project that installs `@effect-dspy/core` (with its peers),
 *   everything it pulls in counted once;
 * - `install_size_all_mb` for all public packages, and `package_size_<name>_kb`, each package's own files.
 */
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Packaging from "../../../../scripts/packaging.mjs"
import { type Bench, round } from "../Harness.js"

/** Import runs of each kind (`PACKAGING_RUNS=5 pnpm bench packaging` for a quick look). */
const RUNS = Number(process.env.PACKAGING_RUNS ?? 15)
if (!Number.isInteger(RUNS) || RUNS < 2) {
  throw new Error(
    `PACKAGING_RUNS must be an integer >= 2 (for a standard deviation), got ${process.env.PACKAGING_RUNS}`
  )
}

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

/**
 * The wall-clock and CPU milliseconds a fresh `node` process in `cwd` spends importing `specifiers` (one after the
 * other), measured inside the process around the dynamic `import()`s.
 */
const importMs = (cwd: string, specifiers: ReadonlyArray<string>): { readonly wall: number; readonly cpu: number } => {
  const script = [
    "const cpu = process.cpuUsage()",
    "const start = performance.now()",
    ...specifiers.map((s) => `await import(${JSON.stringify(s)})`),
    "const used = process.cpuUsage(cpu)",
    "console.log(JSON.stringify({ wall: performance.now() - start, cpu: (used.user + used.system) / 1000 }))"
  ].join("\n")
  const out = childProcess.execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd,
    encoding: "utf8"
  })
  return JSON.parse(out.trim()) as { wall: number; cpu: number }
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

/** The sample standard deviation. */
const sd = (xs: ReadonlyArray<number>) => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1))
}

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
      const coreRuns: Array<{ wall: number; cpu: number }> = []
      const baseRuns: Array<{ wall: number; cpu: number }> = []
      for (let i = 0; i < RUNS; i++) {
        coreRuns.push(importMs(core, ["@effect-dspy/core"]))
        baseRuns.push(importMs(core, ["effect", "openai"]))
      }
      for (const kind of ["wall", "cpu"] as const) {
        const coreMs = coreRuns.map((r) => r[kind])
        const baseMs = baseRuns.map((r) => r[kind])
        const pairRatios = coreMs.map((c, i) => c / baseMs[i]!)
        const prefix = kind === "wall" ? "import_time" : "import_cpu"
        report({
          bench: "packaging",
          metric: `${prefix}_core_ms`,
          value: mean(coreMs),
          unit: "ms",
          sd: sd(coreMs),
          n: RUNS
        })
        report({
          bench: "packaging",
          metric: `${prefix}_effect_openai_ms`,
          value: mean(baseMs),
          unit: "ms",
          sd: sd(baseMs),
          n: RUNS
        })
        report({
          bench: "packaging",
          metric: `${prefix}_core_ratio`,
          value: mean(coreMs) / mean(baseMs),
          unit: "x",
          baseline: 1,
          ratio: round(mean(coreMs) / mean(baseMs), 3),
          // The ratio of the means; `sd` is that of the per-pair ratios (each core run against the base run after it).
          sd: sd(pairRatios),
          n: RUNS,
          target: kind === "wall" ? "<= 2" : null
        })
      }
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
