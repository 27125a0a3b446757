/**
 * The `effect-dspy` command line on `@effect/cli`: `--help`, `version`, and `run`, one module call on a
 * supervised application started from a config file.
 *
 * `effect-dspy run --signature "question -> answer" --input '{"question":"What is 2 + 3?"}'` starts the
 * application (`Application.layerDefault`, config from `--config FILE`, else `EFFECT_DSPY_CONFIG`, plus the
 * environment), creates one module (`--kind chain_of_thought` by default, or `predict`; optional
 * `--instructions` and `--adapter chat|json|xml|two_step`), executes it on the input, prints `{"output":{"fields":{...},...},"version":1}` (the prediction as JSON: its fields,
 * completions, token usage and LM calls) as one JSON line on stdout,
 * and shuts the application down. Without a provider configured, the application's default provider is the
 * simulated LM.
 *
 * @example
 * ```ts
 * import { Cli } from "@effect-dspy/cli"
 * import * as Effect from "effect/Effect"
 * import * as Option from "effect/Option"
 *
 * // What `effect-dspy run --kind predict --signature "question -> answer" --input '{"question":"2 + 3?"}'` does.
 * const execution = Cli.runModule({
 *   config: Option.none(),
 *   signature: "question -> answer",
 *   kind: "predict",
 *   instructions: Option.none(),
 *   input: JSON.stringify({ question: "2 + 3?" })
 * })
 *
 * Effect.runPromise(execution).then((result) => console.log(result.version, result.output))
 * ```
 *
 * @since 0.1.0
 */
import type { LM } from "@effect-dspy/core"
import type { Config } from "@effect-dspy/foundation"
import type { RuntimeError } from "@effect-dspy/runtime"
import { Application, ModuleManager } from "@effect-dspy/services"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidInput, type RemoteFailed, type ServeFailed } from "./CliError.js"
import * as Data from "./commands/Data.js"
import * as Health from "./commands/Health.js"
import * as Jobs from "./commands/Jobs.js"
import * as Keys from "./commands/Keys.js"
import * as MigrateCommand from "./commands/Migrate.js"
import * as Optimize from "./commands/Optimize.js"
import * as Releases from "./commands/Releases.js"
import * as Serve from "./commands/Serve.js"
import * as WorkflowCommand from "./commands/Workflow.js"
import { version as packageVersion } from "./internal/version.js"

/**
 * The CLI's version (the `@effect-dspy/cli` package's).
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = packageVersion

/**
 * Parses `--input`: a JSON object of the module's input fields.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseInput = (input: string): Effect.Effect<{ readonly [field: string]: unknown }, InvalidInput> =>
  Effect.try({
    try: () => JSON.parse(input) as unknown,
    catch: (cause) =>
      new InvalidInput({
        input,
        message: `--input is not JSON (${String(cause)}): give the input fields as a JSON object, e.g. '{"question":"What is 2 + 3?"}'`
      })
  }).pipe(
    Effect.filterOrFail(
      (value): value is { readonly [field: string]: unknown } =>
        typeof value === "object" && value !== null && !Array.isArray(value),
      () =>
        new InvalidInput({
          input,
          message: `--input must be a JSON object of input fields, e.g. '{"question":"What is 2 + 3?"}'`
        })
    )
  )

/**
 * What `run` needs: the module (signature, kind, instructions), its input and the optional config file.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly config: Option.Option<string>
  readonly signature: string
  readonly kind: ModuleManager.ModuleKind
  readonly instructions: Option.Option<string>
  /** The module's adapter (`chat`, `json`, `xml`, `two_step`); left out: Config `modules.defaultAdapter`. */
  readonly adapter?: Option.Option<ModuleManager.AdapterName>
  readonly input: string
}

/**
 * What `run` can fail with: a bad `--input`, the application failing to start (an invalid config, a provider
 * that cannot be built), the module's creation or its execution.
 *
 * @since 0.1.0
 * @category models
 */
export type RunError =
  | InvalidInput
  | Config.ConfigInvalid
  | LM.LMConfigError
  | RuntimeError.ChildStartFailed
  | RuntimeError.InvalidOptions
  | ModuleManager.MutationError
  | ModuleManager.ExecuteError

/**
 * One module call: starts the application, creates the module `cli`, executes it on the input and shuts the
 * application down; succeeds with the execution (output and version).
 *
 * @since 0.1.0
 * @category running
 */
export const runModule = (options: RunOptions): Effect.Effect<ModuleManager.Execution, RunError> =>
  Effect.flatMap(parseInput(options.input), (inputs) =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({
        id: "cli",
        kind: options.kind,
        signature: options.signature,
        ...Option.match(options.instructions, { onNone: () => ({}), onSome: (instructions) => ({ instructions }) }),
        ...Option.match(options.adapter ?? Option.none(), { onNone: () => ({}), onSome: (adapter) => ({ adapter }) })
      })
      return yield* modules.execute("cli", inputs)
    }).pipe(
      Effect.provide(
        Application.layerDefault(
          Option.match(options.config, { onNone: () => ({}), onSome: (file) => ({ config: { file } }) })
        )
      ),
      Effect.scoped
    )
  )

const runCommand = Command.make(
  "run",
  {
    config: Options.file("config", { exists: "yes" }).pipe(
      Options.withDescription("The application's config file (JSON, or YAML); default EFFECT_DSPY_CONFIG"),
      Options.optional
    ),
    signature: Options.text("signature").pipe(
      Options.withDescription("The module's signature in DSPy's form, e.g. \"question -> answer: float\"")
    ),
    kind: Options.choice("kind", ModuleManager.moduleKinds).pipe(
      Options.withDescription("The module's kind"),
      Options.withDefault<ModuleManager.ModuleKind>("chain_of_thought")
    ),
    instructions: Options.text("instructions").pipe(
      Options.withDescription("The module's instructions (default: the signature's)"),
      Options.optional
    ),
    adapter: Options.choice("adapter", ModuleManager.adapterNames).pipe(
      Options.withDescription("The module's adapter (default: Config modules.defaultAdapter)"),
      Options.optional
    ),
    input: Options.text("input").pipe(
      Options.withDescription('The input fields as a JSON object, e.g. \'{"question":"What is 2 + 3?"}\'')
    )
  },
  (options) =>
    Effect.flatMap(runModule(options), (execution) =>
      Console.log(JSON.stringify({ output: execution.output, version: execution.version }))
    )
).pipe(Command.withDescription("Makes one module call on the supervised application and prints it as JSON"))

const versionCommand = Command.make("version", {}, () => Console.log(version)).pipe(
  Command.withDescription("Prints the CLI's version")
)

/** The parsed value of a command (its `A`). */
type SuccessOf<C> = C extends Command.Command<infer _Name, infer _R, infer _E, infer A> ? A : never

/**
 * What any command can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandError =
  | RunError
  | WorkflowCommand.WorkflowCommandError
  | MigrateCommand.MigrateError
  | ServeFailed
  | RemoteFailed
  | InvalidInput

/**
 * The `effect-dspy` command with its subcommands `run`, `version`, `workflow`, `migrate`, `serve`, `keys`,
 * `health`, `jobs`, `optimize`, `export` and `import`.
 *
 * @since 0.1.0
 * @category commands
 */
export const command: Command.Command<
  "effect-dspy",
  never,
  CommandError,
  {
    readonly subcommand: Option.Option<
      | SuccessOf<typeof runCommand>
      | SuccessOf<typeof versionCommand>
      | SuccessOf<typeof WorkflowCommand.command>
      | SuccessOf<typeof MigrateCommand.command>
      | SuccessOf<typeof Serve.command>
      | SuccessOf<typeof Keys.command>
      | SuccessOf<typeof Health.command>
      | SuccessOf<typeof Jobs.command>
      | SuccessOf<typeof Optimize.command>
      | SuccessOf<typeof Releases.exportCommand>
      | SuccessOf<typeof Releases.importCommand>
      | SuccessOf<typeof Data.command>
    >
  }
> = Command.make("effect-dspy").pipe(
  Command.withDescription("effect-dspy: DSPy on Effect, from the command line"),
  Command.withSubcommands([
    runCommand,
    versionCommand,
    WorkflowCommand.command,
    MigrateCommand.command,
    Serve.command,
    Keys.command,
    Health.command,
    Jobs.command,
    Optimize.command,
    Releases.exportCommand,
    Releases.importCommand,
    Data.command
  ])
)

/**
 * Runs the command line on `argv` (as `process.argv`: the first two entries are skipped).
 *
 * @since 0.1.0
 * @category running
 */
export const run: (
  argv: ReadonlyArray<string>
) => Effect.Effect<void, CommandError | ValidationError.ValidationError, CliApp.CliApp.Environment> = Command.run(
  command,
  {
    name: "effect-dspy",
    version
  }
)

/**
 * The executable's program: {@link run}, with a failure printed on stderr as one line (`effect-dspy: <tag>:
 * <message>`, no stack trace) and the failure kept, so the process exits with a non-zero code. Invalid
 * arguments are reported by `@effect/cli` itself, with the usage.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, CommandError | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  run(argv).pipe(
    Effect.tapError((error) =>
      ValidationError.isValidationError(error) ? Effect.void : Console.error(`effect-dspy: ${describeError(error)}`)
    )
  )

const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const { _tag, message } = error as { readonly _tag?: unknown; readonly message?: unknown }
    if (typeof _tag === "string") return `${_tag}: ${typeof message === "string" ? message : ""}`
  }
  return String(error)
}
