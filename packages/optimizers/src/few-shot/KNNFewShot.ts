/**
 * KNNFewShot (DSPy's `KNNFewShot(k, trainset, vectorizer)`): compiling embeds the trainset once; the
 * compiled program is a wrapper module whose `forward`, for each call, embeds the inputs, retrieves the `k`
 * nearest training examples (cosine similarity over `"key: value | ..."` texts of the input fields, as DSPy's
 * KNN), runs BootstrapFewShot on them (teacher runs and all, with the given settings and the run's seed), and
 * runs the bootstrapped student on the inputs.
 *
 * The wrapper's parameters are the student's (so `namedPredictors` and save/load see them); the demos it uses
 * are built per call and are not part of its saved state. Each call makes up to `k * maxRounds` teacher calls
 * before its own: put an LM cache in front when the same neighbours come back often.
 *
 * ```ts
 * const { program } = yield* KNNFewShot.compile(student, { trainset, metric, k: 3 })
 * const prediction = yield* Module.call(program, { question })
 * ```
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import { Embedder, type Evaluate, Example, LM, Module, Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as BootstrapFewShot from "./BootstrapFewShot.js"
import * as internal from "../internal/program.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError, type OptimizerError } from "../OptimizerError.js"

/**
 * Settings: `k` neighbours, the embedder (default: the LM service's `embed`), the bootstrap settings and the
 * concurrency of the per-call bootstrap (default 4).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly k: number
  readonly embedder?: Embedder.Service
  readonly bootstrap?: BootstrapFewShot.Settings
  readonly inferenceConcurrency?: number
}

/**
 * The compiled wrapper: inputs as a record, a prediction out.
 *
 * @since 0.1.0
 * @category models
 */
export type KNNProgram = Module.Module<Module.Parameters, Example.Fields, Evaluate.AnyPrediction, unknown, LM.LM>

/**
 * The text of an example's input fields for retrieval (DSPy's `"key: value | key: value"`).
 *
 * @since 0.1.0
 * @category retrieval
 */
export const inputText = (fields: Example.Fields, inputKeys: ReadonlyArray<string>): string =>
  Object.entries(fields)
    .filter(([key]) => inputKeys.includes(key))
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" | ")

/**
 * Compiles a student into a KNN few-shot program (validation, events and report as every optimizer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const compile = (
  student: Module.Program,
  options: Optimizer.CompileOptions & Settings
): Effect.Effect<Optimizer.Compiled<KNNProgram>, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    const k = options.k
    if (!(Number.isInteger(k) && k >= 1)) {
      return yield* new OptimizerConfigError({ option: "k", message: `k must be a positive integer, got ${k}` })
    }
    const settings = yield* BootstrapFewShot.resolve(options.bootstrap ?? {})
    const inferenceConcurrency = options.inferenceConcurrency ?? 4
    const embedder = options.embedder ?? Embedder.fromLM(yield* LM.LM)
    let vectors: ReadonlyArray<ReadonlyArray<number>> = []
    const optimizer = Optimizer.make({
      name: "KNNFewShot",
      settings: { k, bootstrap: options.bootstrap ?? {}, inferenceConcurrency },
      compile: <P extends Module.Program>(program: P, run: Optimizer.Run) => {
        const texts = run.trainset.map((e) => inputText(e.toRecord(), e.inputKeys ?? []))
        return Effect.map(run.unit("knn/embed", embedder.embed(texts)), (embedded): Optimizer.Outcome<P> => {
          if (Option.isNone(embedded)) return { program, details: { embedded: 0 } }
          vectors = embedded.value
          return { program, details: { embedded: vectors.length, dimensions: vectors[0]?.length ?? 0, k } }
        })
      }
    })
    const compiled = yield* Optimizer.compile(optimizer, student, options)
    const trainset = options.trainset
    const metric = options.metric
    const seed = options.seed ?? 0
    const teacher = options.teacher
    const inputKeys = trainset[0]?.inputKeys ?? []
    const index = vectors
    if (index.length === 0) {
      return yield* new OptimizerConfigError({
        option: "budget",
        message: "KNNFewShot could not embed the trainset within the budget: raise the budget."
      })
    }
    const env: BootstrapFewShot.Env = {
      unit: (_key, work) => Effect.map(work, Option.some),
      forEach: (items, f) => Effect.forEach(items, f, { concurrency: inferenceConcurrency }),
      rng: (...key) => Random.make(seed, ...key),
      metric,
      concurrency: inferenceConcurrency
    }
    const parameters: Module.Parameters = Predict.isPredict(student) ? { self: student } : student.parameters
    const program: KNNProgram = Module.make({
      name: "KNNFewShot",
      parameters,
      forward: (_bound, inputs: Example.Fields) =>
        Effect.gen(function* () {
          const [query] = yield* embedder.embed([inputText(inputs, inputKeys)])
          const neighbours = Embedder.nearest(index, query!, k).map((i) => trainset[i]!)
          const bootstrapped = yield* BootstrapFewShot.bootstrap(student, env, {
            trainset: neighbours,
            teacher,
            settings,
            scope: "knn"
          })
          return yield* internal.callProgram(
            bootstrapped.program,
            Example.make(inputs).withInputs(...Object.keys(inputs))
          )
        }),
      ...(Predict.isPredict(student) ? {} : student.signature === undefined ? {} : { signature: student.signature })
    })
    return { program, report: compiled.report }
  })
