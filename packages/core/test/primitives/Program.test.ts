import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type * as LM from "../../src/lm/LM.js"
import { LMServerError } from "../../src/lm/LMError.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Module from "../../src/primitives/Module.js"
import * as Program from "../../src/primitives/Program.js"
import * as FakeProvider from "../predict/FakeProvider.js"

/** The number in "What is N doubled?". */
const numberIn = (text: string) => Number(/What is (\d+) doubled/.exec(text)?.[1] ?? "-1")

describe("Program.batch", () => {
  it.effect("runs every input, one Either per input in input order, a failed input never stopping the others", () =>
    Effect.gen(function* () {
      // Later inputs answer sooner (so completion order is the reverse of input order); 3 fails.
      const fake = FakeProvider.make((request) => {
        const n = numberIn(FakeProvider.lastUser(request))
        const answer =
          n === 3
            ? Effect.fail(new LMServerError({ provider: "fake", model: "m", status: 500, message: "down" }))
            : Effect.succeed(FakeProvider.chat({ answer: String(2 * n) }))
        return Effect.delay(answer, Duration.millis(100 * (6 - n)))
      })
      const qa = Predict.make("question -> answer: int")
      const inputs = [1, 2, 3, 4, 5].map((n) => ({ question: `What is ${n} doubled?` }))
      const fiber = yield* Effect.fork(Effect.provide(Program.batch(qa, inputs, { concurrency: 5 }), fake.layer))
      yield* TestClock.adjust(Duration.seconds(1))
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        results.map((r) => (Either.isRight(r) ? r.right.get("answer") : r.left._tag)),
        [2, 4, "LMServerError", 8, 10]
      )
      expectTypeOf(results).toEqualTypeOf<
        ReadonlyArray<Either.Either<Predict.Output<{ readonly answer: number }>, Predict.PredictError>>
      >()
    })
  )

  it.effect("runs at most `concurrency` inputs at once", () =>
    Effect.gen(function* () {
      let running = 0
      let most = 0
      const fake = FakeProvider.make((request) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            running++
            most = Math.max(most, running)
          }),
          () =>
            Effect.delay(
              Effect.succeed(
                FakeProvider.chat({ reasoning: "r", answer: String(numberIn(FakeProvider.lastUser(request))) })
              ),
              "10 millis"
            ),
          () => Effect.sync(() => running--)
        )
      )
      const qa = ChainOfThought.make("question -> answer")
      const inputs = Array.from({ length: 7 }, (_, i) => ({ question: `What is ${i} doubled?` }))
      const fiber = yield* Effect.fork(Effect.provide(Program.batch(qa, inputs, { concurrency: 2 }), fake.layer))
      yield* TestClock.adjust(Duration.seconds(1))
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.filter(Either.isRight).length, 7)
      assert.strictEqual(most, 2)
    })
  )

  it.effect("a concurrency that is not a positive integer is a typed error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Program.batch(Predict.make("question -> answer"), [], { concurrency: 0 }))
      assert.strictEqual(error._tag, "ParallelConfigError")
      assert.include(error.message, "concurrency must be a positive integer")
    }).pipe(Effect.provide(FakeProvider.make(() => "").layer))
  )
})

describe("Program.run / runPromise", () => {
  const fake = () =>
    FakeProvider.make((request) =>
      FakeProvider.chat({
        reasoning: "doubling",
        answer: String(2 * numberIn(FakeProvider.lastUser(request)))
      })
    )

  it("runPromise runs a program with one LM layer and resolves with its typed output", async () => {
    const qa = ChainOfThought.make("question -> answer: float")
    const prediction = await Program.runPromise(qa, { question: "What is 4 doubled?" }, { lm: fake().layer })
    assert.strictEqual(prediction.get("answer"), 8)
    assert.strictEqual(prediction.get("reasoning"), "doubling")
    expectTypeOf(prediction.get("answer")).toEqualTypeOf<number>()
  })

  it("runPromise rejects with the program's error", async () => {
    const failing = FakeProvider.make(() =>
      Effect.fail(new LMServerError({ provider: "fake", model: "m", status: 500, message: "down" }))
    )
    const qa = Predict.make("question -> answer")
    await Program.runPromise(qa, { question: "What is 1 doubled?" }, { lm: failing.layer }).then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => assert.include(String(error), "LMServerError")
    )
  })

  it.effect("run is an Effect with the LM provided: it composes, and needs nothing else", () =>
    Effect.gen(function* () {
      const qa = Predict.make("question -> answer: int")
      const effect = Program.run(qa, { question: "What is 21 doubled?" }, { lm: fake().layer })
      expectTypeOf(effect).toEqualTypeOf<
        Effect.Effect<Predict.Output<{ readonly answer: number }>, Predict.PredictError, never>
      >()
      const prediction = yield* effect
      assert.strictEqual(prediction.get("answer"), 42)
    })
  )

  it("the type helpers read a module's and a predictor's inputs and outputs", () => {
    const qa = ChainOfThought.make("question -> answer: int")
    expectTypeOf<Program.Input<typeof qa>>().toEqualTypeOf<{ readonly question: string }>()
    expectTypeOf<Program.Context<typeof qa>>().toEqualTypeOf<LM.LM>()
    const custom = Module.make({
      name: "Custom",
      parameters: { qa },
      forward: (p, inputs: { readonly n: number }) => p.qa({ question: `What is ${inputs.n} doubled?` })
    })
    expectTypeOf<Program.Input<typeof custom>>().toEqualTypeOf<{ readonly n: number }>()
    expectTypeOf<Program.Output<typeof custom>>().toEqualTypeOf<Program.Output<typeof qa>>()
    expectTypeOf<Program.Output<typeof qa>["fields"]["answer"]>().toEqualTypeOf<number>()
    assert.isTrue(Layer.isLayer(fake().layer))
  })
})
