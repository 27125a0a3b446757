/**
 * `@effect-dspy/server`: the effect-dspy application over HTTP, with a live dashboard.
 *
 * @since 0.1.0
 */

/**
 * The HTTP API, described once (OpenAPI at `/openapi.json`).
 *
 * @since 0.1.0
 */
export * as Api from "./Api.js"

/**
 * The errors the API answers with.
 *
 * @since 0.1.0
 */
export * as ApiError from "./ApiError.js"

/**
 * API keys with scopes, stored as SHA-256 digests.
 *
 * @since 0.1.0
 */
export * as ApiKeys from "./ApiKeys.js"

/**
 * Authentication (bearer key, session cookie, short-lived token) and scopes.
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.js"

/**
 * Server-sent events: encoding, parsing, responses.
 *
 * @since 0.1.0
 */
export * as Sse from "./Sse.js"

/**
 * The server: the API, the dashboard, the limits and the graceful shutdown.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * The API's groups, one per concern.
 *
 * @since 0.1.0
 */
export * as AuthApi from "./api/AuthApi.js"

/**
 * @since 0.1.0
 */
export * as HealthApi from "./api/HealthApi.js"

/**
 * @since 0.1.0
 */
export * as JobsApi from "./api/JobsApi.js"

/**
 * @since 0.1.0
 */
export * as ModulesApi from "./api/ModulesApi.js"

/**
 * @since 0.1.0
 */
export * as Schemas from "./api/Schemas.js"

/**
 * @since 0.1.0
 */
export * as SystemApi from "./api/SystemApi.js"

/**
 * @since 0.1.0
 */
export * as AlertsApi from "./api/AlertsApi.js"

/**
 * @since 0.1.0
 */
export * as FeedbackApi from "./api/FeedbackApi.js"

/**
 * @since 0.1.0
 */
export * as MetricsApi from "./api/MetricsApi.js"

/**
 * @since 0.1.0
 */
export * as WorkflowsApi from "./api/WorkflowsApi.js"

/**
 * The data-rights group: export and erase what is held about an end user or a tenant (admin scope).
 *
 * @since 0.1.0
 */
export * as DataRightsApi from "./api/DataRightsApi.js"
