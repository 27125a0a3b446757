// `pnpm lint:regex`: every regex of the sources checked for catastrophic backtracking (ReDoS) with recheck.
//
// Checked: every regex literal (`/.../flags`, found as a RegularExpressionLiteral node by the TypeScript compiler's
// parser, so strings, comments and template literals never confuse it) and every `new RegExp(...)` / `RegExp(...)`
// whose pattern (and flags, when given) is a string literal, in packages/*/src and apps/*/src. A regex recheck
// reports `vulnerable` fails the step with its file:line, the pattern, the complexity and the attack string;
// `unknown` (the checker gave up within its timeout) is printed as a warning and does not fail.
//
// Regexes listed in .ci/lint-regex-known.json (by file and pattern) are known and not fixed yet: they are printed
// as warnings and do not fail the step; an entry that no longer matches a vulnerable regex is reported as stale.
//
// Results are cached by pattern and flags in node_modules/.cache/lint-regex.json (recheck's version is part of the
// key), so a second run checks only the regexes that changed.
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { check } from "recheck"
import ts from "typescript"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const require = createRequire(import.meta.url)
const recheckVersion = require("recheck/package.json").version
const cacheFile = path.join(root, "node_modules", ".cache", "lint-regex.json")
const started = performance.now()

/** Every .ts file under a folder (recursively). */
const tsFiles = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name)
        if (entry.isDirectory()) return tsFiles(full)
        return entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : []
      })
    : []

const sources = ["packages", "apps"].flatMap((group) => {
  const dir = path.join(root, group)
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir).flatMap((name) => tsFiles(path.join(dir, name, "src")))
})

/** The regexes of one file: `{ line, source, flags }`. */
const regexesOf = (file) => {
  const text = fs.readFileSync(file, "utf8")
  const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const found = []
  const lineOf = (node) => sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const literal = node.text
      const end = literal.lastIndexOf("/")
      found.push({ line: lineOf(node), source: literal.slice(1, end), flags: literal.slice(end + 1) })
    } else if (
      (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "RegExp" &&
      node.arguments !== undefined &&
      node.arguments.length >= 1 &&
      ts.isStringLiteralLike(node.arguments[0]) &&
      (node.arguments.length === 1 || ts.isStringLiteralLike(node.arguments[1]))
    ) {
      found.push({
        line: lineOf(node),
        source: node.arguments[0].text,
        flags: node.arguments.length > 1 ? node.arguments[1].text : ""
      })
    }
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)
  return found
}

const readCache = () => {
  try {
    const cache = JSON.parse(fs.readFileSync(cacheFile, "utf8"))
    return cache.version === recheckVersion ? cache.results : {}
  } catch {
    return {}
  }
}
const cached = readCache()
const results = {}

const known = JSON.parse(fs.readFileSync(path.join(root, ".ci", "lint-regex-known.json"), "utf8")).known
const knownKeys = new Set(known.map((k) => `${k.file} ${k.regex}`))
const seenKnown = new Set()
const vulnerable = []
const tolerated = []
const unknown = []
let count = 0
let checked = 0
for (const file of sources) {
  for (const regex of regexesOf(file)) {
    count++
    const key = `/${regex.source}/${regex.flags}`
    let result = results[key] ?? cached[key]
    if (result === undefined) {
      checked++
      const diagnostics = await check(regex.source, regex.flags, { checker: "auto", timeout: 10_000 })
      result =
        diagnostics.status === "vulnerable"
          ? {
              status: "vulnerable",
              complexity: diagnostics.complexity.summary,
              attack: diagnostics.attack.pattern
            }
          : diagnostics.status === "unknown"
            ? { status: "unknown", error: diagnostics.error.kind }
            : { status: "safe" }
    }
    results[key] = result
    const where = `${path.relative(root, file).split(path.sep).join("/")}:${regex.line}`
    const file_ = path.relative(root, file).split(path.sep).join("/")
    if (result.status === "vulnerable") {
      if (knownKeys.has(`${file_} ${key}`)) {
        seenKnown.add(`${file_} ${key}`)
        tolerated.push({ where, key, result })
      } else vulnerable.push({ where, key, result })
    }
    if (result.status === "unknown") unknown.push({ where, key, result })
  }
}

fs.mkdirSync(path.dirname(cacheFile), { recursive: true })
fs.writeFileSync(cacheFile, JSON.stringify({ version: recheckVersion, results }))

for (const { where, key, result } of unknown) {
  process.stderr.write(`warning: ${where}: ${key}: recheck could not decide (${result.error})\n`)
}
for (const { where, key, result } of tolerated) {
  process.stderr.write(`known (not fixed yet): ${where}: ${key} (${result.complexity}); attack: ${result.attack}\n`)
}
const stale = [...knownKeys].filter((k) => !seenKnown.has(k))
for (const k of stale) process.stderr.write(`stale entry in .ci/lint-regex-known.json (fixed or moved): ${k}\n`)
for (const { where, key, result } of vulnerable) {
  process.stderr.write(`${where}: ${key} is vulnerable to ReDoS (${result.complexity}); attack: ${result.attack}\n`)
}
const seconds = ((performance.now() - started) / 1000).toFixed(1)
process.stderr.write(
  `lint:regex: ${count} regexes in ${sources.length} files (${checked} checked, ${count - checked} cached or repeated), ${vulnerable.length} vulnerable, ${tolerated.length} known, ${seconds} s\n`
)
process.exit(vulnerable.length === 0 && stale.length === 0 ? 0 : 1)
