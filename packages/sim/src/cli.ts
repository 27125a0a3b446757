#!/usr/bin/env node
/**
 * The simulated LM server from the command line.
 *
 * ```
 * pnpm --filter @effect-dspy/sim sim-server --port 8787 --faults 0.3 --latency 50ms   # in the workspace, on the sources
 * npx effect-dspy-sim-server --port 8787                                       # installed: the built binary, plain node
 * pnpm --filter @effect-dspy/sim sim-server --port 0 --latency lognormal:50ms:400ms --fault rate_limit=0.1 --fault reset=0.05
 * ```
 *
 * Options:
 *   --port N             port to listen on (default 8787; 0 picks a free port)
 *   --host H             loopback address: 127.0.0.1 (default), ::1 or localhost; others are refused
 *   --seed N             simulator seed (default 0)
 *   --world N            multi-hop knowledge-base world (default 0)
 *   --faults RATE        total fault rate in [0, 1], spread evenly over --fault-kinds
 *   --fault-kinds a,b    kinds for --faults (default: all): missing_marker, truncated_json, extra_prose, empty,
 *                        rate_limit, server_error, unavailable, timeout, reset, slow_stream, truncated_stream
 *   --fault KIND=RATE    a rate for one kind (repeatable; added to --faults)
 *   --fault-seed N       seed of the fault draws (default 0)
 *   --retry-after S      Retry-After seconds of 429 faults (default 1)
 *   --timeout-ms MS      how long a `timeout` fault holds the request before dropping it (default 120000)
 *   --slow-chunk-ms MS   delay between SSE events of a `slow_stream` fault (default 250)
 *   --latency SPEC       none | 50ms | fixed:50ms | lognormal:<mean>:<p99>, e.g. lognormal:50ms:400ms
 *   --max-body-bytes N   the largest request body accepted, in bytes (default 16777216, 16 MiB); a larger one
 *                        is answered 413 without being read further
 *   --reproducible       answer temperature > 0 requests without a rollout_id with one fixed sample (by default
 *                        each such request gets a fresh sample, as from a hosted LM)
 *
 * When listening it prints one JSON line `{"url":"http://127.0.0.1:8787/v1","port":8787}` on stdout; it stops
 * on SIGINT or SIGTERM. `GET /stats` reports requests served and faults injected by kind.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as url from "node:url"
import * as Faults from "./Faults.js"
import * as Latency from "./Latency.js"
import * as Server from "./Server.js"

/**
 * Reads command-line arguments into server options; returns a message for anything it cannot use.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgs = (argv: ReadonlyArray<string>): Server.Options | string => {
  const rates: { [K in Faults.Kind]?: number } = {}
  let total = 0
  let over: ReadonlyArray<Faults.Kind> = Faults.kinds
  let port = 8787
  let host: string | undefined
  let seed: number | undefined
  let world: number | undefined
  let faultSeed = 0
  let retryAfterSeconds: number | undefined
  let timeoutMs: number | undefined
  let slowChunkMs: number | undefined
  let maxBodyBytes: number | undefined
  let latency: Latency.Profile = Latency.none
  const num = (flag: string, v: string | undefined): number | string => {
    const n = Number(v)
    return v === undefined || v.trim() === "" || !Number.isFinite(n) ? `${flag} needs a number, got ${String(v)}` : n
  }
  let reproducible = false
  const args = argv.filter((a) => a !== "--")
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!
    const value = args[i + 1]
    const take = (): number | string => {
      i++
      return num(flag, value)
    }
    switch (flag) {
      case "--port":
      case "--seed":
      case "--world":
      case "--faults":
      case "--fault-seed":
      case "--retry-after":
      case "--timeout-ms":
      case "--slow-chunk-ms":
      case "--max-body-bytes": {
        const n = take()
        if (typeof n === "string") return n
        if (flag === "--port") port = n
        else if (flag === "--seed") seed = n
        else if (flag === "--world") world = n
        else if (flag === "--faults") total = n
        else if (flag === "--fault-seed") faultSeed = n
        else if (flag === "--retry-after") retryAfterSeconds = n
        else if (flag === "--timeout-ms") timeoutMs = n
        else if (flag === "--max-body-bytes") {
          if (!Number.isSafeInteger(n) || n <= 0)
            return `--max-body-bytes needs a positive whole number of bytes, got ${value}`
          maxBodyBytes = n
        } else slowChunkMs = n
        break
      }
      case "--host":
        i++
        if (value === undefined) return "--host needs a value"
        host = value
        break
      case "--fault-kinds": {
        i++
        const kinds = (value ?? "").split(",").map((s) => s.trim())
        const unknown = kinds.filter((k) => !Faults.kinds.includes(k as Faults.Kind))
        if (unknown.length > 0) return `unknown fault kinds: ${unknown.join(", ")}; known: ${Faults.kinds.join(", ")}`
        over = kinds as Array<Faults.Kind>
        break
      }
      case "--fault": {
        i++
        const m = /^(\w+)=(.+)$/.exec(value ?? "")
        if (m === null || !Faults.kinds.includes(m[1] as Faults.Kind))
          return `--fault needs KIND=RATE with a known kind, got ${String(value)}`
        const n = num("--fault", m[2])
        if (typeof n === "string") return n
        rates[m[1] as Faults.Kind] = n
        break
      }
      case "--latency": {
        i++
        const l = Latency.parse(value ?? "")
        if (typeof l === "string") return l
        latency = l
        break
      }
      case "--reproducible":
        reproducible = true
        break
      default:
        return `unknown option ${flag}; see the header of packages/sim/src/cli.ts`
    }
  }
  const spread = Faults.uniform(total, over).rates
  for (const k of Faults.kinds) {
    const r = (rates[k] ?? 0) + (spread[k] ?? 0)
    if (r > 0) rates[k] = r
  }
  const faults: Faults.Profile = {
    rates,
    seed: faultSeed,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(slowChunkMs !== undefined ? { slowChunkMs } : {})
  }
  const problem = Faults.validate(faults)
  if (problem !== undefined) return problem
  return {
    port,
    faults,
    latency,
    ...(host !== undefined ? { host } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(world !== undefined ? { world } : {}),
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(reproducible ? { freshSamples: false } : {})
  }
}

/** True when this file is the process's entry point (`tsx src/cli.ts`, `pnpm --filter @effect-dspy/sim sim-server`). */
const isMain = (() => {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return (
      url.pathToFileURL(fs.realpathSync(entry)).href ===
      url.pathToFileURL(fs.realpathSync(url.fileURLToPath(import.meta.url))).href
    )
  } catch {
    return false
  }
})()

if (isMain) {
  const options = parseArgs(process.argv.slice(2))
  if (typeof options === "string") {
    process.stderr.write(`sim-server: ${options}\n`)
    process.exit(2)
  }
  Server.start(options).then(
    (running) => {
      process.stdout.write(`${JSON.stringify({ url: running.url, port: running.port })}\n`)
      const stop = () => {
        running.close().then(() => process.exit(0))
      }
      process.on("SIGINT", stop)
      process.on("SIGTERM", stop)
    },
    (e: unknown) => {
      process.stderr.write(`sim-server: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(1)
    }
  )
}
