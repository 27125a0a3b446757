/**
 * The vitest settings every package shares; each package's `vitest.config.ts` is `packageConfig()` with what
 * differs (where its tests live, a longer timeout for tests that spawn processes).
 */
import * as os from "node:os"
import { defineConfig, type UserConfig } from "vitest/config"

/** What a package may change. */
export interface Options {
  /** Globs of its test files; default: every `.test.ts` file under `test/`. */
  readonly include?: Array<string>
  /** Per-test timeout in ms; default 30 s. */
  readonly testTimeout?: number
  /**
   * Run each test file in a fresh module graph (vitest's `isolate`); default false: the files of a worker share one
   * import of the workspace packages, which otherwise dominates a run (every file re-imports them from source).
   */
  readonly isolate?: boolean
}

/** A package's vitest config. */
export const packageConfig = (options: Options = {}): UserConfig =>
  defineConfig({
    // Workspace packages resolve to their TypeScript sources (the `@effect-dspy/source` export condition), so the
    // tests run without a build.
    resolve: { conditions: ["@effect-dspy/source"] },
    ssr: { resolve: { conditions: ["@effect-dspy/source"] } },
    test: {
      include: options.include ?? ["test/**/*.test.ts"],
      // Property tests run hundreds of cases: on a loaded 2-core machine 5 s is too tight (speed lives in benches).
      testTimeout: options.testTimeout ?? 30_000,
      // Importing the workspace packages from source costs seconds per file: without isolation a worker pays it once
      // (each test builds its own layers and servers; docs/decisions.md, 2026-12-03). At least two workers: vitest's
      // default in run mode is one fewer than the CPUs, one on a 2-core machine (CI's), which left a core idle.
      isolate: options.isolate ?? false,
      minWorkers: 1,
      maxWorkers: Math.max(2, os.availableParallelism() - 1),
      // The JSON report feeds the closing "N passed, N failed" line of `pnpm test` (.ci/test-summary.mjs).
      reporters: ["default", "json"],
      outputFile: { json: "build/vitest-report.json" }
    }
  })
