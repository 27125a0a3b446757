/**
 * The process's resources, sampled on each tick of the observability loop: CPU use since the last sample (user +
 * system time over wall time, 100 = one core), heap and resident memory, event-loop delay (mean and p99 of
 * `perf_hooks.monitorEventLoopDelay` since the last sample) and active handles.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import type * as Scope from "effect/Scope"

/**
 * One sample.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  readonly cpuPercent: number
  readonly heapUsedMb: number
  readonly rssMb: number
  readonly eventLoopDelayMeanMs: number
  readonly eventLoopDelayP99Ms: number
  readonly activeHandles: number
}

/**
 * The metric each field is recorded under.
 *
 * @since 0.1.0
 * @category constants
 */
export const metrics: { readonly [K in keyof Sample]: string } = {
  cpuPercent: "process.cpu_percent",
  heapUsedMb: "process.heap_used_mb",
  rssMb: "process.rss_mb",
  eventLoopDelayMeanMs: "process.event_loop_delay_mean_ms",
  eventLoopDelayP99Ms: "process.event_loop_delay_p99_ms",
  activeHandles: "process.active_handles"
}

/**
 * A sampler: each call reads the resources used since the previous one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sampler {
  readonly sample: Effect.Effect<Sample>
}

const activeHandles = (): number => {
  const info = (process as { getActiveResourcesInfo?: () => ReadonlyArray<string> }).getActiveResourcesInfo
  return info === undefined ? 0 : info().filter((kind) => kind !== "TTYWrap").length
}

/**
 * Starts a sampler for the scope (the event-loop monitor is disabled when it closes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Sampler, never, Scope.Scope> = Effect.gen(function* () {
  const monitor = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const m = monitorEventLoopDelay({ resolution: 10 })
      m.enable()
      return m
    }),
    (m) => Effect.sync(() => m.disable())
  )
  let lastCpu = process.cpuUsage()
  let lastWall = process.hrtime.bigint()
  return {
    sample: Effect.sync(() => {
      const cpu = process.cpuUsage(lastCpu)
      const wall = process.hrtime.bigint()
      const wallUs = Number(wall - lastWall) / 1_000
      lastCpu = process.cpuUsage()
      lastWall = wall
      const memory = process.memoryUsage()
      const mean = monitor.count > 0 ? monitor.mean / 1e6 : 0
      const p99 = monitor.count > 0 ? monitor.percentile(99) / 1e6 : 0
      monitor.reset()
      return {
        cpuPercent: wallUs > 0 ? (100 * (cpu.user + cpu.system)) / wallUs : 0,
        heapUsedMb: memory.heapUsed / 1_048_576,
        rssMb: memory.rss / 1_048_576,
        eventLoopDelayMeanMs: Number.isFinite(mean) ? mean : 0,
        eventLoopDelayP99Ms: Number.isFinite(p99) ? p99 : 0,
        activeHandles: activeHandles()
      }
    })
  }
})
