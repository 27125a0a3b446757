/**
 * The API key given in Config (a dummy `Redacted` key) never leaks: not in `inspectHistory`, the history,
 * events, span attributes or span events, saved program files, or error messages (LM errors from injected
 * faults, a 401 whose body echoes the key, invalid configuration).
 */
import { Config, Events, Telemetry } from "@effect-dspy/foundation"
import { ChainOfThought, LM, Module, Signature } from "@effect-dspy/core"
import { Arithmetic, SimServer, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as http from "node:http"
import type * as net from "node:net"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { configFor, lmLayer, SECRET, withServer } from "./support.js"

const QA = Signature.make("question -> answer: int")
const questions = SimTask.generate(Arithmetic.task, 13, 12).map((e) => e.question)

/** Every way an error may be shown: its message, its string form, its JSON, and the pretty cause. */
const renderings = (error: unknown): Array<string> => [
  error instanceof Error ? error.message : "",
  String(error),
  JSON.stringify(error) ?? "",
  Cause.pretty(Cause.fail(error))
]

const assertClean = (text: string, where: string) =>
  assert.isFalse(text.includes(SECRET), `the API key leaked into ${where}`)

/** A loopback server that refuses every call with a 401 whose message echoes the bearer token it got. */
const echoingAuthServer = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly server: http.Server }>((resume) => {
    const server = http.createServer((req, res) => {
      const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
      const body = JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${token}.`,
          type: "invalid_request_error",
          code: "invalid_api_key"
        }
      })
      req.resume()
      res.writeHead(401, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      res.end(body)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1`, server }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

describe("the API key never leaks", () => {
  it.live("not into history, inspectHistory, events, spans, saved files or LM error messages", () =>
    withServer(
      {
        faults: {
          rates: { server_error: 0.15, rate_limit: 0.1, reset: 0.1, truncated_json: 0.1 },
          seed: 5,
          retryAfterSeconds: 0
        }
      },
      { maxRetries: 1 },
      () =>
        Effect.gen(function* () {
          const cot = ChainOfThought.make(QA)
          const outcomes = yield* Effect.forEach(questions, (question) => Effect.exit(Module.call(cot, { question })), {
            concurrency: 4
          })
          const failures = outcomes.flatMap((o) => (Exit.isFailure(o) ? [o.cause] : []))
          assert.isAbove(failures.length, 0, "some calls failed, so error paths were exercised")
          assert.isBelow(failures.length, outcomes.length, "some calls succeeded")
          for (const cause of failures) {
            assertClean(Cause.pretty(cause), "a pretty-printed failure")
            for (const error of Cause.failures(cause)) for (const r of renderings(error)) assertClean(r, "an error")
          }

          const lm = yield* LM.LM
          assertClean(yield* lm.inspectHistory(1000), "inspectHistory")
          const history = yield* lm.history
          assert.isAbove(history.filter((h) => h.error !== undefined).length, 0)
          assertClean(JSON.stringify(history), "the history")

          const events = yield* Events.query({})
          assert.isAbove(events.filter((e) => e.type === "lm_request").length, 0)
          assertClean(JSON.stringify(events), "events")

          const spans = yield* Telemetry.finishedSpans
          assert.isAbove(spans.length, 0)
          for (const s of spans) {
            assertClean(JSON.stringify(s.attributes), `the attributes of span ${s.name}`)
            assertClean(JSON.stringify(s.events), `the span events of ${s.name}`)
            assertClean(JSON.stringify(s.status), `the status of ${s.name}`)
          }

          const dir = yield* Effect.acquireRelease(
            Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-dspy-secret-"))),
            (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
          )
          const file = path.join(dir, "program.json")
          yield* Module.save(cot, file)
          assertClean(yield* Effect.promise(() => fs.readFile(file, "utf8")), "the saved program")
        })
    ).pipe(Effect.provide(Layer.merge(Telemetry.layerTest, Events.layerMemory)), Effect.scoped)
  )

  it.live("a 401 whose body echoes the key becomes LMAuthError with the key scrubbed", () =>
    Effect.gen(function* () {
      const { url } = yield* echoingAuthServer
      const error = yield* Effect.flip(
        LM.complete({ messages: [{ role: "user", content: "hi" }] }).pipe(Effect.provide(lmLayer(url)))
      )
      assert.strictEqual(error._tag, "LMAuthError")
      assert.include(error.message, "<redacted>", "the server's message is kept, with the key replaced")
      for (const r of renderings(error)) assertClean(r, "the 401 error")
    }).pipe(Effect.scoped)
  )

  it.live("configuration: the key stays Redacted in the Config service and out of ConfigInvalid messages", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve()
      const config = yield* Effect.provide(Config.Config, Config.layerTest(configFor(server.url)))
      const current = yield* config.current
      assertClean(JSON.stringify(current), "the configuration as JSON")
      assertClean(String(current.providers.local?.apiKey), "the key's string form")
      const invalid = yield* Effect.flip(
        Layer.build(Config.layerTest({ providers: { local: { kind: "openai", apiKey: SECRET, timeoutMs: -5 } } }))
      )
      assert.strictEqual(invalid._tag, "ConfigInvalid")
      for (const r of renderings(invalid)) assertClean(r, "a ConfigInvalid error")
    }).pipe(Effect.scoped)
  )
})
