import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "../src/Config.js"

const build = (file: string) => Config.make({ file }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))

/** Writes a file in a fresh temp directory, runs the effect, removes the directory. */
const withFile = <A, E>(name: string, text: string, f: (file: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-config-keys-"))),
    (dir) => {
      const file = path.join(dir, name)
      fs.writeFileSync(file, text)
      return f(file)
    },
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("config files with prototype keys", () => {
  const cases: Array<[string, string, string]> = [
    ["top.json", '{"__proto__": {"modules": {"cacheEnabled": false}}}', "__proto__"],
    ["nested.json", '{"providers": {"__proto__": {"kind": "openai", "baseUrl": "http://x"}}}', "providers.__proto__"],
    ["nested.yaml", "providers:\n  default:\n    __proto__:\n      timeoutMs: 5\n", "providers.default.__proto__"],
    ["array.json", '{"providers": {"a": {"kind": "simulated"}}, "x": [{"constructor": {}}]}', "x.0.constructor"],
    ["dspy.yaml", "dspy:\n  modules:\n    prototype: 1\n", "dspy.modules.prototype"]
  ]
  for (const [name, text, where] of cases) {
    it.effect(`${name}: rejected with ConfigInvalid naming the key and where it is`, () =>
      withFile(name, text, (file) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(build(file))
          assert.strictEqual(error._tag, "ConfigInvalid")
          assert.strictEqual(error.source, `file ${file}`)
          assert.include(error.message, where)
        })
      )
    )
  }

  it.effect("a file nested 100,000 deep is a typed error, not a stack overflow", () =>
    withFile("deep.json", `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`, (file) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(build(file))
        assert.strictEqual(error._tag, "ConfigInvalid")
      })
    )
  )

  it.effect("a YAML file with an unresolved tag is rejected naming it, and prints no process warning", () =>
    withFile("tagged.yaml", "modules: !!js/function 'x'\n", (file) =>
      Effect.gen(function* () {
        const warnings: Array<unknown> = []
        const onWarning = (w: unknown) => warnings.push(w)
        process.on("warning", onWarning)
        const error = yield* Effect.flip(build(file)).pipe(
          Effect.ensuring(Effect.sync(() => process.off("warning", onWarning)))
        )
        // A warning is emitted on the next tick: let it arrive before asserting there was none.
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        assert.strictEqual(error._tag, "ConfigInvalid")
        assert.include(error.message, "not valid YAML")
        assert.include(error.message, "js/function")
        assert.deepStrictEqual(warnings, [])
      })
    )
  )
})
