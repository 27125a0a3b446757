/**
 * The workflow file format as an Effect Schema: a workflow's inputs, outputs and steps (module, prompt, tool,
 * branch, parallel, map, sub-workflow), each step's mode, timeout, retries, fallback and optimization block.
 * `jsonSchema()` is the same format as a JSON Schema for editors (committed as `workflow.schema.json`).
 *
 * @example
 * ```ts
 * import { WorkflowSchema } from "@effect-dspy/workflows"
 * import * as Schema from "effect/Schema"
 *
 * const file = Schema.decodeUnknownSync(WorkflowSchema.WorkflowFile)({
 *   version: 1,
 *   name: "route",
 *   inputs: { query: "str" },
 *   steps: [{ id: "route", module: { signature: "query -> agent" }, inputs: { query: "{inputs.query}" } }],
 *   outputs: { agent: "{route.agent}" }
 * })
 * console.log(file.steps.length)
 * ```
 *
 * @since 0.1.0
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"

/**
 * The version of the workflow file format this package reads (`version:` in the file).
 *
 * @since 0.1.0
 * @category constants
 */
export const FORMAT_VERSION: 1 = 1

/**
 * How a step runs: the prompt or function as written (`traditional`), the module's promoted version
 * (`optimized`), the step's traffic policy between the two (`hybrid`), or both with one served and both
 * recorded (`evaluation`).
 *
 * @since 0.1.0
 * @category models
 */
export const Mode = Schema.Literal("traditional", "optimized", "hybrid", "evaluation")

/**
 * A step's mode.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = typeof Mode.Type

/**
 * The modes, in order.
 *
 * @since 0.1.0
 * @category constants
 */
export const modes: ReadonlyArray<Mode> = ["traditional", "optimized", "hybrid", "evaluation"]

const Id = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_-]*$/),
  Schema.annotations({ description: "An identifier: letters, digits, `_` and `-`, starting with a letter or `_`" })
)

/** A field type in DSPy's notation: `str`, `int`, `float`, `bool`, `list[str]`, `dict[str, int]`, `Literal['a', 'b']`. */
const TypeText = Schema.String.pipe(
  Schema.annotations({ description: "A type in DSPy's notation: str, int, float, bool, list[str], Literal['a', 'b']" })
)

/**
 * Typed fields by name (`{ query: str, limit: int }`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Fields = Schema.Record({ key: Schema.String, value: TypeText })

/**
 * A step's or output's input values: a template (`"{inputs.query}"`, `"Summary of {fetch.text}"`) or a literal.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Bindings = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * Retries of a step: how many more attempts, and the exponential backoff's first delay.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Retry = Schema.Struct({
  times: Schema.Int.pipe(Schema.between(0, 20)),
  /** The backoff's first delay (default 100 ms). */
  backoffMs: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  /** The backoff's growth factor per attempt (default 2). */
  factor: Schema.optional(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)))
})

/**
 * What serves when a step fails after its retries: another step of the workflow (by id), the module's
 * baseline version (its traditional arm), or a default output.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Fallback = Schema.Union(
  Schema.Struct({ step: Id }),
  Schema.Struct({ baseline: Schema.Literal(true) }),
  Schema.Struct({ default: Schema.Record({ key: Schema.String, value: Schema.Unknown }) })
)

/**
 * A fallback.
 *
 * @since 0.1.0
 * @category models
 */
export type Fallback = typeof Fallback.Type

/**
 * A `hybrid` step's traffic between its two arms (`traditional` and `optimized`): a split, a canary with guard
 * rails, or a bandit. Each maps to the experiments machinery's policy (`TrafficPolicy`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Traffic = Schema.Union(
  Schema.Struct({ split: Schema.Number.pipe(Schema.between(0, 1)) }),
  Schema.Struct({
    canary: Schema.Number.pipe(Schema.between(0, 1)),
    /** Calls of the candidate before its guard rails are checked (default 20). */
    minSamples: Schema.optional(Schema.Int.pipe(Schema.positive())),
    maxErrorRate: Schema.optional(Schema.Number.pipe(Schema.between(0, 1)))
  }),
  Schema.Struct({
    bandit: Schema.Literal("thompson", "epsilon_greedy")
  })
)

/**
 * A step's traffic policy.
 *
 * @since 0.1.0
 * @category models
 */
export type Traffic = typeof Traffic.Type

/**
 * An `evaluation` step's settings: which arm serves (default `traditional`), and the cap on the extra cost of
 * the shadowed arm over one run (USD); past it the shadow is skipped and the skip recorded.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Evaluation = Schema.Struct({
  /** The arm that serves (default `traditional`). */
  serve: Schema.optional(Schema.Literal("traditional", "optimized")),
  maxCostUsd: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
})

const Unit = Schema.Number.pipe(Schema.between(0, 1))
const NonNegative = Schema.Number.pipe(Schema.nonNegative())

/**
 * When a module step is optimized: `minExperiences` labelled experiences at least (for `Optimize.optimizeStep`
 * and `optimizeDue`, and the least training set of the real-time loop's jobs for the step's module); the other
 * keys are the loop's rules for the step's module (`LoopPolicy.Overrides`: the degradation rule's relative and
 * absolute drop and its minimum samples, the error rate and latency p95 that fire, the re-optimization interval
 * with its new labelled experiences, the cooldown between jobs). They are registered with the loop when the
 * workflow is prepared (`Loop.configure`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Triggers = Schema.Struct({
  minExperiences: Schema.optional(Schema.Int.pipe(Schema.positive())),
  minSamples: Schema.optional(Schema.Int.pipe(Schema.positive())),
  relativeDrop: Schema.optional(Unit),
  absoluteDrop: Schema.optional(Unit),
  maxErrorRate: Schema.optional(Unit),
  maxLatencyP95Ms: Schema.optional(NonNegative),
  reoptimizeIntervalMs: Schema.optional(NonNegative),
  minNewLabelled: Schema.optional(NonNegative),
  cooldownMs: Schema.optional(NonNegative)
})

/**
 * A module step's optimization: the optimizer (a name the OptimizationCoordinator knows), its training data (a
 * JSON Lines file next to the workflow, or the experiences recorded for this step), the metric, and when to run
 * it ({@link Triggers}). The optimizer and the triggers also steer the real-time loop for the step's module.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Optimization = Schema.Struct({
  optimizer: Schema.String,
  trainset: Schema.optional(Schema.String),
  experiences: Schema.optional(Schema.Boolean),
  metric: Schema.optional(Schema.String),
  triggers: Schema.optional(Triggers)
})

/**
 * A module: a registered one (by id), or an inline spec (signature and kind, optional instructions).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModuleRef = Schema.Union(
  Schema.Struct({ ref: Schema.String }),
  Schema.Struct({
    signature: Schema.String,
    /** Default `predict`. */
    kind: Schema.optional(Schema.Literal("predict", "chain_of_thought")),
    instructions: Schema.optional(Schema.String),
    adapter: Schema.optional(Schema.Literal("chat", "json", "xml", "two_step"))
  })
)

/**
 * A prompt template: a plain LM call with `{placeholders}`, and the output fields parsed from the reply (one
 * field takes the reply, or its `Answer:` line; several are read from a JSON object in the reply).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PromptSpec = Schema.Struct({
  template: Schema.String,
  outputs: Fields,
  model: Schema.optional(Schema.String)
})

/**
 * A prompt template.
 *
 * @since 0.1.0
 * @category models
 */
export type PromptSpec = typeof PromptSpec.Type

/**
 * A branch condition on earlier outputs: `value` (a template) compared with `equals`, `notEquals` or `in`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Condition = Schema.Struct({
  value: Schema.String,
  equals: Schema.optional(Schema.Unknown),
  notEquals: Schema.optional(Schema.Unknown),
  in: Schema.optional(Schema.Array(Schema.Unknown))
})

/**
 * A branch condition.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition = typeof Condition.Type

const common = {
  id: Id,
  description: Schema.optional(Schema.String),
  inputs: Schema.optional(Bindings),
  mode: Schema.optional(Mode),
  timeoutMs: Schema.optional(Schema.Number.pipe(Schema.positive())),
  retry: Schema.optional(Retry),
  fallback: Schema.optional(Fallback)
}

/**
 * The kinds of step, by the key that names each.
 *
 * @since 0.1.0
 * @category constants
 */
export const stepKinds = ["module", "prompt", "tool", "branch", "parallel", "map", "workflow"] as const

/**
 * A step kind.
 *
 * @since 0.1.0
 * @category models
 */
export type StepKind = (typeof stepKinds)[number]

/**
 * A step (the file's form).
 *
 * @since 0.1.0
 * @category models
 */
export type Step = ModuleStep | PromptStep | ToolStep | BranchStep | ParallelStep | MapStep | WorkflowStep

interface Common {
  readonly id: string
  readonly description?: string | undefined
  readonly inputs?: { readonly [key: string]: unknown } | undefined
  readonly mode?: Mode | undefined
  readonly timeoutMs?: number | undefined
  readonly retry?: typeof Retry.Type | undefined
  readonly fallback?: Fallback | undefined
}

/**
 * A module step: a module called on its inputs; its traditional arm is its `prompt` (when given) or the
 * module's baseline version.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleStep extends Common {
  readonly module: typeof ModuleRef.Type
  readonly prompt?: PromptSpec | undefined
  readonly traffic?: Traffic | undefined
  readonly evaluation?: typeof Evaluation.Type | undefined
  readonly optimization?: typeof Optimization.Type | undefined
}

/**
 * A prompt step (traditional: a plain LM call).
 *
 * @since 0.1.0
 * @category models
 */
export interface PromptStep extends Common {
  readonly prompt: PromptSpec
}

/**
 * A tool step: a function registered in code (`WorkflowTools`), its outputs typed.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolStep extends Common {
  readonly tool: { readonly name: string; readonly outputs: { readonly [key: string]: string } }
}

/**
 * A branch: the steps of the first case whose condition holds, else the `otherwise` steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface BranchStep extends Common {
  readonly branch: {
    readonly cases: ReadonlyArray<{ readonly when: Condition; readonly steps: ReadonlyArray<Step> }>
    readonly otherwise?: ReadonlyArray<Step> | undefined
  }
}

/**
 * Steps run concurrently; each one's outputs are read as `{<parallel id>.<step id>.<field>}` (and by the step's
 * own id afterwards).
 *
 * @since 0.1.0
 * @category models
 */
export interface ParallelStep extends Common {
  readonly parallel: ReadonlyArray<Step>
}

/**
 * One step run for each item of a list (`over`), at most `concurrency` at once; the item is `{item}` (or the
 * name in `as`); the outputs are a list, `{<map id>.items}`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MapStep extends Common {
  readonly map: {
    readonly over: string
    readonly as?: string | undefined
    readonly concurrency?: number | undefined
    readonly step: Step
  }
}

/**
 * A sub-workflow: another workflow file (relative to this one) run on the step's inputs; its outputs are the
 * step's.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowStep extends Common {
  readonly workflow: { readonly file: string }
}

const StepRef: Schema.Schema<Step> = Schema.suspend((): Schema.Schema<Step> => Step).pipe(
  Schema.annotations({ identifier: "Step" })
)

/**
 * The module step's schema.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModuleStepSchema = Schema.Struct({
  ...common,
  module: ModuleRef,
  prompt: Schema.optional(PromptSpec),
  traffic: Schema.optional(Traffic),
  evaluation: Schema.optional(Evaluation),
  optimization: Schema.optional(Optimization)
})

const membersOf = <A>(nested: Schema.Schema<A>) =>
  ({
    module: ModuleStepSchema,
    prompt: Schema.Struct({ ...common, prompt: PromptSpec }),
    tool: Schema.Struct({ ...common, tool: Schema.Struct({ name: Schema.String, outputs: Fields }) }),
    branch: Schema.Struct({
      ...common,
      branch: Schema.Struct({
        cases: Schema.Array(Schema.Struct({ when: Condition, steps: Schema.Array(nested) })).pipe(Schema.minItems(1)),
        otherwise: Schema.optional(Schema.Array(nested))
      })
    }),
    parallel: Schema.Struct({ ...common, parallel: Schema.Array(nested).pipe(Schema.minItems(1)) }),
    map: Schema.Struct({
      ...common,
      map: Schema.Struct({
        over: Schema.String,
        as: Schema.optional(Id),
        concurrency: Schema.optional(Schema.Int.pipe(Schema.between(1, 256))),
        step: nested
      })
    }),
    workflow: Schema.Struct({ ...common, workflow: Schema.Struct({ file: Schema.String }) })
  }) as const

/**
 * The schema of each step kind, by its key.
 *
 * @since 0.1.0
 * @category schemas
 */
export const stepSchemas = membersOf(StepRef)

/**
 * The schema of each step kind with its nested steps left undecoded (the loader decodes them one by one, so each
 * problem is reported at its own step's path).
 *
 * @since 0.1.0
 * @category schemas
 */
export const shallowStepSchemas = membersOf(Schema.Unknown)

/**
 * A step of any kind.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Step: Schema.Schema<Step> = Schema.Union(
  stepSchemas.module,
  stepSchemas.prompt,
  stepSchemas.tool,
  stepSchemas.branch,
  stepSchemas.parallel,
  stepSchemas.map,
  stepSchemas.workflow
) as unknown as Schema.Schema<Step>

/**
 * A workflow file: format version, name, default mode, typed inputs, steps, and outputs (templates over the
 * inputs and the steps' outputs).
 *
 * @since 0.1.0
 * @category schemas
 */
export const WorkflowFile = Schema.Struct({
  version: Schema.Literal(FORMAT_VERSION),
  name: Id,
  description: Schema.optional(Schema.String),
  mode: Schema.optionalWith(Mode, { default: () => "traditional" as const }),
  inputs: Schema.optionalWith(Fields, { default: () => ({}) }),
  steps: Schema.Array(StepRef).pipe(Schema.minItems(1)),
  /** Steps that run only in place of a failed step (`fallback: { step: ID }`). */
  fallbacks: Schema.optional(Schema.Array(StepRef)),
  outputs: Schema.optionalWith(Bindings, { default: () => ({}) })
})

/**
 * The workflow file with its steps left undecoded (see {@link shallowStepSchemas}).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ShallowWorkflowFile = Schema.Struct({
  ...WorkflowFile.fields,
  steps: Schema.Array(Schema.Unknown).pipe(Schema.minItems(1)),
  fallbacks: Schema.optional(Schema.Array(Schema.Unknown))
})

/**
 * A decoded workflow file.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkflowFile = typeof WorkflowFile.Type

/**
 * The workflow format as a JSON Schema (draft 07), for editors.
 *
 * @since 0.1.0
 * @category conversions
 */
export const jsonSchema = (): JSONSchema.JsonSchema7Root => JSONSchema.make(Schema.encodedSchema(WorkflowFile))

/**
 * The kind of a step, by the key that names it.
 *
 * @since 0.1.0
 * @category models
 */
export const kindOf = (step: Step): StepKind =>
  "module" in step
    ? "module"
    : "tool" in step
      ? "tool"
      : "branch" in step
        ? "branch"
        : "parallel" in step
          ? "parallel"
          : "map" in step
            ? "map"
            : "workflow" in step
              ? "workflow"
              : "prompt"
