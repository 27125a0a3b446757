/**
 * The vitest settings every package shares; each package's `vitest.config.ts` is `packageConfig()` with what
 * differs (where its tests live, a longer timeout for tests that spawn processes).
 */
import { defineConfig, type UserConfig } from "vitest/config"

/** What a package may change. */
export interface Options {
  /** Globs of its test files; default: every `.test.ts` file under `test/`. */
  readonly include?: Array<string>
  /** Per-test timeout in ms; default 30 s. */
  readonly testTimeout?: number
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
      // The JSON report feeds the closing "N passed, N failed" line of `pnpm test` (.ci/test-summary.mjs).
      reporters: ["default", "json"],
      outputFile: { json: "build/vitest-report.json" }
    }
  })
