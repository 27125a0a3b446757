/**
 * The demo, run as `pnpm demo` runs it (the same scenario over the same application layer), with smaller
 * data, a shorter outage and a smaller MIPROv2 run. The demo is a real-time program (steady traffic, a
 * breaker's recovery time), so it runs on the live clock; nothing here asserts a duration.
 */
import { SimDrift, SimLatency, SimLM, SimServer } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Chaos from "../src/Chaos.js"
import * as Demo from "../src/Demo.js"
import * as ProgressBar from "../src/ProgressBar.js"
import * as Setup from "../src/Setup.js"
import * as Summary from "../src/Summary.js"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const providers: Setup.Providers = { kind: "simulated", model: "sim-1", primary: "primary", backup: "backup" }

/** The demo's scenario at a smaller size (what `pnpm demo` runs, shorter). */
const smallSettings = (
  provider: Setup.Providers,
  chaos: Chaos.Chaos,
  lines: Array<string>,
  bars: Array<string>
): Demo.Settings => ({
  log: (line) => lines.push(line),
  bars: { write: (text) => bars.push(text), isTTY: false },
  provider,
  chaos,
  sizes: { train: 30, val: 40, test: 60, traffic: 500 },
  ratePerSecond: 100,
  baselineMs: 300,
  outageMs: 400,
  recoveryMs: 300,
  optimizations: [
    { optimizer: "bootstrap_few_shot", expect: { steps: 6 } },
    { optimizer: "mipro_v2", expect: { trials: 6 } }
  ]
})

describe("the demo", () => {
  it.live(
    "optimizes in the background and hot-swaps, fails over and recovers, survives crashes, loses nothing",
    () => {
      const chaos = Chaos.make()
      const lines: Array<string> = []
      const bars: Array<string> = []
      const releasesDir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-releases-"))
      const releasesFile = path.join(releasesDir, "releases.db")
      const drift = SimDrift.make()
      const settings = { ...smallSettings(providers, chaos, lines, bars), releasesFile, drift }
      return Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(releasesDir, { recursive: true, force: true })))
        const summary = yield* Demo.run(settings)

        // Nothing lost: every request sent ended answered or failed, and none failed.
        assert.isNull(summary.stopped)
        assert.strictEqual(summary.requests.lost, 0)
        assert.strictEqual(summary.requests.sent, summary.requests.answered + summary.requests.failed)
        assert.isAbove(summary.requests.sent, 50)
        assert.deepStrictEqual(summary.errorsByType, {})
        for (const phase of ["baseline", "optimizing", "optimized", "outage", "recovery", "crash"]) {
          assert.isTrue(
            summary.phases.some((p) => p.phase === phase),
            `phase ${phase} in ${JSON.stringify(summary.phases)}`
          )
        }

        // Both optimizations ran through the coordinator; at least one beat the serving version and was swapped in,
        // and the held-out accuracy rose.
        assert.deepStrictEqual(
          summary.optimizations.map((o) => o.optimizer),
          ["bootstrap_few_shot", "mipro_v2"]
        )
        assert.isTrue(summary.optimizations.every((o) => o.status === "swapped" || o.status === "rejected"))
        assert.isTrue(summary.optimizations.some((o) => o.status === "swapped"))
        assert.isAbove(summary.servingVersion.after, summary.servingVersion.before)
        assert.isAbove(summary.accuracy.after!, summary.accuracy.before! + 10)

        // The optimized version ran as a canary before it was promoted: both arms served, quality with intervals.
        const [canary] = summary.experiments
        assert.strictEqual(canary!.decision, "promoted")
        assert.deepStrictEqual(canary!.arms.map((a) => a.arm).sort(), [canary!.baseline, canary!.candidate].sort())
        for (const arm of canary!.arms) {
          assert.isAbove(arm.requests, 0)
          assert.isAtMost(arm.qualityInterval!.lower, arm.quality!)
          assert.isAtLeast(arm.qualityInterval!.upper, arm.quality!)
          // Read from the experiment's record, whose quality intervals are clipped to [0, 1].
          assert.isAtLeast(arm.qualityInterval!.lower, 0)
          assert.isAtMost(arm.qualityInterval!.upper, 1)
        }
        // Every version was stored; an application restarted on the database serves the promoted one.
        assert.isAtLeast(summary.releases!.persisted, 2)
        assert.strictEqual(summary.releases!.restoredVersion, summary.releases!.promoted)
        assert.strictEqual(summary.releases!.promoted, summary.servingVersion.after)

        // The outage: faults were injected, the primary's breaker opened, traffic failed over, then it closed again.
        assert.isAbove(summary.faults.injected, 0)
        assert.isAtLeast(summary.faults.failovers, 1)
        assert.isAtLeast(summary.faults.recoveries, 1)
        assert.include(summary.faults.breakerStates, "open")
        assert.strictEqual(summary.faults.breakerStates.at(-1), "closed")
        assert.isAbove(summary.lm.byProvider["backup"]!, 0)

        // Observability: the outage's alert fired and resolved; readiness went healthy -> degraded -> healthy;
        // forecasts from the one-second rollups carry intervals.
        const outageAlert = summary.alerts.find((a) => a.rule === "provider_circuit_open")
        assert.isDefined(outageAlert, JSON.stringify(summary.alerts))
        assert.isNotNull(outageAlert!.resolvedAtMs)
        assert.isAbove(outageAlert!.resolvedAtMs!, outageAlert!.firedAtMs)
        assert.deepStrictEqual(
          [summary.health!.before.status, summary.health!.during.status],
          ["healthy", "degraded"],
          JSON.stringify(summary.health)
        )
        assert.include(summary.health!.during.reasons.join(" "), "backup")
        assert.strictEqual(summary.health!.after.status, "healthy", JSON.stringify(summary.health!.after))
        const costForecast = summary.forecasts.find((f) => f.metric === "lm.cost_usd")
        assert.isDefined(costForecast, JSON.stringify(summary.forecasts))
        assert.isAtMost(costForecast!.lower, costForecast!.mean)
        assert.isAtLeast(costForecast!.upper, costForecast!.mean)
        assert.isAbove(costForecast!.history, 3)

        // Both crashed actors were restarted under new pids.
        assert.deepStrictEqual(
          summary.restarts.map((r) => r.actor),
          ["dspy/lm_provider/primary", "dspy/module_manager", "dspy/optimization_coordinator"]
        )
        assert.isTrue(summary.restarts.every((r) => r.before !== r.after))

        // The real-time loop: the drift was detected after its onset, the loop's job canaried and decided on.
        const loop = summary.loop!
        assert.isNotNull(loop)
        assert.isAbove(loop.detectedAtRequest!, loop.driftAtRequest)
        assert.isString(loop.jobId)
        assert.notStrictEqual(loop.canaryDecision, "none")
        assert.isBelow(loop.quality.during!, loop.quality.before!)
        assert.isAbove(loop.lmCalls, 0)
        assert.isUndefined(drift.current(), "the drift is cleared at the end of the phase")

        // Usage and cache figures come from the application.
        assert.isAbove(summary.lm.calls, 0)
        assert.strictEqual(summary.lm.tokens, summary.lm.promptTokens + summary.lm.completionTokens)
        assert.isAbove(summary.cache.hits, 0)
        // The popular questions come back: once the cache answered one in full, the memo serves it.
        assert.isAbove(summary.cache.memoHits, 0)

        // What people see: the tree, the bars, the summary; and the JSON form round-trips.
        const output = lines.join("\n")
        assert.include(output, "lm_providers (supervisor)")
        assert.include(output, "provider:primary (worker)")
        assert.match(output, /restarts=1/)
        assert.isTrue(bars.some((b) => b.includes("mipro_v2") && b.includes("100%")))
        const table = Summary.render(summary).join("\n")
        assert.include(table, "accuracy (held-out)")
        assert.include(table, "0 lost")
        assert.deepStrictEqual(
          JSON.parse(JSON.stringify(summary)),
          summary,
          JSON.stringify({ alerts: summary.alerts, forecasts: summary.forecasts, health: summary.health })
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Setup.layer({
            providers,
            chaos,
            latency: SimLatency.fixed(2),
            recoveryMs: 300,
            mipro: { auto: null, numCandidates: 3, numTrials: 6 },
            env: false,
            releasesFile,
            drift,
            // A few seconds of run: 200 ms rollups give the forecasts enough intervals.
            rollupIntervalMs: 200
          })
        )
      )
    },
    60_000
  )

  it.live(
    "runs the same scenario on the real-provider path (the openai SDK) against an OpenAI-compatible server",
    () => {
      const chaos = Chaos.make()
      const lines: Array<string> = []
      const bars: Array<string> = []
      return Effect.gen(function* () {
        const server = yield* SimServer.serve({})
        const environment = { OPENAI_API_KEY: "sk-demo-test-key", OPENAI_BASE_URL: server.url, OPENAI_MODEL: "sim-1" }
        const real = Setup.providersFromEnv(environment)
        assert.deepStrictEqual(real, { kind: "openai", model: "sim-1", primary: "openai", backup: "openai_backup" })
        const summary = yield* Demo.run(smallSettings(real, chaos, lines, bars)).pipe(
          Effect.scoped,
          Effect.provide(
            Setup.layer({
              providers: real,
              chaos,
              recoveryMs: 300,
              mipro: { auto: null, numCandidates: 3, numTrials: 6 },
              env: false,
              environment
            })
          )
        )
        assert.strictEqual(summary.provider.kind, "openai")
        assert.strictEqual(summary.requests.lost, 0)
        assert.isAbove(summary.accuracy.after!, summary.accuracy.before!)
        assert.isAtLeast(summary.faults.recoveries, 1)
        // Every LM call the providers counted reached the server over HTTP.
        const stats = server.stats()
        assert.isAtLeast(stats.completions, summary.lm.calls - summary.faults.injected)
        assert.isAbove(summary.lm.byProvider["openai_backup"]!, 0)
        // The key never shows in what the demo prints.
        const printed = [...lines, ...bars, JSON.stringify(summary)].join("\n")
        assert.notInclude(printed, "sk-demo-test-key")
      }).pipe(Effect.scoped)
    },
    90_000
  )

  it("chooses the providers from the environment: simulated unless OPENAI_API_KEY is set", () => {
    assert.strictEqual(Setup.providersFromEnv({}).kind, "simulated")
    assert.deepStrictEqual(Setup.providersFromEnv({ OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "gpt-x" }), {
      kind: "openai",
      model: "gpt-x",
      primary: "openai",
      backup: "openai_backup"
    })
  })
})

describe("the demo's executable (what `pnpm demo` runs)", () => {
  it("refuses an unknown argument with a message naming the flags, exit code 2, nothing on stdout", () => {
    const bin = fileURLToPath(new URL("../bin/demo.mjs", import.meta.url))
    const run = spawnSync(process.execPath, [bin, "--jsn"], { encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(run.status, 2)
    assert.strictEqual(run.stdout, "")
    assert.include(
      run.stderr,
      "unknown argument --jsn: use --json, --spans-file FILE, --otlp URL, --seed N or --serve PORT"
    )
  }, 60_000)

  it("refuses a --seed that is not a non-negative integer", () => {
    const bin = fileURLToPath(new URL("../bin/demo.mjs", import.meta.url))
    const run = spawnSync(process.execPath, [bin, "--seed", "two"], { encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(run.status, 2)
    assert.strictEqual(run.stdout, "")
    assert.include(run.stderr, "--seed must be a non-negative integer, got two")
  }, 60_000)
})

/** The demo's executable started with `args`, offline (no provider key), with its output collected. */
const startDemo = (args: ReadonlyArray<string>, environment: NodeJS.ProcessEnv = {}) => {
  const bin = fileURLToPath(new URL("../bin/demo.mjs", import.meta.url))
  const env = { ...process.env }
  delete env["OPENAI_API_KEY"]
  delete env["OPENAI_BASE_URL"]
  Object.assign(env, environment)
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
  const out = { stdout: "", stderr: "" }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out.stdout += chunk
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    out.stderr += chunk
  })
  // "close", not "exit": the output is read to its end before the test looks at it.
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, out, exited }
}

/** Resolves once the child's stderr includes `text` (rejects if it exits first). */
const stderrShows = (child: ChildProcess, out: { stderr: string }, text: string) =>
  new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.stderr.includes(text)) {
        child.stderr!.off("data", check)
        child.off("exit", exit)
        resolve()
      }
    }
    const exit = () => reject(new Error(`the demo exited before printing ${text}:\n${out.stderr}`))
    child.stderr!.on("data", check)
    child.on("exit", exit)
    check()
  })

describe("the demo's executable on Ctrl-C", () => {
  it("SIGINT stops the traffic, drains it and prints the summary so far (--json: one object on stdout)", async () => {
    const { child, out, exited } = startDemo(["--json"])
    try {
      await stderrShows(child, out, "requests/s")
      child.kill("SIGINT")
      const code = await exited
      assert.strictEqual(code, 130, out.stderr)
      const summary = JSON.parse(out.stdout) as Summary.Summary
      assert.strictEqual(summary.stopped, "SIGINT")
      assert.isAbove(summary.requests.sent, 0)
      assert.strictEqual(summary.requests.lost, 0)
      assert.strictEqual(summary.requests.sent, summary.requests.answered + summary.requests.failed)
      assert.include(out.stderr, "SIGINT: stopping the traffic and draining")
      assert.match(out.stderr, /stopped\s+by SIGINT: the figures so far/)
    } finally {
      child.kill("SIGKILL")
    }
  }, 90_000)

  it("a second signal exits at once, without the summary", async () => {
    // The demo runs on an OpenAI-compatible provider (this loopback server) that never answers, so the requests in
    // flight hold the drain open for its 5 s: the second signal surely arrives while the demo is draining. (Sent
    // back to back, two different signals can reach two of Node's threads at once and one of them be lost.)
    const held = new Set<http.ServerResponse>()
    const provider = http.createServer((_request, response) => void held.add(response))
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve))
    const port = (provider.address() as AddressInfo).port
    const { child, out, exited } = startDemo(["--json"], {
      OPENAI_API_KEY: "sk-test-never-answered",
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`
    })
    try {
      await stderrShows(child, out, "requests/s")
      child.kill("SIGTERM")
      await stderrShows(child, out, "SIGTERM: stopping the traffic and draining")
      child.kill("SIGINT")
      const code = await exited
      assert.include(out.stderr, "SIGINT again: exiting at once, without the summary.", out.stderr)
      assert.strictEqual(code, 130)
      assert.notInclude(out.stderr, "Traffic by phase")
    } finally {
      child.kill("SIGKILL")
      provider.closeAllConnections()
      await new Promise((resolve) => provider.close(resolve))
    }
  }, 90_000)
})

describe("the progress bar", () => {
  it("off a terminal prints a line per quarter and one at the end", () => {
    const out: Array<string> = []
    const bar = ProgressBar.make({ write: (text) => out.push(text), isTTY: false }, "job")
    for (let i = 0; i <= 10; i++) bar.update(i / 10, `step ${i}`)
    bar.done("finished")
    assert.strictEqual(out.length, 5)
    assert.match(out[0]!, /job \[\.+\]\s+0%\s+step 0/)
    assert.match(out.at(-1)!, /job \[#+\]\s+100%\s+finished/)
  })

  it("on a terminal redraws one line in place", () => {
    const out: Array<string> = []
    let now = 0
    const bar = ProgressBar.make({ write: (text) => out.push(text), isTTY: true }, "job", () => now)
    bar.update(0.1, "a")
    bar.update(0.2, "b") // within 100 ms of the last draw: skipped
    now = 200
    bar.update(0.5, "c")
    bar.done("d")
    assert.strictEqual(out.length, 3)
    assert.isTrue(out.every((line) => line.startsWith("\r\x1b[2K")))
    assert.isTrue(out[2]!.endsWith("d\n"))
  })
})

describe("fault injection", () => {
  it.effect("fails the share of calls it is told to, as the provider would (503), and counts them", () =>
    Effect.gen(function* () {
      const chaos = Chaos.make(3)
      const provider = chaos.wrap("p", SimLM.make({ name: "p" }))
      const request = { model: "sim-1", messages: [{ role: "user" as const, content: "What is 2 + 3?" }] }
      const call = Effect.either(provider.complete(request))
      const fork = Effect.forEach(Array.from({ length: 20 }), () => call).pipe(Effect.fork)

      const healthy = yield* Fiber.join(yield* fork)
      assert.isTrue(healthy.every((r) => r._tag === "Right"))

      yield* chaos.start("p", { failureRate: 1 })
      const down = yield* fork
      yield* TestClock.adjust("1 second")
      const failed = yield* Fiber.join(down)
      assert.isTrue(failed.every((r) => r._tag === "Left" && r.left._tag === "LMServerError" && r.left.status === 503))
      assert.strictEqual(chaos.injected("p"), 20)

      yield* chaos.start("p", { failureRate: 0.5 })
      const half = yield* fork
      yield* TestClock.adjust("1 second")
      const some = (yield* Fiber.join(half)).filter((r) => r._tag === "Left").length
      assert.isTrue(some > 0 && some < 20, `${some} of 20 failed`)

      yield* chaos.stop("p")
      assert.isTrue((yield* Fiber.join(yield* fork)).every((r) => r._tag === "Right"))
    })
  )
})
