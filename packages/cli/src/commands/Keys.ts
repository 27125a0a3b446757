/**
 * `effect-dspy keys new --id ops --scope admin --file keys.json`: makes a random API key, prints it once (keep
 * it: the server stores only its SHA-256 digest) and adds its entry to the key file (created with mode 0600).
 * `--tenant acme` makes a key of tenant `acme`; `--cross-tenant` an admin key that may act across tenants.
 *
 * @since 0.1.0
 */
import { Tenant } from "@effect-dspy/foundation"
import { ApiKeys } from "@effect-dspy/server"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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
  scopes: ReadonlyArray<ApiKeys.Scope>,
  tenancy?: { readonly tenant?: string | undefined; readonly crossTenant?: boolean | undefined }
): Effect.Effect<Redacted.Redacted<string>, ServeFailed> =>
  Effect.gen(function* () {
    const existing = fs.existsSync(file) ? yield* readKeys(file) : []
    if (existing.some((e) => e.id === id)) {
      return yield* new ServeFailed({ message: `the key file ${file} already has a key "${id}": choose another --id` })
    }
    if (tenancy?.tenant !== undefined && !Tenant.pattern.test(tenancy.tenant)) {
      return yield* new ServeFailed({
        message: `--tenant "${tenancy.tenant}" is not a tenant id: use lowercase letters, digits, _ and -`
      })
    }
    if (tenancy?.crossTenant === true && !scopes.includes("admin")) {
      return yield* new ServeFailed({ message: "--cross-tenant needs --scope admin" })
    }
    const { key, entry } = ApiKeys.generate(id, scopes, tenancy)
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
    json: Options.boolean("json").pipe(Options.withDescription("Print {id, key} as JSON")),
    tenant: Options.text("tenant").pipe(
      Options.withDescription("The tenant the key belongs to (its requests are scoped to it; docs/tenants.md)"),
      Options.optional
    ),
    crossTenant: Options.boolean("cross-tenant").pipe(
      Options.withDescription("An admin key that may act across tenants (unscoped, or as x-effect-dspy-tenant)")
    )
  },
  ({ id, scope, file, json, tenant, crossTenant }) =>
    Effect.flatMap(
      addKey(file, id, scope.length === 0 ? ["read"] : scope, {
        tenant: Option.getOrUndefined(tenant),
        crossTenant
      }),
      (key) =>
        json
          ? Console.log(JSON.stringify({ id, key: Redacted.value(key) }))
          : Console.log(
              `${Redacted.value(key)}\n(the key "${id}" is shown once; ${file} keeps only its SHA-256 digest)`
            )
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
