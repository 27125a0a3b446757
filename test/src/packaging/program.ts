/**
 * The user's program of the pack test, as text: it is written into a fresh project outside the workspace,
 * type-checked there against the installed declarations (`tsc --strict`) and run with plain `node`.
 */
export const program = `import { ChainOfThought, Evaluate, Example, Module, Signature } from "@effect-dspy/core"
import { BootstrapFewShot, Optimizer } from "@effect-dspy/optimizers"
import { Application, ModuleManager } from "@effect-dspy/services"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import { Effect } from "effect"

const splits = SimTask.splits(Arithmetic.task, { seed: 0, train: 24, dev: 24, test: 0 })
const toExample = (e: Arithmetic.Example) =>
  Example.make({ question: e.question, answer: e.answer }).withInputs("question")
const trainset = splits.train.map(toExample)
const devset = splits.dev.map(toExample)
const metric: Evaluate.Metric<Example.Any, Evaluate.AnyPrediction> = (example, prediction) =>
  Number(example.get("answer")) === Number(prediction.get("answer"))

const qa = ChainOfThought.make(Signature.make("question -> answer: int"))

// A ChainOfThought, an Evaluate and a BootstrapFewShot compile on the simulated LM.
const library = Effect.gen(function* () {
  const prediction = yield* Module.call(qa, { question: "What is 2 + 3?" })
  const before = yield* Evaluate.run({ devset, program: qa, metric, concurrency: 4 })
  const compiled = yield* Optimizer.compile(BootstrapFewShot.make(), qa, { trainset, metric, concurrency: 4 })
  const after = yield* Evaluate.run({ devset, program: compiled.program, metric, concurrency: 4 })
  return {
    reasoning: prediction.get("reasoning"),
    answer: prediction.get("answer"),
    before: before.score,
    after: after.score,
    demos: Object.values(Module.demos(compiled.program)).reduce((n, demos) => n + demos.length, 0)
  }
}).pipe(Effect.provide(SimLM.layer({ seed: 0 })))

// The supervised application: started, used, closed (its scope ends when the effect does).
const application = Effect.gen(function* () {
  const modules = yield* ModuleManager.ModuleManager
  yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer: int" })
  const execution = yield* modules.execute("qa", { question: "What is 7 - 4?" })
  const tree = yield* Application.render
  return { version: execution.version, tree }
}).pipe(Effect.provide(Application.layerDefault()))

const main = Effect.gen(function* () {
  const results = yield* library
  const app = yield* application
  console.log(JSON.stringify({ ...results, ...app }))
})

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
`

/** The fresh project's tsconfig: strict, NodeNext, the installed declarations checked too (no skipLibCheck). */
export const tsconfig = {
  compilerOptions: {
    strict: true,
    target: "ES2022",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    skipLibCheck: false,
    outDir: "dist",
    rootDir: "src"
  },
  include: ["src"]
}
