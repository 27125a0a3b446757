/**
 * Workflows (see `docs/workflows.md`): validate a workflow (YAML or JSON text), draw it as a Mermaid statechart,
 * start a run with its inputs, read a run's record, resume a stored run. Validating and reading need `read`;
 * running and resuming `execute`. The runs go through the `WorkflowEngine` the server was built on (503 when it
 * has none).
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { Fields, IdPath, Text } from "./Schemas.js"

/**
 * A workflow file's text (YAML or JSON) and the name its issues are reported under.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Source = Schema.Struct({
  workflow: Text.pipe(Schema.minLength(1)),
  file: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)))
})

/**
 * One problem of a workflow: where (file, line, column, key path) and what to fix.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Issue = Schema.Struct({
  file: Schema.String,
  line: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.Number),
  path: Schema.String,
  message: Schema.String
})

/**
 * A workflow that does not parse or check (422): every issue with its place.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowInvalid extends Schema.TaggedError<WorkflowInvalid>()(
  "WorkflowInvalid",
  { message: Schema.String, issues: Schema.Array(Issue) },
  HttpApiSchema.annotations({ status: 422 })
) {}

/**
 * A valid workflow: its name, inputs and top-level steps.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Validated = Schema.Struct({
  valid: Schema.Literal(true),
  name: Schema.String,
  inputs: Schema.Array(Schema.String),
  steps: Schema.Array(Schema.String)
})

/**
 * A workflow drawn as a Mermaid `stateDiagram-v2`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Described = Schema.Struct({ name: Schema.String, mermaid: Schema.String })

/**
 * A run's request: the workflow, its inputs, and optionally the run id.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunRequest = Schema.Struct({
  ...Source.fields,
  inputs: Fields,
  runId: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.:-]{1,128}$/)))
})

/**
 * A finished run: its status, outputs and steps (what `WorkflowEngine.run` returns).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunResult = Schema.Struct({
  runId: Schema.String,
  workflow: Schema.String,
  status: Schema.String,
  outputs: Schema.Unknown,
  restored: Schema.Unknown,
  steps: Schema.Array(Schema.Unknown)
})

/**
 * The workflows group.
 *
 * @since 0.1.0
 * @category groups
 */
export class WorkflowsApi extends HttpApiGroup.make("workflows")
  .add(HttpApiEndpoint.post("validate", "/workflows/validate").setPayload(Source).addSuccess(Validated))
  .add(HttpApiEndpoint.post("describe", "/workflows/describe").setPayload(Source).addSuccess(Described))
  .add(HttpApiEndpoint.post("run", "/workflows/runs").setPayload(RunRequest).addSuccess(RunResult))
  .add(HttpApiEndpoint.get("status", "/workflows/runs/:id").setPath(IdPath).addSuccess(Schema.Unknown))
  .add(
    HttpApiEndpoint.post("resume", "/workflows/runs/:id/resume")
      .setPath(IdPath)
      .setPayload(Source)
      .addSuccess(RunResult)
  )
  .addError(WorkflowInvalid)
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
