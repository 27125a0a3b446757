import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Workflow, WorkflowSchema } from "../src/index.js"

const issuesOf = (text: string) =>
  Effect.map(Effect.flip(Workflow.parse(text, "w.yaml")), (e) => {
    assert.strictEqual(e._tag, "WorkflowInvalid")
    return e.issues
  })

const valid = `
version: 1
name: triage
inputs:
  ticket: str
steps:
  - id: route
    module:
      signature: "query -> agent"
    inputs:
      query: "{inputs.ticket}"
  - id: answer
    prompt:
      template: "Answer for {route.agent}: {inputs.ticket}"
      outputs: { reply: str }
outputs:
  agent: "{route.agent}"
  reply: "{answer.reply}"
`

describe("Workflow", () => {
  it.effect("parses and checks a valid workflow: nodes, types, fingerprint", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(valid, "w.yaml")
      assert.strictEqual(w.name, "triage")
      assert.deepStrictEqual([...w.nodes.keys()], ["route", "answer"])
      assert.strictEqual(w.nodes.get("route")!.kind, "module")
      assert.deepStrictEqual(w.nodes.get("route")!.signature, { inputs: ["query"], outputs: ["agent"] })
      assert.strictEqual(w.fingerprint.length, 64)
    })
  )

  it.effect("invalid YAML is an issue with its line", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf("version: 1\nname: x\nsteps: [\n  - id: a\n")
      assert.isTrue(issues.length > 0)
      assert.strictEqual(issues[0]!.path, "(syntax)")
      assert.isNumber(issues[0]!.line)
    })
  )

  it.effect("an unknown step kind names the step, its line and the kinds there are", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
steps:
  - id: a
    prompt: { template: "hi", outputs: { r: str } }
  - id: b
    teleport: { to: mars }
`)
      assert.strictEqual(issues.length, 1)
      assert.strictEqual(issues[0]!.path, "steps[1]")
      assert.strictEqual(issues[0]!.line, 6)
      assert.include(issues[0]!.message, "has no known kind")
      assert.include(issues[0]!.message, "module, prompt, tool")
    })
  )

  it.effect("a bad field is reported at its key's line, an unknown key as such", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
steps:
  - id: a
    prompt: { template: "hi", outputs: { r: str } }
    timeoutMs: -5
    retyr: { times: 2 }
`)
      const byPath = Object.fromEntries(issues.map((i) => [i.path, i]))
      assert.strictEqual(byPath["steps[0].timeoutMs"]!.line, 6)
      assert.strictEqual(byPath["steps[0].retyr"]!.line, 7)
      assert.include(byPath["steps[0].retyr"]!.message, "unknown key")
    })
  )

  it.effect("a template variable with no source, a later step, a missing field", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
inputs: { q: str }
steps:
  - id: a
    prompt: { template: "{inputs.nope} and {b.r} and {ghost.x}", outputs: { r: str } }
  - id: b
    prompt: { template: "{a.missing}", outputs: { r: str } }
`)
      const messages = issues.map((i) => i.message).join("\n")
      assert.include(messages, `{inputs.nope} has no source: "inputs" has no field "nope"`)
      assert.include(messages, `reads step "b", which does not run before this one`)
      assert.include(messages, `no workflow input or earlier step is named "ghost"`)
      assert.include(messages, `"a" has no field "missing" (it has: r)`)
      assert.isTrue(issues.every((i) => i.line !== undefined))
    })
  )

  it.effect("type mismatches: a module input, map over a non-list, a fallback without the outputs", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
inputs: { n: int, q: str }
steps:
  - id: a
    module: { signature: "items: list[str] -> total: int" }
    inputs: { items: "{inputs.n}" }
    fallback: { step: b }
  - id: m
    map:
      over: "{inputs.q}"
      step: { id: inner, prompt: { template: "{item}", outputs: { r: str } } }
fallbacks:
  - id: b
    prompt: { template: "{inputs.q}", outputs: { other: str } }
`)
      const messages = issues.map((i) => i.message).join("\n")
      assert.include(messages, `type mismatch: input "items" is list[str] in the signature, its binding gives int`)
      assert.include(messages, "type mismatch: map.over must be a list, it is str")
      assert.include(messages, `falls back to "b", which does not give total`)
    })
  )

  it.effect("fallback cycles and self-reference are refused", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
steps:
  - id: a
    prompt: { template: "hi", outputs: { r: str } }
    fallback: { step: b }
fallbacks:
  - id: b
    prompt: { template: "ho", outputs: { r: str } }
    fallback: { step: a }
`)
      assert.include(issues.map((i) => i.message).join("\n"), "fallback cycle")
    })
  )

  it.effect("non-module steps cannot take an optimizing mode; duplicate ids are refused", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(`version: 1
name: x
steps:
  - id: a
    mode: optimized
    prompt: { template: "hi", outputs: { r: str } }
  - id: a
    prompt: { template: "ho", outputs: { r: str } }
`)
      const messages = issues.map((i) => i.message).join("\n")
      assert.include(messages, `mode "optimized" needs a module step`)
      assert.include(messages, `duplicate step id "a"`)
    })
  )

  it.effect("sub-workflows are read relative to the file; a cycle between files is refused", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"))
      try {
        fs.writeFileSync(
          path.join(dir, "child.yaml"),
          `version: 1
name: child
inputs: { text: str }
steps:
  - id: echo
    prompt: { template: "{inputs.text}", outputs: { r: str } }
outputs: { r: "{echo.r}" }
`
        )
        fs.writeFileSync(
          path.join(dir, "parent.yaml"),
          `version: 1
name: parent
inputs: { q: str }
steps:
  - id: sub
    workflow: { file: child.yaml }
    inputs: { text: "{inputs.q}" }
outputs: { r: "{sub.r}" }
`
        )
        fs.writeFileSync(
          path.join(dir, "loop.yaml"),
          `version: 1
name: loop
steps:
  - id: again
    workflow: { file: loop.yaml }
`
        )
        const parent = yield* Workflow.load(path.join(dir, "parent.yaml"))
        assert.strictEqual(Workflow.subWorkflow(parent.nodes.get("sub")!)!.name, "child")
        const loop = yield* Effect.flip(Workflow.load(path.join(dir, "loop.yaml")))
        assert.include(loop.message, "sub-workflow cycle")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )

  it("exports a JSON Schema of the format that matches the committed one", () => {
    const schema = WorkflowSchema.jsonSchema()
    const committed = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "workflow.schema.json"), "utf8")) as unknown
    assert.deepStrictEqual(schema, committed)
    assert.property(schema, "$defs")
  })
})
