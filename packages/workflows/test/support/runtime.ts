/** The test runtime of workflows: the application on the simulated LM, a run store, tools, the engine. */
import { TestRuntime } from "@effect-dspy/services"
import * as Layer from "effect/Layer"
import { RunStore, WorkflowEngine, WorkflowTools } from "../../src/index.js"

export const layer = (
  tools: { readonly [name: string]: WorkflowTools.Tool } = {},
  store: Layer.Layer<RunStore.RunStore, unknown> = RunStore.layerMemory,
  options: TestRuntime.Options = {}
) =>
  WorkflowEngine.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(store, WorkflowTools.layer(tools), TestRuntime.layer(options)))
  )

/** A layer with an engine over a given (shared) store service: a "restarted" application with the same store. */
export const layerWithStore = (
  store: RunStore.Service,
  tools: { readonly [name: string]: WorkflowTools.Tool } = {},
  options: TestRuntime.Options = {}
) => layer(tools, Layer.succeed(RunStore.RunStore, store), options)
