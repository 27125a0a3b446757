import { packageConfig } from "../../vitest.shared.js"

// Each test runs the executable in a child process (tsx), which takes seconds to start on a busy machine.
export default packageConfig({ testTimeout: 60_000 })
