import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { client, start } from "./support.js"

const workflow = `
version: 1
name: answer
inputs:
  question: str
steps:
  - id: ask
    module: { signature: "question -> answer" }
    inputs: { question: "{inputs.question}" }
outputs:
  answer: "{ask.answer}"
`

const broken = `
version: 1
name: broken
inputs:
  question: str
steps:
  - id: ask
    module: { signature: "question -> answer" }
    inputs: { question: "{nowhere.value}" }
`

const raw = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, text: await response.text() }
  })

describe("workflows over HTTP", () => {
  it.scopedLive("validate, describe (Mermaid), run, status, resume; 422 invalid, 400 inputs, 404, 403, 401", () =>
    Effect.gen(function* () {
      const h = yield* start({ workflows: true })
      const reader = yield* client(h.url, h.keys.reader)
      const executor = yield* client(h.url, h.keys.executor)
      const valid = yield* reader.workflows.validate({ payload: { workflow } })
      assert.deepStrictEqual(valid, { valid: true, name: "answer", inputs: ["question"], steps: ["ask"] })
      const invalid = yield* Effect.flip(
        reader.workflows.validate({ payload: { workflow: broken, file: "broken.yaml" } })
      )
      assert.strictEqual(invalid._tag, "WorkflowInvalid")
      const issues = (invalid as { readonly issues?: ReadonlyArray<{ readonly file: string; readonly path: string }> })
        .issues
      assert.isAbove(issues?.length ?? 0, 0)
      assert.strictEqual(issues![0]!.file, "broken.yaml")
      const described = yield* reader.workflows.describe({ payload: { workflow } })
      assert.match(described.mermaid, /^stateDiagram-v2/)
      assert.include(described.mermaid, "ask")
      const result = yield* executor.workflows.run({
        payload: { workflow, inputs: { question: "What is 2 + 3?" }, runId: "run_1" }
      })
      assert.strictEqual(result.runId, "run_1")
      assert.strictEqual(result.status, "succeeded")
      assert.isString((result.outputs as { readonly answer?: unknown }).answer)
      assert.strictEqual(result.steps.length, 1)
      const record = (yield* reader.workflows.status({ path: { id: "run_1" } })) as { readonly runId?: unknown }
      assert.strictEqual(record.runId, "run_1")
      // A finished run: resuming it answers its result without running a step again, or 409 if not resumable.
      const resumed = yield* Effect.either(executor.workflows.resume({ path: { id: "run_1" }, payload: { workflow } }))
      if (resumed._tag === "Right") assert.strictEqual(resumed.right.runId, "run_1")
      else assert.strictEqual(resumed.left._tag, "Conflict")
      const missing = yield* Effect.flip(reader.workflows.status({ path: { id: "run_nope" } }))
      assert.strictEqual(missing._tag, "NotFound")
      const badInputs = yield* Effect.flip(executor.workflows.run({ payload: { workflow, inputs: {} } }))
      assert.strictEqual(badInputs._tag, "BadRequest")
      assert.strictEqual((badInputs as { readonly field?: string }).field, "inputs")
      assert.include((badInputs as { readonly message?: string }).message, "question")
      const forbidden = yield* Effect.flip(reader.workflows.run({ payload: { workflow, inputs: { question: "1?" } } }))
      assert.strictEqual(forbidden._tag, "Forbidden")
      const anonymous = yield* client(h.url)
      assert.strictEqual(
        (yield* Effect.flip(anonymous.workflows.validate({ payload: { workflow } })))._tag,
        "Unauthorized"
      )
      const empty = yield* raw(`${h.url}/workflows/validate`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.keys.reader}`, "content-type": "application/json" },
        body: JSON.stringify({ workflow: "" })
      })
      assert.strictEqual(empty.status, 400)
      assert.include(empty.text, "workflow")
    })
  )

  it.scopedLive("a server without a workflow engine answers runs with 503 (validation still works)", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const executor = yield* client(h.url, h.keys.executor)
      const valid = yield* executor.workflows.validate({ payload: { workflow } })
      assert.strictEqual(valid.name, "answer")
      const run = yield* Effect.flip(executor.workflows.run({ payload: { workflow, inputs: { question: "1?" } } }))
      assert.strictEqual(run._tag, "Unavailable")
    })
  )
})
