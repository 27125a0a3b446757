#!/usr/bin/env node
// `pnpm demo` runs this file (the workspace root has no `demo` script, so pnpm runs the `demo` executable without
// printing a script banner: `pnpm demo --json` writes nothing to stdout but the summary). It loads tsx, then the
// demo's TypeScript entry point. Workspace packages resolve to their sources through the `@effect-dspy/source`
// export condition (added by the small resolve hook below), so the demo runs without a build.
import * as module from "node:module"
import { register } from "tsx/esm/api"

const addSourceCondition = `export async function resolve(specifier, context, next) {
  return next(specifier, { ...context, conditions: ["@effect-dspy/source", ...context.conditions] })
}`
module.register(`data:text/javascript,${encodeURIComponent(addSourceCondition)}`)
register()
await import("../src/main.ts")
