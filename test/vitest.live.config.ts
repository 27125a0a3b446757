import { packageConfig } from "../vitest.shared.js"

// `pnpm test:live`: the smoke suite against real providers (files `*.live.ts`, which the normal include skips).
export default packageConfig({ include: ["src/**/*.live.ts"], testTimeout: 120_000 })
