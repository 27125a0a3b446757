/**
 * Message isolation: what a sender hands to an actor (and what an actor replies) is either shared as is
 * (`none`), deep-copied (`copy`) or deep-frozen (`freeze`). Values that cannot be isolated are refused with
 * the path to the offending part, so a share is never silent.
 *
 * Isolated as data: primitives, plain objects, arrays, class instances made of data (copied with their
 * prototype), and under `copy` also `Date`, `Map`, `Set`, `RegExp`, `ArrayBuffer` and typed arrays.
 * Passed by reference: processes (pids are shareable, as in Erlang), `Redacted` values and pids.
 * Refused: functions, promises, weak collections, accessors, and Effect's stateful objects (Deferred, Ref,
 * Fiber, Queue, PubSub, Scope, FiberRef, Mailbox, the Mutable* structures).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Mailbox from "effect/Mailbox"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Process from "../Process.js"

/** @internal */
export type Mode = "none" | "copy" | "freeze"

/** @internal */
export const modes: ReadonlyArray<Mode> = ["none", "copy", "freeze"]

/** Why a value was refused, and where in the message. @internal */
export class Refused {
  constructor(
    readonly path: string,
    readonly what: string
  ) {}
}

const stateful: ReadonlyArray<readonly [symbol, string]> = [
  [Deferred.DeferredTypeId, "a Deferred"],
  [Ref.RefTypeId, "a Ref"],
  [Fiber.FiberTypeId, "a Fiber"],
  [Queue.EnqueueTypeId, "a Queue"],
  [Queue.DequeueTypeId, "a Queue"],
  [Scope.ScopeTypeId, "a Scope"],
  [FiberRef.FiberRefTypeId, "a FiberRef"],
  [Mailbox.TypeId, "a Mailbox"],
  [Symbol.for("effect/MutableRef"), "a MutableRef"],
  [Symbol.for("effect/MutableHashMap"), "a MutableHashMap"],
  [Symbol.for("effect/MutableList"), "a MutableList"],
  [Symbol.for("effect/MutableQueue"), "a MutableQueue"]
]

const statefulKind = (value: object): string | undefined => {
  for (const [id, what] of stateful) if (id in value) return what
  return undefined
}

const passThrough = (value: object): boolean =>
  Process.isProcess(value) || value instanceof Process.Pid || Redacted.isRedacted(value)

const refuseKind = (value: object): string | undefined => {
  if (value instanceof Promise) return "a Promise"
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) return "a weak collection"
  return statefulKind(value)
}

const describeFunction = (): string => "a function"

/**
 * Paths are built only when a refusal is being located (a second pass): the first pass builds none, so
 * isolating a value costs no string work.
 */
let tracking = false

const key = (path: string, k: string | symbol): string =>
  !tracking
    ? ""
    : typeof k === "symbol"
      ? `${path}[${String(k)}]`
      : /^[A-Za-z_$][\w$]*$/.test(k)
        ? `${path}.${k}`
        : `${path}[${JSON.stringify(k)}]`

// ------------------------------------------------------------------------------------------------- copy

const copyValue = (value: unknown, path: string, seen: Map<object, unknown>): unknown => {
  if (typeof value === "function") throw new Refused(path, describeFunction())
  if (value === null || typeof value !== "object") return value
  const known = seen.get(value)
  if (known !== undefined) return known
  if (Array.isArray(value)) {
    const out: Array<unknown> = new Array(value.length)
    seen.set(value, out)
    for (let i = 0; i < value.length; i++) out[i] = copyValue(value[i], tracking ? `${path}[${i}]` : "", seen)
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    const symbols = Object.getOwnPropertySymbols(value)
    if (symbols.length > 0) {
      const kind = statefulKind(value)
      if (kind !== undefined) throw new Refused(path, kind)
    }
    const out: Record<string | symbol, unknown> = proto === null ? Object.create(null) : {}
    seen.set(value, out)
    for (const k of Object.keys(value)) {
      const v = copyValue((value as Record<string, unknown>)[k], key(path, k), seen)
      if (k === "__proto__")
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
      else out[k] = v
    }
    for (const s of symbols) out[s] = copyValue((value as Record<symbol, unknown>)[s], key(path, s), seen)
    return out
  }
  if (passThrough(value)) return value
  const refused = refuseKind(value)
  if (refused !== undefined) throw new Refused(path, refused)
  if (value instanceof Date) return new Date(value.getTime())
  if (value instanceof RegExp) return new RegExp(value.source, value.flags)
  if (value instanceof Map) {
    const out = new Map()
    seen.set(value, out)
    let i = 0
    for (const [k, v] of value) {
      out.set(
        copyValue(k, tracking ? `${path}<key ${i}>` : "", seen),
        copyValue(v, tracking ? `${path}<value ${i}>` : "", seen)
      )
      i++
    }
    return out
  }
  if (value instanceof Set) {
    const out = new Set()
    seen.set(value, out)
    let i = 0
    for (const v of value) out.add(copyValue(v, tracking ? `${path}<element ${i++}>` : "", seen))
    return out
  }
  if (value instanceof ArrayBuffer) return value.slice(0)
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) return new DataView(value.buffer.slice(0), value.byteOffset, value.byteLength)
    return (value as unknown as { slice(): unknown }).slice()
  }
  // A class instance: same prototype, own properties copied (an Error's message and stack included).
  const out = Object.create(proto)
  seen.set(value, out)
  for (const k of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, k)!
    if (descriptor.get !== undefined || descriptor.set !== undefined) throw new Refused(key(path, k), "an accessor")
    descriptor.value = copyValue(descriptor.value, key(path, k), seen)
    Object.defineProperty(out, k, descriptor)
  }
  if (Object.isFrozen(value)) Object.freeze(out)
  return out
}

// ------------------------------------------------------------------------------------------------- freeze

const freezeValue = (value: unknown, path: string, seen: Set<object>): void => {
  if (typeof value === "function") throw new Refused(path, describeFunction())
  if (value === null || typeof value !== "object" || seen.has(value)) return
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) freezeValue(value[i], tracking ? `${path}[${i}]` : "", seen)
    Object.freeze(value)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    if (passThrough(value)) return
    const refused = refuseKind(value)
    if (refused !== undefined) throw new Refused(path, refused)
    if (
      value instanceof Date ||
      value instanceof Map ||
      value instanceof Set ||
      value instanceof ArrayBuffer ||
      ArrayBuffer.isView(value)
    ) {
      throw new Refused(path, `${proto.constructor?.name ?? "a built-in"} (it cannot be frozen; use isolation "copy")`)
    }
  } else {
    if (Object.getOwnPropertySymbols(value).length > 0) {
      const kind = statefulKind(value)
      if (kind !== undefined) throw new Refused(path, kind)
    } else {
      // A plain object of string keys: no descriptor work.
      for (const k of Object.keys(value)) freezeValue((value as Record<string, unknown>)[k], key(path, k), seen)
      Object.freeze(value)
      return
    }
  }
  for (const k of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, k)!
    if (descriptor.get !== undefined || descriptor.set !== undefined) throw new Refused(key(path, k), "an accessor")
    freezeValue(descriptor.value, key(path, k), seen)
  }
  Object.freeze(value)
}

/**
 * The isolated value (the same value for `none` and `freeze`, a copy for `copy`). Throws `Refused` for a
 * value that cannot be isolated; the caller turns it into a typed error.
 *
 * @internal
 */
export const isolate = (value: unknown, mode: Mode): unknown => {
  if (mode === "none" || value === null || (typeof value !== "object" && typeof value !== "function")) return value
  try {
    if (mode === "copy") return copyValue(value, "$", new Map())
    freezeValue(value, "$", new Set())
    return value
  } catch (e) {
    if (!(e instanceof Refused)) throw e
    // Locate the refused part: the same walk again, with paths (a refused freeze may leave part frozen).
    tracking = true
    try {
      if (mode === "copy") copyValue(value, "$", new Map())
      else freezeValue(value, "$", new Set())
    } finally {
      tracking = false
    }
    throw e
  }
}
