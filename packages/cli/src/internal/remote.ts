/**
 * The client side of the commands that talk to a running server (`health`, `jobs`, `optimize`, `export`,
 * `import`): the server's URL (`--url`, else `EFFECT_DSPY_URL`, else `http://127.0.0.1:8080`) and the API key from
 * `EFFECT_DSPY_API_KEY` (an environment variable, never a flag: flags show in `ps` and shell history).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { RemoteFailed } from "../CliError.js"

export const defaultUrl = (url: Option.Option<string>): string => {
  let base = Option.getOrElse(url, () => process.env["EFFECT_DSPY_URL"] ?? "http://127.0.0.1:8080")
  // Trailing slashes dropped by a scan (linear), not a regex.
  while (base.endsWith("/")) base = base.slice(0, -1)
  return base
}

/** One request to the server: its JSON answer, or `RemoteFailed` with the server's message and status. */
export const request = (
  url: Option.Option<string>,
  method: "GET" | "POST",
  path: string,
  body?: unknown
): Effect.Effect<unknown, RemoteFailed> =>
  Effect.tryPromise({
    try: async () => {
      const key = process.env["EFFECT_DSPY_API_KEY"]
      const headers: Record<string, string> = {}
      if (key !== undefined && key !== "") headers.authorization = `Bearer ${key}`
      if (body !== undefined) headers["content-type"] = "application/json"
      const response = await fetch(`${defaultUrl(url)}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await response.text()
      return { status: response.status, text }
    },
    catch: (cause) =>
      new RemoteFailed({
        status: 0,
        message: `cannot reach the server at ${defaultUrl(url)} (${String(cause)}): start it with \`effect-dspy serve\` or give --url`
      })
  }).pipe(
    Effect.flatMap(({ status, text }) => {
      let json: unknown = text
      try {
        json = text === "" ? null : JSON.parse(text)
      } catch {
        // Not JSON: kept as text.
      }
      if (status >= 200 && status < 300) return Effect.succeed(json)
      const message =
        typeof json === "object" && json !== null && typeof (json as { message?: unknown }).message === "string"
          ? (json as { message: string }).message
          : text
      const hint = status === 401 ? " (set EFFECT_DSPY_API_KEY to an API key)" : ""
      return Effect.fail(new RemoteFailed({ status, message: `the server answered ${status}: ${message}${hint}` }))
    })
  )
