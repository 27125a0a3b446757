/**
 * The privacy policy: what happens to PII on its way out of the process. The LM service applies it to every
 * request (and the cache, history and telemetry behind it), `Module.save` and release bundles apply its `stores`
 * mode, and {@link scrub} is the one call any later store makes. Settings come from `privacy` in Config
 * (changeable at run time) or from {@link layerTest}.
 *
 * @example
 * ```ts
 * import { Privacy } from "@effect-dspy/core"
 *
 * const engine = Privacy.engine({ ...Privacy.defaults, mode: "mask" })
 * const masking = Privacy.masking(engine)
 * const sent = masking.mask("Reply to ada@example.com")        // "Reply to <EMAIL_1>"
 * const shown = masking.unmask("Sent to <EMAIL_1>.")            // "Sent to ada@example.com."
 * ```
 *
 * @since 0.1.0
 */
import { Config, ConfigSchema, Events, FiberLocal, Metrics } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PrivacyBlocked, PrivacyLeak } from "../CoreError.js"
import * as Detector from "./Detector.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { PrivacyBlocked, PrivacyLeak }

/**
 * What the policy does with PII: `off`, `detect`, `mask`, `redact` or `block`.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = ConfigSchema.PrivacyMode

/**
 * The policy's settings (Config's `privacy` section).
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = ConfigSchema.DSPyConfig["privacy"]

/**
 * The settings when nothing is configured: every mode `off`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Settings = Schema.decodeUnknownSync(ConfigSchema.DSPyConfig)({}).privacy

const strictness: { readonly [M in Mode]: number } = { off: 0, detect: 1, mask: 2, redact: 3, block: 4 }

/**
 * The stricter of two modes (`off` < `detect` < `mask` < `redact` < `block`).
 *
 * @since 0.1.0
 * @category policy
 */
export const stricter = (a: Mode, b: Mode): Mode => (strictness[a] >= strictness[b] ? a : b)

/**
 * The compiled policy: its settings, the scanner over its detectors, and the mode of each call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Engine {
  readonly settings: Settings
  /** The findings in a text (non-overlapping, left to right, allow-list applied). */
  readonly scan: (text: string) => ReadonlyArray<Detector.Finding>
  /**
   * The mode of an LM call made inside the modules `modules` (outermost first): the innermost one's that has a
   * setting (`modules[name]`), else `mode`; made stricter by the provider's (`providers[provider]`) when set.
   */
  readonly modeFor: (modules: ReadonlyArray<string>, provider: string | undefined) => Mode
  /** The mode of what is saved or exported (`stores`, else `mode` with `mask` as `redact`). */
  readonly storeMode: Mode
  /** True when every mode is `off` and the leakage check too: nothing to do on any path. */
  readonly inactive: boolean
}

/**
 * Compiles settings (and any detectors of your own, which run after the built-in ones) into an {@link Engine}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const engine = (settings: Settings, detectors: ReadonlyArray<Detector.Detector> = []): Engine => {
  const builtins = Detector.builtins({
    ...(settings.kinds === undefined ? {} : { kinds: settings.kinds }),
    region: settings.region
  })
  const scanAll = Detector.scanner([...builtins, ...detectors], settings.allow)
  // Texts known to hold no PII (a prompt's instructions and field descriptions come back on every call). Only
  // clean texts are remembered: no value the policy protects is ever kept here.
  const clean = new Set<string>()
  const scan = (text: string): ReadonlyArray<Detector.Finding> => {
    if (clean.has(text)) return []
    const findings = scanAll(text)
    if (findings.length === 0 && text.length <= 16_384) {
      if (clean.size >= 256) clean.clear()
      clean.add(text)
    }
    return findings
  }
  const storeMode: Mode = settings.stores ?? (settings.mode === "mask" ? "redact" : settings.mode)
  const modes = [settings.mode, storeMode, ...Object.values(settings.modules), ...Object.values(settings.providers)]
  return {
    settings,
    scan,
    storeMode,
    inactive: settings.leakage === "off" && modes.every((m) => m === "off"),
    modeFor: (modules, provider) => {
      let base: Mode = settings.mode
      for (let i = modules.length - 1; i >= 0; i--) {
        const own = Object.hasOwn(settings.modules, modules[i]!) ? settings.modules[modules[i]!] : undefined
        if (own !== undefined) {
          base = own
          break
        }
      }
      const forProvider = provider === undefined ? undefined : settings.providers[provider]
      return forProvider === undefined ? base : stricter(base, forProvider)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Text operations
// ---------------------------------------------------------------------------------------------------------

/**
 * The distinct kinds of findings with their counts, by kind name.
 *
 * @since 0.1.0
 * @category scanning
 */
export const countKinds = (findings: ReadonlyArray<Detector.Finding>): { readonly [kind: string]: number } => {
  const out: Record<string, number> = {}
  for (const f of findings) out[f.kind] = (out[f.kind] ?? 0) + 1
  return out
}

const replaceAll = (
  text: string,
  findings: ReadonlyArray<Detector.Finding>,
  replacement: (f: Detector.Finding, value: string) => string
): string => {
  if (findings.length === 0) return text
  let out = ""
  let at = 0
  for (const f of findings) {
    out += text.slice(at, f.start) + replacement(f, text.slice(f.start, f.end))
    at = f.end
  }
  return out + text.slice(at)
}

/**
 * The text with each finding replaced by `[KIND]` (irreversible).
 *
 * @since 0.1.0
 * @category redaction
 */
export const redact = (text: string, findings: ReadonlyArray<Detector.Finding>): string =>
  replaceAll(text, findings, (f) => `[${f.kind.toUpperCase()}]`)

/**
 * Reversible masking for one call: each distinct value becomes a numbered placeholder (`<EMAIL_1>`, the same
 * value always the same placeholder), and `unmask` puts the originals back. The map lives in this object only:
 * drop it when the call ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Masking {
  /** The text with its findings replaced by placeholders; `found` gets every finding. */
  readonly mask: (text: string, found?: (f: Detector.Finding) => void) => string
  /** The text with every placeholder of this masking replaced by its original. */
  readonly unmask: (text: string) => string
  /** How many distinct values are masked. */
  readonly size: () => number
  /** True when `value` is one of the masked originals. */
  readonly has: (value: string) => boolean
}

/**
 * A new {@link Masking} over an engine's detectors.
 *
 * @since 0.1.0
 * @category constructors
 */
export const masking = (engine: Engine): Masking => {
  const byValue = new Map<string, string>()
  const byPlaceholder = new Map<string, string>()
  const counters = new Map<string, number>()
  const placeholderOf = (kind: string, value: string): string => {
    const key = `${kind}\u0000${value}`
    let placeholder = byValue.get(key)
    if (placeholder === undefined) {
      const n = (counters.get(kind) ?? 0) + 1
      counters.set(kind, n)
      placeholder = `<${kind.toUpperCase()}_${n}>`
      byValue.set(key, placeholder)
      byPlaceholder.set(placeholder, value)
    }
    return placeholder
  }
  const originals = new Set<string>()
  return {
    mask: (text, found) => {
      const findings = engine.scan(text)
      return replaceAll(text, findings, (f, value) => {
        found?.(f)
        originals.add(value)
        return placeholderOf(f.kind, value)
      })
    },
    unmask: (text) => {
      if (byPlaceholder.size === 0) return text
      // One left-to-right pass: at each `<`, read up to the next `>` (placeholders are short) and look it up.
      let out = ""
      let at = 0
      let from = 0
      for (;;) {
        const open = text.indexOf("<", from)
        if (open < 0) break
        const close = text.indexOf(">", open + 1)
        if (close < 0) break
        if (close - open > 48) {
          from = open + 1
          continue
        }
        const original = byPlaceholder.get(text.slice(open, close + 1))
        if (original === undefined) {
          from = open + 1
          continue
        }
        out += text.slice(at, open) + original
        at = close + 1
        from = at
      }
      return at === 0 ? text : out + text.slice(at)
    },
    size: () => byPlaceholder.size,
    has: (value) => originals.has(value)
  }
}

/**
 * The findings of `output` whose values appear nowhere in `input` (the caller's own data): PII the answer brought
 * from somewhere else (a demo, the model's memory).
 *
 * @since 0.1.0
 * @category leakage
 */
export const leaks = (engine: Engine, input: string, output: string): ReadonlyArray<Detector.Finding> =>
  engine.scan(output).filter((f) => !input.includes(output.slice(f.start, f.end)))

/**
 * What {@link scrubValue} did: the scrubbed value and the kinds found (with counts).
 *
 * @since 0.1.0
 * @category models
 */
export interface Scrubbed<A> {
  readonly value: A
  readonly kinds: { readonly [kind: string]: number }
}

/**
 * Every string inside a JSON-like value (objects, arrays, strings; keys included) scanned under `mode`: `off`
 * and `detect` leave it as is, `mask` and `redact` redact (a stored value has no call to unmask it in), `block`
 * leaves it as is too (the caller refuses it when `kinds` is not empty).
 *
 * @since 0.1.0
 * @category redaction
 */
export const scrubValue = <A>(engine: Engine, mode: Mode, value: A): Scrubbed<A> => {
  const kinds: Record<string, number> = {}
  if (mode === "off") return { value, kinds }
  const rewrite = mode === "mask" || mode === "redact"
  const text = (s: string): string => {
    const findings = engine.scan(s)
    for (const f of findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1
    return rewrite ? redact(s, findings) : s
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return text(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[text(k)] = walk(x)
      return out
    }
    return v
  }
  const walked = walk(value) as A
  return { value: rewrite ? walked : value, kinds }
}

/**
 * A text on its way to events or logs: redacted when the policy rewrites anything (`mode` or `stores` is
 * `mask`, `redact` or `block`), else as is.
 *
 * @since 0.1.0
 * @category redaction
 */
export const scrubText = (engine: Option.Option<Engine>, text: string): string =>
  Option.isNone(engine) || !rewritesAnything(engine.value) ? text : redact(text, engine.value.scan(text))

const rewrites = (m: Mode) => strictness[m] >= strictness.mask

const rewritesByEngine = new WeakMap<Engine, boolean>()

/**
 * True when some mode of the policy rewrites text (`mask`, `redact` or `block`); answered once per engine (an
 * engine's settings never change: new settings make a new engine), as every event published asks it.
 */
const rewritesAnything = (engine: Engine): boolean => {
  let known = rewritesByEngine.get(engine)
  if (known === undefined) {
    known =
      !engine.inactive &&
      (rewrites(engine.settings.mode) ||
        rewrites(engine.storeMode) ||
        Object.values(engine.settings.modules).some(rewrites) ||
        Object.values(engine.settings.providers).some(rewrites))
    rewritesByEngine.set(engine, known)
  }
  return known
}

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

/**
 * The Privacy service: the current {@link Engine} (compiled again only when the settings change).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly engine: Effect.Effect<Engine>
  /**
   * The current engine, read synchronously, when the settings can be (a Config with `snapshot`): what the hot
   * paths (every event, every LM call) use instead of `engine`.
   */
  readonly current?: (() => Engine) | undefined
}

/**
 * The Privacy service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Privacy extends Context.Tag("@effect-dspy/core/Privacy")<Privacy, Service>() {}

/**
 * A Privacy service over settings read at each use (memoised by identity, as Config hands out frozen values).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (settings: Effect.Effect<Settings>, detectors: ReadonlyArray<Detector.Detector> = []): Service => {
  let last: Engine | undefined
  return {
    engine: Effect.map(settings, (s) => {
      if (last === undefined || last.settings !== s) last = engine(s, detectors)
      return last
    })
  }
}

const byConfig = new WeakMap<Config.Service, Service>()

/** A Privacy service over settings read synchronously (memoised by identity, as `make`). */
const makeSync = (settings: () => Settings, detectors: ReadonlyArray<Detector.Detector> = []): Service => {
  let last: Engine | undefined
  const current = (): Engine => {
    const s = settings()
    if (last === undefined || last.settings !== s) last = engine(s, detectors)
    return last
  }
  return { engine: Effect.sync(current), current }
}

const fromConfigWith = (config: Config.Service, detectors: ReadonlyArray<Detector.Detector>): Service => {
  const snapshot = config.snapshot
  return snapshot === undefined
    ? make(
        Effect.map(config.current, (c) => c.privacy),
        detectors
      )
    : makeSync(() => snapshot().privacy, detectors)
}

const fromConfig = (config: Config.Service, detectors: ReadonlyArray<Detector.Detector> = []): Service => {
  if (detectors.length > 0) return fromConfigWith(config, detectors)
  let service = byConfig.get(config)
  if (service === undefined) {
    service = fromConfigWith(config, [])
    byConfig.set(config, service)
  }
  return service
}

/**
 * The Privacy service from Config's `privacy` section, following its run-time updates; `detectors` of your own
 * run after the built-in ones.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (detectors: ReadonlyArray<Detector.Detector> = []): Layer.Layer<Privacy, never, Config.Config> =>
  Layer.effect(
    Privacy,
    Effect.map(Config.Config, (config) => fromConfig(config, detectors))
  )

/**
 * A Privacy service with fixed settings over {@link defaults}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  settings: Partial<Settings> = {},
  detectors: ReadonlyArray<Detector.Detector> = []
): Layer.Layer<Privacy> => Layer.succeed(Privacy, make(Effect.succeed({ ...defaults, ...settings }), detectors))

/**
 * The Privacy service of the context: the `Privacy` service when present, else one over the `Config` in the
 * context, else none (no policy: everything passes).
 *
 * @since 0.1.0
 * @category accessors
 */
export const service: Effect.Effect<Option.Option<Service>> = Effect.flatMap(Effect.serviceOption(Privacy), (own) =>
  Option.isSome(own)
    ? Effect.succeed(own)
    : Effect.map(
        Effect.serviceOption(Config.Config),
        Option.map((c) => fromConfig(c))
      )
)

/**
 * The engine of the context's policy (see {@link service}), or none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<Option.Option<Engine>> = Effect.flatMap(service, (s) =>
  Option.isSome(s) ? Effect.map(s.value.engine, Option.some) : Effect.succeed(Option.none())
)

/**
 * The names of the modules being called, outermost first (each module call adds its own), for
 * `privacy.modules`.
 *
 * @since 0.1.0
 * @category context
 */
export const currentModules: FiberRef.FiberRef<ReadonlyArray<string>> = FiberRef.unsafeMake<ReadonlyArray<string>>([])

/**
 * Runs an effect inside the module `name` for the privacy policy (what module calls do themselves; a service
 * may name its managed module this way).
 *
 * @since 0.1.0
 * @category context
 */
export const withModule =
  (name: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    FiberLocal.locallyWith(self, currentModules, (names) => [...names, name])

const kindLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const labelsFor = (kind: string, target: string, mode: Mode) => {
  const key = `${kind}/${target}/${mode}`
  let labels = kindLabels.get(key)
  if (labels === undefined) {
    labels = [MetricLabel.make("kind", kind), MetricLabel.make("target", target), MetricLabel.make("mode", mode)]
    kindLabels.set(key, labels)
  }
  return labels
}

/**
 * Counts findings in the `dspy.privacy.findings` metric (by kind, target and mode).
 *
 * @since 0.1.0
 * @category telemetry
 */
export const countFindings = (kinds: { readonly [kind: string]: number }, target: string, mode: Mode): void => {
  for (const [kind, n] of Object.entries(kinds)) Metrics.privacyFindings.unsafeUpdate(n, labelsFor(kind, target, mode))
}

/**
 * Applies the `stores` policy of the context to a JSON-like value on its way to a store (`target` names it:
 * `saved_program`, `release_bundle`, `experiences`, ...): `mask` and `redact` give it back with every finding
 * redacted, `block` fails with {@link PrivacyBlocked} naming the kinds, `detect` and `off` give it back as is.
 * Findings are counted in `dspy.privacy.findings` (never their values). Every store that writes caller data
 * calls this first.
 *
 * @since 0.1.0
 * @category redaction
 */
export const scrub = <A>(target: string, value: A): Effect.Effect<A, PrivacyBlocked> =>
  Effect.flatMap(current, (engine) => {
    if (Option.isNone(engine) || engine.value.storeMode === "off") return Effect.succeed(value)
    const mode = engine.value.storeMode
    const out = scrubValue(engine.value, mode, value)
    countFindings(out.kinds, target, mode)
    const kinds = Object.keys(out.kinds).sort()
    if (mode === "block" && kinds.length > 0) {
      return Effect.fail(
        new PrivacyBlocked({
          target,
          kinds,
          message: `Refused to write to ${target}: it holds ${kinds.join(", ")} and privacy.stores is "block"; remove the data, allow the values (privacy.allow) or choose another mode.`
        })
      )
    }
    return Effect.succeed(out.value)
  })

/**
 * The `Events` service of the context with the policy applied to every event's data before it is stored (the
 * strings in it redacted when `mode` or `stores` rewrites anything; an event is never refused). Core's own events
 * carry no text; this covers events of other packages that quote errors or answers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEvents: Layer.Layer<Events.Events, never, Events.Events> = Layer.effect(
  Events.Events,
  Effect.gen(function* () {
    const events = yield* Events.Events
    const privacy = yield* service
    if (Option.isNone(privacy)) return events
    const redacted = (engine: Engine, input: Events.EventInput): Events.EventInput => {
      if (input.data === undefined || !rewritesAnything(engine)) return input
      const out = scrubValue(engine, "redact", input.data)
      return Object.keys(out.kinds).length === 0 ? input : { ...input, data: out.value }
    }
    const current = privacy.value.current
    return current === undefined
      ? Events.withRedaction(events, (input) => Effect.map(privacy.value.engine, (engine) => redacted(engine, input)))
      : Events.withRedactionSync(events, (input) => redacted(current(), input))
  })
)
