/**
 * `effect-dspy data`: data rights on a running server (admin key): `data export --subject KEY [--tenant T]
 * [--out FILE]` writes the archive (JSON lines, see `docs/data-rights.md`); `data erase --subject KEY [--tenant T]`
 * erases everything held about them and prints what was removed per source.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { request } from "../internal/remote.js"

const url = Options.text("url").pipe(
  Options.withDescription("The server (default EFFECT_DSPY_URL, else http://127.0.0.1:8080)"),
  Options.optional
)
const subject = Options.text("subject").pipe(Options.withDescription("The end-user key"), Options.optional)
const tenant = Options.text("tenant").pipe(Options.withDescription("The tenant"), Options.optional)

const selectorOf = (o: { readonly subject: Option.Option<string>; readonly tenant: Option.Option<string> }) => ({
  ...Option.match(o.subject, { onNone: () => ({}), onSome: (s) => ({ subject: s }) }),
  ...Option.match(o.tenant, { onNone: () => ({}), onSome: (t) => ({ tenant: t }) })
})

const exportCommand = Command.make(
  "export",
  {
    url,
    subject,
    tenant,
    out: Options.text("out").pipe(Options.withDescription("The file to write (default stdout)"), Options.optional)
  },
  (o) =>
    Effect.gen(function* () {
      const answer = yield* request(o.url, "POST", "/data/export", selectorOf(o))
      // An archive of one line (its manifest alone) reads as JSON: written back as that line.
      const text = typeof answer === "string" ? answer : `${JSON.stringify(answer)}\n`
      if (Option.isSome(o.out)) {
        const file = o.out.value
        yield* Effect.sync(() => fs.writeFileSync(file, text, { mode: 0o600 }))
      } else yield* Console.log(text.trimEnd())
    })
).pipe(Command.withDescription("Writes everything held about an end user or a tenant (the archive, JSON lines)"))

const eraseCommand = Command.make("erase", { url, subject, tenant }, (o) =>
  Effect.flatMap(request(o.url, "POST", "/data/erase", selectorOf(o)), (report) => Console.log(JSON.stringify(report)))
).pipe(Command.withDescription("Erases everything held about an end user or a tenant, derived data included"))

/**
 * The `data` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("data").pipe(
  Command.withDescription("Data rights: export or erase what is held about an end user or a tenant"),
  Command.withSubcommands([exportCommand, eraseCommand])
)
