import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import OpenAI from "openai"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Embeddings from "../src/Embeddings.js"
import type * as Faults from "../src/Faults.js"
import * as Multihop from "../src/Multihop.js"
import * as Server from "../src/Server.js"
import * as Task from "../src/Task.js"
import * as Cli from "../src/cli.js"
import * as P from "./prompts.js"

const q = Task.generate(Arithmetic.task, 44, 1)[0]!
const messages = P.chat(P.cotSig, { question: q.question }).map((m) => ({
  role: m.role as "system" | "user",
  content: m.content as string
}))
const client = (url: string, timeout = 5000) => new OpenAI({ baseURL: url, apiKey: "sim", maxRetries: 0, timeout })
const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => e })

const withFault = (kind: Faults.Kind, extra: Partial<Faults.Profile> = {}) =>
  Server.serve({ faults: { rates: { [kind]: 1 }, retryAfterSeconds: 3, ...extra } })

describe("Server through the openai SDK", () => {
  it.scoped("answers chat completions with n > 1, the same text as the engine, and lists models", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve()
      const sdk = client(server.url)
      const r = yield* call(() => sdk.chat.completions.create({ model: "sim-1", messages, n: 3, temperature: 1 }))
      assert.strictEqual(r.choices.length, 3)
      assert.isTrue(r.choices.every((c) => c.message.content?.endsWith("[[ ## completed ## ]]")))
      assert.isAbove(r.usage!.total_tokens, 0)
      const models = yield* call(() => sdk.models.list())
      assert.include(
        models.data.map((m) => m.id),
        "sim-1"
      )
      assert.strictEqual(server.stats().completions, 1)
    })
  )

  it.scoped("streams SSE chunks that add up to the non-streamed answer, with usage", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve({ chunkChars: 5 })
      const sdk = client(server.url)
      const full = yield* call(() => sdk.chat.completions.create({ model: "sim-1", messages }))
      const text = yield* call(async () => {
        const stream = await sdk.chat.completions.create({
          model: "sim-1",
          messages,
          stream: true,
          stream_options: { include_usage: true }
        })
        let out = ""
        let usage: unknown
        let chunks = 0
        for await (const chunk of stream) {
          chunks++
          out += chunk.choices[0]?.delta.content ?? ""
          if (chunk.usage) usage = chunk.usage
        }
        return { out, usage, chunks }
      })
      assert.strictEqual(text.out, full.choices[0]!.message.content)
      assert.isAbove(text.chunks, 10)
      assert.deepStrictEqual(text.usage, full.usage)
    })
  )

  it.scoped("serves embeddings (base64 by default in the SDK, and float)", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve({ embeddingDimensions: 64 })
      const sdk = client(server.url)
      const r = yield* call(() => sdk.embeddings.create({ model: "sim-embed", input: ["hello world", "hello there"] }))
      const expected = Embeddings.embed("hello world", 64)
      assert.strictEqual(r.data.length, 2)
      for (const [i, x] of r.data[0]!.embedding.entries()) assert.closeTo(x, expected[i]!, 1e-6)
      const f = yield* call(() =>
        sdk.embeddings.create({ model: "sim-embed", input: "hello world", encoding_format: "float" })
      )
      assert.deepStrictEqual(f.data[0]!.embedding, expected)
    })
  )

  it.scoped("offers tool calls and JSON response formats", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve()
      const sdk = client(server.url)
      const mh = Task.generate(Multihop.task, 1, 1)[0]!
      const r = yield* call(() =>
        sdk.chat.completions.create({
          model: "sim-1",
          messages: [{ role: "user", content: mh.question }],
          tools: [
            {
              type: "function",
              function: {
                name: "search",
                description: "search documents",
                parameters: { type: "object", properties: { query: { type: "string" } } }
              }
            }
          ]
        })
      )
      const tc = r.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } }
      assert.strictEqual(r.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(tc.function.name, "search")
      assert.isString((JSON.parse(tc.function.arguments) as { query: string }).query)
      const j = yield* call(() =>
        sdk.chat.completions.create({
          model: "sim-1",
          messages: P.json(P.cotSig, { question: q.question }) as never,
          response_format: { type: "json_object" }
        })
      )
      const obj = JSON.parse(j.choices[0]!.message.content!) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(obj), ["reasoning", "answer"])
    })
  )

  it.scoped("rejects bad requests with 400", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve()
      const e = yield* Effect.flip(
        call(() => client(server.url).chat.completions.create({ model: "sim-1", messages, n: 0 }))
      )
      assert.instanceOf(e, OpenAI.BadRequestError)
      assert.match((e as Error).message, /n must be/)
    })
  )
})

describe("Server faults seen by the openai SDK", () => {
  it.scoped("429 with a Retry-After header", () =>
    Effect.gen(function* () {
      const server = yield* withFault("rate_limit")
      const e = yield* Effect.flip(call(() => client(server.url).chat.completions.create({ model: "sim-1", messages })))
      assert.instanceOf(e, OpenAI.RateLimitError)
      assert.strictEqual((e as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after"), "3")
      assert.strictEqual(server.stats().faults.rate_limit, 1)
    })
  )

  it.scoped("500 and 503", () =>
    Effect.gen(function* () {
      const s500 = yield* withFault("server_error")
      const e500 = yield* Effect.flip(
        call(() => client(s500.url).chat.completions.create({ model: "sim-1", messages }))
      )
      assert.instanceOf(e500, OpenAI.InternalServerError)
      const s503 = yield* withFault("unavailable")
      const e503 = yield* Effect.flip(
        call(() => client(s503.url).chat.completions.create({ model: "sim-1", messages }))
      )
      assert.strictEqual((e503 as InstanceType<typeof OpenAI.APIError>).status, 503)
    })
  )

  it.scoped("no response: the client times out", () =>
    Effect.gen(function* () {
      const server = yield* withFault("timeout")
      const e = yield* Effect.flip(
        call(() => client(server.url, 300).chat.completions.create({ model: "sim-1", messages }))
      )
      assert.instanceOf(e, OpenAI.APIConnectionTimeoutError)
      assert.strictEqual(server.stats().faults.timeout, 1)
    })
  )

  it.scoped("connection reset", () =>
    Effect.gen(function* () {
      const server = yield* withFault("reset")
      const e = yield* Effect.flip(call(() => client(server.url).chat.completions.create({ model: "sim-1", messages })))
      assert.instanceOf(e, OpenAI.APIConnectionError)
      assert.notInstanceOf(e, OpenAI.APIConnectionTimeoutError)
    })
  )

  it.scoped("truncated and slow SSE streams", () =>
    Effect.gen(function* () {
      const truncated = yield* withFault("truncated_stream")
      const readAll = (url: string) =>
        call(async () => {
          const stream = await client(url).chat.completions.create({ model: "sim-1", messages, stream: true })
          let out = ""
          for await (const chunk of stream) out += chunk.choices[0]?.delta.content ?? ""
          return out
        })
      const e = yield* Effect.either(readAll(truncated.url))
      // The stream breaks before [DONE]: the SDK either raises or ends early with a partial answer.
      assert.isTrue(e._tag === "Left" || !e.right.endsWith("[[ ## completed ## ]]"))
      const slow = yield* withFault("slow_stream", { slowChunkMs: 2 })
      const text = yield* readAll(slow.url)
      assert.isTrue(text.endsWith("[[ ## completed ## ]]"))
      assert.strictEqual(slow.stats().faults.slow_stream, 1)
    })
  )

  it.scoped("malformed and empty outputs, and the stats endpoint", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve({ faults: { rates: { empty: 0.5, extra_prose: 0.5 }, seed: 2 } })
      const sdk = client(server.url)
      const outs = yield* Effect.forEach(Array.from({ length: 12 }), () =>
        call(() => sdk.chat.completions.create({ model: "sim-1", messages }))
      )
      const contents = outs.map((o) => o.choices[0]!.message.content ?? "")
      assert.isTrue(contents.some((c) => c === ""))
      assert.isTrue(contents.some((c) => c.startsWith("Sure!")))
      const stats = (yield* call(() =>
        fetch(`${server.url.replace(/\/v1$/, "")}/stats`).then((r) => r.json())
      )) as Server.Stats
      assert.strictEqual((stats.faults.empty ?? 0) + (stats.faults.extra_prose ?? 0), 12)
      assert.strictEqual(stats.completions, 12)
      assert.strictEqual(stats.requests, 13)
    })
  )
})

describe("Server faults changed at run time", () => {
  it.scoped("setFaults replaces the profile from the next request on; an invalid profile changes nothing", () =>
    Effect.gen(function* () {
      const server = yield* withFault("server_error")
      const sdk = client(server.url)
      const create = () => call(() => sdk.chat.completions.create({ model: "sim-1", messages }))
      assert.instanceOf(yield* Effect.flip(create()), OpenAI.InternalServerError)
      // the faults stop
      yield* Server.setFaults(server, { rates: {} })
      const answered = yield* create()
      assert.isTrue(answered.choices[0]!.message.content?.endsWith("[[ ## completed ## ]]"))
      // and start again, with another kind and its own Retry-After
      server.setFaults({ rates: { rate_limit: 1 }, retryAfterSeconds: 7 })
      const limited = yield* Effect.flip(create())
      assert.instanceOf(limited, OpenAI.RateLimitError)
      assert.strictEqual((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after"), "7")
      // an invalid profile is refused with a typed error and the one in force stays
      const invalid = yield* Effect.flip(Server.setFaults(server, { rates: { rate_limit: 2 } }))
      assert.strictEqual(invalid._tag, "SimServerError")
      assert.match(invalid.message, /rate_limit must be in \[0, 1\]/)
      assert.throws(() => server.setFaults({ rates: { bogus: 0.1 } as Faults.Profile["rates"] }), /unknown fault kind/)
      assert.instanceOf(yield* Effect.flip(create()), OpenAI.RateLimitError)
      assert.deepStrictEqual(server.stats().faults, { server_error: 1, rate_limit: 2 })
      assert.strictEqual(server.stats().completions, 1)
    })
  )
})

describe("Server loopback and command line", () => {
  it.scoped("refuses non-loopback hosts, both to bind and in the Host header", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(Server.serve({ host: "0.0.0.0" }))
      assert.strictEqual(e._tag, "SimServerError")
      const server = yield* Server.serve()
      const status = yield* call(
        () =>
          new Promise<number>((resolve, reject) => {
            const req = http.request(
              { host: "127.0.0.1", port: server.port, path: "/v1/models", headers: { host: "evil.example.com" } },
              (res) => {
                res.resume()
                resolve(res.statusCode ?? 0)
              }
            )
            req.on("error", reject)
            req.end()
          })
      )
      assert.strictEqual(status, 403)
      assert.strictEqual(server.stats().refused, 1)
    })
  )

  it("parses command-line options", () => {
    const o = Cli.parseArgs([
      "--port",
      "0",
      "--faults",
      "0.2",
      "--fault-kinds",
      "rate_limit,reset",
      "--fault",
      "empty=0.1",
      "--latency",
      "lognormal:50ms:400ms"
    ])
    assert.isObject(o)
    const opts = o as Server.Options
    assert.strictEqual(opts.port, 0)
    assert.deepStrictEqual(opts.faults!.rates, { empty: 0.1, rate_limit: 0.1, reset: 0.1 })
    assert.deepStrictEqual(opts.latency, { _tag: "lognormal", meanMs: 50, p99Ms: 400 })
    assert.match(Cli.parseArgs(["--faults", "2"]) as string, /sum to at most 1|must be in/)
    assert.match(Cli.parseArgs(["--bogus"]) as string, /unknown option/)
  })

  it("parses --max-body-bytes into the server's maxBodyBytes, refusing what is not a positive whole number", () => {
    assert.strictEqual((Cli.parseArgs(["--max-body-bytes", "65536"]) as Server.Options).maxBodyBytes, 65_536)
    assert.isUndefined((Cli.parseArgs([]) as Server.Options).maxBodyBytes)
    for (const bad of ["0", "-1", "1.5", "lots"]) {
      assert.match(Cli.parseArgs(["--max-body-bytes", bad]) as string, /--max-body-bytes needs/)
    }
    assert.match(Cli.parseArgs(["--max-body-bytes"]) as string, /--max-body-bytes needs/)
  })

  it.scoped(
    "the CLI (the sim-server script) listens and prints its URL, applies --max-body-bytes; SIGTERM stops it",
    () =>
      Effect.gen(function* () {
        const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn(
              process.execPath,
              [
                "--conditions=@effect-dspy/source",
                "--import",
                "tsx",
                cli,
                "--port",
                "0",
                "--seed",
                "3",
                "--max-body-bytes",
                "4096"
              ],
              {
                stdio: ["ignore", "pipe", "pipe"]
              }
            )
          ),
          (c) => Effect.sync(() => c.kill("SIGTERM"))
        )
        const line = yield* Effect.async<string, Error>((resume) => {
          let out = ""
          child.stdout!.on("data", (b: Buffer) => {
            out += b.toString()
            const l = out.split("\n").find((x) => x.startsWith("{"))
            if (l !== undefined) resume(Effect.succeed(l))
          })
          child.once("exit", (code) =>
            resume(Effect.fail(new Error(`sim-server exited with ${code} before listening`)))
          )
        })
        const { url } = JSON.parse(line) as { url: string }
        const models = yield* call(() => client(url).models.list())
        assert.isAbove(models.data.length, 0)
        // --max-body-bytes reaches the server: a body over 4096 bytes is refused with 413.
        const tooLarge = yield* Effect.promise(() =>
          fetch(`${url}/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "sim-1", messages: [{ role: "user", content: "x".repeat(10_000) }] })
          })
        )
        assert.strictEqual(tooLarge.status, 413)
        assert.include(
          ((yield* Effect.promise(() => tooLarge.json())) as { error: { message: string } }).error.message,
          "4096"
        )
        const exited = yield* Effect.async<number | null>((resume) => {
          child.once("exit", (code) => resume(Effect.succeed(code)))
          child.kill("SIGTERM")
        })
        assert.strictEqual(exited, 0)
      }),
    60_000
  )
})
