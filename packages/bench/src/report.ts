/**
 * Makes docs/benchmarks.md from the JSON lines `pnpm bench` prints:
 * `pnpm bench > /tmp/bench.jsonl && pnpm --filter @effect-dspy/bench report /tmp/bench.jsonl`.
 * The page lists every figure with its same-run baseline, ratio and target, plus the command, date and machine.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import type { Figure } from "./Harness.js"

const input = process.argv.slice(2).find((a) => a !== "--")
if (input === undefined) {
  process.stderr.write("usage: report <bench-output.jsonl> [notes.md]\n")
  process.exit(1)
}
const notesFile = process.argv.slice(2).filter((a) => a !== "--")[1]

const figures: Array<Figure> = fs
  .readFileSync(input, "utf8")
  .split("\n")
  .filter((line) => line.startsWith("{"))
  .map((line) => JSON.parse(line) as Figure)

const cell = (x: number | string | null | undefined): string => (x === null || x === undefined ? "" : String(x))

const byBench = new Map<string, Array<Figure>>()
for (const f of figures) byBench.set(f.bench, [...(byBench.get(f.bench) ?? []), f])

const cpu = os.cpus()[0]?.model ?? "unknown CPU"
const lines = [
  "# Benchmarks",
  "",
  "Made from the output of `pnpm bench` (every figure one JSON line; baselines and peers measured in the same run)",
  "by `pnpm --filter @effect-dspy/bench report <output>`. Speed targets live here, not in tests.",
  "",
  `- Date: ${new Date().toISOString().slice(0, 10)}`,
  `- Machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
  "- Load average (1 min) at the start and end of the run: the `machine` rows below",
  "- Command: `pnpm bench > bench.jsonl` then `pnpm --filter @effect-dspy/bench report bench.jsonl`",
  ""
]
if (notesFile !== undefined) lines.push(fs.readFileSync(notesFile, "utf8").trim(), "")
for (const [bench, rows] of byBench) {
  lines.push(
    `## ${bench}`,
    "",
    "| metric | value | unit | baseline | ratio | target |",
    "| --- | --- | --- | --- | --- | --- |"
  )
  for (const f of rows) {
    lines.push(
      `| ${f.metric} | ${cell(f.value)} | ${f.unit} | ${cell(f.baseline)} | ${cell(f.ratio)} | ${cell(f.target)} |`
    )
  }
  lines.push("")
}
const out = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "../../../docs/benchmarks.md")
fs.writeFileSync(out, `${lines.join("\n")}`)
process.stderr.write(`wrote ${out} (${figures.length} figures)\n`)
