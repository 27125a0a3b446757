/**
 * `effect-dspy health`: the health of a running server (`GET /health`); exit code 0 when it is ok, 1 when it is
 * degraded, unavailable or unreachable. `--json` prints the server's answer as is.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { RemoteFailed } from "../CliError.js"
import { request } from "../internal/remote.js"

const url = Options.text("url").pipe(
  Options.withDescription("The server (default EFFECT_DSPY_URL, else http://127.0.0.1:8080)"),
  Options.optional
)

/**
 * The `health` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "health",
  { url, json: Options.boolean("json").pipe(Options.withDescription("Print the answer as JSON")) },
  (options) =>
    Effect.gen(function* () {
      const health = (yield* request(options.url, "GET", "/health")) as {
        readonly status: string
        readonly checks: ReadonlyArray<{ readonly name: string; readonly status: string; readonly detail: string }>
      }
      yield* options.json
        ? Console.log(JSON.stringify(health))
        : Console.log(
            [`status: ${health.status}`, ...health.checks.map((c) => `  ${c.name}: ${c.status} (${c.detail})`)].join(
              "\n"
            )
          )
      if (health.status !== "ok") {
        return yield* new RemoteFailed({ status: 503, message: `the server is ${health.status}` })
      }
    })
).pipe(Command.withDescription("Prints a running server's health; exits 1 unless it is ok"))
