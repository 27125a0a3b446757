/**
 * `effect-dspy keys new --id ops --scope admin --file keys.json`: makes a random API key, prints it once (keep
 * it: the server stores only its SHA-256 digest) and adds its entry to the key file (created with mode 0600).
 *
 * @since 0.1.0
 */
import { ApiKeys } from "@effect-dspy/server"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import { ServeFailed } from "../CliError.js"
import { readKeys } from "./Serve.js"

/**
 * Adds a new key to a key file; returns the key (shown once).
 *
 * @since 0.1.0
 * @category keys
 */
export const addKey = (
  file: string,
  id: string,
  scopes: ReadonlyArray<ApiKeys.Scope>
): Effect.Effect<Redacted.Redacted<string>, ServeFailed> =>
  Effect.gen(function* () {
    const existing = fs.existsSync(file) ? yield* readKeys(file) : []
    if (existing.some((e) => e.id === id)) {
      return yield* new ServeFailed({ message: `the key file ${file} already has a key "${id}": choose another --id` })
    }
    const { key, entry } = ApiKeys.generate(id, scopes)
    yield* Effect.try({
      try: () =>
        fs.writeFileSync(file, `${JSON.stringify({ version: 1, keys: [...existing, entry] }, null, 2)}\n`, {
          mode: 0o600
        }),
      catch: (cause) => new ServeFailed({ message: `cannot write the key file ${file}: ${String(cause)}` })
    })
    return key
  })

const newCommand = Command.make(
  "new",
  {
    id: Options.text("id").pipe(Options.withDescription("The key's id (shown in logs and rate limits)")),
    scope: Options.choice("scope", ["read", "execute", "admin"] as const).pipe(
      Options.withDescription("A scope: read, execute (implies read) or admin (implies both); repeatable"),
      Options.repeated
    ),
    file: Options.text("file").pipe(Options.withDescription("The key file to add it to")),
    json: Options.boolean("json").pipe(Options.withDescription("Print {id, key} as JSON"))
  },
  ({ id, scope, file, json }) =>
    Effect.flatMap(addKey(file, id, scope.length === 0 ? ["read"] : scope), (key) =>
      json
        ? Console.log(JSON.stringify({ id, key: Redacted.value(key) }))
        : Console.log(`${Redacted.value(key)}\n(the key "${id}" is shown once; ${file} keeps only its SHA-256 digest)`)
    )
).pipe(Command.withDescription("Makes a new API key and adds its digest to a key file"))

/**
 * The `keys` command (`keys new`).
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("keys").pipe(
  Command.withDescription("Manages the server's API keys"),
  Command.withSubcommands([newCommand])
)
