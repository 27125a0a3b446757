/**
 * The events foundation's own services publish, one typed definition each (see `Events.define`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Events from "./Events.js"

const BreakerState = Schema.Literal("closed", "open", "half-open")

/**
 * A circuit breaker moved from one state to another.
 *
 * @since 0.1.0
 * @category events
 */
export const CircuitBreakerStateChanged = Events.define(
  "circuit_breaker_state_changed",
  Schema.Struct({ key: Schema.String, from: BreakerState, to: BreakerState })
)

/**
 * Every definition of this module.
 *
 * @since 0.1.0
 * @category events
 */
export const all = [CircuitBreakerStateChanged] as const
