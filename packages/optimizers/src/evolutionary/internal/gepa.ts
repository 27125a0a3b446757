/**
 * GEPA's algorithm pieces: the per-instance Pareto front over the valset, removal of dominated candidates,
 * frequency-weighted parent selection, round-robin component choice, the epoch-shuffled minibatch sampler,
 * the reflective dataset and its prompt text, component-wise merge, and DSPy's auto budget.
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import type { Trace } from "@effect-dspy/core"
import { Signature } from "@effect-dspy/core"
import * as Schema from "effect/Schema"
import * as Feedback from "../../Feedback.js"

// ---------------------------------------------------------------------------------------------------------------
// Pareto fronts
// ---------------------------------------------------------------------------------------------------------------

/**
 * For each valset instance: the best score seen and the candidates achieving it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fronts {
  readonly best: Array<number>
  readonly members: Array<Set<number>>
}

/**
 * The fronts of a single candidate (the seed program).
 *
 * @since 0.1.0
 * @category fronts
 */
export const initialFronts = (id: number, scores: ReadonlyArray<number>): Fronts => ({
  best: [...scores],
  members: scores.map(() => new Set([id]))
})

/**
 * Adds a candidate's valset scores: on each instance it replaces the front when strictly better, joins it
 * when equal. Returns the instances where it is now on the front.
 *
 * @since 0.1.0
 * @category fronts
 */
export const updateFronts = (fronts: Fronts, id: number, scores: ReadonlyArray<number>): Array<number> => {
  const on: Array<number> = []
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!
    if (s > fronts.best[i]!) {
      fronts.best[i] = s
      fronts.members[i] = new Set([id])
      on.push(i)
    } else if (s === fronts.best[i]!) {
      fronts.members[i]!.add(id)
      on.push(i)
    }
  }
  return on
}

/**
 * The candidates that are not dominated: a candidate is dominated when every front it is on also holds
 * another surviving candidate (removing it loses no instance). Candidates are tried lowest average first,
 * one removal at a time, as in GEPA.
 *
 * @since 0.1.0
 * @category fronts
 */
export const dominators = (fronts: Fronts, averageOf: (id: number) => number): Array<number> => {
  const ids: Array<number> = []
  for (const front of fronts.members) for (const id of front) if (!ids.includes(id)) ids.push(id)
  const order = ids.map((id, i) => ({ id, i })).sort((a, b) => averageOf(a.id) - averageOf(b.id) || a.i - b.i)
  const dominated = new Set<number>()
  let removed = true
  while (removed) {
    removed = false
    for (const { id } of order) {
      if (dominated.has(id)) continue
      const covered = fronts.members
        .filter((front) => front.has(id))
        .every((front) => [...front].some((other) => other !== id && !dominated.has(other)))
      if (covered) {
        dominated.add(id)
        removed = true
        break
      }
    }
  }
  return ids.filter((id) => !dominated.has(id))
}

/**
 * How many instances each non-dominated candidate is on the front of, in first-seen order.
 *
 * @since 0.1.0
 * @category fronts
 */
export const frontFrequencies = (fronts: Fronts, averageOf: (id: number) => number): Array<[number, number]> => {
  const keep = new Set(dominators(fronts, averageOf))
  const counts = new Map<number, number>()
  for (const front of fronts.members)
    for (const id of front) if (keep.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1)
  return [...counts.entries()]
}

/**
 * A parent drawn from the front, each non-dominated candidate weighted by the number of instances it is
 * best on.
 *
 * @since 0.1.0
 * @category selection
 */
export const selectParent = (fronts: Fronts, averageOf: (id: number) => number, rng: Random.Random): number => {
  const freq = frontFrequencies(fronts, averageOf)
  const total = freq.reduce((a, [, c]) => a + c, 0)
  let u = rng.int(total)
  for (const [id, count] of freq) {
    if (u < count) return id
    u -= count
  }
  return freq[freq.length - 1]![0]
}

// ---------------------------------------------------------------------------------------------------------------
// Minibatches and components
// ---------------------------------------------------------------------------------------------------------------

/**
 * The training ids of minibatch `k` (0-based): the trainset is shuffled once per epoch (seeded) and padded
 * to a multiple of `size` with its first ids, then cut into consecutive batches.
 *
 * @since 0.1.0
 * @category minibatches
 */
export const minibatch = (seed: number, trainSize: number, size: number, k: number): Array<number> => {
  const b = Math.min(size, trainSize)
  const perEpoch = Math.ceil(trainSize / b)
  const epoch = Math.floor(k / perEpoch)
  const order = Random.make(seed, "gepa", "epoch", epoch).shuffle(Array.from({ length: trainSize }, (_, i) => i))
  const padded = [...order]
  for (let i = 0; padded.length % b !== 0; i++) padded.push(order[i]!)
  const at = (k % perEpoch) * b
  return padded.slice(at, at + b)
}

/**
 * The next component of a candidate in round-robin order, and the pointer after it.
 *
 * @since 0.1.0
 * @category components
 */
export const roundRobin = (
  components: ReadonlyArray<string>,
  pointer: number
): { readonly component: string; readonly next: number } => ({
  component: components[pointer % components.length]!,
  next: (pointer + 1) % components.length
})

// ---------------------------------------------------------------------------------------------------------------
// Reflection
// ---------------------------------------------------------------------------------------------------------------

/**
 * One record of the reflective dataset: a call of the component on a minibatch example, with the feedback.
 *
 * @since 0.1.0
 * @category reflection
 */
export interface ReflectionRecord {
  readonly inputs: { readonly [key: string]: unknown }
  readonly outputs: { readonly [key: string]: unknown } | string
  readonly feedback: string
}

/**
 * The reflective dataset of a component: for each minibatch run, one of the component's calls (the last;
 * a failed run shows its error) and the metric's feedback.
 *
 * @since 0.1.0
 * @category reflection
 */
export const reflectiveDataset = (
  component: string,
  runs: ReadonlyArray<{
    readonly inputs: { readonly [key: string]: unknown }
    readonly trace: ReadonlyArray<Trace.Entry>
    readonly scored: Feedback.Scored
    readonly error: string | undefined
  }>
): Array<ReflectionRecord> =>
  runs.flatMap((run): Array<ReflectionRecord> => {
    const calls = run.trace.filter((e) => e.predictorPath === component)
    const call = calls[calls.length - 1]
    if (call === undefined) {
      return run.error === undefined
        ? []
        : [
            {
              inputs: run.inputs,
              outputs: `The program failed: ${run.error}`,
              feedback: Feedback.feedbackText(run.scored)
            }
          ]
    }
    return [{ inputs: call.inputs, outputs: call.outputs, feedback: Feedback.feedbackText(run.scored) }]
  })

const render = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value) ?? "null"))

/**
 * The reflective dataset as markdown: per example its inputs, the generated outputs and the feedback.
 *
 * @since 0.1.0
 * @category reflection
 */
export const formatDataset = (records: ReadonlyArray<ReflectionRecord>): string =>
  records
    .map((r, i) => {
      const inputs = Object.entries(r.inputs)
        .map(([k, v]) => `### ${k}\n${render(v)}`)
        .join("\n")
      const outputs =
        typeof r.outputs === "string"
          ? r.outputs
          : Object.entries(r.outputs)
              .map(([k, v]) => `### ${k}\n${render(v)}`)
              .join("\n")
      return `# Example ${i + 1}\n## Inputs\n${inputs}\n## Generated Outputs\n${outputs}\n## Feedback\n${r.feedback}`
    })
    .join("\n\n")

/**
 * The signature of the reflection call: the current instruction and the examples with feedback in, a new
 * instruction out.
 *
 * @since 0.1.0
 * @category reflection
 */
export const proposeInstruction = Signature.make({
  instructions: [
    "An assistant followed the instruction below on several task inputs; each example shows the inputs, what the assistant produced, and feedback on how good it was.",
    "Write a new instruction for the assistant that keeps what worked and fixes what the feedback points out.",
    "Capture the task's specifics and any general strategy that helped, so the assistant does better on new inputs of this kind."
  ].join(" "),
  inputs: {
    current_instruction: Signature.field(Schema.String, { description: "The instruction the assistant followed" }),
    examples_with_feedback: Signature.field(Schema.String, {
      description: "Task inputs, the assistant's outputs and feedback on each"
    })
  },
  outputs: {
    new_instruction: Signature.field(Schema.String, { description: "The improved instruction" })
  }
})

// ---------------------------------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------------------------------

/**
 * The ancestors of a candidate (parents, their parents, ...), excluding itself.
 *
 * @since 0.1.0
 * @category merge
 */
export const ancestors = (parentsOf: (id: number) => ReadonlyArray<number>, id: number): Set<number> => {
  const out = new Set<number>()
  const stack = [...parentsOf(id)]
  while (stack.length > 0) {
    const p = stack.pop()!
    if (out.has(p)) continue
    out.add(p)
    stack.push(...parentsOf(p))
  }
  return out
}

/**
 * The component-wise merge of two descendants of an ancestor: where one changed a component and the other
 * kept the ancestor's, take the change; where both changed it, take the better-scoring parent's; else keep
 * the ancestor's.
 *
 * @since 0.1.0
 * @category merge
 */
export const mergeComponents = (
  ancestor: { readonly [component: string]: string },
  a: { readonly texts: { readonly [component: string]: string }; readonly score: number },
  b: { readonly texts: { readonly [component: string]: string }; readonly score: number }
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const key of Object.keys(ancestor)) {
    const x = a.texts[key]!
    const y = b.texts[key]!
    const base = ancestor[key]!
    if (x === base && y !== base) out[key] = y
    else if (y === base && x !== base) out[key] = x
    else if (x !== base && y !== base) out[key] = a.score >= b.score ? x : y
    else out[key] = base
  }
  return out
}

/**
 * True when a merge of `a` and `b` over the ancestor would combine something: some component changed in
 * one of them only.
 *
 * @since 0.1.0
 * @category merge
 */
export const isDesirableMerge = (
  ancestor: { readonly [component: string]: string },
  a: { readonly [component: string]: string },
  b: { readonly [component: string]: string }
): boolean => {
  const keys = Object.keys(ancestor)
  const onlyA = keys.some((k) => a[k] !== ancestor[k] && b[k] === ancestor[k])
  const onlyB = keys.some((k) => b[k] !== ancestor[k] && a[k] === ancestor[k])
  return onlyA && onlyB
}

/**
 * A merge plan: two front candidates and a common ancestor.
 *
 * @since 0.1.0
 * @category merge
 */
export interface MergePlan {
  readonly a: number
  readonly b: number
  readonly ancestor: number
}

/**
 * Finds two non-dominated candidates with a common ancestor whose merge would combine changes from both (and
 * whose triple was not tried), trying up to `attempts` random pairs.
 *
 * @since 0.1.0
 * @category merge
 */
export const findMerge = (options: {
  readonly candidates: ReadonlyArray<number>
  readonly parentsOf: (id: number) => ReadonlyArray<number>
  readonly textsOf: (id: number) => { readonly [component: string]: string }
  readonly averageOf: (id: number) => number
  readonly tried: ReadonlySet<string>
  readonly rng: Random.Random
  readonly attempts?: number
}): MergePlan | undefined => {
  const { candidates, rng } = options
  if (candidates.length < 2) return undefined
  for (let attempt = 0; attempt < (options.attempts ?? 10); attempt++) {
    const [x, y] = rng.sample(candidates, 2) as [number, number]
    const a = Math.min(x, y)
    const b = Math.max(x, y)
    const ofA = ancestors(options.parentsOf, a)
    const ofB = ancestors(options.parentsOf, b)
    if (ofA.has(b) || ofB.has(a)) continue
    const common = [...ofA]
      .filter((id) => ofB.has(id))
      .sort((p, q) => p - q)
      .filter(
        (anc) =>
          !options.tried.has(`${a},${b},${anc}`) &&
          options.averageOf(anc) <= Math.min(options.averageOf(a), options.averageOf(b)) &&
          isDesirableMerge(options.textsOf(anc), options.textsOf(a), options.textsOf(b))
      )
    if (common.length === 0) continue
    const weights = common.map((anc) => Math.max(options.averageOf(anc), 0) + 1e-6)
    const total = weights.reduce((s, w) => s + w, 0)
    let u = rng.next() * total
    let ancestor = common[common.length - 1]!
    for (let i = 0; i < common.length; i++) {
      u -= weights[i]!
      if (u < 0) {
        ancestor = common[i]!
        break
      }
    }
    return { a, b, ancestor }
  }
  return undefined
}

/**
 * Up to `size` valset instances to test a merge on, balanced between instances where `a` scored higher,
 * where `b` did, and ties.
 *
 * @since 0.1.0
 * @category merge
 */
export const mergeSubsample = (
  scoresA: ReadonlyArray<number>,
  scoresB: ReadonlyArray<number>,
  size: number,
  rng: Random.Random
): Array<number> => {
  const aWins: Array<number> = []
  const bWins: Array<number> = []
  const ties: Array<number> = []
  scoresA.forEach((s, i) => {
    ;(s > scoresB[i]! ? aWins : s < scoresB[i]! ? bWins : ties).push(i)
  })
  const per = Math.ceil(size / 3)
  const picked = [...rng.sample(aWins, per), ...rng.sample(bWins, per), ...rng.sample(ties, per)]
  const rest = rng.shuffle(scoresA.map((_, i) => i).filter((i) => !picked.includes(i)))
  return [...picked, ...rest].slice(0, Math.min(size, scoresA.length)).sort((p, q) => p - q)
}

// ---------------------------------------------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------------------------------------------

/**
 * The candidate counts of the auto presets (as MIPROv2's).
 *
 * @since 0.1.0
 * @category budget
 */
export const autoCandidates = { light: 6, medium: 12, heavy: 18 } as const

/**
 * DSPy's metric-call budget for an auto preset: one valset evaluation, 5 bootstrap trials per candidate, N
 * minibatch trials of 35 and a full evaluation every 5 trials, with N = max(2 * 2V * log2(n), 1.5 n) for V
 * predictors and n candidates.
 *
 * @since 0.1.0
 * @category budget
 */
export const autoBudget = (
  numPredictors: number,
  numCandidates: number,
  valsetSize: number,
  minibatchSize = 35,
  fullEvalSteps = 5
): number => {
  const trials = Math.floor(Math.max(2 * (numPredictors * 2) * Math.log2(numCandidates), 1.5 * numCandidates))
  let total = valsetSize + numCandidates * 5 + trials * minibatchSize
  if (trials === 0) return total
  const periodic = Math.floor((trials + 1) / fullEvalSteps) + 1
  const extra = trials < fullEvalSteps ? 1 : 0
  total += (periodic + extra) * valsetSize
  return total
}
