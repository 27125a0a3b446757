import { LM } from "@effect-dspy/core"
import { Application } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as TestClock from "effect/TestClock"
import { RunStore, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const kinds = `
version: 1
name: kinds
inputs:
  query: str
  docs: list[str]
steps:
  - id: route
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
  - id: lookup
    tool: { name: lookup, outputs: { record: str } }
    inputs: { agent: "{route.agent}" }
  - id: check
    branch:
      cases:
        - when: { value: "{lookup.record}", equals: "record:video_search" }
          steps:
            - id: flag
              tool: { name: echo, outputs: { value: str } }
              inputs: { value: "video" }
      otherwise:
        - id: other
          tool: { name: echo, outputs: { value: str } }
          inputs: { value: "not video" }
  - id: both
    parallel:
      - id: left
        tool: { name: echo, outputs: { value: str } }
        inputs: { value: "L:{inputs.query}" }
      - id: right
        tool: { name: echo, outputs: { value: str } }
        inputs: { value: "R" }
  - id: each
    map:
      over: "{inputs.docs}"
      as: doc
      concurrency: 2
      step:
        id: shout
        tool: { name: upper, outputs: { value: str } }
        inputs: { value: "{doc}" }
outputs:
  agent: "{route.agent}"
  record: "{lookup.record}"
  case: "{check.case}"
  left: "{left.value}"
  right: "{both.right.value}"
  shouted: "{each.items}"
`

const tools = {
  lookup: (inputs: { readonly [k: string]: unknown }) =>
    Effect.succeed({ record: `record:${String(inputs["agent"])}` }),
  echo: (inputs: { readonly [k: string]: unknown }) => Effect.succeed({ value: String(inputs["value"]) }),
  upper: (inputs: { readonly [k: string]: unknown }) => Effect.succeed({ value: String(inputs["value"]).toUpperCase() })
}

describe("WorkflowEngine", () => {
  it.effect("runs every step kind: module, tool, branch, parallel, map; outputs by template", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(kinds, "kinds.yaml")
      const engine = yield* WorkflowEngine.WorkflowEngine
      const result = yield* engine.run(w, { query: "find videos of cats surfing", docs: ["a", "b", "c"] })
      assert.strictEqual(result.outputs["agent"], "video_search")
      assert.strictEqual(result.outputs["record"], "record:video_search")
      assert.strictEqual(result.outputs["case"], "cases[0]")
      assert.strictEqual(result.outputs["left"], "L:find videos of cats surfing")
      assert.strictEqual(result.outputs["right"], "R")
      assert.deepStrictEqual(result.outputs["shouted"], [{ value: "A" }, { value: "B" }, { value: "C" }])
      const ran = result.steps.map((s) => s.step)
      assert.include(ran, "flag")
      assert.notInclude(ran, "other")
      assert.strictEqual(ran.filter((s) => s === "shout").length, 3)
      const stored = yield* engine.record(result.runId)
      assert.strictEqual(stored.status, "succeeded")
      assert.deepStrictEqual(stored.result, result.outputs)
    }).pipe(Effect.provide(Runtime.layer(tools)))
  )

  it.effect("each run is a process under the workflow_runs supervisor of the application", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(
        `version: 1
name: gate
steps:
  - id: wait
    tool: { name: wait, outputs: { ok: bool } }
`,
        "gate.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const fiber = yield* Effect.fork(engine.run(w, {}, { runId: "r1" }))
      yield* Deferred.await(started)
      const tree = yield* Application.render
      assert.include(tree, WorkflowEngine.supervisorId)
      assert.include(tree, "run:r1")
      yield* Deferred.succeed(release, undefined)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.outputs, {})
      assert.strictEqual(result.steps[0]!.outputs!["ok"], true)
    }).pipe(
      Effect.provide(
        Runtime.layer({
          wait: () =>
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), { ok: true }))
        })
      )
    )
  )

  it.effect("missing or mistyped inputs are a typed error naming them; nothing runs", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(kinds, "kinds.yaml")
      const engine = yield* WorkflowEngine.WorkflowEngine
      const error = yield* Effect.flip(engine.run(w, { docs: "nope" }))
      assert.strictEqual(error._tag, "WorkflowInputInvalid")
      assert.include(error.message, `missing input "query"`)
      assert.include(error.message, `input "docs" must be list[str]`)
      assert.strictEqual((yield* (yield* LM.LM).usage).calls, 0)
    }).pipe(Effect.provide(Runtime.layer(tools)))
  )

  it.effect("an unregistered tool or module is found before the run starts, with the step's path", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(
        `version: 1
name: needs
steps:
  - id: a
    module: { ref: not_registered }
  - id: b
    tool: { name: nowhere, outputs: { x: str } }
`,
        "needs.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const error = yield* Effect.flip(engine.run(w, {}))
      assert.strictEqual(error._tag, "WorkflowInvalid")
      const paths = (error as { issues: ReadonlyArray<{ path: string }> }).issues.map((i) => i.path)
      assert.deepStrictEqual(paths, ["steps[0].module.ref", "steps[1].tool.name"])
    }).pipe(Effect.provide(Runtime.layer({})))
  )

  it.effect("a tool that throws fails the step after its retries (backoff on the Clock), with its path", () =>
    Effect.gen(function* () {
      const calls = () => boomCalls.n
      const w = yield* Workflow.parse(
        `version: 1
name: flaky
steps:
  - id: first
    tool: { name: echo, outputs: { value: str } }
    inputs: { value: "x" }
  - id: boom
    tool: { name: boom, outputs: { x: str } }
    retry: { times: 2, backoffMs: 1000 }
`,
        "flaky.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const fiber = yield* Effect.fork(Effect.flip(engine.run(w, {}, { runId: "flaky-1" })))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(calls(), 1)
      yield* TestClock.adjust("1 millis")
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "StepFailed")
      if (error._tag !== "StepFailed") return
      assert.strictEqual(calls(), 3)
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(error.step, "steps[1] (boom)")
      assert.include(error.reason, "disk on fire")
    }).pipe(
      Effect.provide(
        Runtime.layer({
          ...tools,
          boom: () =>
            Effect.sync(() => {
              boomCalls.n++
              throw new Error("disk on fire")
            })
        })
      )
    )
  )

  it.effect("a step that times out is a StepTimedOut with its path, never a hang", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(
        `version: 1
name: slow
steps:
  - id: stuck
    tool: { name: never, outputs: { x: str } }
    timeoutMs: 500
    retry: { times: 1, backoffMs: 100 }
`,
        "slow.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const fiber = yield* Effect.fork(Effect.flip(engine.run(w, {}, { runId: "slow-1" })))
      yield* TestClock.adjust("500 millis")
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("500 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "StepTimedOut")
      if (error._tag !== "StepTimedOut") return
      assert.strictEqual(error.step, "steps[0] (stuck)")
      assert.strictEqual(error.attempts, 2)
      const record = yield* engine.record("slow-1")
      assert.strictEqual(record.status, "failed")
      assert.strictEqual(record.state, "stuck")
    }).pipe(Effect.provide(Runtime.layer({ never: () => Effect.never })))
  )

  it.effect("fallbacks serve: a default, another step, the module's baseline; each recorded", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(
        `version: 1
name: fallbacks
inputs: { q: str }
steps:
  - id: a
    tool: { name: boom, outputs: { value: str } }
    fallback: { default: { value: "default!" } }
  - id: b
    tool: { name: boom, outputs: { value: str } }
    fallback: { step: rescue }
  - id: c
    module: { signature: "query -> agent" }
    prompt: { template: "Which agent should handle: {query}", outputs: { agent: str } }
    mode: optimized
    inputs: { query: "{inputs.q}" }
    timeoutMs: 1
    fallback: { baseline: true }
fallbacks:
  - id: rescue
    tool: { name: echo, outputs: { value: str } }
    inputs: { value: "rescued {inputs.q}" }
outputs: { a: "{a.value}", b: "{b.value}", c: "{c.agent}" }
`,
        "fallbacks.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const fiber = yield* Effect.fork(engine.run(w, { q: "hi" }))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.outputs["a"], "default!")
      assert.strictEqual(result.outputs["b"], "rescued hi")
      assert.isString(result.outputs["c"])
      const fb = Object.fromEntries(result.steps.filter((s) => s.fallback).map((s) => [s.step, s.fallback]))
      assert.deepStrictEqual(fb, { a: "default", b: "step:rescue", c: "baseline" })
      const c = result.steps.find((s) => s.step === "c")!
      assert.include(c.error!, "timed out after 1 ms")
      assert.strictEqual(c.lmCalls, 1)
      assert.include(result.steps.find((s) => s.step === "a")!.error!, "boom")
    }).pipe(
      Effect.provide(
        Runtime.layer({ ...tools, boom: () => Effect.fail("boom") }, RunStore.layerMemory, {
          sim: { default: { latency: { _tag: "fixed", ms: 50 } } }
        })
      )
    )
  )
})

const started = Deferred.unsafeMake<void>(FiberId.none)
const release = Deferred.unsafeMake<void>(FiberId.none)
const boomCalls = { n: 0 }
