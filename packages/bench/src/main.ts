/**
 * `pnpm bench [name ...]`: runs every benchmark in `src/benches/` (or those whose file name contains one of
 * the given names), one after another, printing each figure as a JSON line on stdout.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import { type Bench, print } from "./Harness.js"

const dir = path.join(path.dirname(url.fileURLToPath(import.meta.url)), "benches")
const filters = process.argv.slice(2).filter((a) => a !== "--")
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)))

if (files.length === 0) {
  process.stderr.write(`no benchmark matches ${filters.join(", ")}; available: ${fs.readdirSync(dir).join(", ")}\n`)
  process.exit(1)
}

// The machine's load around the run: figures taken on a busy machine read differently.
const load = (when: string) =>
  print({ bench: "machine", metric: `load_average_1m_${when}`, value: os.loadavg()[0]!, unit: "runnable" })
load("start")
for (const file of files) {
  const bench = (await import(url.pathToFileURL(path.join(dir, file)).href)).default as Bench
  process.stderr.write(`# ${bench.name}: ${bench.description}\n`)
  await bench.run(print)
}
load("end")
process.exit(0)
