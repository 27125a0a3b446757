/**
 * `pnpm api:check` compares API reports as sorted lines (scripts/api-report-order.mjs): a clean and an incremental
 * build print the members of inferred object types in different orders, which is not an API change; any added,
 * removed or changed line is.
 */
import { assert, describe, it } from "@effect/vitest"
import { sameApi } from "../../../scripts/api-report-order.mjs"

const report = [
  'const CacheDegraded: Events.Definition<"cache_degraded", {',
  "    readonly error: string;",
  "    readonly path: string | null;",
  "}>;"
].join("\n")

describe("API report comparison", () => {
  it("the same members in another order are the same API", () => {
    const reordered = [
      'const CacheDegraded: Events.Definition<"cache_degraded", {',
      "    readonly path: string | null;",
      "    readonly error: string;",
      "}>;"
    ].join("\n")
    assert.isTrue(sameApi(report, reordered))
    assert.isTrue(sameApi(report, `${report.replace("string;", "string;  ")}`))
  })

  it("an added, removed or changed member is a different API", () => {
    assert.isFalse(sameApi(report, report.replace("readonly error: string;", "readonly error: number;")))
    assert.isFalse(sameApi(report, report.replace("    readonly error: string;\n", "")))
    assert.isFalse(sameApi(report, report.replace("}>;", "    readonly at: number;\n}>;")))
  })
})
