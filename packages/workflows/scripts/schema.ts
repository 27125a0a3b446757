// Writes workflow.schema.json (the workflow format as a JSON Schema, for editors) from WorkflowSchema.
// `pnpm --filter @effect-dspy/workflows schema`; test/Workflow.test.ts fails when the committed file is stale.
import * as fs from "node:fs"
import * as path from "node:path"
import { WorkflowSchema } from "../src/index.js"

const file = path.join(import.meta.dirname, "..", "workflow.schema.json")
fs.writeFileSync(file, `${JSON.stringify(WorkflowSchema.jsonSchema(), null, 2)}\n`)
process.stdout.write(`wrote ${file}\n`)
