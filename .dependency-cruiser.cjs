// dependency-cruiser: the package layering of docs/CONTRIBUTING.md ("Packages and their dependencies"), no import
// cycles, and no import that does not resolve. Run by `pnpm lint` (`depcruise packages apps test`).
//
// Workspace imports (`@effect-dspy/core`) resolve through pnpm's symlinks to the package's sources
// (`packages/core/src/index.ts`), so the rules below are written on paths. Type-only imports count too.
// A package folder that does not exist (yet) matches nothing: the rules stay valid.

/** Every workspace package except the listed ones: the targets a package may not import. */
const packagesExcept = (...allowed) => ({
  path: "^(packages|apps)/[^/]+/|^test/",
  pathNot: `^packages/(${allowed.join("|")})/`
})

/** A layering rule: files under `packages/<name>/` may import only their own package and `allowed`. */
const layer = (name, allowed, comment) => ({
  name: `layering-${name}`,
  severity: "error",
  comment: `${comment} (docs/CONTRIBUTING.md, "Packages and their dependencies")`,
  from: { path: `^packages/${name}/` },
  to: packagesExcept(name, ...allowed)
})

/** The optimizers' role folders (docs/architecture.md, "Folder map"). */
const optimizerRoles = "(few-shot|instruction-search|evolutionary|composite)"

module.exports = {
  forbidden: [
    layer("foundation", [], "foundation depends on effect and its libraries only, no workspace package"),
    layer("analytics", [], "analytics (forecasts, detectors) depends on effect only, no workspace package"),
    layer("runtime", ["foundation"], "runtime may import foundation only"),
    layer("core", ["foundation"], "core may import foundation only (never runtime, sim, optimizers or services)"),
    layer("sim", ["foundation", "core"], "sim (the simulated LM) may import core and foundation only"),
    {
      ...layer(
        "optimizers",
        ["foundation", "core"],
        "optimizers' sources may import core and foundation only (sim is for their tests)"
      ),
      from: { path: "^packages/optimizers/src/" }
    },
    {
      ...layer("optimizers", ["foundation", "core", "sim"], "optimizers' tests may use sim as well"),
      name: "layering-optimizers-test",
      from: { path: "^packages/optimizers/", pathNot: "^packages/optimizers/src/" }
    },
    layer(
      "services",
      ["runtime", "foundation", "core", "optimizers", "sim", "analytics"],
      "services may import runtime, foundation, core, optimizers, sim and analytics (never bench or apps)"
    ),
    {
      ...layer(
        "workflows",
        ["runtime", "foundation", "core", "optimizers", "services"],
        "workflows' sources may import services and the packages below it (sim is for their tests)"
      ),
      from: { path: "^packages/workflows/src/" }
    },
    {
      ...layer(
        "workflows",
        ["runtime", "foundation", "core", "optimizers", "services", "sim"],
        "workflows' tests may use sim as well"
      ),
      name: "layering-workflows-test",
      from: { path: "^packages/workflows/", pathNot: "^packages/workflows/src/" }
    },
    {
      ...layer(
        "server",
        ["runtime", "foundation", "core", "optimizers", "services", "workflows"],
        "server's sources may import services, workflows and the packages below them (never sim, bench or apps)"
      ),
      from: { path: "^packages/server/src/" }
    },
    {
      ...layer(
        "server",
        ["runtime", "foundation", "core", "optimizers", "services", "workflows", "sim"],
        "server's tests may use sim as well"
      ),
      name: "layering-server-test",
      from: { path: "^packages/server/", pathNot: "^packages/server/src/" }
    },
    {
      ...layer(
        "cluster",
        ["runtime", "foundation", "core", "optimizers", "services"],
        "cluster's sources may import services and the packages below it (sim is for its tests)"
      ),
      from: { path: "^packages/cluster/src/" }
    },
    {
      ...layer(
        "cluster",
        ["runtime", "foundation", "core", "optimizers", "services", "sim"],
        "cluster's tests may use sim as well"
      ),
      name: "layering-cluster-test",
      from: { path: "^packages/cluster/", pathNot: "^packages/cluster/src/" }
    },
    {
      name: "optimizers-contract",
      severity: "error",
      comment:
        "the optimizers' contract and shared parts (the files at the root of optimizers/src and its internal/) " +
        "never import an optimizer from the role folders: optimizers build on the contract, not the reverse",
      from: {
        path: "^packages/optimizers/src/",
        pathNot: `^packages/optimizers/src/(${optimizerRoles}/|index[.]ts$)`
      },
      to: { path: `^packages/optimizers/src/${optimizerRoles}/` }
    },
    {
      name: "layering-no-app-imports",
      severity: "error",
      comment: "nothing imports an app, the benchmarks or the integration tests; they sit on top of the graph",
      from: { pathNot: "^(apps/[^/]+|packages/bench|test)/" },
      to: { path: "^(apps/[^/]+|packages/bench|test)/" }
    },
    {
      name: "cross-package-by-name",
      severity: "error",
      comment:
        "another package is imported by its name (`@effect-dspy/core`), never by a relative path into its folder: " +
        "a relative path skips the package's public index and its declared dependency",
      from: { path: "^((?:packages|apps)/[^/]+|test)/" },
      to: { dependencyTypes: ["local"], path: "^((packages|apps)/[^/]+|test)/", pathNot: "^$1/" }
    },
    {
      name: "no-circular",
      severity: "error",
      comment: "an import cycle makes initialisation order fragile and hides the layering: break the cycle",
      from: {},
      // A cycle with a type-only edge (`import type`, erased at run time) is allowed: it is Effect's house pattern,
      // an `internal/` file importing the types of the public module that re-exports it.
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } }
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "this import does not resolve to a file: fix the path or declare the package",
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // The dashboard's browser modules import each other by URL (/dashboard/...), not by path.
    exclude: { path: "(^|/)(node_modules|build|dist|coverage)/|^packages/server/static/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["@effect-dspy/source", "import", "require", "node", "default", "types"],
      extensions: [".ts", ".mts", ".js", ".mjs", ".cjs", ".d.ts", ".json"]
    },
    cache: false
  }
}
