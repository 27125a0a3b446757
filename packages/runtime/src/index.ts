/**
 * OTP semantics in Effect: processes, monitors, actors (GenServer), supervisors, dynamic supervisors and a
 * registry.
 *
 * @since 0.1.0
 */

/**
 * Typed errors of the runtime.
 *
 * @since 0.1.0
 */
export * as RuntimeError from "./RuntimeError.js"

/**
 * The events the runtime publishes (typed definitions).
 *
 * @since 0.1.0
 */
export * as RuntimeEvents from "./RuntimeEvents.js"

/**
 * Pids, exit reasons, await / stop / kill.
 *
 * @since 0.1.0
 */
export * as Process from "./Process.js"

/**
 * One-shot exit notifications.
 *
 * @since 0.1.0
 */
export * as Monitor from "./Monitor.js"

/**
 * Actors with GenServer semantics.
 *
 * @since 0.1.0
 */
export * as Actor from "./Actor.js"

/**
 * Unique names in namespaces.
 *
 * @since 0.1.0
 */
export * as Registry from "./Registry.js"

/**
 * Supervisors: strategies, restart types, intensity, ordered start and shutdown, trees.
 *
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.js"

/**
 * Dynamic supervisors: children on demand, maxChildren, concurrent shutdown.
 *
 * @since 0.1.0
 */
export * as DynamicSupervisor from "./DynamicSupervisor.js"
