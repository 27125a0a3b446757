/**
 * The process registry: unique names for processes, in namespaces. `layer` uses the `production` namespace;
 * `layerTest` gives each test its own namespace, which disappears (with every name in it) when the test's
 * scope closes. A name is removed the moment its process exits, so a lookup never returns a dead process.
 *
 * Names are typed: `Registry.name<ActorRef<Call, Reply>>("counter")` lets `Actor.call(name, msg)` find the
 * actor through the registry (OTP `{:via, Registry, ...}`).
 *
 * Namespaces live in one table per JavaScript realm, like the registry of an Erlang node.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Process from "./Process.js"
import * as RuntimeError from "./RuntimeError.js"

const NameTypeId: unique symbol = Symbol.for("@effect-dspy/runtime/Registry/Name")

/**
 * A registered name; `P` is the type of process registered under it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Name<out P extends Process.Process = Process.Process> {
  readonly [NameTypeId]: typeof NameTypeId
  readonly key: string
  readonly _P?: () => P
}

/**
 * Makes a typed name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const name = <P extends Process.Process = Process.Process>(key: string): Name<P> => ({
  [NameTypeId]: NameTypeId,
  key
})

/**
 * True for names made with `Registry.name`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isName = (u: unknown): u is Name => typeof u === "object" && u !== null && NameTypeId in u

/**
 * The registry operations, bound to one namespace.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly namespace: string
  /** Registers `process` under `name`; fails with `AlreadyRegistered` (carrying the holder) if taken, and with `NoProc` if the process is dead. */
  readonly register: <P extends Process.Process>(
    name: Name<P> | string,
    process: P
  ) => Effect.Effect<void, RuntimeError.AlreadyRegistered | RuntimeError.NoProc>
  /** Removes a name; false if it was not registered. */
  readonly unregister: (name: Name | string) => Effect.Effect<boolean>
  /** The live process under `name`, if any (OTP `whereis`). */
  readonly whereis: <P extends Process.Process>(name: Name<P> | string) => Effect.Effect<Option.Option<P>>
  /** The live process under `name`, or `NoProc`. */
  readonly lookup: <P extends Process.Process>(name: Name<P> | string) => Effect.Effect<P, RuntimeError.NoProc>
  /** The names registered in this namespace. */
  readonly registered: Effect.Effect<ReadonlyArray<string>>
}

/**
 * The registry service.
 *
 * @since 0.1.0
 * @category services
 */
export class Registry extends Context.Tag("@effect-dspy/runtime/Registry")<Registry, Service>() {}

interface Entry {
  readonly process: Process.Process
  readonly removeListener: () => void
}

type Namespace = Map<string, Entry>

const table = new Map<string, Namespace>()

const keyOf = (name: Name | string): string => (typeof name === "string" ? name : name.key)

const namespaceOf = (namespace: string): Namespace => {
  let entries = table.get(namespace)
  if (entries === undefined) {
    entries = new Map()
    table.set(namespace, entries)
  }
  return entries
}

const liveEntry = (entries: Namespace, key: string): Entry | undefined => {
  const entry = entries.get(key)
  if (entry === undefined) return undefined
  if (entry.process.unsafeExitReason() !== undefined) {
    // The exit listener removes names as processes exit; this guards the window inside the exit itself.
    entries.delete(key)
    return undefined
  }
  return entry
}

/**
 * The registry bound to `namespace` (created if new; shared with every other service of that namespace).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (namespace: string): Service => {
  const entries = () => namespaceOf(namespace)
  const notFound = (key: string) =>
    new RuntimeError.NoProc({
      message: `no live process is registered as "${key}" in registry namespace "${namespace}"`,
      target: key
    })
  return {
    namespace,
    register: (name, process) =>
      Effect.suspend((): Effect.Effect<void, RuntimeError.AlreadyRegistered | RuntimeError.NoProc> => {
        const key = keyOf(name)
        const map = entries()
        const holder = liveEntry(map, key)
        if (holder !== undefined) {
          return Effect.fail(
            new RuntimeError.AlreadyRegistered({
              message: `"${key}" is already registered to ${holder.process.toString()} in namespace "${namespace}"; pick another name or stop the holder`,
              name: key,
              namespace,
              holder: holder.process.pid.toString()
            })
          )
        }
        if (process.unsafeExitReason() !== undefined) {
          return Effect.fail(
            new RuntimeError.NoProc({
              message: `cannot register "${key}": ${process.toString()} is not alive`,
              target: process.toString()
            })
          )
        }
        const entry: Entry = {
          process,
          removeListener: process.unsafeAddExitListener(() => {
            if (map.get(key) === entry) map.delete(key)
          })
        }
        map.set(key, entry)
        return Effect.void
      }),
    unregister: (name) =>
      Effect.sync(() => {
        const key = keyOf(name)
        const map = entries()
        const entry = map.get(key)
        if (entry === undefined) return false
        entry.removeListener()
        map.delete(key)
        return true
      }),
    whereis: <P extends Process.Process>(name: Name<P> | string) =>
      Effect.sync(() => Option.fromNullable(liveEntry(entries(), keyOf(name))?.process as P | undefined)),
    lookup: <P extends Process.Process>(name: Name<P> | string) =>
      Effect.suspend(() => {
        const key = keyOf(name)
        const entry = liveEntry(entries(), key)
        return entry === undefined ? Effect.fail(notFound(key)) : Effect.succeed(entry.process as P)
      }),
    registered: Effect.sync(() => {
      const map = entries()
      const names: Array<string> = []
      for (const key of map.keys()) if (liveEntry(map, key) !== undefined) names.push(key)
      return names
    })
  }
}

/**
 * The name of the production namespace.
 *
 * @since 0.1.0
 * @category constants
 */
export const productionNamespace = "production"

/**
 * The registry on the production namespace.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Registry> = Layer.sync(Registry, () => make(productionNamespace))

/**
 * The registry on a namespace of its own name, dropped with all its names when the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNamespace = (namespace: string): Layer.Layer<Registry> =>
  Layer.scoped(
    Registry,
    Effect.acquireRelease(
      Effect.sync(() => make(namespace)),
      () => Effect.sync(() => dropNamespace(namespace))
    )
  )

let testCounter = 0

/**
 * A registry on a fresh namespace (`test-1`, `test-2`, ...) for one test: names never collide with other
 * tests, and the namespace disappears when the test's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<Registry> = Layer.scoped(
  Registry,
  Effect.suspend(() => {
    const namespace = `test-${++testCounter}`
    return Effect.acquireRelease(
      Effect.sync(() => make(namespace)),
      () => Effect.sync(() => dropNamespace(namespace))
    )
  })
)

const dropNamespace = (namespace: string): void => {
  const entries = table.get(namespace)
  if (entries === undefined) return
  for (const entry of entries.values()) entry.removeListener()
  table.delete(namespace)
}

/**
 * The namespaces that exist now (each appears at its first use).
 *
 * @since 0.1.0
 * @category getters
 */
export const namespaces: Effect.Effect<ReadonlyArray<string>> = Effect.sync(() => Array.from(table.keys()))

/**
 * Registers `process` under `name` in the current namespace.
 *
 * @since 0.1.0
 * @category accessors
 */
export const register = <P extends Process.Process>(
  name: Name<P> | string,
  process: P
): Effect.Effect<void, RuntimeError.AlreadyRegistered | RuntimeError.NoProc, Registry> =>
  Effect.flatMap(Registry, (registry) => registry.register(name, process))

/**
 * Removes a name from the current namespace.
 *
 * @since 0.1.0
 * @category accessors
 */
export const unregister = (name: Name | string): Effect.Effect<boolean, never, Registry> =>
  Effect.flatMap(Registry, (registry) => registry.unregister(name))

/**
 * The live process under `name`, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const whereis = <P extends Process.Process>(
  name: Name<P> | string
): Effect.Effect<Option.Option<P>, never, Registry> => Effect.flatMap(Registry, (registry) => registry.whereis(name))

/**
 * The live process under `name`, or `NoProc`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const lookup = <P extends Process.Process>(
  name: Name<P> | string
): Effect.Effect<P, RuntimeError.NoProc, Registry> => Effect.flatMap(Registry, (registry) => registry.lookup(name))

/**
 * The names registered in the current namespace.
 *
 * @since 0.1.0
 * @category accessors
 */
export const registered: Effect.Effect<ReadonlyArray<string>, never, Registry> = Effect.flatMap(
  Registry,
  (registry) => registry.registered
)

/**
 * Runs `start` and registers the process it returns under `name`; if the name is taken the new process is
 * killed and the start fails with `AlreadyRegistered`. For child specs of supervisors.
 *
 * @since 0.1.0
 * @category combinators
 */
export const startNamed = <P extends Process.Process, E, R>(
  name: Name<P> | string,
  start: Effect.Effect<P, E, R>
): Effect.Effect<P, E | RuntimeError.AlreadyRegistered | RuntimeError.NoProc, R | Registry> =>
  Effect.flatMap(start, (process) =>
    register(name, process).pipe(
      Effect.tapError(() => Effect.sync(() => process.unsafeKill())),
      Effect.as(process)
    )
  )
