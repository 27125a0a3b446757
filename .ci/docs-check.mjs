// `pnpm docs:check [file ...]`: type-checks the TypeScript examples of the docs.
//
// Checked: every ```ts (or ```typescript) fenced block of README.md, docs/**/*.md and packages/*/README.md, and
// every ```ts block inside an `@example` of a JSDoc comment in packages/*/src and apps/*/src. A block whose info
// string says `nocheck` (```ts nocheck) is skipped, and so is any other language (```text, ```sh, ```json).
// Every fence names its language, and an `@example` holds its code in a fence.
//
// Each block becomes a module of its own in a temporary folder under build/, with `@effect-dspy/<name>` mapped to
// the workspace package's sources (through the packages' project references, so `tsc -b` reuses their build), and
// `tsc` checks them all in one program. Errors are reported at the block's file:line in the original file. The
// temporary folder is removed at the end, failing or not. With file arguments, only those files are checked.
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
/** A file's name as reported: relative to the root, or absolute when outside it. */
const rel = (file) => {
  const relative = path.relative(root, file)
  return relative.startsWith("..") ? file : relative.split(path.sep).join("/")
}

/** The workspace packages (folders with a package.json and a tsconfig.json): name, folder, source entry point. */
const workspacePackages = () =>
  ["packages", "apps"].flatMap((group) => {
    const dir = path.join(root, group)
    if (!fs.existsSync(dir)) return []
    return fs.readdirSync(dir).flatMap((name) => {
      const folder = path.join(dir, name)
      const manifest = path.join(folder, "package.json")
      if (!fs.existsSync(manifest) || !fs.existsSync(path.join(folder, "tsconfig.json"))) return []
      const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"))
      const dot = typeof pkg.exports === "string" ? pkg.exports : pkg.exports?.["."]
      // A conditional export names the sources under the workspace's `@effect-dspy/source` condition.
      const main = typeof dot === "string" ? dot : dot?.["@effect-dspy/source"]
      return [{ name: pkg.name, folder, entry: typeof main === "string" ? path.join(folder, main) : undefined }]
    })
  })

const walk = (dir, keep) => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name === "build" ? [] : walk(full, keep)
    return keep(entry.name) ? [full] : []
  })
}

/** The files checked by default. */
const defaultFiles = (packages) => [
  ...[path.join(root, "README.md"), ...walk(path.join(root, "docs"), (n) => n.endsWith(".md"))].filter((f) =>
    fs.existsSync(f)
  ),
  ...packages.flatMap(({ folder }) => [
    ...[path.join(folder, "README.md")].filter((f) => fs.existsSync(f)),
    ...walk(path.join(folder, "src"), (n) => n.endsWith(".ts") && !n.endsWith(".d.ts"))
  ])
]

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/

/**
 * The fenced blocks of `lines`, whose line numbers in the file are `lineNumbers` and whose stripped prefixes (a
 * JSDoc comment's ` * `) are `prefixes` characters long: `{ lang, info, code, at }`, `at[i]` being the file's line
 * and column offset of the code's line `i`. Unclosed fences and fences without a language are problems.
 */
const fencedBlocks = (lines, lineNumbers, prefixes, file, problems) => {
  const blocks = []
  let open
  lines.forEach((text, i) => {
    const match = FENCE.exec(text)
    if (open === undefined) {
      if (!match) return
      open = { fence: match[2], lang: match[3].toLowerCase(), info: match[4].trim(), start: i, body: [], at: [] }
      if (open.lang === "") {
        problems.push(
          `${rel(file)}:${lineNumbers[i]}: this code fence names no language: write \`\`\`ts (checked), \`\`\`ts nocheck or \`\`\`text`
        )
      }
    } else if (match?.[2].startsWith(open.fence) && match[3] === "" && match[4].trim() === "") {
      blocks.push({ lang: open.lang, info: open.info, code: open.body.join("\n"), at: open.at })
      open = undefined
    } else {
      open.body.push(text)
      open.at.push({ line: lineNumbers[i], column: prefixes[i] })
    }
  })
  if (open !== undefined) problems.push(`${rel(file)}:${lineNumbers[open.start]}: this code fence is never closed`)
  return blocks
}

/** The lines of each `@example` in the JSDoc comments of a TypeScript file, with their line numbers. */
const jsdocExamples = (source) => {
  const examples = []
  let inComment = false
  let inFence = false
  let current
  const close = () => {
    if (current !== undefined) examples.push(current)
    current = undefined
    inFence = false
  }
  source.split("\n").forEach((text, i) => {
    if (!inComment) {
      inComment = /^\s*\/\*\*/.test(text) && !text.includes("*/")
      return
    }
    if (text.includes("*/")) {
      close()
      inComment = false
      return
    }
    const body = text.replace(/^\s*\* ?/, "")
    if (FENCE.test(body)) inFence = !inFence
    else if (!inFence && /^@\w+/.test(body)) {
      close()
      if (/^@example\b/.test(body)) current = { tagLine: i + 1, lines: [], lineNumbers: [], prefixes: [] }
      return
    }
    if (current !== undefined) {
      current.lines.push(body)
      current.lineNumbers.push(i + 1)
      current.prefixes.push(text.length - body.length)
    }
  })
  return examples
}

const isChecked = (block) => (block.lang === "ts" || block.lang === "typescript") && !/\bnocheck\b/.test(block.info)

/** Every block to check in `file`: `{ file, code, at }`. */
const blocksOf = (file, problems) => {
  const source = fs.readFileSync(file, "utf8")
  if (file.endsWith(".md")) {
    const lines = source.split("\n")
    return fencedBlocks(
      lines,
      lines.map((_, i) => i + 1),
      lines.map(() => 0),
      file,
      problems
    )
      .filter(isChecked)
      .map((b) => ({ file, ...b }))
  }
  return jsdocExamples(source).flatMap((example) => {
    const blocks = fencedBlocks(example.lines, example.lineNumbers, example.prefixes, file, problems)
    if (blocks.length === 0) {
      problems.push(
        `${rel(file)}:${example.tagLine}: this @example has no code fence: put its code in a \`\`\`ts block`
      )
    }
    return blocks.filter(isChecked).map((b) => ({ file, ...b }))
  })
}

const main = () => {
  const packages = workspacePackages()
  const args = process.argv.slice(2)
  const files = args.length > 0 ? args.map((a) => path.resolve(a)) : defaultFiles(packages)
  const problems = []
  const blocks = files.flatMap((file) => blocksOf(file, problems))

  const dir = fs.mkdtempSync(path.join(root, "build", "docs-check-"))
  try {
    const names = blocks.map((block, i) => {
      const name = `${String(i).padStart(4, "0")}_${rel(block.file).replace(/[^A-Za-z0-9]+/g, "_")}_L${block.at[0]?.line ?? 0}.ts`
      // `export {}` makes every block a module of its own, so blocks never see each other's names.
      fs.writeFileSync(path.join(dir, name), `${block.code}\nexport {}\n`)
      return name
    })
    const paths = Object.fromEntries(
      packages.filter((p) => p.entry !== undefined).map((p) => [p.name, [path.relative(dir, p.entry)]])
    )
    const tsconfig = {
      extends: path.relative(dir, path.join(root, "tsconfig.base.json")),
      compilerOptions: {
        rootDir: ".",
        composite: false,
        incremental: false,
        declaration: false,
        emitDeclarationOnly: false,
        noEmit: true,
        // an example may show a value without using it
        noUnusedLocals: false,
        noUnusedParameters: false,
        paths
      },
      files: names,
      references: packages.filter((p) => p.entry !== undefined).map((p) => ({ path: path.relative(dir, p.folder) }))
    }
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
    // The package.json gives the examples ES module semantics (top-level await) like the workspace's sources.
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))

    const byName = new Map(names.map((name, i) => [name, blocks[i]]))
    let output = ""
    if (blocks.length > 0) {
      const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
      const run = childProcess.spawnSync(
        process.execPath,
        [tsc, "-b", path.join(dir, "tsconfig.json"), "--pretty", "false"],
        { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }
      )
      output = `${run.stdout}${run.stderr}`
      if (run.status !== 0 && output.trim() === "") output = `tsc exited with status ${run.status}\n`
    }
    // Map `<dir>/<name>(line,col): error ...` back to the original file and line.
    const errors = output
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        const match = /^(.*?)\((\d+),(\d+)\): (.*)$/.exec(l)
        if (!match) return l
        const block = byName.get(path.basename(match[1]))
        if (block === undefined || path.resolve(root, match[1]) !== path.join(dir, path.basename(match[1]))) return l
        // the `export {}` line after the code maps to the block's last line
        const at = block.at[Math.min(Number(match[2]), block.at.length) - 1] ?? { line: 0, column: 0 }
        return `${rel(block.file)}:${at.line}:${at.column + Number(match[3])} - ${match[4]}`
      })
    for (const line of [...problems, ...errors]) process.stdout.write(`${line}\n`)
    const failed = problems.length + errors.length > 0
    const fileCount = new Set(blocks.map((b) => b.file)).size
    process.stdout.write(
      `docs:check: ${blocks.length} blocks in ${fileCount} files, ${failed ? "FAILED" : "all type-check"}\n`
    )
    return failed ? 1 : 0
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

fs.mkdirSync(path.join(root, "build"), { recursive: true })
process.exitCode = main()
