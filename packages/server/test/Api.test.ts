import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { ApiKeys } from "../src/index.js"
import { start, client } from "./support.js"

const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

const raw = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

describe("ApiKeys", () => {
  it("finds the one matching key among many by its digest; a wrong, empty or near key matches none", () => {
    const generated = Array.from({ length: 500 }, (_, i) =>
      ApiKeys.generate(`k${i}`, [ApiKeys.scopes[i % 3] as ApiKeys.Scope])
    )
    const keys = ApiKeys.make(generated.map((g) => g.entry))
    assert.strictEqual(keys.size, 500)
    for (const i of [0, 1, 250, 499]) {
      assert.deepStrictEqual(keys.authenticate(generated[i]!.key), {
        id: `k${i}`,
        scopes: [ApiKeys.scopes[i % 3]!],
        tenant: "default" as never,
        crossTenant: false
      })
    }
    const one = Redacted.value(generated[7]!.key)
    for (const wrong of ["", "edk_", `${one}x`, one.slice(0, -1), one.toUpperCase()]) {
      assert.isUndefined(keys.authenticate(Redacted.make(wrong)))
    }
    // Only digests are stored: an entry's digest presented as a key is not the key.
    assert.isUndefined(keys.authenticate(Redacted.make(generated[7]!.entry.sha256)))
  })

  it("a key that passed is remembered by its text; its near misses still fail, as text or redacted", () => {
    const a = ApiKeys.generate("a", ["execute"])
    const b = ApiKeys.generate("b", ["read"], { tenant: "acme" })
    const keys = ApiKeys.make([a.entry, b.entry])
    const text = Redacted.value(a.key)
    const near = ["", `${text}x`, text.slice(0, -1), text.toUpperCase(), Redacted.value(b.key).slice(1)]
    for (let round = 0; round < 3; round++) {
      assert.strictEqual(keys.authenticateText(text)?.id, "a")
      assert.strictEqual(keys.authenticate(a.key)?.id, "a")
      assert.strictEqual(keys.authenticateText(Redacted.value(b.key))?.tenant, "acme")
      for (const wrong of near) {
        assert.isUndefined(keys.authenticateText(wrong))
        assert.isUndefined(keys.authenticate(Redacted.make(wrong)))
      }
    }
  })
})

describe("HTTP API over loopback", () => {
  it.scopedLive("modules: create, execute, versions, swap, rollback, conflicts and 404s through the typed client", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      const executor = yield* client(h.url, h.keys.executor)
      const created = yield* admin.modules.create({ payload: spec })
      assert.strictEqual(created.id, "qa")
      assert.strictEqual(created.version, 1)
      const execution = yield* executor.modules.execute({
        path: { id: "qa" },
        payload: { inputs: { question: "What is 2 + 3?" } }
      })
      assert.strictEqual(execution.moduleId, "qa")
      assert.strictEqual(execution.version, 1)
      const output = execution.output as { readonly fields?: { readonly answer?: unknown } }
      assert.isString(output.fields?.answer)
      const swapped = yield* admin.modules.swap({
        path: { id: "qa" },
        payload: { instructions: { self: "Answer with a number." }, ifVersion: 1 }
      })
      assert.strictEqual(swapped.version, 2)
      const conflict = yield* Effect.either(
        admin.modules.swap({ path: { id: "qa" }, payload: { instructions: { self: "x" }, ifVersion: 1 } })
      )
      assert.isTrue(Either.isLeft(conflict) && conflict.left._tag === "Conflict")
      const rolled = yield* admin.modules.rollback({ path: { id: "qa" }, payload: {} })
      assert.strictEqual(rolled.version, 3)
      const versions = yield* admin.modules.versions({ path: { id: "qa" } })
      assert.deepStrictEqual(
        versions.map((v) => v.version),
        [1, 2, 3]
      )
      const missing = yield* Effect.either(executor.modules.execute({ path: { id: "nope" }, payload: { inputs: {} } }))
      assert.isTrue(Either.isLeft(missing) && missing.left._tag === "NotFound")
      const duplicate = yield* Effect.either(admin.modules.create({ payload: spec }))
      assert.isTrue(Either.isLeft(duplicate) && duplicate.left._tag === "Conflict")
      const list = yield* executor.modules.list()
      assert.deepStrictEqual(
        list.map((m) => m.id),
        ["qa"]
      )
    })
  )

  it.scopedLive("auth: no key, a wrong key and a malformed header are 401; a missing scope is 403", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const anonymous = yield* client(h.url)
      const none = yield* Effect.either(anonymous.modules.list())
      assert.isTrue(Either.isLeft(none) && none.left._tag === "Unauthorized")
      const wrong = yield* client(h.url, `${h.keys.admin}x`)
      const bad = yield* Effect.either(wrong.modules.list())
      assert.isTrue(Either.isLeft(bad) && bad.left._tag === "Unauthorized")
      const malformed = yield* raw(`${h.url}/modules`, { headers: { authorization: "Basic abc" } })
      assert.strictEqual(malformed.status, 401)
      // The key never appears in an answer.
      assert.notInclude(malformed.text, h.keys.admin)
      const reader = yield* client(h.url, h.keys.reader)
      const forbidden = yield* Effect.either(reader.modules.create({ payload: spec }))
      assert.isTrue(Either.isLeft(forbidden) && forbidden.left._tag === "Forbidden")
      const executeForbidden = yield* Effect.either(
        reader.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: "1?" } } })
      )
      assert.isTrue(Either.isLeft(executeForbidden) && executeForbidden.left._tag === "Forbidden")
      const executor = yield* client(h.url, h.keys.executor)
      const adminOnly = yield* Effect.either(executor.modules.create({ payload: spec }))
      assert.isTrue(Either.isLeft(adminOnly) && adminOnly.left._tag === "Forbidden")
      // Reading is implied by execute.
      assert.deepStrictEqual(yield* executor.modules.list(), [])
      // The probes need no key.
      assert.deepStrictEqual(yield* anonymous.probes.live(), { status: "ok", reasons: [] })
    })
  )

  it.scopedLive("the session cookie is HttpOnly and SameSite=Strict; it and a short-lived token authenticate", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const session = yield* raw(`${h.url}/auth/session`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.keys.reader}` }
      })
      assert.strictEqual(session.status, 200)
      const cookie = session.headers.get("set-cookie") ?? ""
      assert.match(cookie, /HttpOnly/)
      assert.match(cookie, /SameSite=Strict/)
      const value = cookie.split(";")[0] as string
      const withCookie = yield* raw(`${h.url}/modules`, { headers: { cookie: value } })
      assert.strictEqual(withCookie.status, 200)
      const forged = yield* raw(`${h.url}/modules`, { headers: { cookie: "effect_dspy_session=forged" } })
      assert.strictEqual(forged.status, 401)
      const reader = yield* client(h.url, h.keys.reader)
      const token = yield* reader.auth.token()
      const withToken = yield* raw(`${h.url}/tree?access_token=${encodeURIComponent(token.token)}`)
      assert.strictEqual(withToken.status, 200)
      assert.strictEqual(JSON.parse(withToken.text).id, "dspy")
      const signOut = yield* raw(`${h.url}/auth/session`, { method: "DELETE", headers: { cookie: value } })
      assert.strictEqual(signOut.status, 204)
      const after = yield* raw(`${h.url}/modules`, { headers: { cookie: value } })
      assert.strictEqual(after.status, 401)
    })
  )

  it.scopedLive("limits: bad JSON and schema errors are 400s naming the field; a large body is 413; a key's rate", () =>
    Effect.gen(function* () {
      const h = yield* start({ rateLimit: { limit: 8, scaleMs: 60_000 }, maxBodyBytes: 4096 })
      const headers = { authorization: `Bearer ${h.keys.admin}`, "content-type": "application/json" }
      const badJson = yield* raw(`${h.url}/modules`, { method: "POST", headers, body: '{"id": "qa",' })
      assert.strictEqual(badJson.status, 400)
      const badKind = yield* raw(`${h.url}/modules`, {
        method: "POST",
        headers,
        body: JSON.stringify({ ...spec, kind: "telepathy" })
      })
      assert.strictEqual(badKind.status, 400)
      assert.include(badKind.text, "kind")
      const longSignature = yield* raw(`${h.url}/modules`, {
        method: "POST",
        headers,
        body: JSON.stringify({ ...spec, signature: "q".repeat(70_000) })
      })
      // Over the body limit first.
      assert.strictEqual(longSignature.status, 413)
      const badId = yield* raw(`${h.url}/modules`, {
        method: "POST",
        headers,
        body: JSON.stringify({ ...spec, id: "has spaces" })
      })
      assert.strictEqual(badId.status, 400)
      assert.include(badId.text, '"id"')
      assert.notInclude(badId.text, "    at ")
      // 3 requests counted so far (the 413 was refused before authentication); 5 more pass, the 9th is refused.
      for (let i = 0; i < 5; i++) {
        const ok = yield* raw(`${h.url}/modules`, { headers })
        assert.strictEqual(ok.status, 200)
      }
      const limited = yield* raw(`${h.url}/modules`, { headers })
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(JSON.parse(limited.text)._tag, "TooManyRequests")
      // Another key has its own budget.
      const other = yield* raw(`${h.url}/modules`, { headers: { authorization: `Bearer ${h.keys.reader}` } })
      assert.strictEqual(other.status, 200)
    })
  )

  it.scopedLive("a field over its size limit is a 400 naming it", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const response = yield* raw(`${h.url}/modules`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.keys.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ ...spec, signature: "q".repeat(70_000) })
      })
      assert.strictEqual(response.status, 400)
      assert.include(response.text, "signature")
    })
  )

  it.scopedLive("a chunked body (no Content-Length) over the body limit is refused, not read whole", () =>
    Effect.gen(function* () {
      const h = yield* start({ maxBodyBytes: 4096 })
      const url = new URL(`${h.url}/modules/qa/execute`)
      // Written in pieces, so Node sends it chunked: the size is known only as it is read.
      const send = (size: number) =>
        Effect.promise(
          () =>
            new Promise<number | "closed">((resolve) => {
              const req = http.request(
                {
                  host: url.hostname,
                  port: url.port,
                  path: url.pathname,
                  method: "POST",
                  headers: { authorization: `Bearer ${h.keys.admin}`, "content-type": "application/json" }
                },
                (res) => {
                  res.resume()
                  resolve(res.statusCode ?? 0)
                }
              )
              req.on("error", () => resolve("closed"))
              req.write(`{"inputs":{"question":"`)
              req.write("q".repeat(size))
              req.end(`"}}`)
            })
        )
      // Under the limit it is read (no module "qa": 404); over it, the platform stops reading and drops the
      // connection (no response can follow a body left half read).
      assert.strictEqual(yield* send(1024), 404)
      assert.strictEqual(yield* send(64 * 1024), "closed")
    })
  )

  it.scopedLive("OpenAPI, docs page, Prometheus metrics, tree, providers, health", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const openapi = yield* raw(`${h.url}/openapi.json`)
      const doc = JSON.parse(openapi.text) as { paths: Record<string, unknown> }
      for (const path of ["/modules", "/modules/{id}/execute", "/jobs/{id}/progress", "/events/stream", "/metrics"]) {
        assert.property(doc.paths, path)
      }
      const docs = yield* raw(`${h.url}/docs`)
      assert.strictEqual(docs.status, 200)
      assert.include(docs.text, "<html")
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: spec })
      yield* admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: "2 + 2?" } } })
      const metrics = yield* raw(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.keys.reader}` } })
      assert.match(metrics.text, /# TYPE dspy_services_module_executions counter/)
      assert.match(metrics.text, /dspy_services_module_executions\{[^}]*module_id="qa"[^}]*\} [1-9]\d*$/m)
      const tree = yield* admin.system.tree()
      assert.deepStrictEqual(tree.children.map((c) => c.id).slice(0, 2), ["foundation", "module_manager"])
      const providers = yield* admin.system.providers()
      assert.deepStrictEqual(providers.map((p) => p.name).sort(), ["sim", "sim_backup"])
      const health = yield* admin.system.health()
      assert.strictEqual(health.status, "ok")
      const ready = yield* admin.probes.ready()
      assert.deepStrictEqual([ready.status, ready.readiness], ["ok", "healthy"])
    })
  )

  it.scopedLive("graceful shutdown: the request in flight finishes, new ones get 503, readiness fails", () =>
    Effect.gen(function* () {
      const h = yield* start({ latencyMs: 300 })
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: spec })
      const inFlight = yield* Effect.fork(
        admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: "slow?" } } })
      )
      while ((yield* h.server.inFlight).requests === 0) yield* Effect.sleep("5 millis")
      const drained = yield* Effect.fork(h.server.drain)
      while ((yield* raw(`${h.url}/health/live`)).status !== 503) yield* Effect.sleep("5 millis")
      const ready = yield* raw(`${h.url}/health/ready`)
      assert.strictEqual(ready.status, 503)
      const execution = yield* inFlight.await.pipe(Effect.flatten)
      assert.strictEqual(execution.moduleId, "qa")
      assert.deepStrictEqual(yield* drained.await.pipe(Effect.flatten), { abandoned: 0 })
    })
  )
})
