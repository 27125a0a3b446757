/**
 * DSPy's tutorial patterns, ported as a user would (through the packages' public entry points only), over HTTP
 * (openai SDK -> SimServer on loopback): a custom multi-hop module compiled with BootstrapFewShot and saved and
 * loaded, Evaluate of a bare Predict, a batch with per-input results, and ReAct evaluated over a devset.
 */
import {
  AnswerMatch,
  ChainOfThought,
  Evaluate,
  Example,
  LM,
  Module,
  Predict,
  type Prediction,
  Program,
  ReAct,
  Signature,
  Tool
} from "@effect-dspy/core"
import { BootstrapFewShot, Optimizer } from "@effect-dspy/optimizers"
import { Arithmetic, Multihop, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { withServer } from "./support.js"

/** DSPy's multi-hop tutorial module: a query per hop over the context so far, then the answer. */
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
        return (yield* p.generateAnswer({ context, question })).extend({ context }, queries)
      })
  })

const multihopSplits = SimTask.splits(Multihop.task, { seed: 5, train: 8, dev: 8, test: 0 })
const toExample = (e: Multihop.Example) =>
  Example.make({ question: e.question, answer: e.answer }).withInputs("question")

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-dspy-tutorial-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

describe("DSPy tutorial patterns through the public API", () => {
  it.live("custom multi-hop module: BootstrapFewShot compiles it, Evaluate scores it, save/load keeps it", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const trainset = multihopSplits.train.map(toExample)
        const devset = multihopSplits.dev.map(toExample)
        const { program, report } = yield* Optimizer.compile(
          BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 2 }),
          multiHop(),
          { trainset, metric: Evaluate.answerExactMatch, concurrency: 4 }
        )
        assert.isAbove(report.details["bootstrapped"] as number, 0)
        const demos = Module.demos(program)
        assert.isAbove(demos["generateQuery[0].predict"]!.length, 0)

        const evaluated = yield* Evaluate.run({ devset, program, metric: Evaluate.answerExactMatch, concurrency: 4 })
        assert.strictEqual(evaluated.errors, 0)
        const first = evaluated.results[0]!.prediction
        assert.isTrue(first._tag === "Some")
        if (first._tag === "Some") {
          // The extra field the module returned, and the LM calls of every hop (2 queries + 1 answer).
          assert.isArray(first.value.get("context"))
          assert.isAtLeast(first.value.lmCalls, 3)
        }

        const dir = yield* tempDir
        const file = path.join(dir, "multihop.json")
        yield* Module.save(program, file)
        const loaded = yield* Module.load(multiHop(), file)
        assert.deepStrictEqual(Module.dumpState(loaded), Module.dumpState(program))
        const question = { question: devset[0]!.get("question") }
        const [a, b] = yield* Effect.all([Module.call(program, question), Module.call(loaded, question)])
        assert.deepStrictEqual(b.toRecord(), a.toRecord())
      })
    ).pipe(Effect.scoped)
  )

  it.live("Evaluate of a bare Predict (DSPy's Evaluate(devset)(dspy.Predict(...)))", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const splits = SimTask.splits(Arithmetic.task, { seed: 11, train: 0, dev: 12, test: 0 })
        const devset = splits.dev.map((e) =>
          Example.make({ question: e.question, answer: e.answer }).withInputs("question")
        )
        const result = yield* Evaluate.run({
          devset,
          program: Predict.make("question -> answer: int"),
          metric: (example, prediction) => prediction.get("answer") === example.get("answer"),
          concurrency: 4
        })
        assert.strictEqual(result.total, 12)
        assert.strictEqual(result.errors, 0)
        assert.isAbove(result.score, 0)
        const usage = yield* Effect.flatMap(LM.LM, (lm) => lm.usage)
        assert.strictEqual(usage.calls, 12)
      })
    ).pipe(Effect.scoped)
  )

  it.live("batch: one result per input, in order, a bad input a typed error beside the others", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const qa = ChainOfThought.make("question -> answer: int")
        const questions = SimTask.generate(Arithmetic.task, 13, 6)
        const inputs = questions.map((q) => ({ question: q.question }))
        // A question of the wrong type, as data from outside can be: a typed error for that input only.
        const bad = { question: 42 } as unknown as { readonly question: string }
        const results = yield* Program.batch(qa, [...inputs.slice(0, 3), bad, ...inputs.slice(3)], {
          concurrency: 3
        })
        assert.strictEqual(results.length, 7)
        const failed = results[3]!
        assert.isTrue(Either.isLeft(failed))
        if (Either.isLeft(failed)) assert.strictEqual(failed.left._tag, "SignatureValidationError")
        const answered = results.filter((_, i) => i !== 3)
        assert.isTrue(answered.every(Either.isRight))
        // In order: each answer is that question's (the same call made alone gives the same answer).
        const alone = yield* Program.call(qa, inputs[4]!)
        const fifth = results[5]!
        assert.isTrue(Either.isRight(fifth) && fifth.right.get("answer") === alone.get("answer"))
      })
    ).pipe(Effect.scoped)
  )

  it.live("ReAct with a search tool, evaluated over a devset (DSPy's agents tutorial)", () => {
    const search = Tool.make({
      name: "search",
      description: "Search the knowledge base for documents matching a query",
      parameters: Schema.Struct({ query: Schema.String }),
      run: ({ query }) => Effect.sync(() => Multihop.search(query, 3).join("\n"))
    })
    const agent = ReAct.make(Signature.make("question -> answer"), [search], { maxIters: 6 })
    const devset = SimTask.generate(Multihop.task, 23, 6).map(toExample)
    return withServer({}, {}, () =>
      Effect.gen(function* () {
        const result = yield* Evaluate.run({
          devset,
          program: agent,
          metric: (example, prediction) =>
            AnswerMatch.exactMatch(String(prediction.get("answer")), String(example.get("answer"))),
          concurrency: 3
        })
        assert.strictEqual(result.errors, 0)
        assert.isAtLeast(result.score, 50)
        for (const r of result.results) {
          if (r.prediction._tag === "Some")
            assert.strictEqual(r.prediction.value.get("trajectory").tool_name_0, "search")
        }
      })
    ).pipe(Effect.scoped)
  })
})
