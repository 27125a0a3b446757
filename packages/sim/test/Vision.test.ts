import { ChatAdapter, type Completion, Example, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import OpenAI from "openai"
import * as Engine from "../src/Engine.js"
import * as Server from "../src/Server.js"
import * as Vision from "../src/Vision.js"

const count = Signature.make("image: Image -> count: int")
const examples = Vision.dataset(7, 60)

const request = (
  e: Vision.Example,
  demos: ReadonlyArray<Vision.Example> = [],
  instructions?: string
): Completion.CompletionRequest => ({
  model: "sim-1",
  messages: ChatAdapter.plain.format(
    instructions === undefined ? count : Signature.withInstructions(count, instructions),
    demos.map((d) => Example.make({ image: d.image, count: d.count })),
    { image: e.image }
  ).messages
})

const decision = (r: Completion.CompletionRequest) => Engine.respond(r, {}).decisions[0]!

describe("the vision task", () => {
  it("reads the count from the pixels: drawn shapes are counted, a picture that is not a PNG is not read", () => {
    const bytes = Vision.draw([
      { x: 2, y: 2, size: 8, disc: false },
      { x: 30, y: 4, size: 9, disc: true },
      { x: 10, y: 30, size: 7, disc: true }
    ])
    assert.deepStrictEqual(Vision.read(bytes), { count: 3, top: 2, closest: 17 })
    assert.strictEqual(Vision.read(Vision.draw([]))!.count, 0)
    assert.isUndefined(Vision.read(new TextEncoder().encode("not a png")))
    // The generator's label always agrees with what the solver reads.
    for (const e of examples) assert.strictEqual(Vision.read(e.image.bytes)!.count, e.count)
    assert.isAbove(new Set(examples.map((e) => e.count)).size, 4)
  })

  it("an Image input reaches the engine as content parts; it answers the vision task, right about as often as its skill says", () => {
    let right = 0
    let p = 0
    for (const e of examples) {
      const r = request(e)
      const d = decision(r)
      assert.strictEqual(d.task, "vision")
      p += d.probability!
      const text = Engine.respond(r, {}).choices[0]!.content
      const parsed = ChatAdapter.plain.parse(count, text)
      assert.isTrue(parsed._tag === "Right")
      if (parsed._tag === "Right" && parsed.right.count === e.count) right++
      // A wrong answer is a plausible one: one shape too few or too many.
      if (parsed._tag === "Right" && parsed.right.count !== e.count)
        assert.strictEqual(Math.abs(parsed.right.count - e.count), 1)
    }
    const expected = p / examples.length
    assert.isAtLeast(right / examples.length, expected - 0.2)
    assert.isAtMost(right / examples.length, expected + 0.2)
    // Without the picture there is nothing to solve: a text field holding a file name is not the vision task.
    const asText = decision({
      model: "sim-1",
      messages: ChatAdapter.plain.format(Signature.make("image -> count: int"), [], { image: "shapes.png" }).messages
    })
    assert.notStrictEqual(asText.task, "vision")
  })

  it("the skill model applies: correct demos with pictures and a good instruction raise P(correct), a harmful one lowers it", () => {
    const demos = Vision.dataset(99, 4)
    let bare = 0
    let withDemos = 0
    let instructed = 0
    let harmful = 0
    for (const e of examples.slice(0, 20)) {
      bare += decision(request(e)).probability!
      withDemos += decision(request(e, demos)).probability!
      instructed += decision(request(e, [], Vision.inventory.canonical)).probability!
      harmful += decision(request(e, [], "Estimate the count at a glance.")).probability!
    }
    assert.isAbove(withDemos, bare + 2)
    assert.isAbove(instructed, bare + 1)
    assert.isBelow(harmful, bare - 1)
    // Wrong demos (labels off by one) hurt.
    const wrong = demos.map((d) => ({ ...d, count: d.count + 1 }))
    let misled = 0
    for (const e of examples.slice(0, 20)) misled += decision(request(e, wrong)).probability!
    assert.isBelow(misled, bare)
  })
})

describe("the local server takes content parts", () => {
  it.scoped("image_url parts through the openai SDK: the same answer as the engine; a bad part is a 400", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve()
      const sdk = new OpenAI({ baseURL: server.url, apiKey: "sim", maxRetries: 0, timeout: 5000 })
      const r = request(examples[0]!)
      const body = r.messages.map((m) => ({
        role: m.role,
        content: m.content
      })) as Array<OpenAI.Chat.ChatCompletionMessageParam>
      const answer = yield* Effect.promise(() => sdk.chat.completions.create({ model: "sim-1", messages: body }))
      assert.strictEqual(answer.choices[0]!.message.content, Engine.respond(r, {}).choices[0]!.content)
      const bad = yield* Effect.promise(() =>
        sdk.chat.completions
          .create({
            model: "sim-1",
            messages: [{ role: "user", content: [{ type: "image_url", image_url: {} as never }] }]
          })
          .then(
            () => 200,
            (e: { status?: number }) => e.status
          )
      )
      assert.strictEqual(bad, 400)
    })
  )
})
