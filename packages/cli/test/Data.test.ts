/**
 * `effect-dspy data export|erase` against a served application (an admin key from the environment): the export
 * writes an archive (its manifest names the sources searched), the erasure prints its report; without a subject
 * or tenant the server's 400 is reported.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { addKey } from "../src/commands/Keys.js"
import { serve } from "../src/commands/Serve.js"
import * as InProcess from "./support/cli.js"

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = net.createServer()
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        server.close(() => resolve(port))
      })
    })
)

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-data-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs the command line in this process (test/support/cli.ts) with the admin key in the environment. */
const cli = (key: string, ...args: ReadonlyArray<string>) =>
  InProcess.run(args, { ...InProcess.cleanEnvironment, EFFECT_DSPY_API_KEY: key })

describe("effect-dspy data", () => {
  it.scopedLive(
    "export writes the archive, erase prints the report, a missing subject is the server's 400",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "keys.json")
        const key = Redacted.value(yield* addKey(file, "admin", ["read", "execute", "admin"]))
        const port = yield* freePort
        const base = `http://127.0.0.1:${port}`
        const fiber = yield* Effect.fork(
          serve({
            config: Option.none(),
            keys: Option.some(file),
            port,
            host: "127.0.0.1",
            rateLimit: 100,
            maxBodyBytes: 1024 * 1024,
            corsOrigin: [],
            noDashboard: true,
            grace: 1,
            releases: Option.none(),
            json: true,
            secureCookies: false
          })
        )
        for (let i = 0; i < 200; i++) {
          const up = yield* Effect.promise(() =>
            fetch(`${base}/health/live`).then(
              (r) => r.ok,
              () => false
            )
          )
          if (up) break
          yield* Effect.sleep("50 millis")
        }
        const out = path.join(dir, "archive.jsonl")
        const exported = yield* cli(key, "data", "export", "--subject", "user-1", "--out", out, "--url", base)
        assert.strictEqual(exported.code, 0, exported.stderr)
        const manifest = JSON.parse(fs.readFileSync(out, "utf8").split("\n")[0]!) as {
          kind: string
          sources: Record<string, number>
        }
        assert.strictEqual(manifest.kind, "effect-dspy.data-rights-archive")
        assert.property(manifest.sources, "experiences")
        const erased = yield* cli(key, "data", "erase", "--subject", "user-1", "--url", base)
        assert.strictEqual(erased.code, 0, erased.stderr)
        assert.strictEqual((JSON.parse(erased.stdout) as { total: number }).total, 0)
        const bad = yield* cli(key, "data", "erase", "--url", base)
        assert.notStrictEqual(bad.code, 0)
        assert.include(bad.stdout + bad.stderr, "400")
        yield* Fiber.interrupt(fiber)
      }),
    60_000
  )
})
