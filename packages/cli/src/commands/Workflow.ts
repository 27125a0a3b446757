/**
 * `effect-dspy workflow validate|run|resume|describe FILE`: a workflow file checked (issues with file, line and
 * key), run or resumed on the supervised application (progress on stderr, the result as one JSON line on stdout;
 * runs are kept in an SQLite run store, `--store`), or drawn as a Mermaid statechart.
 *
 * @since 0.1.0
 */
import type { LM } from "@effect-dspy/core"
import type { Config } from "@effect-dspy/foundation"
import type { RuntimeError } from "@effect-dspy/runtime"
import { Application } from "@effect-dspy/services"
import {
  RunStore,
  Statechart,
  Workflow,
  type WorkflowError,
  WorkflowEngine,
  WorkflowSchema,
  WorkflowTools
} from "@effect-dspy/workflows"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { InvalidInput } from "../CliError.js"

/**
 * What the workflow commands can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkflowCommandError =
  | InvalidInput
  | WorkflowError.WorkflowError
  | Config.ConfigInvalid
  | LM.LMConfigError
  | RuntimeError.ChildStartFailed
  | RuntimeError.InvalidOptions
  | RuntimeError.ChildRunning
  | RuntimeError.NoProc

/**
 * Parses `--input`: the workflow's inputs as a JSON object.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseInputs = (input: string): Effect.Effect<{ readonly [name: string]: unknown }, InvalidInput> =>
  Effect.try({
    try: () => JSON.parse(input) as unknown,
    catch: (cause) =>
      new InvalidInput({
        input,
        message: `--input is not JSON (${String(cause)}): give the workflow's inputs as a JSON object, e.g. '{"query":"..."}'`
      })
  }).pipe(
    Effect.filterOrFail(
      (value): value is { readonly [name: string]: unknown } =>
        typeof value === "object" && value !== null && !Array.isArray(value),
      () => new InvalidInput({ input, message: `--input must be a JSON object of the workflow's inputs` })
    )
  )

/**
 * The default run store file (relative to the working directory).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStore = ".effect-dspy/workflow-runs.db"

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("The workflow file (YAML or JSON)"))
const config = Options.file("config", { exists: "yes" }).pipe(
  Options.withDescription("The application's config file (JSON, or YAML); default EFFECT_DSPY_CONFIG"),
  Options.optional
)
const store = Options.text("store").pipe(
  Options.withDescription(`The run store (SQLite file; default ${defaultStore})`),
  Options.withDefault(defaultStore)
)
const mode = Options.choice("mode", WorkflowSchema.modes).pipe(
  Options.withDescription("Runs every module step in this mode"),
  Options.optional
)

/** The engine on the application (`Application.layerDefault`), with the SQLite run store and no code tools. */
const engineLayer = (options: { readonly config: Option.Option<string>; readonly store: string }) =>
  WorkflowEngine.layer.pipe(
    Layer.provide(
      Layer.mergeAll(
        RunStore.layerSqlite(options.store),
        WorkflowTools.layerEmpty,
        Application.layerDefault(
          Option.match(options.config, { onNone: () => ({}), onSome: (f) => ({ config: { file: f } }) })
        )
      )
    )
  )

const onProgress = (p: WorkflowEngine.Progress): Effect.Effect<void> => {
  switch (p._tag) {
    case "RunStarted":
      return Console.error(`${p.resumed ? "resuming" : "running"} ${p.workflow} (run ${p.runId})`)
    case "StepStarted":
      return Console.error(`  step ${p.step}...`)
    case "StepFinished":
      return Console.error(
        `  step ${p.record.step}${p.record.item === undefined ? "" : `[${p.record.item}]`}: ${p.record.success ? "ok" : "failed"}${p.record.arm === undefined ? "" : ` (${p.record.arm})`}${p.record.fallback === undefined ? "" : ` via fallback ${p.record.fallback}`}, ${p.record.timeMs} ms, ${p.record.lmCalls} LM call${p.record.lmCalls === 1 ? "" : "s"}`
      )
    case "RunFinished":
      return Console.error(`run ${p.runId}: ${p.status}`)
  }
}

const printResult = (result: WorkflowEngine.Result) =>
  Console.log(
    JSON.stringify({
      runId: result.runId,
      workflow: result.workflow,
      status: result.status,
      outputs: result.outputs,
      restored: result.restored,
      steps: result.steps.map((s) => ({
        step: s.step,
        ...(s.item === undefined ? {} : { item: s.item }),
        mode: s.mode,
        ...(s.arm === undefined ? {} : { arm: s.arm }),
        success: s.success,
        attempts: s.attempts,
        ...(s.fallback === undefined ? {} : { fallback: s.fallback }),
        timeMs: s.timeMs,
        costUsd: s.costUsd,
        lmCalls: s.lmCalls
      }))
    })
  )

/**
 * Validates a workflow file: prints `{"valid":true,...}`, or fails with every issue (file:line:column key: what
 * to fix).
 *
 * @since 0.1.0
 * @category commands
 */
export const validate = (path: string): Effect.Effect<string, WorkflowError.WorkflowInvalid> =>
  Effect.map(Workflow.load(path), (w) =>
    JSON.stringify({
      valid: true,
      workflow: w.name,
      steps: [...w.nodes.values()].map((n) => ({ id: n.id, kind: n.kind, path: n.path })),
      inputs: Object.keys(w.inputs),
      outputs: Object.keys(w.outputs)
    })
  )

const validateCommand = Command.make("validate", { file }, ({ file }) =>
  Effect.flatMap(validate(file), Console.log)
).pipe(Command.withDescription("Checks a workflow file (schema, references, types) without running it"))

const describeCommand = Command.make("describe", { file }, ({ file }) =>
  Effect.flatMap(Workflow.load(file), (w) => Console.log(Statechart.mermaid(w)))
).pipe(Command.withDescription("Prints the workflow's statechart as a Mermaid diagram"))

const runCommand = Command.make(
  "run",
  {
    file,
    config,
    store,
    mode,
    runId: Options.text("run-id").pipe(Options.withDescription("The run's id (default: generated)"), Options.optional),
    input: Options.text("input").pipe(
      Options.withDescription("The workflow's inputs as a JSON object"),
      Options.withDefault("{}")
    )
  },
  (options) =>
    Effect.gen(function* () {
      const inputs = yield* parseInputs(options.input)
      const w = yield* Workflow.load(options.file)
      const result = yield* Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
        engine.run(w, inputs, {
          onProgress,
          ...Option.match(options.runId, { onNone: () => ({}), onSome: (runId) => ({ runId }) }),
          ...Option.match(options.mode, { onNone: () => ({}), onSome: (m) => ({ mode: m }) })
        })
      ).pipe(Effect.provide(engineLayer(options)), Effect.scoped)
      yield* printResult(result)
    })
).pipe(Command.withDescription("Runs a workflow on the supervised application; the result as JSON on stdout"))

const resumeCommand = Command.make(
  "resume",
  {
    file,
    config,
    store,
    runId: Options.text("run-id").pipe(Options.withDescription("The run to resume"))
  },
  (options) =>
    Effect.gen(function* () {
      const w = yield* Workflow.load(options.file)
      const result = yield* Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
        engine.resume(w, options.runId, { onProgress })
      ).pipe(Effect.provide(engineLayer(options)), Effect.scoped)
      yield* printResult(result)
    })
).pipe(Command.withDescription("Resumes a stored run where it stopped, without repeating its finished steps"))

/**
 * `effect-dspy workflow` with its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("workflow").pipe(
  Command.withDescription("Declarative workflows: validate, run, resume, describe"),
  Command.withSubcommands([validateCommand, runCommand, resumeCommand, describeCommand])
)
