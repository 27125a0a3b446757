import { packageConfig } from "../vitest.shared.js"

// Integration tests start servers and whole applications, and the pack test builds and installs the packages.
export default packageConfig({ include: ["src/**/*.test.ts"], testTimeout: 60_000 })
