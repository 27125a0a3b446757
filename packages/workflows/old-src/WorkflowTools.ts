/**
 * The functions a workflow's `tool` steps call, registered in code by name. Each call gets an idempotency key
 * (the run, the step and the map item: the same on a retry and after a resume), so a tool with side effects can
 * apply each call once.
 *
 * @example
 * ```ts
 * import { WorkflowTools } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * const tools = WorkflowTools.layer({
 *   lookup: (inputs) => Effect.succeed({ text: `record of ${String(inputs["id"])}` })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * What a tool call knows of its place in the run.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly runId: string
  /** The step's id. */
  readonly step: string
  /** The same for every attempt of this call and after a resume: `run:step` (`run:step[3]` for a map item). */
  readonly idempotencyKey: string
  /** 1 for the first attempt. */
  readonly attempt: number
}

/**
 * A tool: inputs in, output fields out. A failure (any error) is retried per the step's retry settings.
 *
 * @since 0.1.0
 * @category models
 */
export type Tool = (
  inputs: { readonly [name: string]: unknown },
  context: CallContext
) => Effect.Effect<{ readonly [field: string]: unknown }, unknown>

/**
 * The registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly get: (name: string) => Tool | undefined
  readonly names: ReadonlyArray<string>
}

/**
 * The tool registry tag.
 *
 * @since 0.1.0
 * @category services
 */
export class WorkflowTools extends Context.Tag("@effect-dspy/workflows/WorkflowTools")<WorkflowTools, Service>() {}

/**
 * A registry of the given tools.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (tools: { readonly [name: string]: Tool }): Service => ({
  get: (name) => (Object.hasOwn(tools, name) ? tools[name] : undefined),
  names: Object.keys(tools)
})

/**
 * A layer of the given tools.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (tools: { readonly [name: string]: Tool }): Layer.Layer<WorkflowTools> =>
  Layer.succeed(WorkflowTools, make(tools))

/**
 * No tools.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmpty: Layer.Layer<WorkflowTools> = layer({})
