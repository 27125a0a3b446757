/**
 * Throughput of the simulated LM's OpenAI-compatible server (zero latency, no faults), in a child process so
 * the clients do not share its event loop: a bare `fetch` loop at 64 concurrent requests, then the official
 * `openai` SDK in the same run (reported as a ratio to bare fetch). Also the in-process engine's answers
 * per second, the floor of what the server can serve.
 *
 * Against the pre-change server: the server as it was at commit `PRE_CHANGE` (before the simulated LM moved to
 * `@effect-dspy/sim` and its skill model v2), extracted from git into a temporary directory and measured in the
 * same run, alternating with the current one (pre, current, pre, current) so that load on the machine falls
 * on both alike. Target: the current server keeps >= 0.95x the pre-change throughput.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import { Engine } from "@effect-dspy/sim"
import OpenAI from "openai"
import { type Bench, nowUs, throughput } from "../Harness.js"

const CONCURRENCY = 64
const DURATION_MS = 3000
/** The commit whose server is the pre-change reference. */
const PRE_CHANGE = "a82d3c2"
const HERE = path.dirname(url.fileURLToPath(import.meta.url))

const question =
  "Mia has 12 apples. She buys 5 more apples. She gives away 3 apples. How many apples does Mia have now?"
const system = [
  "Your input fields are:",
  "1. `question` (str)",
  "Your output fields are:",
  "1. `reasoning` (str)",
  "2. `answer` (int)",
  "",
  "All interactions will be structured in the following way, with the appropriate values filled in.",
  "",
  "[[ ## question ## ]]\n{question}",
  "",
  "[[ ## reasoning ## ]]\n{reasoning}",
  "",
  "[[ ## answer ## ]]\n{answer}        # note: the value you produce must be a single int value",
  "",
  "[[ ## completed ## ]]",
  "In adhering to this structure, your objective is: \n        Given the fields `question`, produce the fields `reasoning`, `answer`."
].join("\n")
const messages = [
  { role: "system" as const, content: system },
  {
    role: "user" as const,
    content: `[[ ## question ## ]]\n${question}\n\nRespond with the corresponding output fields, starting with the field \`[[ ## reasoning ## ]]\`, then \`[[ ## answer ## ]]\` (must be formatted as a valid Python int), and then ending with the marker for \`[[ ## completed ## ]]\`.`
  }
]

/** A floor for comparison: a bare node:http server answering every POST with a fixed completion body. */
const BARE = `
const http = require("node:http")
const body = JSON.stringify({ id: "x", object: "chat.completion", created: 0, model: "sim-1", choices: [{ index: 0, message: { role: "assistant", content: "[[ ## answer ## ]] 14 [[ ## completed ## ]]", refusal: null }, logprobs: null, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })
const server = http.createServer({ noDelay: true }, (req, res) => { req.on("data", () => {}); req.on("end", () => { res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }); res.end(body) }) })
server.keepAliveTimeout = 65000
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port + "/v1" }) + "\\n"))
`

/**
 * Extracts the pre-change simulated LM (core's `src/` at {@link PRE_CHANGE}) into a temporary directory whose
 * `node_modules` points at core's, so it runs with the same dependencies; returns its CLI and a cleanup.
 */
const extractPreChange = (): { readonly cli: string; readonly cleanup: () => void } => {
  const repo = execFileSync("git", ["rev-parse", "--show-toplevel"], { cwd: HERE, encoding: "utf8" }).trim()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sim-prechange-"))
  const archive = execFileSync("git", ["archive", "--format=tar", PRE_CHANGE, "packages/core/src"], {
    cwd: repo,
    maxBuffer: 64 * 1024 * 1024
  })
  execFileSync("tar", ["-x", "-C", dir, "--strip-components=2"], { input: archive })
  fs.symlinkSync(path.join(repo, "packages/core/node_modules"), path.join(dir, "node_modules"), "dir")
  return {
    cli: path.join(dir, "src/sim/cli.ts"),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

const startServer = (bare = false, cliPath?: string): Promise<{ child: ChildProcess; url: string }> =>
  new Promise((resolve, reject) => {
    const cli = cliPath ?? path.join(HERE, "../../../sim/src/cli.ts")
    const args = bare ? ["-e", BARE] : ["--conditions=@effect-dspy/source", "--import", "tsx", cli, "--port", "0"]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString()
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined) resolve({ child, url: (JSON.parse(line) as { url: string }).url })
    })
    child.once("exit", (code) => reject(new Error(`sim-server exited with ${code} before listening`)))
  })

/** Runs `op` from `CONCURRENCY` workers for `DURATION_MS` after a warm-up; returns requests per second. */
const loop = async (op: () => Promise<unknown>): Promise<number> => {
  const warm = Date.now() + 500
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < warm) await op()
    })
  )
  let count = 0
  const start = nowUs()
  const end = Date.now() + DURATION_MS
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        await op()
        count++
      }
    })
  )
  return count / ((nowUs() - start) / 1e6)
}

const bench: Bench = {
  name: "sim-server",
  description: "simulated LM server: bare fetch vs the openai SDK at 64 concurrent (zero latency)",
  run: async (report) => {
    const perSecond = await throughput(() => Promise.resolve(Engine.respond({ model: "sim-1", messages }, {})), {
      durationMs: 1000,
      batch: 200
    })
    report({ bench: "sim-server", metric: "engine_answers_in_process", value: perSecond, unit: "answers/s" })

    const body = JSON.stringify({ model: "sim-1", messages })
    const fetchLoop = (base: string) =>
      loop(async () => {
        const res = await fetch(`${base}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body
        })
        if (res.status !== 200) throw new Error(`status ${res.status}`)
        await res.json()
      })

    const bare = await startServer(true)
    let floor: number
    try {
      floor = await fetchLoop(bare.url)
      report({ bench: "sim-server", metric: "bare_node_http_fetch_64_concurrent", value: floor, unit: "req/s" })
    } finally {
      bare.child.kill("SIGTERM")
    }

    // The current server against the pre-change one, alternating: pre, current, pre, current.
    const pre = extractPreChange()
    try {
      const rates = { pre: [] as Array<number>, current: [] as Array<number> }
      for (let round = 0; round < 2; round++) {
        for (const which of ["pre", "current"] as const) {
          const server = await startServer(false, which === "pre" ? pre.cli : undefined)
          try {
            rates[which].push(await fetchLoop(server.url))
          } finally {
            server.child.kill("SIGTERM")
          }
        }
      }
      const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
      report({
        bench: "sim-server",
        metric: "pre_change_fetch_64_concurrent",
        value: mean(rates.pre),
        unit: "req/s",
        baseline: floor,
        target: `the server at ${PRE_CHANGE}, same run (mean of 2 runs alternating with the current one)`
      })
      report({
        bench: "sim-server",
        metric: "fetch_64_concurrent_vs_pre_change",
        value: mean(rates.current),
        unit: "req/s",
        baseline: mean(rates.pre),
        target: ">= 0.95x the pre-change server (mean of 2 alternating runs each)"
      })
    } finally {
      pre.cleanup()
    }

    const { child, url: base } = await startServer()
    try {
      const fetchRate = await fetchLoop(base)
      report({
        bench: "sim-server",
        metric: "fetch_64_concurrent",
        value: fetchRate,
        unit: "req/s",
        baseline: floor,
        target: ">= 3000 req/s on an idle 2-core machine (guide: ~4,500); ratio to a bare node:http server"
      })
      const sdk = new OpenAI({ baseURL: base, apiKey: "sim", maxRetries: 0 })
      const sdkRate = await loop(() => sdk.chat.completions.create({ model: "sim-1", messages }))
      report({
        bench: "sim-server",
        metric: "openai_sdk_64_concurrent",
        value: sdkRate,
        unit: "req/s",
        baseline: fetchRate,
        target: "ratio to bare fetch (guide: ~0.59x)"
      })
    } finally {
      child.kill("SIGTERM")
    }
  }
}

export default bench
