/**
 * The HTTP API of an effect-dspy application, described once: one `HttpApiGroup` per concern (`api/`), composed
 * here. `/openapi.json` publishes it; `HttpApiClient.make(Api.Api)` is a typed client of it.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AlertsApi } from "./api/AlertsApi.js"
import { AuthApi } from "./api/AuthApi.js"
import { DataRightsApi } from "./api/DataRightsApi.js"
import { FeedbackApi } from "./api/FeedbackApi.js"
import { ProbesApi } from "./api/HealthApi.js"
import { JobsApi } from "./api/JobsApi.js"
import { MetricsApi } from "./api/MetricsApi.js"
import { ModulesApi } from "./api/ModulesApi.js"
import { SystemApi } from "./api/SystemApi.js"
import { WorkflowsApi } from "./api/WorkflowsApi.js"

/**
 * The API.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("effect-dspy")
  .add(ProbesApi)
  .add(AuthApi)
  .add(ModulesApi)
  .add(JobsApi)
  .add(SystemApi)
  .add(FeedbackApi)
  .add(MetricsApi)
  .add(AlertsApi)
  .add(WorkflowsApi)
  .add(DataRightsApi)
  .annotate(OpenApi.Title, "effect-dspy")
  .annotate(
    OpenApi.Description,
    "The effect-dspy application over HTTP. Authenticate with `Authorization: Bearer <api key>` (scopes read, execute, admin), the dashboard's session cookie or an `access_token` query parameter."
  ) {}
