/**
 * The system's metrics, named as in the design (`dspy.module.execution.duration`, ...). They are Effect
 * `Metric`s: exported through OpenTelemetry by the Telemetry layer and readable with `Metric.value` in tests.
 * Tag them with `Metric.tagged` (module, provider, key, ...) at the call site.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

const latencyBoundaries = MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 20 })

/**
 * Module execution time in milliseconds.
 *
 * @since 0.1.0
 * @category module
 */
export const moduleExecutionDuration = Metric.histogram(
  "dspy.module.execution.duration",
  latencyBoundaries,
  "Module execution time (ms)"
)

/**
 * Successful module executions.
 *
 * @since 0.1.0
 * @category module
 */
export const moduleExecutionSuccess = Metric.counter("dspy.module.execution.success", {
  description: "Successful module executions",
  incremental: true
})

/**
 * Failed module executions.
 *
 * @since 0.1.0
 * @category module
 */
export const moduleExecutionError = Metric.counter("dspy.module.execution.error", {
  description: "Failed module executions",
  incremental: true
})

/**
 * LM request time in milliseconds.
 *
 * @since 0.1.0
 * @category lm
 */
export const lmRequestDuration = Metric.histogram("dspy.lm.request.duration", latencyBoundaries, "LM request time (ms)")

/**
 * Tokens used by LM requests (prompt plus completion).
 *
 * @since 0.1.0
 * @category lm
 */
export const lmRequestTokens = Metric.counter("dspy.lm.request.tokens", {
  description: "Tokens used by LM requests",
  incremental: true
})

/**
 * Cost of LM requests in US dollars.
 *
 * @since 0.1.0
 * @category lm
 */
export const lmRequestCost = Metric.counter("dspy.lm.request.cost", {
  description: "Cost of LM requests (USD)",
  incremental: true
})

/**
 * Optimization iterations (trials) finished.
 *
 * @since 0.1.0
 * @category optimization
 */
export const optimizationIteration = Metric.counter("dspy.optimization.iteration", {
  description: "Optimization iterations",
  incremental: true
})

/**
 * The latest optimization score.
 *
 * @since 0.1.0
 * @category optimization
 */
export const optimizationScore = Metric.gauge("dspy.optimization.score", { description: "Latest optimization score" })

/**
 * Optimization run time in milliseconds.
 *
 * @since 0.1.0
 * @category optimization
 */
export const optimizationDuration = Metric.histogram(
  "dspy.optimization.duration",
  MetricBoundaries.exponential({ start: 10, factor: 2, count: 20 }),
  "Optimization run time (ms)"
)

/**
 * A circuit breaker's state: 0 closed, 1 half-open, 2 open.
 *
 * @since 0.1.0
 * @category infrastructure
 */
export const circuitBreakerState = Metric.gauge("dspy.circuit_breaker.state", {
  description: "Circuit breaker state (0 closed, 1 half-open, 2 open)"
})

/**
 * Calls a rate limiter rejected.
 *
 * @since 0.1.0
 * @category infrastructure
 */
export const rateLimiterRejected = Metric.counter("dspy.rate_limiter.rejected", {
  description: "Calls rejected by a rate limiter",
  incremental: true
})

/**
 * The cache hit rate (0 to 1).
 *
 * @since 0.1.0
 * @category infrastructure
 */
export const cacheHitRate = Metric.gauge("dspy.cache.hit_rate", { description: "Cache hit rate (0..1)" })

/**
 * PII found by the privacy policy, by `kind`, `target` (`lm_request`, `saved_program`, ...) and `mode`.
 *
 * @since 0.1.0
 * @category privacy
 */
export const privacyFindings = Metric.counter("dspy.privacy.findings", {
  description: "PII found on its way out of the process",
  incremental: true
})

/**
 * PII in LM answers that was not in the caller's input, by `kind`.
 *
 * @since 0.1.0
 * @category privacy
 */
export const privacyLeaks = Metric.counter("dspy.privacy.leaks", {
  description: "PII in LM answers not taken from the caller's input",
  incremental: true
})
