import { ChainOfThought, Evaluate, Example, Module, type Prediction } from "@effect-dspy/core"
import { Multihop, SimLM, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as BootstrapFewShot from "../src/few-shot/BootstrapFewShot.js"
import * as Optimizer from "../src/Optimizer.js"
import * as TrainingData from "../src/TrainingData.js"

/**
 * DSPy's multi-hop tutorial module, written as a user ports it: a query generator per hop over the context found
 * so far, then an answer over all of it; it returns the answer with the context it gathered.
 */
const multiHop = (hops = 2) =>
  Module.make({
    name: "MultiHop",
    parameters: {
      generateQuery: Array.from({ length: hops }, () =>
        ChainOfThought.make("context: list[str], question -> search_query")
      ),
      generateAnswer: ChainOfThought.make("context: list[str], question -> answer")
    },
    forward: (p, { question }: { readonly question: string }) =>
      Effect.gen(function* () {
        let context: Array<string> = []
        const queries: Array<Prediction.AnyPrediction> = []
        for (const generateQuery of p.generateQuery) {
          const query = yield* generateQuery({ context, question })
          queries.push(query)
          context = [...new Set([...context, ...Multihop.search(query.get("search_query"))])]
        }
        const answer = yield* p.generateAnswer({ context, question })
        return answer.extend({ context }, queries)
      })
  })

const trainset = SimTask.splits(Multihop.task, { seed: 3, train: 8, dev: 0, test: 0 }).train.map((e) =>
  Example.make({ question: e.question, answer: e.answer }).withInputs("question")
)

describe("TrainingData", () => {
  it.effect("BootstrapFewShot compiles DSPy's custom multi-hop module on { question, answer } examples", () =>
    Effect.gen(function* () {
      // Before: TrainingDataInvalid demanding "context" and "search_query", the first predictor's fields.
      const { program, report } = yield* Optimizer.compile(
        BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 0 }),
        multiHop(),
        { trainset, metric: Evaluate.answerExactMatch }
      )
      assert.isAbove(report.lmCalls, 0)
      const bootstrapped = report.details["bootstrapped"] as number
      assert.isAbove(bootstrapped, 0)
      // The demos are the traced calls of each predictor: the query generators' carry their search queries.
      const demos = Module.demos(program)
      assert.deepStrictEqual(Object.keys(demos), [
        "generateQuery[0].predict",
        "generateQuery[1].predict",
        "generateAnswer.predict"
      ])
      assert.strictEqual(demos["generateQuery[0].predict"]!.length, bootstrapped)
      for (const demo of demos["generateQuery[0].predict"]!) assert.isString(demo.get("search_query"))
      for (const demo of demos["generateAnswer.predict"]!) assert.isString(demo.get("answer"))
    }).pipe(Effect.provide(SimLM.layer()))
  )

  it("a custom module needs only input keys that are present; labels only when the metric's fields are declared", () => {
    const required = TrainingData.requirements(multiHop())
    assert.deepStrictEqual(required, { inputs: [], labels: [], signature: undefined, labelsFrom: "none" })
    const examples = [
      trainset[0]!,
      Example.make({ question: "Who?" }),
      Example.make({ query: "Who?", answer: "x" }).withInputs("question" as never),
      Example.make({ question: "Who?" }).withInputs(),
      "not an example"
    ]
    const found = TrainingData.problems(examples, required)
    assert.deepStrictEqual(
      found.map((p) => [p.index, [...p.missing]]),
      [
        [1, []],
        [2, ["question"]],
        [3, []],
        [4, []]
      ]
    )
    assert.include(found[0]!.reason, '.withInputs("question")')
    assert.include(found[1]!.reason, 'add "question" to the example or leave it out of .withInputs')
    assert.include(found[3]!.reason, "Example.make")
    const declared = TrainingData.problems([Example.make({ question: "Who?" }).withInputs("question")], {
      ...required,
      ...TrainingData.requirements(multiHop(), ["answer"])
    })
    assert.include(declared[0]!.reason, 'lacks the label "answer" (metricFields says the metric reads them')
  })

  it.effect("each message names the fix: the signature's inputs and .withInputs, metricFields for labels", () =>
    Effect.gen(function* () {
      const qa = ChainOfThought.make("context: list[str], question -> answer")
      const error = yield* Effect.flip(
        Optimizer.compile(BootstrapFewShot.make(), qa, {
          trainset: [
            Example.make({ question: "q", answer: "a" }).withInputs("question"),
            Example.make({ question: "q", context: ["c"], answer: "a" }).withInputs("question"),
            Example.make({ question: "q", context: ["c"] }).withInputs("question", "context")
          ],
          metric: Evaluate.answerExactMatch
        })
      )
      assert.strictEqual(error._tag, "TrainingDataInvalid")
      assert.include(error.message, 'the program ChainOfThought has the signature "context: list[str], question: str')
      assert.include(error.message, '#0 lacks the input "context" of the program\'s signature')
      assert.include(error.message, '#1 has "context" of the program\'s signature')
      assert.include(error.message, '.withInputs("question", "context")')
      assert.include(error.message, '#2 lacks the label "answer"')
      assert.include(error.message, "pass metricFields with the fields your metric reads")
    }).pipe(Effect.provide(SimLM.layer()))
  )
})
