/**
 * SIMBA's algorithm pieces: softmax sampling over the program pool, the top-k-plus-baseline choice, the
 * score buckets of a minibatch sorted by spread, DSPy's random demo dropping, and the two strategies that
 * edit a program (append the best trajectory as demos, or append LM-written per-module advice).
 *
 * @since 0.1.0
 */
import type { Random } from "@effect-dspy/foundation"
import { Example, Module, Predict, Signature, Trace } from "@effect-dspy/core"
import type { LM } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * One run of a program on one example of the minibatch.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rollout {
  /** The example's position in the minibatch. */
  readonly exampleIndex: number
  readonly example: Example.Any
  /** The pool id of the program that ran. */
  readonly programId: number
  /** The LM variant (rollout id) it ran with. */
  readonly variant: number
  /** The outputs of the run (none when it failed). */
  readonly outputs: { readonly [key: string]: unknown } | undefined
  readonly trace: ReadonlyArray<Trace.Entry>
  readonly score: number
  readonly error: string | undefined
  /** The metric's feedback text (DSPy's `output_metadata`), if any. */
  readonly feedback?: string | undefined
}

/**
 * The softmax of `scores / temperature` (shifted by the maximum, so large scores do not overflow).
 *
 * @since 0.1.0
 * @category sampling
 */
export const softmaxWeights = (scores: ReadonlyArray<number>, temperature: number): Array<number> => {
  if (scores.length === 0) return []
  const top = Math.max(...scores)
  const exps = scores.map((s) => Math.exp((s - top) / temperature))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / sum)
}

/**
 * An index drawn with the given weights (they need not sum to 1).
 *
 * @since 0.1.0
 * @category sampling
 */
export const weightedIndex = (rng: Random.Random, weights: ReadonlyArray<number>): number => {
  const total = weights.reduce((a, b) => a + b, 0)
  let u = rng.next() * total
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!
    if (u < 0) return i
  }
  return weights.length - 1
}

/**
 * One id drawn by softmax over the ids' average scores at `temperature` (DSPy's `softmax_sample`).
 *
 * @since 0.1.0
 * @category sampling
 */
export const softmaxSample = (
  rng: Random.Random,
  ids: readonly [number, ...Array<number>],
  scoreOf: (id: number) => number,
  temperature: number
): number => ids[weightedIndex(rng, softmaxWeights(ids.map(scoreOf), temperature))]!

/**
 * The `k` best ids by average score, with the baseline (id 0) forced in as the last one when it is not
 * among them (DSPy's `top_k_plus_baseline`). Ties keep pool order.
 *
 * @since 0.1.0
 * @category sampling
 */
export const topKPlusBaseline = (
  ids: ReadonlyArray<number>,
  scoreOf: (id: number) => number,
  k: number
): [number, ...Array<number>] => {
  const sorted = ids
    .map((id, order) => ({ id, order, score: scoreOf(id) }))
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, Math.max(1, k))
    .map((x) => x.id)
  if (!sorted.includes(0)) sorted[sorted.length - 1] = 0
  const unique = [...new Set(sorted)]
  return unique as [number, ...Array<number>]
}

/**
 * The mean of a list (0 when empty).
 *
 * @since 0.1.0
 * @category statistics
 */
export const mean = (xs: ReadonlyArray<number>): number =>
  xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * The q-th percentile with linear interpolation (numpy's default).
 *
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const pos = ((s.length - 1) * q) / 100
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/**
 * The rollouts of one example, best first, with the keys that order the buckets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bucket {
  readonly exampleIndex: number
  readonly rollouts: ReadonlyArray<Rollout>
  readonly maxToMinGap: number
  readonly maxScore: number
  readonly maxToAvgGap: number
}

/**
 * Groups rollouts by example (each bucket best first) and sorts the buckets by (max - min gap, max score,
 * max - mean gap), largest first: the examples where the sampled programs disagree most come first.
 *
 * @since 0.1.0
 * @category buckets
 */
export const buckets = (rollouts: ReadonlyArray<Rollout>): Array<Bucket> => {
  const byExample = new Map<number, Array<Rollout>>()
  for (const r of rollouts) {
    const list = byExample.get(r.exampleIndex)
    if (list === undefined) byExample.set(r.exampleIndex, [r])
    else list.push(r)
  }
  const out: Array<Bucket> = []
  for (const [exampleIndex, list] of [...byExample.entries()].sort((a, b) => a[0] - b[0])) {
    const sorted = list
      .map((r, order) => ({ r, order }))
      .sort((a, b) => b.r.score - a.r.score || a.order - b.order)
      .map((x) => x.r)
    const maxScore = sorted[0]!.score
    const minScore = sorted[sorted.length - 1]!.score
    const avg = mean(sorted.map((r) => r.score))
    out.push({
      exampleIndex,
      rollouts: sorted,
      maxToMinGap: maxScore - minScore,
      maxScore,
      maxToAvgGap: maxScore - avg
    })
  }
  return out
    .map((b, order) => ({ b, order }))
    .sort(
      (x, y) =>
        y.b.maxToMinGap - x.b.maxToMinGap ||
        y.b.maxScore - x.b.maxScore ||
        y.b.maxToAvgGap - x.b.maxToAvgGap ||
        x.order - y.order
    )
    .map((x) => x.b)
}

/**
 * A Poisson draw (Knuth's method; fine for the small means used here).
 *
 * @since 0.1.0
 * @category sampling
 */
export const poisson = (rng: Random.Random, lambda: number): number => {
  if (!(lambda > 0)) return 0
  const limit = Math.exp(-lambda)
  let k = 0
  let p = 1
  do {
    k++
    p *= rng.next()
  } while (p > limit)
  return k - 1
}

/**
 * DSPy's demo dropping before a strategy: with `d` the largest demo count of any predictor, drop
 * `max(Poisson(d / maxDemos), [d >= maxDemos])` random demo positions (the same positions in every
 * predictor), so a program at its demo limit always makes room.
 *
 * @since 0.1.0
 * @category strategies
 */
export const dropDemos = <A extends Module.Program>(program: A, rng: Random.Random, maxDemos: number): A => {
  const counts = Module.namedPredictors(program).map((p) => p.predictor.demos.length)
  const numDemos = counts.length === 0 ? 0 : Math.max(...counts)
  if (numDemos === 0) return program
  const limit = maxDemos > 0 ? maxDemos : 3
  const toDrop = Math.min(numDemos, Math.max(poisson(rng, numDemos / limit), numDemos >= limit ? 1 : 0))
  if (toDrop === 0) return program
  const drop = new Set<number>()
  for (let i = 0; i < toDrop; i++) drop.add(rng.int(numDemos))
  return Module.mapPredictors(program, (p) =>
    Predict.withDemos(
      p,
      p.demos.filter((_, i) => !drop.has(i))
    )
  )
}

/**
 * The "append a demo" strategy: the best rollout's last call of each predictor becomes a demo of that
 * predictor (appended; the oldest demos go beyond `maxDemos`). Skipped (the program is returned as is, with
 * `applied: false`) when the best score is at or below the batch's 10th percentile.
 *
 * @since 0.1.0
 * @category strategies
 */
export const appendDemo = <A extends Module.Program>(
  program: A,
  bucket: Bucket,
  options: { readonly maxDemos: number; readonly p10: number }
): { readonly program: A; readonly applied: boolean } => {
  const good = bucket.rollouts[0]!
  if (good.score <= options.p10 || good.trace.length === 0) return { program, applied: false }
  const lastByPath = new Map<string, Trace.Entry>()
  for (const entry of good.trace) lastByPath.set(entry.predictorPath, entry)
  let applied = false
  const next = Module.mapPredictors(program, (p, path) => {
    const entry = lastByPath.get(path)
    if (entry === undefined) return p
    applied = true
    const demo = Example.make({ ...entry.inputs, ...entry.outputs }).withInputs(...Object.keys(entry.inputs))
    const demos = [...p.demos, demo]
    return Predict.withDemos(p, options.maxDemos > 0 ? demos.slice(-options.maxDemos) : demos)
  })
  return { program: next, applied }
}

const text = (description: string) => Signature.field(Schema.String, { description })

/**
 * The signature of the advice call (DSPy's `OfferFeedback`): two trajectories of the program on the same
 * inputs, their rewards, and the module names; per-module advice out.
 *
 * @since 0.1.0
 * @category strategies
 */
export const offerFeedback = Signature.make({
  instructions: [
    "Compare a better and a worse run of the program on the same inputs and advise each of its modules.",
    "The modules will not see these runs again: write advice that would move a module's future behaviour toward the better run on similar inputs.",
    "Be concrete yet general, skip boilerplate, keep each module's advice about its own sub-task, and name every module exactly once as a key."
  ].join(" "),
  inputs: {
    program_code: text("The program's structure: its name and its modules in call order"),
    modules_defn: text("Each module's signature and current instructions"),
    program_inputs: text("The inputs both runs received"),
    oracle_metadata: text("The expected outputs (labels) for these inputs"),
    worse_program_trajectory: text("The module calls of the worse run (inputs and outputs)"),
    worse_program_outputs: text("The worse run's final outputs"),
    worse_reward_value: text("The worse run's reward"),
    better_program_trajectory: text("The module calls of the better run (inputs and outputs)"),
    better_program_outputs: text("The better run's final outputs"),
    better_reward_value: text("The better run's reward"),
    worse_reward_info: text("What the metric said about the worse run"),
    better_reward_info: text("What the metric said about the better run"),
    module_names: Signature.field(Schema.Array(Schema.String), { description: "The modules to advise" })
  },
  outputs: {
    discussion: text("What the better run did differently, module by module"),
    module_advice: Signature.field(Schema.Record({ key: Schema.String, value: Schema.String }), {
      description: "For each module name, advice appended to that module's instructions"
    })
  }
})

const json = (value: unknown): string => JSON.stringify(value, null, 2) ?? "null"

const trajectory = (trace: ReadonlyArray<Trace.Entry>) =>
  trace.map((e) => ({ module_name: e.predictorPath, inputs: e.inputs, outputs: e.outputs }))

/**
 * The inputs of the advice call for a bucket: its best and worst rollouts (DSPy blanks the side that is not
 * informative when the two tie).
 *
 * @since 0.1.0
 * @category strategies
 */
export const adviceInputs = (
  program: Module.Program,
  bucket: Bucket,
  options: { readonly p90: number }
): Record<string, unknown> => {
  const side = (r: Rollout) => ({
    trace: r.trace,
    score: r.score as number | string,
    outputs: (r.outputs ?? { error: r.error ?? "no prediction" }) as unknown,
    info: r.feedback ?? r.error ?? ""
  })
  let good = side(bucket.rollouts[0]!)
  let bad = side(bucket.rollouts[bucket.rollouts.length - 1]!)
  const missing = { trace: [], score: "N/A", outputs: { "N/A": "Prediction not available" }, info: "" }
  if ((good.score as number) <= (bad.score as number)) {
    if ((good.score as number) > options.p90) bad = missing
    else good = missing
  }
  const named = Module.namedPredictors(program)
  const example = bucket.rollouts[0]!.example
  return {
    program_code: `${Module.nameOf(program)}: ${named.map((p) => p.path).join(" -> ")}`,
    modules_defn: named
      .map(
        (p) =>
          `${p.path}: ${Predict.signatureString(p.predictor)}\n  instructions: ${p.predictor.signature.instructions}`
      )
      .join("\n"),
    program_inputs: json(example.inputKeys === undefined ? example.toRecord() : example.inputs().toRecord()),
    oracle_metadata: json(example.labels().toRecord()),
    worse_program_trajectory: json(trajectory(bad.trace)),
    worse_program_outputs: json(bad.outputs),
    worse_reward_value: String(bad.score),
    better_program_trajectory: json(trajectory(good.trace)),
    better_program_outputs: json(good.outputs),
    better_reward_value: String(good.score),
    worse_reward_info: bad.info,
    better_reward_info: good.info,
    module_names: named.map((p) => p.path)
  }
}

/**
 * Appends advice to the instructions of the predictors it names (`instructions + "\n\n" + advice`).
 *
 * @since 0.1.0
 * @category strategies
 */
export const applyAdvice = <A extends Module.Program>(
  program: A,
  advice: { readonly [path: string]: string }
): { readonly program: A; readonly applied: boolean } => {
  let applied = false
  const next = Module.mapPredictors(program, (p, path) => {
    const text = advice[path]
    if (typeof text !== "string" || text.trim() === "") return p
    applied = true
    return Predict.withInstructions(p, `${p.signature.instructions}\n\n${text.trim()}`)
  })
  return { program: next, applied }
}

/**
 * The "append a rule" strategy: an LM compares the bucket's best and worst rollouts and writes advice per
 * module, appended to each module's instructions. Skipped (`applied: false`, no LM call) when the best score
 * is at or below the batch's 10th percentile or the worst at or above its 90th.
 *
 * @since 0.1.0
 * @category strategies
 */
export const appendRule = <A extends Module.Program>(
  program: A,
  bucket: Bucket,
  options: { readonly p10: number; readonly p90: number; readonly promptModel: LM.Service | undefined }
): Effect.Effect<{ readonly program: A; readonly applied: boolean }, Predict.PredictError, LM.LM> =>
  Effect.map(adviceFor(program, bucket, options), (advice) =>
    advice === undefined ? { program, applied: false } : applyAdvice(program, advice)
  )

/**
 * The advice call of {@link appendRule} alone (what a checkpointed unit stores): the per-module advice, or
 * `undefined` without an LM call when the bucket is not informative (best at or below the 10th percentile,
 * or worst at or above the 90th).
 *
 * @since 0.1.0
 * @category strategies
 */
export const adviceFor = (
  program: Module.Program,
  bucket: Bucket,
  options: { readonly p10: number; readonly p90: number; readonly promptModel: LM.Service | undefined }
): Effect.Effect<{ readonly [path: string]: string } | undefined, Predict.PredictError, LM.LM> => {
  const good = bucket.rollouts[0]!
  const bad = bucket.rollouts[bucket.rollouts.length - 1]!
  if (good.score <= options.p10 || bad.score >= options.p90) return Effect.succeed(undefined)
  const predictor = Predict.withLM(Predict.make(offerFeedback), options.promptModel)
  return Trace.untraced(
    Effect.map(
      Predict.forward(predictor, adviceInputs(program, bucket, options) as never),
      (prediction) => prediction.get("module_advice") as { readonly [path: string]: string }
    )
  )
}
