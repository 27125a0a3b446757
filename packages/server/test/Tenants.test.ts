import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { ApiKeys } from "../src/index.js"
import * as support from "./support.js"

const acmeKey = ApiKeys.generate("acme_admin", ["admin"], { tenant: "acme" })
const globexKey = ApiKeys.generate("globex_admin", ["admin"], { tenant: "globex" })
const opsKey = ApiKeys.generate("ops", ["admin"], { crossTenant: true })
const planted = "PLANTED_ACME_SECRET_7f3"

const call = (
  url: string,
  key: Redacted.Redacted<string>,
  method: string,
  path: string,
  body?: unknown,
  headers = {}
) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${Redacted.value(key)}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, text }
  })

const workflow = `
version: 1
name: answer
inputs:
  question: str
steps:
  - id: ask
    module: { signature: "question -> answer" }
    inputs: { question: "{inputs.question}" }
outputs:
  answer: "{ask.answer}"
`

const trainset = [
  { fields: { question: "1 + 1?", answer: "2" }, inputs: ["question"] },
  { fields: { question: "2 + 2?", answer: "4" }, inputs: ["question"] }
]

describe("Tenants over HTTP", () => {
  it.scoped("another tenant's module, job, experiment and events answer 404/403 through every endpoint", () =>
    Effect.gen(function* () {
      const h = yield* support.start({ extraKeys: [acmeKey.entry, globexKey.entry, opsKey.entry], workflows: true })
      const acme = (method: string, path: string, body?: unknown) => call(h.url, acmeKey.key, method, path, body)
      const globex = (method: string, path: string, body?: unknown) => call(h.url, globexKey.key, method, path, body)

      const created = yield* acme("POST", "/modules", {
        id: "qa",
        kind: "predict",
        signature: "question -> answer",
        instructions: planted
      })
      assert.strictEqual(created.status, 201, created.text)
      const executed = yield* acme("POST", "/modules/qa/execute", { inputs: { question: "2 + 3?" } })
      assert.strictEqual(executed.status, 200, executed.text)
      const executionId = JSON.parse(executed.text).executionId as string
      const job = yield* acme("POST", "/jobs", { moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
      assert.include([200, 201, 202], job.status, job.text)
      const jobId = JSON.parse(job.text).id as string
      const run = yield* acme("POST", "/workflows/runs", { workflow, inputs: { question: planted }, runId: "run_1" })
      assert.strictEqual(run.status, 200, run.text)
      assert.strictEqual(JSON.parse(run.text).runId, "run_1")
      assert.strictEqual((yield* acme("GET", "/workflows/runs/run_1")).status, 200)

      // Every endpoint, as globex: not found for acme's resources, forbidden for the operator's views.
      const attempts: ReadonlyArray<readonly [string, string, unknown, ReadonlyArray<number>]> = [
        ["GET", "/modules/qa", undefined, [404]],
        ["POST", "/modules/qa/execute", { inputs: { question: "1?" } }, [404]],
        ["POST", "/modules/qa/execute/stream", { inputs: { question: "1?" } }, [404]],
        ["GET", "/modules/qa/versions", undefined, [404]],
        ["POST", "/modules/qa/swap", { instructions: { self: "x" } }, [404]],
        ["POST", "/modules/qa/rollback", {}, [404]],
        ["GET", "/modules/qa/policy", undefined, [404]],
        ["PUT", "/modules/qa/policy", { policy: { _tag: "Fixed", version: "1" } }, [404, 400]],
        ["DELETE", "/modules/qa/policy", undefined, [404]],
        ["GET", "/modules/qa/release", undefined, [404]],
        ["DELETE", "/modules/qa", undefined, [404]],
        ["POST", "/jobs", { moduleId: "qa", optimizer: "bootstrap_few_shot", trainset }, [404]],
        ["GET", `/jobs/${jobId}`, undefined, [404]],
        ["POST", `/jobs/${jobId}/cancel`, undefined, [404]],
        ["GET", `/jobs/${jobId}/progress`, undefined, [404]],
        ["POST", "/feedback", { executionId, outcome: { reward: 1 } }, [404]],
        ["GET", "/workflows/runs/run_1", undefined, [404]],
        ["POST", "/workflows/runs/run_1/resume", { workflow }, [404]],
        ["GET", "/tree", undefined, [403]],
        ["GET", "/providers", undefined, [403]],
        ["GET", "/status", undefined, [403]],
        ["GET", "/health", undefined, [403]],
        ["GET", "/snapshot", undefined, [403]],
        ["GET", "/snapshot/stream", undefined, [403]],
        ["GET", "/metrics", undefined, [403]],
        ["GET", "/alerts", undefined, [403]],
        ["GET", "/alerts/rules", undefined, [403]],
        ["GET", "/metrics/series", undefined, [403]]
      ]
      for (const [method, path, body, expected] of attempts) {
        const answer = yield* globex(method, path, body)
        assert.include(expected, answer.status, `${method} ${path}: ${answer.status} ${answer.text}`)
        assert.notInclude(answer.text, planted, `${method} ${path}`)
        assert.notInclude(answer.text, "~acme", `${method} ${path}`)
      }
      // The same run id in another tenant is another run.
      const own = yield* globex("POST", "/workflows/runs", { workflow, inputs: { question: "1 + 1?" }, runId: "run_1" })
      assert.strictEqual(own.status, 200, own.text)
      assert.notInclude((yield* globex("GET", "/workflows/runs/run_1")).text, planted)
      // Lists answer with nothing of acme's.
      for (const path of [
        "/modules",
        "/jobs",
        "/experiments",
        "/events?limit=1000",
        "/loop/status",
        "/loop/decisions"
      ]) {
        const answer = yield* globex("GET", path)
        assert.strictEqual(answer.status, 200, `${path}: ${answer.text}`)
        assert.notInclude(answer.text, planted, path)
        assert.notInclude(answer.text, "~acme", path)
        assert.notInclude(answer.text, jobId, path)
        assert.notInclude(answer.text, executionId, path)
      }
      // globex has only its own workflow's inline module.
      assert.deepStrictEqual(
        (JSON.parse((yield* globex("GET", "/modules")).text) as Array<{ id: string }>).map((m) => m.id),
        ["answer.ask"]
      )
      // acme sees its own, by its own name; its events are its own.
      assert.deepStrictEqual(
        (JSON.parse((yield* acme("GET", "/modules")).text) as Array<{ id: string }>).map((m) => m.id),
        ["answer.ask", "qa"]
      )
      const ownEvents = JSON.parse((yield* acme("GET", "/events?limit=1000")).text) as Array<{
        data: { module_id?: string }
      }>
      assert.isAbove(ownEvents.length, 0)
      for (const e of ownEvents) assert.match(e.data.module_id ?? "", /^~acme\//)
      assert.strictEqual((yield* acme("GET", "/tree")).status, 403)
      // The cross-tenant key sees every tenant by stored names, or acts as one through the header.
      const all = yield* call(h.url, opsKey.key, "GET", "/modules")
      assert.include(all.text, "~acme/qa")
      const asAcme = yield* call(h.url, opsKey.key, "GET", "/modules/qa", undefined, { "x-effect-dspy-tenant": "acme" })
      assert.strictEqual(asAcme.status, 200, asAcme.text)
      assert.strictEqual((yield* call(h.url, opsKey.key, "GET", "/tree")).status, 200)
      // whoami says the tenant.
      assert.include((yield* acme("GET", "/auth/whoami")).text, '"tenant":"acme"')
    })
  )

  it.scoped("an SSE subscriber of one tenant receives none of another tenant's events", () =>
    Effect.gen(function* () {
      const h = yield* support.start({ extraKeys: [acmeKey.entry, globexKey.entry] })
      const acme = (method: string, path: string, body?: unknown) => call(h.url, acmeKey.key, method, path, body)
      const globex = (method: string, path: string, body?: unknown) => call(h.url, globexKey.key, method, path, body)
      const headers = { authorization: `Bearer ${Redacted.value(globexKey.key)}` }
      const received = yield* Effect.fork(
        support.sse(`${h.url}/events/stream`, headers).pipe(
          Stream.filter((e) => e.event !== "ready" && e.event !== undefined),
          Stream.takeUntil((e) => e.data.includes("~globex/marker")),
          Stream.runCollect
        )
      )
      // Give the subscription time to attach (bounded polling on a real server).
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 300)))
      yield* acme("POST", "/modules", {
        id: "qa",
        kind: "predict",
        signature: "question -> answer",
        instructions: planted
      })
      yield* acme("POST", "/modules/qa/execute", { inputs: { question: "2 + 3?" } })
      yield* acme("POST", "/modules/qa/swap", { instructions: { self: planted } })
      yield* globex("POST", "/modules", { id: "marker", kind: "predict", signature: "question -> answer" })
      const events = Chunk.toReadonlyArray(yield* received.await.pipe(Effect.flatten, Effect.timeout("20 seconds")))
      assert.isAbove(events.length, 0)
      for (const e of events) {
        assert.notInclude(e.data, planted)
        assert.notInclude(e.data, "~acme")
      }
    })
  )
})
