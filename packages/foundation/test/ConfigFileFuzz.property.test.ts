/**
 * Fuzzing configuration files: arbitrary text in a JSON or YAML file, arbitrary JSON shapes, and a valid file
 * with one setting replaced by an arbitrary value all build the Config service or fail with `ConfigInvalid`,
 * never a defect or a throw. A configuration that builds answers `current`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as YAML from "yaml"
import * as Config from "../src/Config.js"

const valid = {
  modules: { cacheEnabled: true },
  providers: {
    default: { kind: "simulated", timeoutMs: 1000, maxRetries: 2 },
    backup: { kind: "openai", baseUrl: "http://127.0.0.1:1/v1", backup: "default" }
  },
  infrastructure: {
    rateLimiters: { lm_provider_default: { scaleMs: 1000, limit: 10 } },
    circuitBreakers: { lm: { failureThreshold: 3 } }
  }
}

/** Every place in a JSON value: the path of keys to it. */
const places = (value: unknown, at: ReadonlyArray<string> = []): Array<ReadonlyArray<string>> => {
  if (typeof value !== "object" || value === null) return [at]
  return [at, ...Object.entries(value).flatMap(([k, v]) => places(v, [...at, k]))]
}

/** `value` with the place at `at` replaced by `by` (a copy). */
const replaced = (value: unknown, at: ReadonlyArray<string>, by: unknown): unknown => {
  if (at.length === 0) return by
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as never) : { ...(value as object) }
  const [key, ...rest] = at
  Object.defineProperty(copy, key!, {
    value: replaced(copy[key!], rest, by),
    enumerable: true,
    writable: true,
    configurable: true
  })
  return copy
}

const keys = fc.constantFrom("modules", "providers", "infrastructure", "dspy", "kind", "__proto__", "constructor", "a")
const jsonShape = fc.oneof(fc.jsonValue(), fc.dictionary(keys, fc.jsonValue()))
const settingValue = fc.oneof(
  jsonShape,
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, Number.MAX_VALUE, "", "openai", "token-bucket", null, true, [], {})
)
const text = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.json(),
  jsonShape.map((j) => JSON.stringify(j) ?? ""),
  fc
    .array(fc.constantFrom("a:", " ", "\n", "- ", "{", "}", "[", "]", "&x", "*x", "!!js", "'", '"', "#", ": 1", "<<"), {
      maxLength: 20
    })
    .map((parts) => parts.join(""))
)

const build = (file: string) => Config.make({ file }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))

/** The Config service or a ConfigInvalid, never a defect. */
const serviceOrConfigInvalid = async (file: string) => {
  const exit = await Effect.runPromiseExit(Effect.flatMap(build(file), (config) => config.current))
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause)
    assert.isTrue(
      failure._tag === "Some" && failure.value._tag === "ConfigInvalid",
      `not a ConfigInvalid: ${Cause.pretty(exit.cause)}`
    )
  }
}

const inTempDir = (f: (dir: string) => Promise<void>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-config-fuzz-"))),
    (dir) => Effect.promise(() => f(dir)),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("configuration files: the service or ConfigInvalid, never a defect", () => {
  it.effect("arbitrary text in a .json, .yaml or extension-less file", () =>
    inTempDir((dir) =>
      fc.assert(
        fc.asyncProperty(text, fc.constantFrom("config.json", "config.yaml", "config"), async (t, name) => {
          const file = path.join(dir, name)
          fs.writeFileSync(file, t)
          await serviceOrConfigInvalid(file)
        }),
        { numRuns: 150 }
      )
    )
  )

  it.effect("the valid file the next property changes builds", () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "config.json")
      fs.writeFileSync(file, JSON.stringify(valid))
      const current = await Effect.runPromise(Effect.flatMap(build(file), (config) => config.current))
      assert.strictEqual(current.providers["backup"]?.kind, "openai")
    })
  )

  it.effect("a valid file with one place replaced by an arbitrary value (JSON and YAML)", () =>
    inTempDir((dir) =>
      fc.assert(
        fc.asyncProperty(fc.constantFrom(...places(valid)), settingValue, fc.boolean(), async (at, by, yaml) => {
          const content = replaced(valid, at, by)
          const file = path.join(dir, yaml ? "config.yaml" : "config.json")
          fs.writeFileSync(file, yaml ? YAML.stringify(content) : (JSON.stringify(content) ?? ""))
          await serviceOrConfigInvalid(file)
        }),
        { numRuns: 200 }
      )
    )
  )
})
