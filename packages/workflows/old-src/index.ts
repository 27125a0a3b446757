/**
 * Declarative workflows: YAML (or JSON) pipelines of modules, prompts, tools, branches, parallel and map steps
 * and sub-workflows, checked before running, compiled to xstate statecharts and run durably under the supervised
 * application, each module step in traditional, optimized, hybrid or evaluation mode.
 *
 * @since 0.1.0
 */

/**
 * The workflow file format (Effect Schema) and its JSON Schema.
 *
 * @since 0.1.0
 */
export * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * Loading and checking workflow files, with issues placed at their file, line and key.
 *
 * @since 0.1.0
 */
export * as Workflow from "./Workflow.js"

/**
 * A workflow as an xstate statechart, and its Mermaid diagram.
 *
 * @since 0.1.0
 */
export * as Statechart from "./Statechart.js"

/**
 * The workflow engine: supervised, durable runs; resume.
 *
 * @since 0.1.0
 */
export * as WorkflowEngine from "./WorkflowEngine.js"

/**
 * The run store: memory or SQLite (WAL).
 *
 * @since 0.1.0
 */
export * as RunStore from "./RunStore.js"

/**
 * A run's persisted record and its schema version.
 *
 * @since 0.1.0
 */
export * as RunRecord from "./RunRecord.js"

/**
 * The tools a workflow's tool steps call.
 *
 * @since 0.1.0
 */
export * as WorkflowTools from "./WorkflowTools.js"

/**
 * The errors of workflows.
 *
 * @since 0.1.0
 */
export * as WorkflowError from "./WorkflowError.js"

/**
 * The migration helper: prompt steps (or a folder of templates) to module steps in evaluation mode.
 *
 * @since 0.1.0
 */
export * as Migrate from "./Migrate.js"

/**
 * Optimization of module steps through the OptimizationCoordinator.
 *
 * @since 0.1.0
 */
export * as Optimize from "./Optimize.js"

/**
 * Mode comparison reports per step and end to end, on the experiments analysis.
 *
 * @since 0.1.0
 */
export * as ModeReport from "./ModeReport.js"
