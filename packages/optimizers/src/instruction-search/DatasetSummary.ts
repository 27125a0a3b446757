/**
 * Dataset summaries for instruction proposal (DSPy's `create_dataset_summary`): a descriptor call writes
 * observations about the first batch of training examples; each further batch (up to 9 more calls) adds
 * observations given the prior ones, or answers `COMPLETE` (after 5 of those the loop stops); a summarizer
 * turns the observations into a 2-3 sentence summary. Every call samples at temperature 1.0 on the prompt
 * model. The calls are sequential: each one reads the observations so far.
 *
 * @since 0.1.0
 */
import { type Example, type LM, Predict, Signature } from "@effect-dspy/core"
import * as Effect from "effect/Effect"

/**
 * Observations about one batch of examples.
 *
 * @since 0.1.0
 * @category signatures
 */
export const DatasetDescriptor = Signature.make("examples -> observations", {
  name: "DatasetDescriptor",
  instructions:
    "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. Some areas you may consider in your observations: topics, content, syntax, conciceness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
  descriptions: {
    examples: "Sample data points from the dataset",
    observations: "Somethings that holds true for most or all of the data you observed"
  }
})

/**
 * Observations about one more batch, given the prior observations.
 *
 * @since 0.1.0
 * @category signatures
 */
export const DatasetDescriptorWithPriorObservations = Signature.make("examples, prior_observations -> observations", {
  name: "DatasetDescriptorWithPriorObservations",
  instructions:
    "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. I will also provide you with a few observations I have already made.  Please add your own observations or if you feel the observations are comprehensive say 'COMPLETE' Some areas you may consider in your observations: topics, content, syntax, conciceness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
  descriptions: {
    examples: "Sample data points from the dataset",
    prior_observations: "Some prior observations I made about the data",
    observations:
      "Somethings that holds true for most or all of the data you observed or COMPLETE if you have nothing to add"
  }
})

/**
 * The summary of the observations.
 *
 * @since 0.1.0
 * @category signatures
 */
export const ObservationSummarizer = Signature.make("observations -> summary", {
  name: "ObservationSummarizer",
  instructions:
    "Given a series of observations I have made about my dataset, please summarize them into a brief 2-3 sentence summary which highlights only the most important details.",
  descriptions: {
    observations: "Observations I have made about my dataset",
    summary: "Two to Three sentence summary of only the most significant highlights of my observations"
  }
})

/**
 * Options of {@link summarize}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly trainset: ReadonlyArray<Example.Any>
  /** Examples per descriptor call; default 10. */
  readonly viewDataBatchSize?: number
  /** The LM for the summary calls; default the `LM` in the context. */
  readonly promptModel?: LM.Service
}

/**
 * A dataset summary with the observations it came from and the LM calls it took.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly summary: string
  readonly observations: string
  readonly calls: number
}

const pyValue = (v: unknown): string =>
  typeof v === "string"
    ? `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`
    : typeof v === "boolean"
      ? v
        ? "True"
        : "False"
      : v === null || v === undefined
        ? "None"
        : Array.isArray(v)
          ? `[${v.map(pyValue).join(", ")}]`
          : typeof v === "object"
            ? `{${Object.entries(v as Record<string, unknown>)
                .map(([k, x]) => `'${k}': ${pyValue(x)}`)
                .join(", ")}}`
            : String(v)

/**
 * Renders examples as DSPy's `repr` of a list of examples (input keys sorted).
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderExamples = (examples: ReadonlyArray<Example.Any>): string =>
  `[${examples
    .map((e) => {
      const keys = e.inputKeys === undefined ? "" : ` (input_keys={${[...e.inputKeys].sort().map(pyValue).join(", ")}})`
      return `Example(${pyValue(e.toRecord())})${keys}`
    })
    .join(", ")}]`

/**
 * Removes a leading label (`Summary:`, `**Proposed Instruction**:`) and surrounding quotes from an LM answer
 * (DSPy's `strip_prefix`).
 *
 * @since 0.1.0
 * @category rendering
 */
export const stripPrefix = (text: string): string =>
  text
    .replace(/^[*\s]*(?:[\w'-]+\s+){0,4}[\w'-]+\*{0,2}:\s*/, "")
    .trim()
    .replace(/^"(.*)"$/s, "$1")
    .trim()

const call = (
  signature: Signature.Any,
  inputs: Record<string, string>,
  promptModel: LM.Service | undefined
): Effect.Effect<string, Predict.PredictError, LM.LM> => {
  const predictor = Predict.make(signature, { n: 1, temperature: 1.0, ...(promptModel ? { lm: promptModel } : {}) })
  return Effect.map(Predict.forward(predictor, inputs), (p) => {
    const out = signature.outputFields[0]!.name
    return String(p.get(out) ?? "")
  })
}

/**
 * The number of prompt-model calls {@link summarize} makes for a trainset size (before `COMPLETE` answers
 * cut it short): one descriptor call, up to 9 more batches, one summarizer call.
 *
 * @since 0.1.0
 * @category accounting
 */
export const maxCalls = (trainsetSize: number, viewDataBatchSize = 10): number => {
  let extra = 0
  for (let b = viewDataBatchSize, calls = 1; b < trainsetSize; b += viewDataBatchSize, calls++) {
    if (calls >= 10) break
    extra++
  }
  return 2 + extra
}

/**
 * Writes the dataset summary (see the module documentation).
 *
 * @since 0.1.0
 * @category summarizing
 */
export const summarize = (options: Options): Effect.Effect<Summary, Predict.PredictError, LM.LM> =>
  Effect.gen(function* () {
    const batch = Math.max(1, Math.floor(options.viewDataBatchSize ?? 10))
    const data = options.trainset
    const lm = options.promptModel
    let calls = 1
    let observations = yield* call(
      DatasetDescriptor,
      { examples: renderExamples(data.slice(0, Math.min(data.length, batch))) },
      lm
    )
    let skips = 0
    let loops = 0
    for (let b = batch; b < data.length; b += batch) {
      loops++
      if (loops >= 10) break
      calls++
      const more = yield* call(
        DatasetDescriptorWithPriorObservations,
        { prior_observations: observations, examples: renderExamples(data.slice(b, b + batch)) },
        lm
      )
      if (more.length >= 8 && more.slice(0, 8).toUpperCase() === "COMPLETE") {
        skips++
        if (skips >= 5) break
        continue
      }
      observations += more
    }
    calls++
    const summary = yield* call(ObservationSummarizer, { observations }, lm)
    return { summary: stripPrefix(summary), observations, calls }
  })
