/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core): it loads, signs in
 * with a key, shows the tree, a breaker opening and closing around an injected outage, and a job's score curve
 * growing, an alert firing after an outage with the forecasts and the loop's panel. Screenshots go to docs/images/. Skipped, with a message, when /usr/bin/chromium is missing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { AlertRule, Observability } from "@effect-dspy/services"
import * as Context from "effect/Context"
import { client, start } from "./support.js"

const executablePath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"
const available = fs.existsSync(executablePath)
if (!available) {
  console.warn(`Dashboard browser tests skipped: no Chromium at ${executablePath} (apt-get install chromium)`)
}
const images = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "docs", "images")

const browser = Effect.acquireRelease(
  Effect.promise(async () => {
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-chromium-"))
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    return { context, userDataDir }
  }),
  ({ context, userDataDir }) =>
    Effect.promise(async () => {
      await context.close()
      fs.rmSync(userDataDir, { recursive: true, force: true })
    })
)

describe.skipIf(!available)("dashboard in headless Chromium", () => {
  it.scopedLive(
    "loads, shows the tree, a breaker opening and closing after an outage, a job's curve growing",
    () =>
      Effect.gen(function* () {
        const h = yield* start()
        const admin = yield* client(h.url, h.keys.admin)
        yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
        let n = 0
        const execute = (count: number) =>
          Effect.forEach(
            Array.from({ length: count }, () => n++),
            (i) =>
              Effect.either(
                admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: `What is ${i} + 1?` } } })
              ),
            { concurrency: 4 }
          )
        yield* execute(6)
        const { context } = yield* browser
        const page = yield* Effect.promise(() => context.newPage())
        yield* Effect.promise(async () => {
          await page.goto(`${h.url}/dashboard/`)
          // Signed out: the login form; the key is exchanged for the session cookie.
          await page.locator('[data-testid="login"] input[name="key"]').fill(h.keys.reader)
          await page.locator('[data-testid="login"] button').click()
          await page.locator('[data-testid="tree"] [data-node="module_manager"]').waitFor({ timeout: 20_000 })
          await page.locator('[data-provider="sim"][data-circuit="closed"]').waitFor({ timeout: 20_000 })
          await page.locator('[data-module="qa"]').waitFor({ timeout: 20_000 })
        })
        const cookies = yield* Effect.promise(() => context.cookies())
        const session = cookies.find((c) => c.name === "effect_dspy_session")
        assert.isDefined(session)
        assert.isTrue(session?.httpOnly)
        assert.strictEqual(session?.sameSite, "Strict")
        fs.mkdirSync(images, { recursive: true })
        yield* Effect.promise(() => page.screenshot({ path: path.join(images, "dashboard.png"), fullPage: true }))

        // The outage: sim fails every call; its breaker opens (traffic fails over to sim_backup), then closes.
        h.outage.set("sim", true)
        const opened = page.locator('[data-provider="sim"][data-circuit="open"]').waitFor({ timeout: 30_000 })
        while (
          !(yield* Effect.promise(() =>
            page
              .locator('[data-provider="sim"][data-circuit="open"]')
              .count()
              .then((c) => c > 0)
          ))
        ) {
          yield* execute(4)
          yield* Effect.sleep("100 millis")
        }
        yield* Effect.promise(() => opened)
        yield* Effect.promise(() =>
          page.screenshot({ path: path.join(images, "dashboard-breaker-open.png"), fullPage: true })
        )
        h.outage.set("sim", false)
        while (
          !(yield* Effect.promise(() =>
            page
              .locator('[data-provider="sim"][data-circuit="closed"]')
              .count()
              .then((c) => c > 0)
          ))
        ) {
          yield* execute(2)
          yield* Effect.sleep("200 millis")
        }

        // A job: its score curve grows as its trials arrive.
        const trainset = Array.from({ length: 8 }, (_, i) => ({
          fields: { question: `What is ${i} + ${i}?`, answer: String(2 * i) },
          inputs: ["question"]
        }))
        const job = yield* admin.jobs.start({
          payload: { moduleId: "qa", optimizer: "copro", trainset, valset: trainset }
        })
        const chart = page.locator(`[data-job="${job.id}"] [data-testid="score-chart"]`)
        yield* Effect.promise(() => chart.waitFor({ timeout: 30_000 }))
        const seen: Array<number> = []
        for (let i = 0; i < 600; i++) {
          const points = Number(yield* Effect.promise(() => chart.getAttribute("data-points")))
          if (seen.length === 0 || points !== seen[seen.length - 1]) seen.push(points)
          const status = yield* Effect.promise(() => page.locator(`[data-job="${job.id}"]`).getAttribute("data-status"))
          if (points >= 2 && status !== "running" && status !== "queued") break
          yield* Effect.sleep("100 millis")
        }
        assert.isAbove(seen[seen.length - 1] ?? 0, 1, `the curve grew: ${seen.join(" -> ")}`)
        yield* Effect.promise(() => page.screenshot({ path: path.join(images, "dashboard-job.png"), fullPage: true }))
      }),
    120_000
  )

  it.scopedLive(
    "shows provider_circuit_open firing in the alerts panel after an outage, a forecast chart and the loop",
    () =>
      Effect.gen(function* () {
        const h = yield* start({ observeIntervalMs: 200 })
        // The demo's outage alert (apps/demo/src/phases/Outage.ts): sim's circuit open, sampled every interval.
        const observability = Context.get(h.context, Observability.Observability)
        yield* observability.alerts.setRules([
          AlertRule.make({
            name: "provider_circuit_open",
            description: "provider sim's circuit is open",
            severity: "warning",
            selector: { metric: "provider.circuit_open", provider: "sim" },
            statistic: "max",
            windowMs: 1_500,
            condition: AlertRule.threshold(">=", 1),
            cooldownMs: 10_000
          })
        ])
        const admin = yield* client(h.url, h.keys.admin)
        yield* admin.modules.create({ payload: { id: "qa", kind: "predict", signature: "question -> answer" } })
        let n = 0
        const execute = (count: number) =>
          Effect.forEach(
            Array.from({ length: count }, () => n++),
            (i) =>
              Effect.either(
                admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: `What is ${i} + 2?` } } })
              ),
            { concurrency: 4 }
          )
        const executions = yield* execute(8)
        const first = executions.find((e) => e._tag === "Right")
        if (first?._tag === "Right" && first.right.executionId !== undefined)
          yield* admin.loop.feedback({ payload: { executionId: first.right.executionId, outcome: { rating: 0.9 } } })
        const { context } = yield* browser
        const page = yield* Effect.promise(() => context.newPage())
        yield* Effect.promise(async () => {
          await page.goto(`${h.url}/dashboard/`)
          const login = page.locator('[data-testid="login"] input[name="key"]')
          if ((await login.count()) > 0) {
            await login.fill(h.keys.reader)
            await page.locator('[data-testid="login"] button').click()
          }
          await page.locator('[data-testid="alerts"]').waitFor({ timeout: 20_000 })
          await page.locator('[data-loop-module="qa"]').waitFor({ timeout: 20_000 })
        })
        assert.strictEqual(yield* Effect.promise(() => page.locator('[data-alert="provider_circuit_open"]').count()), 0)
        h.outage.set("sim", true)
        const firing = page.locator('[data-testid="alerts"] [data-alert="provider_circuit_open"][data-status="firing"]')
        for (let i = 0; i < 300 && (yield* Effect.promise(() => firing.count())) === 0; i++) {
          yield* execute(2)
          yield* Effect.sleep("100 millis")
        }
        yield* Effect.promise(() => firing.waitFor({ timeout: 5_000 }))
        h.outage.set("sim", false)
        // The forecast chart of sim's latency has points (it refreshes every 5 s).
        const chart = page.locator('[data-testid="forecast-chart"][data-metric="provider.latency_ms"]')
        for (let i = 0; i < 100 && Number(yield* Effect.promise(() => chart.getAttribute("data-points"))) === 0; i++)
          yield* Effect.sleep("100 millis")
        assert.isAbove(Number(yield* Effect.promise(() => chart.getAttribute("data-points"))), 0)
        fs.mkdirSync(images, { recursive: true })
        yield* Effect.promise(() =>
          page.screenshot({ path: path.join(images, "dashboard-alerts.png"), fullPage: true })
        )
      }),
    120_000
  )
})
