/**
 * LM over HTTP: 64 concurrent chat completions against one local OpenAI-compatible server with zero latency
 * (the simulated LM's own server, then a minimal fixed-body node:http responder as the floor; each in a child
 * process, so that the clients have this process to themselves).
 * Clients, all against the same server in one run: a bare `fetch` loop (the baseline), the raw `openai` SDK
 * (default transport), the SDK on our tuned transport, our provider through the `LM` service (cache off,
 * retries, history, usage and telemetry on), and `@ax-llm/ax`. Reports requests per second and the ratio to
 * the bare fetch loop, and each client's CPU time per request in this process (the figure that decides
 * throughput when the client is the bottleneck, and that other load on a shared machine disturbs least).
 */
import { AxAIOpenAI } from "@ax-llm/ax"
import { LM, OpenAIProvider } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import { type ChildProcess, spawn } from "node:child_process"
import * as url from "node:url"
import OpenAI from "openai"
import { type Bench, nowUs } from "../Harness.js"

const CONCURRENCY = 64
const DURATION_MS = Number(process.env.LM_HTTP_BENCH_MS ?? 5000)
const ROUNDS = 5

/** The server: answers every POST with a fixed chat completion (or embeddings) as fast as it can. */
const serverSource = `
const http = require("node:http")
const completion = JSON.stringify({
  id: "chatcmpl-bench", object: "chat.completion", created: 1, model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "[[ ## answer ## ]]\\n4\\n\\n[[ ## completed ## ]]" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 42, completion_tokens: 12, total_tokens: 54 }
})
const server = http.createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(completion) })
    res.end(completion)
  })
})
server.keepAliveTimeout = 60000
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"))
`

/** The minimal fixed-body server: the floor that shows each client's own cost. */
const startFixedServer = (): Promise<{ readonly child: ChildProcess; readonly baseURL: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", serverSource], { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", reject)
    child.stdout!.once("data", (data: Buffer) =>
      resolve({ child, baseURL: `http://127.0.0.1:${data.toString().trim()}/v1` })
    )
  })

/** The simulated LM's own server (`sim-server`), which reads each prompt and composes a real answer. */
const startSimServer = (): Promise<{ readonly child: ChildProcess; readonly baseURL: string }> =>
  new Promise((resolve, reject) => {
    const cli = url.fileURLToPath(new URL("../../../sim/src/cli.ts", import.meta.url))
    const child = spawn(process.execPath, ["--conditions=@effect-dspy/source", "--import", "tsx", cli, "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.once("error", reject)
    child.stdout!.once("data", (data: Buffer) => resolve({ child, baseURL: JSON.parse(data.toString()).url }))
  })

const messages = [
  { role: "system" as const, content: "Your input fields are: `question`. Your output fields are: `answer`." },
  { role: "user" as const, content: "[[ ## question ## ]]\nWhat is 2 + 2?" }
]

/** Requests per second, and this process's CPU time per request (robust to other load on the machine). */
interface Sample {
  readonly rps: number
  readonly cpuUs: number
}

/** Runs `CONCURRENCY` workers calling `once` for `ms`. */
const measure = async (once: () => Promise<unknown>, ms: number): Promise<Sample> => {
  const end = nowUs() + ms * 1000
  let count = 0
  const worker = async () => {
    while (nowUs() < end) {
      await once()
      count++
    }
  }
  const cpu = process.cpuUsage()
  const start = nowUs()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const used = process.cpuUsage(cpu)
  return { rps: count / ((nowUs() - start) / 1e6), cpuUs: (used.user + used.system) / count }
}

/** Like {@link measure} for an Effect: the workers are 64 fibers (`Effect.forEach` with concurrency 64). */
const measureEffect = (once: Effect.Effect<unknown, unknown>, ms: number): Promise<Sample> =>
  Effect.runPromise(
    Effect.gen(function* () {
      let count = 0
      const cpu = process.cpuUsage()
      const start = nowUs()
      const end = start + ms * 1000
      const worker = Effect.whileLoop({
        while: () => nowUs() < end,
        body: () => once,
        step: () => {
          count++
        }
      })
      yield* Effect.forEach(Array.from({ length: CONCURRENCY }), () => worker, {
        concurrency: CONCURRENCY,
        discard: true
      })
      const used = process.cpuUsage(cpu)
      return { rps: count / ((nowUs() - start) / 1e6), cpuUs: (used.user + used.system) / count }
    })
  )

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const bench: Bench = {
  name: "lm-http",
  description: "64 concurrent chat completions against a local OpenAI-compatible server (zero latency)",
  run: async (report) => {
    // Against the simulated LM's server (the setting) and against the fixed-body floor.
    await against(await startSimServer(), "sim_", report)
    await against(await startFixedServer(), "", report)
  }
}

const against = async (
  server: { readonly child: ChildProcess; readonly baseURL: string },
  prefix: string,
  report: Parameters<Bench["run"]>[0]
): Promise<void> => {
  {
    const { child, baseURL } = server
    const apiKey = "sk-bench"
    const target = ">= 0.8x"
    const scope = Effect.runSync(Scope.make())
    try {
      const body = JSON.stringify({ model: "bench-model", messages })
      const sdk = new OpenAI({ apiKey, baseURL, maxRetries: 0 })
      const provider = await Effect.runPromise(
        Scope.extend(OpenAIProvider.make({ baseURL, apiKey: Redacted.make(apiKey) }), scope)
      )
      const lm = await Effect.runPromise(LM.make({ provider, model: "bench-model" }))
      const ax = new AxAIOpenAI({ apiKey, apiURL: baseURL, config: { model: "bench-model" as never } })
      const clients: Array<{ readonly metric: string; readonly run: (ms: number) => Promise<Sample> }> = [
        {
          metric: "bare_fetch_rps",
          run: (ms) =>
            measure(async () => {
              const res = await fetch(`${baseURL}/chat/completions`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
                body
              })
              return res.json()
            }, ms)
        },
        {
          metric: "openai_sdk_rps",
          run: (ms) => measure(() => sdk.chat.completions.create({ model: "bench-model", messages }), ms)
        },
        {
          metric: "tuned_provider_rps",
          run: (ms) => measureEffect(provider.complete({ model: "bench-model", messages }), ms)
        },
        { metric: "lm_service_rps", run: (ms) => measureEffect(lm.complete({ messages }, { cache: false }), ms) },
        {
          metric: "ax_rps",
          run: (ms) =>
            measure(
              () =>
                ax.chat({ chatPrompt: messages.map((m) => ({ role: m.role, content: m.content })) }, { stream: false }),
              ms
            )
        }
      ]
      // Interleaved rounds, median per client: the machine is shared, so load drifts during a run.
      const samples = new Map<string, Array<Sample>>(clients.map((c) => [c.metric, []]))
      for (const c of clients) await c.run(300) // warm-up (JIT, connections)
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of clients) samples.get(c.metric)!.push(await c.run(DURATION_MS / ROUNDS))
      }
      const rps = (metric: string) => median(samples.get(metric)!.map((x) => x.rps))
      const cpu = (metric: string) => median(samples.get(metric)!.map((x) => x.cpuUs))
      for (const c of clients) {
        const ours = c.metric === "tuned_provider_rps" || c.metric === "lm_service_rps"
        const isBase = c.metric === "bare_fetch_rps"
        report({
          bench: "lm-http",
          metric: prefix + c.metric,
          value: rps(c.metric),
          unit: "req/s",
          ...(isBase ? {} : { baseline: rps("bare_fetch_rps") }),
          ...(ours ? { target } : {})
        })
        // Client CPU per request: the throughput a client reaches when it, not the server, is the bottleneck.
        report({
          bench: "lm-http",
          metric: prefix + c.metric.replace("_rps", "_cpu_us_per_req"),
          value: cpu(c.metric),
          unit: "us",
          ...(isBase ? {} : { baseline: cpu("bare_fetch_rps") }),
          ...(ours ? { target: "<= 1.25x (= >= 0.8x throughput)" } : {})
        })
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      child.kill()
    }
  }
}

export default bench
