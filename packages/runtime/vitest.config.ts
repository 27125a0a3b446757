import { defineConfig } from "vitest/config"

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources (the `@effect-dspy/source` export condition), so the
  // tests run without a build.
  resolve: { conditions: ["@effect-dspy/source"] },
  ssr: { resolve: { conditions: ["@effect-dspy/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // Property tests run hundreds of cases: on a loaded 2-core machine 5 s is too tight (speed lives in benches).
    testTimeout: 30_000,
    // The JSON report feeds the closing "N passed, N failed" line of `pnpm test` (.ci/test-summary.mjs).
    reporters: ["default", "json"],
    outputFile: { json: "build/vitest-report.json" }
  }
})
