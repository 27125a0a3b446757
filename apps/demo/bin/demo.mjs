#!/usr/bin/env node
// `pnpm demo` runs this file (the workspace root has no `demo` script, so pnpm runs the `demo` executable without
// printing a script banner: `pnpm demo --json` writes nothing to stdout but the summary). It loads tsx, then the
// demo's TypeScript entry point.
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
