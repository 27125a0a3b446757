/**
 * Config internals: path handling against the schema, merging of sources, reading the file and the
 * environment (through Effect's ConfigProvider), and turning parse errors into readable issues.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as EffectConfig from "effect/Config"
import * as Effect from "effect/Effect"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as AST from "effect/SchemaAST"
import * as fs from "node:fs"
import * as path from "node:path"

/** A plain JSON-like object. */
export type Raw = { [key: string]: unknown }

/** The prefix of structured environment variables; segments are separated by `__`. */
export const envPrefix = "EFFECT_DSPY__"

/** The environment variable naming the configuration file. */
export const fileEnvVar = "EFFECT_DSPY_CONFIG"

/** True for plain objects (not arrays, not class instances such as `Redacted`). */
export const isPlainObject = (u: unknown): u is Raw => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** Merges `over` into `base`: objects recursively, everything else replaced. Returns a new object. */
export const deepMerge = (base: Raw, over: Raw): Raw => {
  const out: Raw = { ...base }
  for (const key of Object.keys(over)) {
    const b = out[key]
    const o = over[key]
    out[key] = isPlainObject(b) && isPlainObject(o) ? deepMerge(b, o) : o
  }
  return out
}

/**
 * Names that reach an object's prototype machinery instead of a setting. A path holding one is rejected
 * wherever it appears: `providers.__proto__.poolSize` must fail, never read or write `Object.prototype`.
 */
export const prototypeSegments: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/** A deep-frozen value: plain objects and arrays frozen all the way down (class instances, e.g. `Redacted`, kept). */
export const deepFreeze = <A>(value: A): A => {
  if (Array.isArray(value)) {
    if (!Object.isFrozen(value)) {
      for (const item of value) deepFreeze(item)
      Object.freeze(value)
    }
  } else if (isPlainObject(value) && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze(value[key])
    Object.freeze(value)
  }
  return value
}

/** Splits a dotted path; an empty path means the whole config. */
export const splitPath = (p: string): Array<string> => (p === "" ? [] : p.split("."))

/** The value at a path of a nested object (own properties only, never the prototype's), or undefined. */
export const getAt = (root: unknown, segments: ReadonlyArray<string>): unknown => {
  let cur: unknown = root
  for (const s of segments) {
    if (typeof cur !== "object" || cur === null || !Object.hasOwn(cur, s)) return undefined
    cur = (cur as Raw)[s]
  }
  return cur
}

/**
 * The first prefix of the path that is not an own plain object of `root`: its length and the keys that exist
 * where it is missing; undefined when the whole path leads through plain objects.
 */
export const missingPrefix = (
  root: Raw,
  segments: ReadonlyArray<string>
): { readonly length: number; readonly existing: Array<string> } | undefined => {
  let cur: Raw = root
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!
    const next = Object.hasOwn(cur, s) ? cur[s] : undefined
    if (!isPlainObject(next)) return { length: i + 1, existing: Object.keys(cur).sort() }
    cur = next
  }
  return undefined
}

/** A copy of `root` with `value` at the path (objects along the path are copied, created when absent). */
export const setAt = (root: Raw, segments: ReadonlyArray<string>, value: unknown): Raw => {
  if (segments.length === 0) return isPlainObject(value) ? value : root
  const [head, ...rest] = segments as [string, ...Array<string>]
  const child = Object.hasOwn(root, head) ? root[head] : undefined
  return {
    ...root,
    [head]: rest.length === 0 ? value : setAt(isPlainObject(child) ? child : {}, rest, value)
  }
}

/** True when the path lies inside (or is) the whitelisted pattern; `*` matches one segment. */
export const isUpdatable = (segments: ReadonlyArray<string>, patterns: ReadonlyArray<string>): boolean =>
  patterns.some((pattern) => {
    const ps = splitPath(pattern)
    if (segments.length < ps.length) return false
    return ps.every((p, i) => p === "*" || p === segments[i])
  })

/** True when one path is a prefix of the other (segment-wise): a change at one touches the other. */
export const overlaps = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
}

// ---------------------------------------------------------------------------------------------------------
// Schema paths
// ---------------------------------------------------------------------------------------------------------

/** Reaches the object-shaped node under transformations, refinements and `| undefined` unions. */
const objectNode = (ast: AST.AST): AST.TypeLiteral | undefined => {
  if (AST.isTypeLiteral(ast)) return ast
  if (AST.isTransformation(ast)) return objectNode(ast.from)
  if (AST.isRefinement(ast)) return objectNode(ast.from)
  if (AST.isSuspend(ast)) return objectNode(ast.f())
  if (AST.isUnion(ast)) {
    for (const member of ast.types) {
      const node = objectNode(member)
      if (node !== undefined) return node
    }
  }
  return undefined
}

const normalise = (s: string): string => s.replace(/_/g, "").toLowerCase()

/**
 * Checks a path against the schema. With `loose`, segments match field names ignoring case and underscores
 * and record keys are lower-cased (the environment mapping). Returns the canonical segments or why not.
 */
export const resolvePath = (
  schema: AST.AST,
  segments: ReadonlyArray<string>,
  loose = false
):
  | { readonly _tag: "ok"; readonly segments: Array<string> }
  | { readonly _tag: "error"; readonly reason: string; readonly allowed: Array<string> } => {
  let node: AST.AST = schema
  const out: Array<string> = []
  for (const segment of segments) {
    const obj = objectNode(node)
    const where = out.length === 0 ? "the top level" : `'${out.join(".")}'`
    if (prototypeSegments.has(segment)) {
      return {
        _tag: "error",
        reason: `'${segment}' at ${where} is not a setting name (${[...prototypeSegments].join(", ")} are never allowed in a path)`,
        allowed: obj === undefined ? [] : obj.propertySignatures.map((p) => String(p.name))
      }
    }
    if (obj === undefined) {
      return { _tag: "error", reason: `${where} is a value, it has no setting '${segment}'`, allowed: [] }
    }
    const prop = obj.propertySignatures.find((p) =>
      loose ? normalise(String(p.name)) === normalise(segment) : p.name === segment
    )
    if (prop !== undefined) {
      out.push(String(prop.name))
      node = prop.type
      continue
    }
    const index = obj.indexSignatures[0]
    if (index !== undefined && segment !== "") {
      out.push(loose ? segment.toLowerCase() : segment)
      node = index.type
      continue
    }
    const known = obj.propertySignatures.map((p) => String(p.name))
    return {
      _tag: "error",
      reason: `there is no setting '${segment}' at ${where} (known: ${known.join(", ")})`,
      allowed: known
    }
  }
  return { _tag: "ok", segments: out }
}

// ---------------------------------------------------------------------------------------------------------
// Issues and secrets
// ---------------------------------------------------------------------------------------------------------

/** One line per problem: `path: message`. */
export const formatIssues = (error: ParseResult.ParseError): Array<string> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`
  )

/** Every string found under an `apiKey` key, at any depth (so that messages can be scrubbed). */
export const collectSecrets = (raw: unknown, into: Set<string> = new Set(), secret = false): Set<string> => {
  if (secret && typeof raw === "string" && raw.length > 0) into.add(raw)
  else if (Array.isArray(raw)) for (const value of raw) collectSecrets(value, into, secret)
  else if (isPlainObject(raw)) {
    for (const [key, value] of Object.entries(raw)) collectSecrets(value, into, secret || key === "apiKey")
  }
  return into
}

/** Replaces every secret in a text by `<redacted>`. */
export const scrub = (text: string, secrets: ReadonlySet<string>): string => {
  let out = text
  for (const secret of secrets) out = out.split(secret).join("<redacted>")
  return out
}

// ---------------------------------------------------------------------------------------------------------
// File
// ---------------------------------------------------------------------------------------------------------

/** Why a file could not be used. */
export interface SourceProblem {
  readonly source: string
  readonly issues: Array<string>
}

const prototypeKeys = new Set(["__proto__", "constructor", "prototype"])
const maxFileDepth = 64

/**
 * The first problem with a parsed file's keys, walked without recursion: a prototype key (`__proto__`,
 * `constructor`, `prototype`: JSON and YAML keep them as plain keys, which later object handling would drop
 * or follow) named with its path, or nesting deeper than any setting goes.
 */
export const unsafeKey = (parsed: unknown): string | undefined => {
  const stack: Array<readonly [unknown, ReadonlyArray<string>]> = [[parsed, []]]
  while (stack.length > 0) {
    const [value, at] = stack.pop()!
    if (typeof value !== "object" || value === null) continue
    if (at.length >= maxFileDepth) {
      return `${at.slice(0, 8).join(".")}...: nested deeper than ${maxFileDepth} levels, deeper than any setting`
    }
    const entries: Array<[string, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [String(i), v])
      : Object.entries(value as Record<string, unknown>)
    for (const [key, child] of entries) {
      const where = [...at, key].join(".")
      if (prototypeKeys.has(key)) {
        return `${where}: the key "${key}" is not allowed (a prototype key); remove it or rename it`
      }
      stack.push([child, [...at, key]])
    }
  }
  return undefined
}

/** Reads and parses a JSON or YAML file (by extension; YAML otherwise, which also reads JSON). */
export const readFile = (file: string): Effect.Effect<Raw, SourceProblem> =>
  Effect.gen(function* () {
    const source = `file ${file}`
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (cause) => ({
        source,
        issues: [
          `cannot read the file (${(cause as NodeJS.ErrnoException).code ?? String(cause)}); check the path given in the options or in ${fileEnvVar}`
        ]
      })
    })
    const ext = path.extname(file).toLowerCase()
    // yaml loads on first use: importing the package should not pay for a parser most programs never call.
    const YAML = ext === ".json" ? undefined : yield* Effect.promise(() => import("yaml"))
    const parsed = yield* Effect.try({
      try: (): unknown => {
        if (YAML === undefined) return JSON.parse(text)
        // Errors and warnings (an unresolved `!!tag`, say) both reject the file, with the parser's message; nothing
        // is printed to the process's warnings.
        const doc = YAML.parseDocument(text, { logLevel: "silent" })
        const problem = doc.errors[0] ?? doc.warnings[0]
        if (problem !== undefined) throw problem
        return doc.toJS()
      },
      catch: (cause) => ({
        source,
        issues: [`not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(cause as Error).message.split("\n")[0]}`]
      })
    })
    if (parsed === null || parsed === undefined) return {}
    const unsafe = unsafeKey(parsed)
    if (unsafe !== undefined) return yield* Effect.fail({ source, issues: [unsafe] })
    if (!isPlainObject(parsed)) {
      return yield* Effect.fail({ source, issues: ["the file must hold an object (a map of settings)"] })
    }
    // The design nests everything under `dspy:`; accept that form too.
    const keys = Object.keys(parsed)
    if (keys.length === 1 && keys[0] === "dspy" && isPlainObject(parsed.dspy)) return parsed.dspy
    return parsed
  })

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

/** A string setting from the current ConfigProvider, if present. */
export const envString = (name: string): Effect.Effect<Option.Option<string>> =>
  EffectConfig.option(EffectConfig.string(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/** Parses an environment value: JSON when it parses, the raw string otherwise. */
export const parseEnvValue = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The names of every variable starting with {@link envPrefix} that the current ConfigProvider holds. The
 * provider is walked through `enumerateChildren`, which works whatever its path delimiter is (`_` for
 * `fromEnv`, `.` for `fromMap`); names are rebuilt by joining segments with `_`.
 */
export const envNames: Effect.Effect<Array<string>> = Effect.configProviderWith((provider) => {
  const flat = provider.flattened
  const found = new Set<string>()
  const walk = (segments: Array<string>, depth: number): Effect.Effect<void> => {
    if (depth > 64) return Effect.void
    return flat.enumerateChildren(segments).pipe(
      Effect.orElseSucceed(() => HashSet.empty<string>()),
      Effect.flatMap((children) =>
        Effect.forEach(
          HashSet.toValues(children),
          (child) => {
            const next = [...segments, child]
            const name = next.join("_")
            if (name.startsWith(envPrefix)) found.add(name)
            return envPrefix.startsWith(name) || name.startsWith(envPrefix) ? walk(next, depth + 1) : Effect.void
          },
          { discard: true }
        )
      )
    )
  }
  return Effect.zipRight(
    walk([], 0),
    Effect.sync(() => Arr.fromIterable(found).sort())
  )
})
