/**
 * Checkpoints: a store of finished units of optimizer work (a teacher run, a scored example) keyed by run and
 * unit. Optimizers are deterministic for a seed, so resuming is re-running the same algorithm: a unit whose
 * result is in the store is read back instead of recomputed. A run interrupted at any point and restarted with
 * the same store and `runId` repeats no finished unit and ends with the result of an uninterrupted run.
 *
 * The namespace of a run is its `runId` plus a fingerprint of everything that determines it (optimizer and
 * settings, seed, student and teacher state, data, declared metric fields), so a changed setting never reads
 * stale results. The metric function itself cannot be fingerprinted: use a new `runId` when it changes.
 *
 * Layers: {@link layerMemory} (in-process; survives fiber interruption, not the process) and {@link layerFile}
 * (one JSON line per finished unit, appended; survives restarts).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointError } from "./OptimizerError.js"

/**
 * The checkpoint store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The value stored for a unit, if any. */
  readonly get: (namespace: string, key: string) => Effect.Effect<Option.Option<unknown>, CheckpointError>
  /** Stores a unit's value (JSON-serialisable). */
  readonly set: (namespace: string, key: string, value: unknown) => Effect.Effect<void, CheckpointError>
  /** How many units a namespace holds. */
  readonly size: (namespace: string) => Effect.Effect<number, CheckpointError>
  /** Forgets a namespace. */
  readonly clear: (namespace: string) => Effect.Effect<void, CheckpointError>
}

/**
 * The checkpoint store tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class CheckpointStore extends Context.Tag("@effect-dspy/optimizers/CheckpointStore")<
  CheckpointStore,
  Service
>() {}

const fromMaps = (
  maps: Map<string, Map<string, string>>,
  persist?: (namespace: string, key: string, json: string) => void,
  forget?: (namespace: string) => void
): Service => {
  const wrap = <A>(operation: string, key: string | undefined, f: () => A) =>
    Effect.try({
      try: f,
      catch: (cause) =>
        new CheckpointError({
          operation,
          ...(key === undefined ? {} : { key }),
          message: `Checkpoint ${operation} failed${key === undefined ? "" : ` for ${key}`}: ${String(cause)}`
        })
    })
  return {
    get: (namespace, key) =>
      wrap("get", key, () => {
        const json = maps.get(namespace)?.get(key)
        return json === undefined ? Option.none() : Option.some(JSON.parse(json) as unknown)
      }),
    set: (namespace, key, value) =>
      wrap("set", key, () => {
        const json = JSON.stringify(value ?? null)
        let map = maps.get(namespace)
        if (map === undefined) {
          map = new Map()
          maps.set(namespace, map)
        }
        persist?.(namespace, key, json)
        map.set(key, json)
      }),
    size: (namespace) => wrap("size", undefined, () => maps.get(namespace)?.size ?? 0),
    clear: (namespace) =>
      wrap("clear", undefined, () => {
        forget?.(namespace)
        maps.delete(namespace)
      })
  }
}

/**
 * An in-memory store (values kept as JSON text, so what is read back is what a durable store would give).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Service => fromMaps(new Map())

/**
 * An in-memory store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<CheckpointStore> = Layer.sync(CheckpointStore, makeMemory)

interface Line {
  readonly ns: string
  readonly key?: string
  readonly value?: string
  readonly clear?: true
}

/**
 * A store in a JSON-lines file: every finished unit is appended (and flushed) as one line; the file is read
 * back at start. A torn last line (a crash mid-write) is ignored.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile = (filename: string): Effect.Effect<Service, CheckpointError> =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true })
      const maps = new Map<string, Map<string, string>>()
      if (fs.existsSync(filename)) {
        for (const text of fs.readFileSync(filename, "utf8").split("\n")) {
          if (text.trim() === "") continue
          let line: Line
          try {
            line = JSON.parse(text) as Line
          } catch {
            continue
          }
          if (line.clear === true) maps.delete(line.ns)
          else if (line.key !== undefined && line.value !== undefined) {
            let map = maps.get(line.ns)
            if (map === undefined) {
              map = new Map()
              maps.set(line.ns, map)
            }
            map.set(line.key, line.value)
          }
        }
      }
      const append = (line: Line) => fs.appendFileSync(filename, `${JSON.stringify(line)}\n`, "utf8")
      return fromMaps(
        maps,
        (ns, key, value) => append({ ns, key, value }),
        (ns) => append({ ns, clear: true })
      )
    },
    catch: (cause) =>
      new CheckpointError({
        operation: "open",
        message: `Could not open the checkpoint file ${filename}: ${String(cause)}. Check the path and permissions.`
      })
  })

/**
 * A store in a JSON-lines file.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFile = (options: { readonly filename: string }): Layer.Layer<CheckpointStore, CheckpointError> =>
  Layer.effect(CheckpointStore, makeFile(options.filename))
