/**
 * `effect-dspy migrate PATH`: proposes module steps for the prompt steps of a workflow file (or of a folder of
 * prompt templates), prints the proposals and a dry-run diff on stderr and the new workflow on stdout, and writes
 * it to `--out` only when asked; an existing file is never overwritten without `--force`.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import { Migrate, type WorkflowError } from "@effect-dspy/workflows"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"

/**
 * The target file exists and `--force` was not given (or it cannot be written).
 *
 * @since 0.1.0
 * @category errors
 */
export class MigrateWriteRefused extends Errors.TaggedError<MigrateWriteRefused>()(
  "MigrateWriteRefused",
  { file: Schema.String },
  { code: "cli_migrate_write_refused", retryable: false }
) {}

/**
 * What `migrate` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type MigrateError = WorkflowError.WorkflowInvalid | MigrateWriteRefused

/**
 * Migrates `path` (a workflow file, or a folder of prompt templates) and writes the result to `out` when given
 * (refusing an existing file unless `force`); returns the migration.
 *
 * @since 0.1.0
 * @category running
 */
export const migrate = (options: {
  readonly path: string
  readonly out: Option.Option<string>
  readonly force: boolean
}): Effect.Effect<Migrate.Migration, MigrateError> =>
  Effect.gen(function* () {
    const isDir = fs.existsSync(options.path) && fs.statSync(options.path).isDirectory()
    const migration = yield* isDir ? Migrate.fromTemplates(options.path) : Migrate.fromFile(options.path)
    if (Option.isSome(options.out)) {
      const out = options.out.value
      if (fs.existsSync(out) && !options.force) {
        return yield* new MigrateWriteRefused({
          file: out,
          message: `${out} exists: nothing written (pass --force to overwrite it)`
        })
      }
      yield* Effect.try({
        try: () => fs.writeFileSync(out, migration.text),
        catch: (e) => new MigrateWriteRefused({ file: out, message: `cannot write ${out}: ${String(e)}` })
      })
    }
    return migration
  })

/**
 * `effect-dspy migrate`.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "migrate",
  {
    path: Args.path({ name: "PATH", exists: "yes" }).pipe(
      Args.withDescription("A workflow file, or a folder of prompt templates (*.txt, *.prompt, *.md)")
    ),
    out: Options.file("out").pipe(
      Options.withDescription("Where to write the migrated workflow (default: nothing is written, a dry run)"),
      Options.optional
    ),
    force: Options.boolean("force").pipe(Options.withDescription("Overwrite --out when it exists"))
  },
  (options) =>
    Effect.gen(function* () {
      const migration = yield* migrate(options)
      for (const p of migration.proposals) {
        yield* Console.error(
          `step ${p.step}: module "${p.signature}" (evaluation mode; the prompt stays its traditional arm)`
        )
      }
      yield* Console.error(migration.diff)
      yield* Console.error(
        Option.match(options.out, {
          onNone: () => "dry run: nothing written (pass --out FILE to write the migrated workflow)",
          onSome: (out) => `wrote ${out}`
        })
      )
      yield* Console.log(migration.text)
    })
).pipe(Command.withDescription("Proposes module steps for prompt steps; a dry-run diff, written only with --out"))
