/**
 * `effect-dspy export --module qa [--version N] [--out FILE]` writes a module's release bundle (its promoted
 * version by default) from a running server; `effect-dspy import --module qa --file FILE [--if-version N]` makes a
 * bundle the module's current version.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { InvalidInput } from "../CliError.js"
import { request } from "../internal/remote.js"

const url = Options.text("url").pipe(
  Options.withDescription("The server (default EFFECT_DSPY_URL, else http://127.0.0.1:8080)"),
  Options.optional
)

/**
 * The `export` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const exportCommand = Command.make(
  "export",
  {
    url,
    module: Options.text("module"),
    version: Options.integer("version").pipe(Options.optional),
    out: Options.text("out").pipe(Options.withDescription("The file to write (default stdout)"), Options.optional)
  },
  (o) =>
    Effect.gen(function* () {
      const query = Option.match(o.version, { onNone: () => "", onSome: (v) => `?version=${v}` })
      const bundle = yield* request(o.url, "GET", `/modules/${encodeURIComponent(o.module)}/release${query}`)
      const text = `${JSON.stringify(bundle, null, 2)}\n`
      if (Option.isNone(o.out)) return yield* Console.log(text.trimEnd())
      yield* Effect.sync(() => fs.writeFileSync(o.out.pipe(Option.getOrThrow), text))
      yield* Console.error(`wrote ${Option.getOrThrow(o.out)}`)
    })
).pipe(Command.withDescription("Writes a module's release bundle from a running server"))

/**
 * The `import` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const importCommand = Command.make(
  "import",
  {
    url,
    module: Options.text("module"),
    file: Options.file("file", { exists: "yes" }),
    ifVersion: Options.integer("if-version").pipe(Options.optional)
  },
  (o) =>
    Effect.gen(function* () {
      const bundle = yield* Effect.try({
        try: () => JSON.parse(fs.readFileSync(o.file, "utf8")) as unknown,
        catch: (cause) => new InvalidInput({ input: o.file, message: `${o.file} is not JSON (${String(cause)})` })
      })
      const info = yield* request(o.url, "POST", `/modules/${encodeURIComponent(o.module)}/release`, {
        bundle,
        ...(Option.isSome(o.ifVersion) ? { ifVersion: o.ifVersion.value } : {})
      })
      yield* Console.log(JSON.stringify(info))
    })
).pipe(Command.withDescription("Makes a release bundle a module's current version on a running server"))
