/**
 * A multimodal program on the simulated LM: `image: Image -> count: int` over generated pictures of shapes.
 * Pictures enter as `Media.Image` values (from bytes, a file, or a URL when Config allows it), the adapter sends
 * each one as an `image_url` content part, and BootstrapFewShot picks demos (pictures included) that raise the
 * score. Run it with `pnpm --filter @effect-dspy/example-multimodal start`.
 *
 * @since 0.1.0
 */
import { Config } from "@effect-dspy/foundation"
import { Evaluate, Example, type LM, Media, Module, Predict, Signature } from "@effect-dspy/core"
import { BootstrapFewShot, Optimizer } from "@effect-dspy/optimizers"
import { SimLM, SimTask, Vision } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

/**
 * The program's signature: a picture in, the number of shapes out.
 *
 * @since 0.1.0
 * @category programs
 */
export const signature = Signature.make("image: Image -> count: int")

/**
 * What the example reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  /** Dev-set accuracy (0-100) of the plain predictor and of the optimized one. */
  readonly baseline: number
  readonly optimized: number
  /** How many demos (each with its picture) the optimizer chose. */
  readonly demos: number
  /** The count read for a picture loaded from a file. */
  readonly fromFile: number
  /** The error a URL gets while `media.allowUrlFetch` is off (the default). */
  readonly urlRefused: string
}

const metric: Evaluate.Metric<Example.Any, Evaluate.AnyPrediction> = (example, prediction) =>
  Number(example.get("count")) === Number(prediction.get("count"))

/**
 * Runs the example: scores the plain predictor, optimizes it with BootstrapFewShot, scores it again, reads one
 * picture from a file and shows that a URL is refused until Config allows fetching.
 *
 * @since 0.1.0
 * @category programs
 */
export const run = (seed = 0): Effect.Effect<Report, unknown, LM.LM | Config.Config> =>
  Effect.gen(function* () {
    const toExample = (e: Vision.Example) => Example.make({ image: e.image, count: e.count }).withInputs("image")
    const splits = SimTask.splits(Vision.task, { seed, train: 24, dev: 100, test: 0 })
    const trainset = splits.train.map(toExample)
    const devset = splits.dev.map(toExample)
    const score = (program: Module.Program) =>
      Effect.map(Evaluate.run({ devset, program: program as Module.Any, metric, concurrency: 8 }), (r) => r.score)

    const student = Predict.make(signature)
    const baseline = yield* score(student)
    const compiled = yield* Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 4 }), student, {
      trainset,
      metric
    })
    const optimized = yield* score(compiled.program)

    // A picture from a file: written to a temporary folder, read back, sniffed and checked.
    const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "multimodal-example-")))
    const fromFile = yield* Effect.gen(function* () {
      const file = path.join(dir, "shapes.png")
      yield* Effect.promise(() => fs.writeFile(file, splits.dev[0]!.image.bytes))
      const image = yield* Media.imageFromFile(file)
      const answer = yield* Predict.forward(
        compiled.program as Predict.Predict<{ image: Media.Image }, { count: number }>,
        {
          image
        }
      )
      return answer.get("count")
    }).pipe(Effect.ensuring(Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))))

    // URLs are fetched only when `media.allowUrlFetch` is true: by default a typed error says so.
    const urlRefused = yield* Media.imageFromUrl("https://example.com/shapes.png").pipe(
      Effect.match({ onFailure: (e) => e.reason, onSuccess: () => "fetched" })
    )
    return {
      baseline,
      optimized,
      demos: Object.values(Module.demos(compiled.program)).flat().length,
      fromFile,
      urlRefused
    }
  })

/**
 * The layers the example runs on: the simulated LM and the default configuration.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LM.LM | Config.Config> = Layer.merge(
  SimLM.layer({ seed: 0 }),
  Layer.orDie(Config.layerTest({}))
)
