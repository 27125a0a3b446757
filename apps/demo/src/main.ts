/**
 * `pnpm demo`: the supervised DSPy application serving, optimizing in the background, hot-swapping, failing
 * over and restarting actors, then a summary. Offline by default (the simulated LM); with `OPENAI_API_KEY` set
 * the same program runs against that provider.
 *
 * Flags:
 * - `--json`: the summary as one JSON object on stdout (progress stays on stderr).
 * - `--spans-file FILE`: every finished span as one JSON line in FILE.
 * - `--otlp URL`: spans over OTLP/HTTP to URL (`OTEL_EXPORTER_OTLP_ENDPOINT` works too).
 * - `--seed N`: another run of the same scenario: N offsets the data's seeds and seeds the simulated LM
 *   (default 0).
 * - `--serve PORT`: the same scenario with the server on 127.0.0.1:PORT (API and dashboard, live as the demo runs);
 *   after the summary it stays up until interrupted. A read-only key for the dashboard is printed once on stderr.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops the traffic, gives the requests in flight 5 s to end, prints the summary so far
 * (stdout with `--json`, as usual) and exits with 130 (SIGINT) or 143 (SIGTERM); a second signal exits at once.
 */
import { SimDrift } from "@effect-dspy/sim"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Chaos from "./Chaos.js"
import * as Demo from "./Demo.js"
import * as Serving from "./Serving.js"
import * as Setup from "./Setup.js"
import * as Summary from "./Summary.js"

// `pnpm demo -- --json` passes a bare `--` through: it separates nothing here.
const args = process.argv.slice(2).filter((arg) => arg !== "--")
const flag = (name: string) => args.includes(name)
const value = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const known = new Set(["--json", "--spans-file", "--otlp", "--seed", "--serve"])
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!
  if (!known.has(arg)) {
    process.stderr.write(
      `unknown argument ${arg}: use --json, --spans-file FILE, --otlp URL, --seed N or --serve PORT\n`
    )
    process.exit(2)
  }
  if (arg !== "--json") i++
}

const json = flag("--json")
const seedText = value("--seed")
const seed = seedText === undefined ? 0 : Number(seedText)
if (!Number.isInteger(seed) || seed < 0) {
  process.stderr.write(`--seed must be a non-negative integer, got ${seedText}\n`)
  process.exit(2)
}
const serveText = value("--serve")
const servePort = serveText === undefined ? undefined : Number(serveText)
if (servePort !== undefined && (!Number.isInteger(servePort) || servePort < 0 || servePort > 65_535)) {
  process.stderr.write(`--serve must be a port (0 to 65535), got ${serveText}\n`)
  process.exit(2)
}
const log = (line: string) => process.stderr.write(`${line}\n`)
const providers = Setup.providersFromEnv()
const chaos = Chaos.make()
// The simulated LM's drift control: the loop phase drifts it (a real provider is not drifted).
const drift = SimDrift.make()
const recoveryMs = 2_000
// The module's versions live in a release database; the demo restarts an application on it at the end.
const releasesDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-demo-"))
const releasesFile = path.join(releasesDir, "releases.db")
const cleanUp = () => fs.rmSync(releasesDir, { recursive: true, force: true })

// The first SIGINT/SIGTERM stops the demo early (it drains and prints the summary so far); a second exits at once.
const stop = Effect.runSync(Deferred.make<string>())
const exitCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
let stoppedBy: string | undefined
const onSignal = (signal: NodeJS.Signals) => {
  if (stoppedBy !== undefined) {
    process.stderr.write(`\n${signal} again: exiting at once, without the summary.\n`)
    process.exit(exitCodes[signal] ?? 1)
  }
  stoppedBy = signal
  process.stderr.write(
    `\n${signal}: stopping the traffic and draining, then the summary so far (again to exit at once).\n`
  )
  Effect.runSync(Deferred.succeed(stop, signal))
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

const settings: Demo.Settings = {
  log,
  bars: { write: (text) => process.stderr.write(text), isTTY: process.stderr.isTTY === true },
  provider: providers,
  chaos,
  sizes: { train: 50, val: 100, test: 200, traffic: 4_000 },
  ratePerSecond: 40,
  baselineMs: 3_000,
  outageMs: 3_000,
  recoveryMs,
  seed,
  stop: Deferred.await(stop),
  drainGraceMs: 5_000,
  releasesFile,
  ...(providers.kind === "simulated" ? { drift } : {}),
  optimizations: [
    { optimizer: "bootstrap_few_shot", expect: { steps: 6 } },
    { optimizer: "mipro_v2", expect: { trials: 13 } }
  ]
}

log(
  providers.kind === "simulated"
    ? "effect-dspy demo: offline, on the simulated LM (set OPENAI_API_KEY to run on a real provider)."
    : `effect-dspy demo: on ${providers.model} at ${process.env["OPENAI_BASE_URL"] ?? "api.openai.com"} (this spends tokens).`
)

const program = Effect.zipRight(
  servePort === undefined ? Effect.void : Serving.start(servePort, log),
  Demo.run(settings)
).pipe(
  Effect.tap((summary) =>
    Effect.sync(() => {
      log("")
      for (const line of Summary.render(summary)) log(line)
      if (json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    })
  ),
  // With --serve the dashboard stays up after the summary, until Ctrl-C.
  Effect.tap(() =>
    servePort === undefined || stoppedBy !== undefined
      ? Effect.void
      : Effect.zipRight(
          Effect.sync(() => log("The server stays up (the dashboard shows the final state); Ctrl-C stops it.")),
          Deferred.await(stop)
        )
  ),
  Effect.scoped,
  Effect.provide(
    Setup.layer({
      providers,
      chaos,
      recoveryMs,
      seed,
      spansFile: value("--spans-file"),
      otlpEndpoint: value("--otlp"),
      releasesFile,
      drift
    })
  )
)

Effect.runPromise(program).then(
  () => {
    cleanUp()
    process.exit(stoppedBy === undefined ? 0 : (exitCodes[stoppedBy] ?? 1))
  },
  (error) => {
    cleanUp()
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
