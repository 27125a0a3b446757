import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ClusterJobs, Runner } from "@effect-dspy/cluster"
import { TestPostgres } from "@effect-dspy/services"
import { addKey } from "../src/commands/Keys.js"
import { readKeys, serve } from "../src/commands/Serve.js"

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = net.createServer()
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        server.close(() => resolve(port))
      })
    })
)

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-serve-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A JSON answer of the API, read loosely. */
interface ApiJson {
  readonly [key: string]: unknown
  readonly id?: string
  readonly status?: string
  readonly version?: number
  readonly swappedVersion?: number
}

const status = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(url, { headers }).then(
      (r) => r.status,
      () => 0
    )
  )

describe("effect-dspy keys and serve", () => {
  it.scopedLive("keys new writes a digest (mode 0600), never the key; a second key with the same id is refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      const key = yield* addKey(file, "ops", ["admin"])
      const text = fs.readFileSync(file, "utf8")
      assert.notInclude(text, Redacted.value(key))
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      const keys = yield* readKeys(file)
      assert.deepStrictEqual(
        keys.map((k) => [k.id, k.scopes]),
        [["ops", ["admin"]]]
      )
      const again = yield* Effect.either(addKey(file, "ops", ["read"]))
      assert.isTrue(again._tag === "Left" && again.left.message.includes("already has a key"))
      fs.writeFileSync(file, "{ not json")
      const bad = yield* Effect.either(readKeys(file))
      assert.isTrue(bad._tag === "Left" && bad.left._tag === "ServeFailed")
    })
  )

  it.scopedLive("keys new --tenant / --cross-tenant: the entry names its tenant; bad ones are refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      yield* addKey(file, "acme", ["admin"], { tenant: "acme" })
      yield* addKey(file, "ops", ["admin"], { crossTenant: true })
      const keys = yield* readKeys(file)
      assert.deepStrictEqual(
        keys.map((k) => [k.id, k.tenant, k.crossTenant]),
        [
          ["acme", "acme", undefined],
          ["ops", undefined, true]
        ]
      )
      const badTenant = yield* Effect.either(addKey(file, "x", ["read"], { tenant: "Acme Corp" }))
      assert.isTrue(badTenant._tag === "Left" && badTenant.left.message.includes("--tenant"))
      const notAdmin = yield* Effect.either(addKey(file, "y", ["read"], { crossTenant: true }))
      assert.isTrue(notAdmin._tag === "Left" && notAdmin.left.message.includes("--cross-tenant"))
    })
  )

  it.scopedLive("serve listens with the key file's keys and stops when interrupted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      const key = Redacted.value(yield* addKey(file, "reader", ["read"]))
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}`
      const fiber = yield* Effect.fork(
        serve({
          config: Option.none(),
          keys: Option.some(file),
          port,
          host: "127.0.0.1",
          rateLimit: 100,
          maxBodyBytes: 1024,
          corsOrigin: [],
          noDashboard: false,
          grace: 1,
          releases: Option.none(),
          json: true,
          secureCookies: false
        })
      )
      while ((yield* status(`${url}/health/live`)) !== 200) yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* status(`${url}/health`), 401)
      assert.strictEqual(yield* status(`${url}/health`, { authorization: `Bearer ${key}` }), 200)
      assert.strictEqual(yield* status(`${url}/dashboard/`), 200)
      // The LM caches through a CacheManager: its actor is in the supervision tree.
      const tree = yield* Effect.promise(() =>
        fetch(`${url}/tree`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.text())
      )
      assert.include(tree, '"cache_manager"')
      // A workflow engine runs under the server: an unknown run is a 404 (503 without an engine).
      assert.strictEqual(yield* status(`${url}/workflows/runs/run_unknown`, { authorization: `Bearer ${key}` }), 404)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* status(`${url}/health/live`), 0)
    })
  )

  it.scopedLive("serve without keys fails saying how to make them", () =>
    Effect.gen(function* () {
      const saved = process.env["EFFECT_DSPY_API_KEYS_FILE"]
      delete process.env["EFFECT_DSPY_API_KEYS_FILE"]
      const result = yield* Effect.either(
        serve({
          config: Option.none(),
          keys: Option.none(),
          port: 0,
          host: "127.0.0.1",
          rateLimit: 0,
          maxBodyBytes: 1024,
          corsOrigin: [],
          noDashboard: true,
          grace: 1,
          releases: Option.none(),
          json: true,
          secureCookies: false
        })
      )
      if (saved !== undefined) process.env["EFFECT_DSPY_API_KEYS_FILE"] = saved
      assert.isTrue(result._tag === "Left" && result.left.message.includes("effect-dspy keys new"))
    })
  )
  it.scopedLive("serve --cluster on the SQLite default fails saying to configure PostgreSQL", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      yield* addKey(file, "ops", ["admin"])
      const result = yield* Effect.either(
        serve({
          config: Option.none(),
          keys: Option.some(file),
          port: 0,
          host: "127.0.0.1",
          rateLimit: 0,
          maxBodyBytes: 1024,
          corsOrigin: [],
          noDashboard: true,
          grace: 1,
          releases: Option.none(),
          json: true,
          secureCookies: false,
          cluster: true
        })
      )
      assert.isTrue(result._tag === "Left" && result.left.message.includes("storage.backend to postgres"))
    })
  )

  it.scopedLive.skipIf(TestPostgres.findPostgres() === undefined)(
    "serve --cluster on PostgreSQL: the API's jobs are the cluster's, and their swap is served at once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const pg = yield* TestPostgres.start(TestPostgres.findPostgres()!)
        const db = yield* pg.createDatabase("serve_cluster")
        const keys = path.join(dir, "keys.json")
        const key = Redacted.value(yield* addKey(keys, "ops", ["admin"]))
        const config = path.join(dir, "config.json")
        fs.writeFileSync(
          config,
          JSON.stringify({
            storage: { backend: "postgres", postgres: { url: Redacted.value(db) } },
            cluster: { runnerPort: yield* freePort }
          })
        )
        const port = yield* freePort
        const url = `http://127.0.0.1:${port}`
        yield* Effect.forkScoped(
          serve({
            config: Option.some(config),
            keys: Option.some(keys),
            port,
            host: "127.0.0.1",
            rateLimit: 0,
            maxBodyBytes: 1024 * 1024,
            corsOrigin: [],
            noDashboard: true,
            grace: 1,
            releases: Option.none(),
            json: true,
            secureCookies: false,
            cluster: true
          })
        )
        const call = (method: string, route: string, body?: unknown) =>
          Effect.promise(() =>
            fetch(`${url}${route}`, {
              method,
              headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
              ...(body === undefined ? {} : { body: JSON.stringify(body) })
            }).then(async (r) => ({ status: r.status, json: (await r.json()) as ApiJson }))
          )
        const deadline = Date.now() + 60_000
        while ((yield* status(`${url}/health/live`)) !== 200) {
          if (Date.now() > deadline) return assert.fail("serve --cluster did not start in 60 s")
          yield* Effect.sleep("100 millis")
        }
        assert.strictEqual(
          (yield* call("POST", "/modules", { id: "qa", kind: "predict", signature: "question -> answer" })).status,
          201
        )
        const trainset = [1, 2, 3].map((i) => ({
          fields: { question: `What is ${i} + ${i}?`, answer: String(2 * i) },
          inputs: ["question"]
        }))
        const started = yield* call("POST", "/jobs", { moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
        assert.strictEqual(started.status, 202, JSON.stringify(started.json))
        // A cluster job: refused per-job budgets say so.
        const budget = yield* call("POST", "/jobs", {
          moduleId: "qa",
          optimizer: "bootstrap_few_shot",
          trainset,
          budget: { maxLmCalls: 5 }
        })
        assert.strictEqual(budget.status, 400)
        assert.include(JSON.stringify(budget.json), "budget")
        let job: ApiJson = {}
        while (!["swapped", "rejected", "failed", "cancelled"].includes(job.status ?? "")) {
          if (Date.now() > deadline) return assert.fail(`the job did not end: ${JSON.stringify(job)}`)
          yield* Effect.sleep("100 millis")
          job = (yield* call("GET", `/jobs/${started.json.id}`)).json
        }
        assert.strictEqual(job.status, "swapped", JSON.stringify(job))
        // It ran as a cluster job (its row is in the cluster's job table) ...
        const clusterJob = yield* ClusterJobs.find(String(started.json.id)).pipe(
          Effect.flatten,
          Effect.provide(Runner.layerClient({ url: db }))
        )
        assert.strictEqual(clusterJob.status, "swapped")
        assert.isDefined(clusterJob.owner)
        // ... and the serving ModuleManager serves its version without a restart.
        let promoted: unknown
        while (promoted !== job.swappedVersion) {
          if (Date.now() > deadline) return assert.fail(`version ${job.swappedVersion} is not served: ${promoted}`)
          promoted = (yield* call("GET", "/modules/qa")).json.version
          if (promoted !== job.swappedVersion) yield* Effect.sleep("100 millis")
        }
      }),
    120_000
  )
})
