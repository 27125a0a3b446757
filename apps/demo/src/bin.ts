#!/usr/bin/env node
/**
 * The built demo's executable (`effect-dspy-demo`, `node apps/demo/dist/bin.js` after `pnpm build`): the demo with
 * plain `node`, on the packages' builds. `pnpm demo` runs the same `main.ts` on the TypeScript sources instead
 * (`bin/demo.mjs`, through tsx), without a build.
 *
 * @since 0.1.0
 */
import "./main.js"
