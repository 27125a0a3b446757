/**
 * The fast path of `POST /modules/{id}/execute` (src/internal/fastExecute.ts) answers exactly as the HttpApi app
 * does: the same requests go to a server with the fast path off (every request through the HttpApi app) and to a
 * bare `node:http` listener that has only the fast path over the same application (a request it declines gets 599,
 * so a fast path that took nothing fails here); statuses, headers and bodies are compared byte for byte (the one
 * per-execution field, `executionId`, aside).
 */
import { ModuleManager } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ApiKeys, Auth, ModulesApi, Schemas } from "../src/index.js"
import * as FastExecute from "../src/internal/fastExecute.js"
import { Gate } from "../src/internal/gate.js"
import { start } from "./support.js"

interface Answer {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly body: string
}

const send = (
  base: string,
  path: string,
  body: string,
  headers: Record<string, string>
): Effect.Effect<Answer, Error> =>
  Effect.async((resume) => {
    const url = new URL(path, base)
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: false,
        headers: { "content-length": String(Buffer.byteLength(body)), ...headers }
      },
      (response) => {
        let data = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (data += chunk))
        response.on("end", () => {
          const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...rest } = response.headers
          // The one field that differs between two executions of the same request (its length may too: the
          // content length is checked against the body received, then compared as "matches").
          const normalized = data.replace(/"executionId":"[^"]*"/, '"executionId":"…"')
          const length = rest["content-length"]
          const headers =
            length === undefined
              ? rest
              : { ...rest, "content-length": Number(length) === Buffer.byteLength(data) ? "matches" : length }
          resume(Effect.succeed({ status: response.statusCode ?? 0, headers, body: normalized }))
        })
      }
    )
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end(body)
  })

/** A bare `node:http` listener with only the fast path (a request it declines gets 599); its URL. */
const serveFast = (options: FastExecute.Options) =>
  Effect.gen(function* () {
    const fast = FastExecute.make(options)
    const declined = new Set<string>()
    const server = http.createServer({ noDelay: true }, (req, res) => {
      if (fast(req, res)) return
      declined.add(`${req.url}`)
      res.writeHead(599)
      res.end("declined")
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
    )
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, declined }
  })

describe("the fast path of POST /modules/{id}/execute", () => {
  it.scopedLive("answers every request as the HttpApi app does, and leaves what it does not take to it", () =>
    Effect.gen(function* () {
      const admin = ApiKeys.generate("ops", ["admin"])
      const reader = ApiKeys.generate("viewer", ["read"])
      const executor = ApiKeys.generate("runner", ["execute"])
      const acme = ApiKeys.generate("acme_runner", ["execute"], { tenant: "acme" })
      const cross = ApiKeys.generate("root", ["admin"], { crossTenant: true })
      const entries = [admin.entry, reader.entry, executor.entry, acme.entry, cross.entry]
      const maxBodyBytes = 4096
      // The HttpApi app alone.
      const h = yield* start({ fastPath: false, rateLimit: false, maxBodyBytes, extraKeys: entries })
      const modules = Context.get(h.context, ModuleManager.ModuleManager)
      // The fast path alone, over the same application and keys.
      const { url: fastUrl, declined } = yield* serveFast({
        gate: yield* Gate.make,
        credentials: yield* Auth.make({ keys: entries }),
        modules,
        maxBodyBytes,
        runtime: yield* Effect.runtime<never>()
      })

      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const bearer = (key: Redacted.Redacted<string>) => `Bearer ${Redacted.value(key)}`
      const json = { "content-type": "application/json" }
      const ok = JSON.stringify({ inputs: { question: "What is 2 + 3?" } })
      // The first execution fills the LM cache: every one compared below is a cache hit on both paths.
      const first = yield* send(h.url, "/modules/qa/execute", ok, { ...json, authorization: bearer(executor.key) })
      assert.strictEqual(first.status, 200)

      const cases: ReadonlyArray<readonly [string, string, string, Record<string, string>]> = [
        ["success", "/modules/qa/execute", ok, { ...json, authorization: bearer(executor.key) }],
        ["success, no content type", "/modules/qa/execute", ok, { authorization: bearer(admin.key) }],
        [
          "success for an end user",
          "/modules/qa/execute",
          ok,
          { ...json, authorization: bearer(admin.key), "x-subject": "user-7" }
        ],
        [
          "success with a caller key",
          "/modules/qa/execute",
          JSON.stringify({ inputs: { question: "What is 2 + 3?" }, callerKey: "c1" }),
          { ...json, authorization: bearer(admin.key) }
        ],
        ["bad JSON", "/modules/qa/execute", '{"inputs": {', { ...json, authorization: bearer(admin.key) }],
        ["empty body", "/modules/qa/execute", "", { ...json, authorization: bearer(admin.key) }],
        [
          "missing field",
          "/modules/qa/execute",
          JSON.stringify({ input: {} }),
          { ...json, authorization: bearer(admin.key) }
        ],
        [
          "field of the wrong type",
          "/modules/qa/execute",
          JSON.stringify({ inputs: { question: "x" }, callerKey: 5 }),
          { ...json, authorization: bearer(admin.key) }
        ],
        [
          "inputs the module refuses",
          "/modules/qa/execute",
          JSON.stringify({ inputs: {} }),
          { ...json, authorization: bearer(admin.key) }
        ],
        ["wrong key", "/modules/qa/execute", ok, { ...json, authorization: "Bearer edk_not_a_key" }],
        ["not a bearer", "/modules/qa/execute", ok, { ...json, authorization: "Basic b3BzOng=" }],
        ["wrong key and bad JSON", "/modules/qa/execute", "{", { ...json, authorization: "Bearer edk_nope" }],
        ["wrong scope", "/modules/qa/execute", ok, { ...json, authorization: bearer(reader.key) }],
        ["tenant mismatch", "/modules/qa/execute", ok, { ...json, authorization: bearer(acme.key) }],
        [
          "cross-tenant key acting as another tenant",
          "/modules/qa/execute",
          ok,
          { ...json, authorization: bearer(cross.key), "x-effect-dspy-tenant": "acme" }
        ],
        [
          "cross-tenant key naming a bad tenant",
          "/modules/qa/execute",
          ok,
          { ...json, authorization: bearer(cross.key), "x-effect-dspy-tenant": "NOT OK" }
        ],
        ["unknown module", "/modules/nope/execute", ok, { ...json, authorization: bearer(admin.key) }],
        [
          "body too large",
          "/modules/qa/execute",
          JSON.stringify({ inputs: { question: "q".repeat(maxBodyBytes) } }),
          { ...json, authorization: bearer(admin.key) }
        ]
      ]
      for (const [name, path, body, headers] of cases) {
        const viaApi = yield* send(h.url, path, body, headers)
        const viaFast = yield* send(fastUrl, path, body, headers)
        if (name === "body too large") {
          // Refused before the body is read: the fast path declines it (by its Content-Length) for the app's 413.
          assert.strictEqual(viaApi.status, 413, name)
          assert.strictEqual(viaFast.status, 599, name)
          continue
        }
        assert.deepStrictEqual(viaFast, viaApi, name)
      }
      // Each status the comparison covered, so a change that made every case the same answer shows here.
      const statuses = new Set<number>()
      for (const [, path, body, headers] of cases) statuses.add((yield* send(h.url, path, body, headers)).status)
      assert.deepStrictEqual([...statuses].sort(), [200, 400, 401, 403, 404, 413])
      assert.deepStrictEqual([...declined], ["/modules/qa/execute"])
    })
  )

  it.scopedLive("the server answers executions from the fast path by default, and every other request as before", () =>
    Effect.gen(function* () {
      const h = yield* start({ rateLimit: false })
      const headers = { "content-type": "application/json", authorization: `Bearer ${h.keys.admin}` }
      const created = yield* send(
        h.url,
        "/modules",
        JSON.stringify({ id: "qa", kind: "predict", signature: "question -> answer" }),
        headers
      )
      assert.strictEqual(created.status, 201)
      const executed = yield* send(
        h.url,
        "/modules/qa/execute",
        JSON.stringify({ inputs: { question: "2+2?" } }),
        headers
      )
      assert.strictEqual(executed.status, 200)
      assert.strictEqual(JSON.parse(executed.body).moduleId, "qa")
      assert.strictEqual(executed.headers["x-content-type-options"], "nosniff")
      // A query string is not the fast path's; the app answers it the same.
      const queried = yield* send(
        h.url,
        "/modules/qa/execute?x=1",
        JSON.stringify({ inputs: { question: "2+2?" } }),
        headers
      )
      assert.strictEqual(queried.status, 200)
      assert.deepStrictEqual(queried.headers, executed.headers)
    })
  )

  it.scopedLive("counts every request with a valid key against its rate limit first, as the HttpApi app does", () =>
    Effect.gen(function* () {
      const runner = ApiKeys.generate("runner", ["execute"])
      const cross = ApiKeys.generate("root", ["admin"], { crossTenant: true })
      const rateLimit = { limit: 2, scaleMs: 60_000 }
      const h = yield* start({ fastPath: false, rateLimit, extraKeys: [runner.entry, cross.entry] })
      const modules = Context.get(h.context, ModuleManager.ModuleManager)
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const fast = yield* serveFast({
        gate: yield* Gate.make,
        credentials: yield* Auth.make({ keys: [runner.entry, cross.entry], rateLimit }),
        modules,
        maxBodyBytes: 4096,
        runtime: yield* Effect.runtime<never>()
      })
      const ok = JSON.stringify({ inputs: { question: "What is 2 + 3?" } })
      const as = (key: Redacted.Redacted<string>, more: Record<string, string> = {}) => ({
        "content-type": "application/json",
        authorization: `Bearer ${Redacted.value(key)}`,
        ...more
      })
      // The cross-tenant key's second request names a bad tenant (a 401 once admitted); its third is over the
      // limit (a 429 before the tenant and the body are looked at).
      const sequence: ReadonlyArray<readonly [string, Record<string, string>]> = [
        [ok, as(runner.key)],
        ["{", as(runner.key)],
        ["{", as(runner.key)],
        [ok, { ...as(runner.key), authorization: "Bearer edk_wrong" }],
        [ok, as(cross.key)],
        [ok, as(cross.key, { "x-effect-dspy-tenant": "NOT OK" })],
        ["{", as(cross.key, { "x-effect-dspy-tenant": "NOT OK" })]
      ]
      const run = (base: string) =>
        Effect.forEach(sequence, ([body, headers]) =>
          Effect.map(send(base, "/modules/qa/execute", body, headers), (answer) => ({
            ...answer,
            // The time left differs by the milliseconds between the two runs.
            body: answer.body
              .replace(/retry in \d+ ms/, "retry in … ms")
              .replace(/"retryAfterMs":\d+/, '"retryAfterMs":…')
          }))
        )
      const viaApi = yield* run(h.url)
      const viaFast = yield* run(fast.url)
      assert.deepStrictEqual(
        viaApi.map((a) => a.status),
        [200, 400, 429, 401, 200, 401, 429]
      )
      assert.deepStrictEqual(viaFast, viaApi)
      assert.deepStrictEqual([...fast.declined], [])
    })
  )

  it("takes the paths of the endpoint's id pattern, and decodes a plain payload as its schema does", () => {
    const isId = Schema.is(Schemas.Id)
    for (const id of ["qa", "a.b:c-d_e", "x".repeat(128), "x".repeat(129), "", "a b", "a%20b", "é", "a/b", "qa?x=1"]) {
      assert.strictEqual(FastExecute.executePath.test(`/modules/${id}/execute`), isId(id), id)
    }
    const decode = Schema.decodeUnknownEither(ModulesApi.ExecuteRequest)
    const payloads: ReadonlyArray<readonly [unknown, boolean]> = [
      // [payload, whether the fast check takes it]
      [{ inputs: { question: "q" } }, true],
      [{ inputs: { question: "q", n: [1, { a: null }] }, callerKey: "c", extra: 1 }, true],
      [{ inputs: {} }, true],
      [{ inputs: { ["k".repeat(128)]: "v" } }, true],
      [{ inputs: { ["k".repeat(129)]: "v" } }, false],
      [{ inputs: { q: "x".repeat(Schemas.maxTextLength + 1) } }, false],
      [{ inputs: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}`, i])) }, false],
      [{ inputs: { deep: JSON.parse("[".repeat(40) + "]".repeat(40)) } }, false],
      [{ inputs: [] }, false],
      [{ inputs: null }, false],
      [{ inputs: { q: "q" }, callerKey: 5 }, false],
      [{ inputs: { q: "q" }, callerKey: "c".repeat(257) }, false],
      [JSON.parse('{"inputs":{"__proto__":{"x":1}}}'), false],
      [JSON.parse('{"__proto__":{"inputs":{"q":"q"}}}'), false],
      [[{ inputs: {} }], false],
      ["inputs", false]
    ]
    for (const [payload, taken] of payloads) {
      const plain = FastExecute.plainPayload(payload)
      assert.strictEqual(plain !== undefined, taken, JSON.stringify(payload).slice(0, 80))
      // What the fast check takes, the schema takes, with the same value.
      if (plain !== undefined) assert.deepStrictEqual(plain, Either.getOrThrow(decode(payload)))
    }
  })

  it.scopedLive("a client gone mid-body or mid-execution leaves nothing in flight; the execution is interrupted", () =>
    Effect.gen(function* () {
      // Every LM call takes 30 s: a request still in flight at the end would outlast the test's timeout.
      const h = yield* start({ rateLimit: false, latencyMs: 30_000 })
      const requests = Effect.map(h.server.inFlight, (n) => n.requests)
      // Yields to node's I/O until the server holds `n` requests.
      const holding = (n: number): Effect.Effect<void> =>
        Effect.flatMap(requests, (held) =>
          held === n
            ? Effect.void
            : Effect.zipRight(
                Effect.promise(() => new Promise(setImmediate)),
                holding(n)
              )
        )
      const open = (length: number, body: string) => {
        const request = http.request({
          host: "127.0.0.1",
          port: h.server.port,
          path: "/modules/qa/execute",
          method: "POST",
          agent: false,
          headers: {
            authorization: `Bearer ${h.keys.admin}`,
            "content-type": "application/json",
            "content-length": String(length)
          }
        })
        request.on("error", () => {})
        request.write(body)
        return request
      }
      yield* Context.get(h.context, ModuleManager.ModuleManager).create({
        id: "qa",
        kind: "predict",
        signature: "question -> answer"
      })
      // Gone while its body is read.
      const reading = open(100, "{")
      yield* holding(1)
      reading.destroy()
      yield* holding(0)
      // Gone while its execution waits on the LM.
      const body = JSON.stringify({ inputs: { question: "slow?" } })
      const executing = open(Buffer.byteLength(body), body)
      executing.end()
      yield* holding(1)
      executing.destroy()
      yield* holding(0)
    })
  )

  it.scopedLive("answers an execution the module manager remembers without starting one (executeRemembered)", () =>
    Effect.gen(function* () {
      const runner = ApiKeys.generate("runner", ["execute"])
      let executed = 0
      const execution = (moduleId: string, version: number): ModuleManager.Execution => ({
        executionId: "ex_1",
        moduleId,
        version,
        output: { answer: "5" },
        reason: "promoted",
        arm: undefined,
        fallback: undefined,
        stale: false
      })
      // A module manager whose memo knows `qa` (version 3); anything else runs `execute` (version 1).
      const modules = {
        executeRemembered: (id: string) => (id === "qa" ? execution(id, 3) : undefined),
        execute: (id: string) =>
          Effect.sync(() => {
            executed++
            return execution(id, 1)
          })
      } as unknown as ModuleManager.Service
      const fast = yield* serveFast({
        gate: yield* Gate.make,
        credentials: yield* Auth.make({ keys: [runner.entry] }),
        modules,
        maxBodyBytes: 4096,
        runtime: yield* Effect.runtime<never>()
      })
      const headers = { "content-type": "application/json", authorization: `Bearer ${Redacted.value(runner.key)}` }
      const ok = JSON.stringify({ inputs: { question: "What is 2 + 3?" } })
      const remembered = yield* send(fast.url, "/modules/qa/execute", ok, headers)
      assert.strictEqual(remembered.status, 200)
      assert.deepStrictEqual(JSON.parse(remembered.body), {
        executionId: "…",
        moduleId: "qa",
        version: 3,
        output: { answer: "5" },
        reason: "promoted",
        stale: false
      })
      assert.strictEqual(executed, 0, "answered without an execution")
      const other = yield* send(fast.url, "/modules/other/execute", ok, headers)
      assert.strictEqual(JSON.parse(other.body).version, 1)
      // An end user's request (and one with execute options) is scoped: execute runs it.
      yield* send(fast.url, "/modules/qa/execute", ok, { ...headers, "x-subject": "alice" })
      const withKey = JSON.stringify({ inputs: { question: "What is 2 + 3?" }, callerKey: "k1" })
      yield* send(fast.url, "/modules/qa/execute", withKey, headers)
      assert.strictEqual(executed, 3)
    })
  )
})
