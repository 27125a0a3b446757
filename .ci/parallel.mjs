// `node .ci/parallel.mjs "<command>" "<command>" ...`: runs the commands at once (each through the shell, from the
// repository root) and fails if any fails. `pnpm test` runs `pnpm lint` beside `pnpm typecheck && pnpm docs:check`:
// each is mostly one single-threaded process (the API reports' build, tsc), so on two cores they take the time of
// the longest instead of the sum. Each command's output is held and printed whole when it ends (no interleaving),
// with its duration; the exit code is the first failing command's.
import * as childProcess from "node:child_process"
import * as path from "node:path"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const commands = process.argv.slice(2)
if (commands.length === 0) {
  process.stderr.write('usage: node .ci/parallel.mjs "<command>" ["<command>" ...]\n')
  process.exit(2)
}

const run = (command) =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = childProcess.spawn(command, { cwd: root, shell: true, stdio: ["ignore", "pipe", "pipe"] })
    const chunks = []
    child.stdout.on("data", (chunk) => chunks.push(chunk))
    child.stderr.on("data", (chunk) => chunks.push(chunk))
    child.on("close", (code, signal) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      const status = code === 0 ? "ok" : `failed (${code ?? signal})`
      process.stdout.write(`\n=== ${command}: ${status} in ${seconds} s\n${Buffer.concat(chunks).toString()}`)
      resolve(code ?? 1)
    })
  })

const codes = await Promise.all(commands.map(run))
process.exit(codes.find((code) => code !== 0) ?? 0)
