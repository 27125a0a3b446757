// Packs the workspace's public packages and installs them into a fresh project outside the workspace, as a
// user would: the pack test (test/src/packaging/Packaging.test.ts) and `pnpm bench packaging` share it.
// Registry dependencies install from the pnpm store the workspace's own install filled (`--prefer-offline`, so little is
// downloaded twice). No install script runs: better-sqlite3's native binding is copied from the workspace's built
// copy of the same version (it has no reachable prebuilt binary, and compiling it again takes minutes).
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"

/** The workspace's root directory. */
export const workspaceRoot = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..")

/** The packages meant for users, by directory under `packages/`, in dependency order. */
export const publicPackages = [
  "runtime",
  "foundation",
  "analytics",
  "core",
  "sim",
  "optimizers",
  "services",
  "workflows",
  "server",
  "cluster",
  "cli"
]

/** How to run pnpm: the one running this process (`npm_execpath`) when there is one, else `pnpm` on the PATH. */
const pnpm = () => {
  const execpath = process.env.npm_execpath
  return execpath !== undefined && /pnpm\.c?js$/.test(execpath)
    ? { command: process.execPath, prefix: [execpath] }
    : { command: "pnpm", prefix: [] }
}

/**
 * Runs a command without blocking the event loop; resolves with its stdout, rejects with its output when it exits
 * non-zero. `options.env` replaces the environment when given.
 */
export const run = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    childProcess.execFile(
      command,
      args,
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, cwd: options.cwd, env: options.env ?? process.env },
      (error, stdout, stderr) =>
        error === null
          ? resolve(stdout)
          : reject(
              new Error(`${command} ${args.join(" ")} failed (${error.code ?? error.signal})\n${stdout}\n${stderr}`)
            )
    )
  })

/** Runs pnpm with `args` in `cwd`. */
export const runPnpm = (args, cwd) => {
  const { command, prefix } = pnpm()
  return run(command, [...prefix, ...args], { cwd })
}

/** `pnpm build` in the workspace (turbo: cached and incremental). */
export const build = () => runPnpm(["build"], workspaceRoot)

/**
 * Packs every public package into `dest` with `pnpm pack`, two at a time (each is mostly pnpm starting up); returns
 * the tarball paths by package name, in `publicPackages` order.
 */
export const pack = async (dest) => {
  fs.mkdirSync(dest, { recursive: true })
  const packOne = async (dir) => {
    const packageDir = path.join(workspaceRoot, "packages", dir)
    const { name } = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"))
    const out = await runPnpm(["pack", "--pack-destination", dest], packageDir)
    const tarball = out
      .trim()
      .split("\n")
      .map((line) => line.trim())
      .findLast((line) => line.endsWith(".tgz"))
    if (tarball === undefined) throw new Error(`pnpm pack printed no tarball for ${name}:\n${out}`)
    return [name, path.isAbsolute(tarball) ? tarball : path.join(dest, path.basename(tarball))]
  }
  const packed = new Array(publicPackages.length)
  let next = 0
  const worker = async () => {
    while (next < publicPackages.length) {
      const i = next++
      packed[i] = await packOne(publicPackages[i])
    }
  }
  await Promise.all([worker(), worker()])
  return Object.fromEntries(packed)
}

/** The version of `name` installed in the workspace (as seen from the public package that declares it). */
export const workspaceVersion = (name) => {
  for (const dir of [...publicPackages, "bench"]) {
    const file = path.join(workspaceRoot, "packages", dir, "node_modules", name, "package.json")
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")).version
  }
  const file = path.join(workspaceRoot, "node_modules", name, "package.json")
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")).version
  throw new Error(`${name} is not installed in the workspace`)
}

/** The peer dependencies of the given public packages (effect and the @effect/* packages users share). */
export const peerDependencies = (names) => {
  const peers = new Set()
  for (const dir of publicPackages) {
    const manifest = JSON.parse(fs.readFileSync(path.join(workspaceRoot, "packages", dir, "package.json"), "utf8"))
    if (names.includes(manifest.name)) for (const peer of Object.keys(manifest.peerDependencies ?? {})) peers.add(peer)
  }
  return [...peers].sort()
}

/**
 * Creates a project in `dir` (a fresh directory outside the workspace) that depends on `packages` (names of
 * packed public packages, installed from `tarballs`), their peer dependencies and `extra` registry packages (at
 * the workspace's versions), and installs it with pnpm, from the store where it can (`--prefer-offline`).
 */
export const createProject = async (dir, { tarballs, packages, extra = [] }) => {
  fs.mkdirSync(dir, { recursive: true })
  const dependencies = {}
  for (const name of packages) dependencies[name] = `file:${tarballs[name]}`
  for (const name of [...peerDependencies(packages), ...extra]) dependencies[name] = workspaceVersion(name)
  const overrides = {}
  for (const [name, tarball] of Object.entries(tarballs)) overrides[name] = `file:${tarball}`
  const manifest = {
    name: "effect-dspy-user-project",
    private: true,
    type: "module",
    dependencies,
    pnpm: { overrides, onlyBuiltDependencies: [] }
  }
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  await runPnpm(["install", "--prefer-offline", "--config.confirmModulesPurge=false"], dir)
  copyNativeBindings(dir)
  return dir
}

/** Copies better-sqlite3's built binding from the workspace into each copy of the same version in `dir`. */
const copyNativeBindings = (dir) => {
  const store = path.join(dir, "node_modules", ".pnpm")
  for (const entry of fs.readdirSync(store).filter((name) => name.startsWith("better-sqlite3@"))) {
    const target = path.join(store, entry, "node_modules", "better-sqlite3")
    const built = path.join(workspaceRoot, "node_modules", ".pnpm", entry, "node_modules", "better-sqlite3")
    const binding = path.join("build", "Release", "better_sqlite3.node")
    if (!fs.existsSync(path.join(built, binding))) {
      throw new Error(`the workspace has no built ${entry} to copy its binding from (run pnpm install first)`)
    }
    fs.mkdirSync(path.join(target, "build", "Release"), { recursive: true })
    fs.copyFileSync(path.join(built, binding), path.join(target, binding))
  }
}

/** A fresh temporary directory outside the workspace. */
export const tempDir = (prefix) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))
