// The public API reports: API Extractor (@microsoft/api-extractor) reads each public package's built
// declarations (`dist/index.d.ts`, what a user's compiler sees) and writes `packages/<name>/etc/<name>.api.md`.
// A change to a package's public surface shows up in that file's diff in review.
//
//   node scripts/api-extractor.mjs          builds (turbo, cached), then writes the reports   (`pnpm api:update`)
//   node scripts/api-extractor.mjs --check  builds, then fails (exit 1) naming the stale reports (`pnpm api:check`,
//                                            run by `pnpm lint`)
//   --no-build                              skips the build (the declarations are already there)
//
// The reports need the declarations, and `pnpm lint` runs on a fresh clone before anything is built, so the script
// runs `pnpm build` first: turbo replays it from its cache when nothing changed, and a later `pnpm build` (the pack
// test's) is then a cache hit. docs/decisions.md has the measured cost. One TypeScript program serves every package.
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as url from "node:url"
import { sameApi } from "./api-report-order.mjs"
import {
  CompilerState,
  Extractor,
  ExtractorConfig,
  ExtractorLogLevel,
  ExtractorMessageCategory
} from "@microsoft/api-extractor"

const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..")
const packages = [
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
const check = process.argv.includes("--check")

if (!process.argv.includes("--no-build")) {
  const started = performance.now()
  const built = childProcess.spawnSync("pnpm", ["exec", "turbo", "run", "build", "--output-logs=errors-only"], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8"
  })
  if (built.status !== 0) {
    process.stderr.write(`${built.stdout}\nthe build failed: the API reports need the packages' declarations\n`)
    process.exit(1)
  }
  process.stderr.write(`api: build ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
}

/** The compiler options API Extractor analyses the declarations with: the build's, without the source condition. */
const compilerOptions = {
  target: "ES2022",
  lib: ["ES2023"],
  module: "NodeNext",
  moduleResolution: "NodeNext",
  types: ["node"],
  strict: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: true
}

const configOf = (name) => {
  const dir = path.join(root, "packages", name)
  const entry = path.join(dir, "dist", "index.d.ts")
  if (!fs.existsSync(entry)) throw new Error(`${path.relative(root, entry)} is missing: run pnpm build`)
  return ExtractorConfig.prepare({
    configObject: {
      projectFolder: dir,
      mainEntryPointFilePath: entry,
      compiler: { overrideTsconfig: { compilerOptions, files: [entry] } },
      apiReport: {
        enabled: true,
        reportFolder: "<projectFolder>/etc/",
        reportTempFolder: path.join(root, "build", "api-extractor", name),
        reportFileName: "<unscopedPackageName>"
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: "error" } },
        extractorMessageReporting: {
          default: { logLevel: "warning" },
          // Effect's style: no release tags (everything exported is public), `@since`/`@category` rather than
          // TSDoc, `{@link}` to names in scope; a type used but not exported is noted in the report itself.
          "ae-missing-release-tag": { logLevel: "none" },
          "ae-undocumented": { logLevel: "none" },
          "ae-unresolved-link": { logLevel: "none" },
          "ae-forgotten-export": { logLevel: "none", addToApiReportFile: true }
        },
        tsdocMessageReporting: { default: { logLevel: "none" } }
      }
    },
    configObjectFullPath: path.join(dir, "api-extractor.json"),
    packageJsonFullPath: path.join(dir, "package.json")
  })
}

const started = performance.now()
const configs = packages.map(configOf)
const compilerState = CompilerState.create(configs[0], {
  additionalEntryPoints: configs.map((config) => config.mainEntryPointFilePath)
})
const stale = []
let failed = false
for (const config of configs) {
  if (!check) fs.mkdirSync(config.reportFolder, { recursive: true })
  const committed = path.join(config.reportFolder, config.reportConfigs[0].fileName)
  const before = fs.existsSync(committed) ? fs.readFileSync(committed, "utf8") : undefined
  const result = Extractor.invoke(config, {
    localBuild: !check,
    compilerState,
    messageCallback: (message) => {
      // API Extractor's own notices (the TypeScript version, "report changed") stay quiet: a stale report is
      // reported below, once per package.
      if (message.category === ExtractorMessageCategory.Console && message.logLevel !== ExtractorLogLevel.Error) {
        message.logLevel = ExtractorLogLevel.None
      }
    }
  })
  const fresh = fs.readFileSync(path.join(config.reportTempFolder, config.reportConfigs[0].fileName), "utf8")
  const same = before !== undefined && sameApi(fresh, before)
  if (result.apiReportChanged && same) {
    // Only the order of members differs: the committed report stands (no churn in review).
    if (!check) fs.writeFileSync(committed, before)
  } else if (check && result.apiReportChanged) stale.push(path.relative(root, committed))
  else if (!result.succeeded) failed = true
}
process.stderr.write(`api: reports ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
if (stale.length > 0) {
  process.stderr.write(`stale API reports: ${stale.join(", ")}; run \`pnpm api:update\` and commit them\n`)
  process.exit(1)
}
if (failed) process.exit(1)
