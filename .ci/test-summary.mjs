// Prints the closing line of `pnpm test`: the tests of every package, summed from vitest's JSON reports
// (`build/vitest-report.json` in each package). `--clean` removes old reports before a run.
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const dirs = ["packages", "apps"].flatMap((d) =>
  fs.readdirSync(path.join(root, d)).map((name) => path.join(root, d, name))
)
dirs.push(path.join(root, "test"))
const reports = dirs.map((d) => path.join(d, "build", "vitest-report.json"))

if (process.argv.includes("--clean")) {
  for (const r of reports) fs.rmSync(r, { force: true })
  process.exit(0)
}

let passed = 0
let failed = 0
let skipped = 0
let files = 0
for (const r of reports) {
  if (!fs.existsSync(r)) continue
  const report = JSON.parse(fs.readFileSync(r, "utf8"))
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + report.numTodoTests
  files++
}
process.stdout.write(`\n${files} packages\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
process.exit(failed > 0 || files === 0 ? 1 : 0)
