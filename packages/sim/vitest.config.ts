import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The JSON report feeds the closing "N passed, N failed" line of `pnpm test` (.ci/test-summary.mjs).
    reporters: ["default", "json"],
    outputFile: { json: "build/vitest-report.json" }
  }
})
