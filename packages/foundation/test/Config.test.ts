import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as util from "node:util"
import * as Config from "../src/Config.js"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-config-"))
const writeFile = (name: string, text: string): string => {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, text)
  return file
}

const withEnv = (entries: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

/** Builds the service under the given environment. */
const build = (options: Config.Options = {}, env: Record<string, string> = {}) =>
  Config.make(options).pipe(withEnv(env))

const SECRET = "sk-test-THIS-MUST-NEVER-APPEAR-0123456789"

describe("Config", () => {
  it.effect("defaults decode when there is no source", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const current = yield* config.current
      assert.strictEqual(current.optimization.copro.breadth, 10)
      assert.strictEqual(current.modules.defaultLmProvider, "default")
      assert.strictEqual(yield* config.get("providers.default.kind"), "simulated")
    })
  )

  it.effect("reads a JSON file and a YAML file (also under a `dspy:` key)", () =>
    Effect.gen(function* () {
      const json = writeFile("a.json", JSON.stringify({ optimization: { copro: { breadth: 4 } } }))
      const fromJson = yield* build({ file: json })
      assert.strictEqual(yield* fromJson.get("optimization.copro.breadth"), 4)
      assert.strictEqual(yield* fromJson.get("optimization.copro.depth"), 3)

      const yaml = writeFile(
        "b.yaml",
        "dspy:\n  modules:\n    cacheEnabled: false\n  infrastructure:\n    rateLimiters:\n      lm_provider_default:\n        scaleMs: 60000\n        limit: 50\n"
      )
      const fromYaml = yield* build({ file: yaml })
      assert.strictEqual(yield* fromYaml.get("modules.cacheEnabled"), false)
      assert.deepStrictEqual(yield* fromYaml.get("infrastructure.rateLimiters.lm_provider_default"), {
        scaleMs: 60000,
        limit: 50,
        algorithm: "token-bucket"
      })
    })
  )

  it.effect("finds the file through EFFECT_DSPY_CONFIG", () =>
    Effect.gen(function* () {
      const file = writeFile("c.yml", "optimization:\n  workers: 7\n")
      const config = yield* build({}, { EFFECT_DSPY_CONFIG: file })
      assert.strictEqual(yield* config.get("optimization.workers"), 7)
    })
  )

  it.effect("maps EFFECT_DSPY__ variables (JSON or string values, case-insensitive segments)", () =>
    Effect.gen(function* () {
      const config = yield* build(
        {},
        {
          EFFECT_DSPY__OPTIMIZATION__COPRO__BREADTH: "4",
          EFFECT_DSPY__OPTIMIZATION__COPRO__INIT_TEMPERATURE: "0.7",
          EFFECT_DSPY__modules__cacheEnabled: "false",
          EFFECT_DSPY__PROVIDERS__DEFAULT__DEFAULT_MODEL: "sim-large",
          EFFECT_DSPY__INFRASTRUCTURE__BULKHEADS__LM: '{"maxConcurrent":3}'
        }
      )
      const c = yield* config.current
      assert.strictEqual(c.optimization.copro.breadth, 4)
      assert.strictEqual(c.optimization.copro.initTemperature, 0.7)
      assert.strictEqual(c.modules.cacheEnabled, false)
      assert.strictEqual(c.providers.default?.defaultModel, "sim-large")
      assert.deepStrictEqual(c.infrastructure.bulkheads.lm, { maxConcurrent: 3, maxQueued: 1000 })
    })
  )

  it.effect("reads the real process environment through ConfigProvider.fromEnv (`_` path delimiter)", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        process.env.EFFECT_DSPY__OPTIMIZATION__BOOTSTRAP__MAX_ROUNDS = "7"
        process.env.EFFECT_DSPY__INFRASTRUCTURE__RATE_LIMITERS__LM_PROVIDER_DEFAULT = '{"scaleMs":60000,"limit":50}'
      }),
      () =>
        Effect.gen(function* () {
          const config = yield* Config.make().pipe(Effect.withConfigProvider(ConfigProvider.fromEnv()))
          assert.strictEqual(yield* config.get("optimization.bootstrap.maxRounds"), 7)
          assert.strictEqual(
            ((yield* config.get("infrastructure.rateLimiters.lm_provider_default")) as { limit: number }).limit,
            50
          )
        }),
      () =>
        Effect.sync(() => {
          delete process.env.EFFECT_DSPY__OPTIMIZATION__BOOTSTRAP__MAX_ROUNDS
          delete process.env.EFFECT_DSPY__INFRASTRUCTURE__RATE_LIMITERS__LM_PROVIDER_DEFAULT
        })
    )
  )

  it.effect("defaults < file < environment", () =>
    Effect.gen(function* () {
      const file = writeFile("d.json", JSON.stringify({ optimization: { copro: { breadth: 4, depth: 5 } } }))
      const config = yield* build({ file }, { EFFECT_DSPY__OPTIMIZATION__COPRO__DEPTH: "6" })
      assert.strictEqual(yield* config.get("optimization.copro.breadth"), 4)
      assert.strictEqual(yield* config.get("optimization.copro.depth"), 6)
      assert.strictEqual(yield* config.get("optimization.copro.initTemperature"), 1.4)
    })
  )

  it.effect("OPENAI_API_KEY adds the default `openai` provider, key Redacted and never printed", () =>
    Effect.gen(function* () {
      const config = yield* build({}, { OPENAI_API_KEY: SECRET, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" })
      const c = yield* config.current
      assert.strictEqual(c.modules.defaultLmProvider, "openai")
      const openai = c.providers.openai
      assert.isDefined(openai)
      assert.strictEqual(openai?.kind, "openai")
      assert.strictEqual(openai?.baseUrl, "http://127.0.0.1:9/v1")
      assert.isTrue(openai?.apiKey !== undefined && Redacted.isRedacted(openai.apiKey))
      assert.strictEqual(Redacted.value(openai!.apiKey!), SECRET)
      assert.notInclude(JSON.stringify(c), SECRET)
      assert.notInclude(util.inspect(c, { depth: 10 }), SECRET)
      assert.notInclude(String(c.providers.openai?.apiKey), SECRET)
      assert.notInclude(JSON.stringify(yield* config.get("providers.openai")), SECRET)
    })
  )

  it.effect("the implicit `default` provider stays only while it is used or configured", () =>
    Effect.gen(function* () {
      const names = (options: Config.Options, env: Record<string, string> = {}) =>
        Effect.flatMap(build(options, env), (c) => Effect.map(c.current, (cur) => Object.keys(cur.providers)))
      // Nothing configured: it is the default provider.
      assert.deepStrictEqual(yield* names({}), ["default"])
      // Another default provider and no backup to it: the user's providers stand alone.
      const own = { modules: { defaultLmProvider: "a" }, providers: { a: { backup: "b" }, b: {} } }
      assert.deepStrictEqual(yield* names({ defaults: own }), ["a", "b"])
      assert.deepStrictEqual(yield* names({}, { OPENAI_API_KEY: SECRET }), ["openai"])
      // Named as a backup, or configured by a source: it stays.
      const backedUp = { modules: { defaultLmProvider: "a" }, providers: { a: { backup: "default" } } }
      assert.deepStrictEqual(yield* names({ defaults: backedUp }), ["default", "a"])
      const configured = { modules: { defaultLmProvider: "a" }, providers: { a: {}, default: { poolSize: 4 } } }
      assert.deepStrictEqual(yield* names({ defaults: configured }), ["default", "a"])
      // Providers of one's own without naming another default one: `default` is still the default provider.
      assert.deepStrictEqual(yield* names({ defaults: { providers: { a: {} } } }), ["default", "a"])
    })
  )

  it.effect("errors never contain the key", () =>
    Effect.gen(function* () {
      // The key in the wrong shape: the schema's message would quote it ("actual [...]").
      const file = writeFile(
        "secret.json",
        JSON.stringify({ providers: { openai: { apiKey: [SECRET], timeoutMs: -1 } } })
      )
      const error = yield* Effect.flip(build({ file }, { OPENAI_API_KEY: SECRET }))
      assert.strictEqual(error._tag, "ConfigInvalid")
      assert.isTrue(error.issues.some((i) => i.startsWith("providers.openai.apiKey") && i.includes("<redacted>")))
      // From the environment, a provider key under the structured mapping is a secret too.
      const envError = yield* Effect.flip(
        build({}, { EFFECT_DSPY__PROVIDERS__DEFAULT__API_KEY: SECRET, EFFECT_DSPY__PROVIDERS__DEFAULT__KIND: SECRET })
      )
      assert.notInclude(envError.message, SECRET)
      assert.include(envError.message, "providers.default.kind")
      assert.notInclude(error.message, SECRET)
      assert.notInclude(JSON.stringify(error), SECRET)
      assert.notInclude(util.inspect(error), SECRET)
      assert.notInclude(String(error), SECRET)
    })
  )

  it.effect("a bad file fails with ConfigInvalid naming the file and the paths", () =>
    Effect.gen(function* () {
      const file = writeFile("bad.yaml", "optimization:\n  copro:\n    breadth: 1\n  colour: blue\n")
      const error = yield* Effect.flip(build({ file }))
      assert.strictEqual(error._tag, "ConfigInvalid")
      assert.strictEqual(error.source, `file ${file}`)
      assert.isTrue(error.issues.some((i) => i.startsWith("optimization.copro.breadth")))
      assert.isTrue(error.issues.some((i) => i.includes("colour")))
      assert.include(error.message, "optimization.copro.breadth")

      const broken = writeFile("broken.json", "{ not json")
      const parse = yield* Effect.flip(build({ file: broken }))
      assert.strictEqual(parse.source, `file ${broken}`)
      assert.include(parse.issues[0], "JSON")

      const missing = yield* Effect.flip(build({ file: path.join(tmp, "nope.yaml") }))
      assert.include(missing.issues[0], "ENOENT")
    })
  )

  it.effect("a bad environment value fails with ConfigInvalid naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(build({}, { EFFECT_DSPY__OPTIMIZATION__COPRO__BREADTH: "zero" }))
      assert.strictEqual(error.source, "environment")
      assert.include(error.issues[0], "EFFECT_DSPY__OPTIMIZATION__COPRO__BREADTH")
      assert.include(error.issues[0], "optimization.copro.breadth")

      const unknown = yield* Effect.flip(build({}, { EFFECT_DSPY__OPTIMISATION__WORKERS: "2" }))
      assert.strictEqual(unknown.source, "environment")
      assert.include(unknown.issues[0], "EFFECT_DSPY__OPTIMISATION__WORKERS")
      assert.include(unknown.issues[0].toLowerCase(), "no setting 'optimisation'")
    })
  )

  it.effect("cross-field checks: the default provider must exist", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(build({ defaults: { modules: { defaultLmProvider: "ghost" } } }))
      assert.strictEqual(error.source, "defaults")
      assert.include(error.issues[0], "ghost")
    })
  )

  it.effect("snapshot reads the current configuration synchronously, updates included, invalid ones not", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const snapshot = config.snapshot!
      assert.strictEqual(snapshot(), yield* config.current)
      yield* config.update("optimization.copro.breadth", 6)
      assert.strictEqual(snapshot().optimization.copro.breadth, 6)
      assert.strictEqual(snapshot(), yield* config.current)
      yield* Effect.flip(config.update("optimization.copro.breadth", "wide"))
      assert.strictEqual(snapshot().optimization.copro.breadth, 6)
    })
  )

  it.effect("updates whitelisted paths (with `*`), forbids the rest, and keeps the old value when invalid", () =>
    Effect.gen(function* () {
      const config = yield* build()
      yield* config.update("optimization.copro.breadth", 6)
      assert.strictEqual(yield* config.get("optimization.copro.breadth"), 6)
      yield* config.update("providers.default.timeoutMs", 1234)
      assert.strictEqual(yield* config.get("providers.default.timeoutMs"), 1234)
      yield* config.update("infrastructure.circuitBreakers.lm", { failureThreshold: 2 })
      assert.strictEqual(
        ((yield* config.get("infrastructure.circuitBreakers.lm")) as { windowMs: number }).windowMs,
        60_000
      )

      const forbidden = yield* Effect.flip(config.update("providers.default.kind", "openai"))
      assert.strictEqual(forbidden._tag, "ConfigUpdateForbidden")
      assert.include(forbidden.message, "providers.*.timeoutMs")
      const forbiddenTop = yield* Effect.flip(config.update("telemetry.serviceName", "x"))
      assert.strictEqual(forbiddenTop._tag, "ConfigUpdateForbidden")

      const invalid = yield* Effect.flip(config.update("optimization.copro.breadth", 1))
      assert.strictEqual(invalid._tag, "ConfigInvalid")
      assert.strictEqual(yield* config.get("optimization.copro.breadth"), 6)

      const invalidBackup = yield* Effect.flip(config.update("providers.default.backup", "nobody"))
      assert.strictEqual(invalidBackup._tag, "ConfigInvalid")

      const missing = yield* Effect.flip(config.update("providers.ghost.timeoutMs", 5))
      assert.strictEqual(missing._tag, "ConfigPathNotFound")
      const unknownPath = yield* Effect.flip(config.get("optimization.nothing"))
      assert.strictEqual(unknownPath._tag, "ConfigPathNotFound")
      assert.include(unknownPath.message, "copro")
    })
  )

  it.effect("subscribe delivers each change; watch gives the current value then the changes that touch it", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const changes = yield* Effect.fork(Stream.runCollect(Stream.take(config.subscribe, 2)))
      const watched = yield* Effect.fork(Stream.runCollect(Stream.take(config.watch("optimization.copro"), 3)))
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      yield* config.update("optimization.copro.depth", 4)
      yield* config.update("modules.cacheEnabled", false)
      yield* config.update("optimization", { copro: { breadth: 3 } })

      const got = Chunk.toReadonlyArray(yield* Fiber.join(changes))
      assert.deepStrictEqual(
        got.map((c) => [c.path, c.previous, c.current]),
        [
          ["optimization.copro.depth", 3, 4],
          ["modules.cacheEnabled", true, false]
        ]
      )
      assert.strictEqual(got[1]?.config.modules.cacheEnabled, false)
      const values = Chunk.toReadonlyArray(yield* Fiber.join(watched)) as Array<{ breadth: number; depth: number }>
      assert.deepStrictEqual(
        values.map((v) => [v.breadth, v.depth]),
        [
          [10, 3],
          [10, 4],
          [3, 3]
        ]
      )
    })
  )

  it.effect("layerTest applies overrides without reading the environment", () =>
    Effect.gen(function* () {
      const breadth = yield* Config.get("optimization.copro.breadth")
      assert.strictEqual(breadth, 5)
      assert.strictEqual(yield* Config.get("providers.openai"), undefined)
    }).pipe(
      Effect.provide(Config.layerTest({ optimization: { copro: { breadth: 5 } } })),
      withEnv({ OPENAI_API_KEY: SECRET })
    )
  )

  it.effect("layer fails to build on a bad source", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(
        Layer.build(Config.layer({ defaults: { events: { maxEvents: 0 } } })).pipe(Effect.scoped)
      )
      assert.isTrue(Either.isLeft(result))
    })
  )

  it.effect("property: a valid update is read back; an invalid one fails and keeps the old value", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const samples = fc.sample(fc.integer({ min: -5, max: 50 }), 60)
      for (const n of samples) {
        const before = yield* config.get("optimization.copro.breadth")
        const result = yield* Effect.either(config.update("optimization.copro.breadth", n))
        if (n > 1) {
          assert.isTrue(Either.isRight(result))
          assert.strictEqual(yield* config.get("optimization.copro.breadth"), n)
        } else {
          assert.isTrue(Either.isLeft(result))
          assert.strictEqual(yield* config.get("optimization.copro.breadth"), before)
        }
      }
    })
  )

  it.effect("values handed out are deep-frozen: a write throws and the running config is unchanged", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const current = yield* config.current
      assert.isTrue(Object.isFrozen(current) && Object.isFrozen(current.infrastructure.rateLimiters))
      assert.throws(() => {
        ;(current.optimization.copro as { breadth: number }).breadth = -999
      }, TypeError)
      const copro = (yield* config.get("optimization.copro")) as { breadth: number }
      assert.throws(() => {
        copro.breadth = -999
      }, TypeError)
      const providers = (yield* config.get("providers")) as Record<string, unknown>
      assert.throws(() => {
        providers.injected = { kind: "openai" }
      }, TypeError)
      assert.strictEqual((yield* config.current).optimization.copro.breadth, 10)
      assert.strictEqual(yield* config.get("providers.injected"), undefined)
      // Values given to update are not kept live either: changing the caller's object afterwards changes nothing.
      const settings = { failureThreshold: 2 }
      yield* config.update("infrastructure.circuitBreakers.lm", settings)
      settings.failureThreshold = 99
      const lm = (yield* config.get("infrastructure.circuitBreakers.lm")) as { failureThreshold: number }
      assert.strictEqual(lm.failureThreshold, 2)
      assert.isTrue(Object.isFrozen(lm))
    })
  )

  it.effect("prototype segments and unknown record keys fail typed, naming the path and what is allowed", () =>
    Effect.gen(function* () {
      const config = yield* build()
      const before = yield* config.current
      for (const path of [
        "providers.__proto__.poolSize",
        "providers.constructor.poolSize",
        "__proto__",
        "events.prototype"
      ]) {
        const error = yield* Effect.flip(config.update(path, 3))
        assert.strictEqual(error._tag, "ConfigPathNotFound", path)
        assert.strictEqual((error as Config.ConfigPathNotFound).path, path)
        assert.include(error.message, "never allowed")
        const read = yield* Effect.flip(config.get(path))
        assert.strictEqual(read._tag, "ConfigPathNotFound")
      }
      const ghost = yield* Effect.flip(config.update("providers.ghost.poolSize", 3))
      assert.strictEqual(ghost._tag, "ConfigPathNotFound")
      assert.deepStrictEqual((ghost as Config.ConfigPathNotFound).allowed, ["default"])
      assert.include(ghost.message, "configured there: default")
      const unknownField = yield* Effect.flip(config.get("optimization.nothing"))
      assert.include((unknownField as Config.ConfigPathNotFound).allowed ?? [], "copro")
      assert.strictEqual(yield* config.current, before)
      assert.isUndefined(({} as Record<string, unknown>).poolSize)
    })
  )

  it("property: random paths either update and notify, or fail typed and change nothing", async () => {
    const names = [
      "modules",
      "optimization",
      "providers",
      "infrastructure",
      "events",
      "telemetry",
      "copro",
      "breadth",
      "depth",
      "cacheEnabled",
      "cacheTtlMs",
      "maxVersions",
      "default",
      "ghost",
      "lm",
      "timeoutMs",
      "poolSize",
      "backup",
      "kind",
      "circuitBreakers",
      "rateLimiters",
      "failureThreshold",
      "maxEvents",
      "__proto__",
      "constructor",
      "prototype"
    ]
    const segment = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.string() })
    // Paths shaped like real ones (section, record key or field, field), so the interesting cases come up often.
    const structured = fc
      .tuple(
        fc.constantFrom("providers", "infrastructure.circuitBreakers", "optimization.copro", "modules", "events"),
        fc.constantFrom("default", "ghost", "lm", "__proto__", "constructor", "prototype", "breadth", "cacheEnabled"),
        fc.option(fc.constantFrom("poolSize", "timeoutMs", "backup", "failureThreshold", "kind"), { nil: undefined })
      )
      .map(([section, key, field]) => [...section.split("."), key, ...(field === undefined ? [] : [field])])
    const value = fc.oneof(
      fc.integer({ min: -3, max: 200 }),
      fc.boolean(),
      fc.constantFrom("default", "ghost", ""),
      fc.record({ failureThreshold: fc.integer({ min: -1, max: 9 }) }),
      fc.record({ limit: fc.integer({ min: 0, max: 5 }), scaleMs: fc.constant(1000) })
    )
    const prototypeNames = new Set(["__proto__", "constructor", "prototype"])
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()
    await fc.assert(
      fc.asyncProperty(fc.oneof(structured, fc.array(segment, { minLength: 1, maxLength: 4 })), value, (segments, v) =>
        Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const path = segments.join(".")
              const config = yield* build()
              const seen: Array<Config.ConfigChange> = []
              yield* Effect.forkScoped(Stream.runForEach(config.subscribe, (c) => Effect.sync(() => seen.push(c))))
              yield* Effect.repeatN(Effect.yieldNow(), 4)
              const before = yield* config.current
              const result = yield* Effect.either(config.update(path, v))
              yield* Effect.repeatN(Effect.yieldNow(), 4)
              const after = yield* config.current
              // Nothing leaked onto Object.prototype, whatever the path.
              assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore)
              if (Either.isRight(result)) {
                assert.isFalse(
                  segments.some((s) => prototypeNames.has(s)),
                  `updated through a prototype segment: ${path}`
                )
                assert.strictEqual(seen.length, 1, `no change published for ${path}`)
                assert.strictEqual(seen[0]!.path, path)
                assert.deepStrictEqual(yield* config.get(path), seen[0]!.current)
                if (typeof v !== "object") assert.strictEqual(yield* config.get(path), v)
                assert.notStrictEqual(after, before)
              } else {
                const error = result.left
                assert.include(["ConfigPathNotFound", "ConfigUpdateForbidden", "ConfigInvalid"], error._tag)
                if (error._tag === "ConfigInvalid") assert.strictEqual(error.source, `update of ${path}`)
                else assert.strictEqual(error.path, path)
                if (segments.some((s) => prototypeNames.has(s))) assert.strictEqual(error._tag, "ConfigPathNotFound")
                assert.strictEqual(after, before, `a failed update of ${path} changed the config`)
                assert.strictEqual(seen.length, 0)
              }
            })
          )
        )
      ),
      { numRuns: 300 }
    )
  })

  it("property: updates of whitelisted paths with valid values succeed, are read back and notified", async () => {
    const valid = fc.oneof(
      fc.tuple(fc.constant("optimization.copro.breadth"), fc.integer({ min: 2, max: 100 })),
      fc.tuple(fc.constant("modules.cacheEnabled"), fc.boolean()),
      fc.tuple(fc.constant("modules.cacheTtlMs"), fc.nat()),
      fc.tuple(fc.constant("providers.default.timeoutMs"), fc.integer({ min: 1, max: 1e6 })),
      fc.tuple(fc.constant("providers.default.poolSize"), fc.integer({ min: 1, max: 64 })),
      fc.tuple(fc.constant("events.maxEvents"), fc.integer({ min: 1, max: 1e6 })),
      fc.tuple(
        fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).map((name) => `infrastructure.circuitBreakers.${name}`),
        fc.record({ failureThreshold: fc.integer({ min: 1, max: 9 }) })
      )
    )
    await fc.assert(
      fc.asyncProperty(fc.array(valid, { minLength: 1, maxLength: 5 }), (updates) =>
        Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const config = yield* build()
              const seen: Array<Config.ConfigChange> = []
              yield* Effect.forkScoped(Stream.runForEach(config.subscribe, (c) => Effect.sync(() => seen.push(c))))
              yield* Effect.repeatN(Effect.yieldNow(), 4)
              for (const [path, v] of updates) {
                yield* config.update(path, v)
                const read = yield* config.get(path)
                if (typeof v === "object") {
                  assert.strictEqual((read as { failureThreshold: number }).failureThreshold, v.failureThreshold)
                } else assert.strictEqual(read, v)
              }
              yield* Effect.repeatN(Effect.yieldNow(), 4)
              assert.deepStrictEqual(
                seen.map((c) => c.path),
                updates.map(([p]) => p)
              )
            })
          )
        )
      ),
      { numRuns: 100 }
    )
  })
})
