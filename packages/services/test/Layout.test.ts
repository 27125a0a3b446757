/**
 * The package's layout: no import cycle between its modules, and the wiring of the application (actors, their
 * dependencies, the dispatcher slot) is not public API.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Application, ModuleManager, OptimizationCoordinator } from "../src/index.js"

const src = path.join(__dirname, "..", "src")

const sources = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
    )

/** The relative modules a file imports for their values (`import type` and `export type` are left out). */
const valueImports = (file: string): Array<string> => {
  const text = fs.readFileSync(file, "utf8")
  const out: Array<string> = []
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^"]*?from\s+"(\.[^"]+)"/gm)) {
    if (m[1] !== undefined) continue
    out.push(path.normalize(path.join(path.dirname(file), m[2]!.replace(/\.js$/, ".ts"))))
  }
  return out
}

/** Every cycle of the import graph, as the files on it relative to `src`. */
const cycles = (files: ReadonlyArray<string>): Array<Array<string>> => {
  const graph = new Map(files.map((f) => [f, valueImports(f)]))
  const found: Array<Array<string>> = []
  const done = new Set<string>()
  const visit = (file: string, trail: Array<string>) => {
    const at = trail.indexOf(file)
    if (at >= 0) {
      found.push(trail.slice(at).map((f) => path.relative(src, f)))
      return
    }
    if (done.has(file)) return
    trail.push(file)
    for (const next of graph.get(file) ?? []) visit(next, trail)
    trail.pop()
    done.add(file)
  }
  for (const file of files) visit(file, [])
  return found
}

describe("services layout", () => {
  it("has no import cycle between its modules (Application <-> OptimizationCoordinator was one)", () => {
    const files = sources(src)
    assert.isAbove(files.length, 10)
    assert.include(
      valueImports(path.join(src, "Application.ts")),
      path.join(src, "OptimizationCoordinator.ts"),
      "the scan sees the imports"
    )
    assert.deepStrictEqual(cycles(files), [])
  })

  it("keeps the wiring out of the public modules", () => {
    const exported = (namespace: object) => new Set(Object.keys(namespace))
    for (const name of ["actor", "startActor", "make", "makeStore"]) {
      assert.isFalse(exported(ModuleManager).has(name), `ModuleManager.${name}`)
    }
    for (const name of ["makeWith", "makeDispatcher", "dispatcherActor", "startDispatcher"]) {
      assert.isFalse(exported(OptimizationCoordinator).has(name), `OptimizationCoordinator.${name}`)
    }
    // What stays: the services, their layers and constructors over a running application.
    assert.isTrue(exported(OptimizationCoordinator).has("layer"))
    assert.isTrue(exported(Application).has("layer"))
  })
})
