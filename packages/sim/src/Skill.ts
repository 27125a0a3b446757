/**
 * The skill model: the probability that SimLM answers a task request correctly, from what the prompt
 * contains. P(correct) = sigmoid(b0 + bReason * [a reasoning field precedes the answer]
 * + bDemo * min(correct relevant demos, 4) - bWrong * wrong demos + bInstr * min(helpful features, 3)
 * - bBad * min(harmful features, 2) + evidence + difficulty + model offset).
 *
 * @since 0.1.0
 */
import type * as Prompt from "./Prompt.js"
import * as Task from "./Task.js"

/**
 * What the skill model read from a prompt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Features {
  readonly reasoningFirst: boolean
  readonly goodDemos: number
  readonly wrongDemos: number
  readonly irrelevantDemos: number
  readonly helpful: ReadonlyArray<string>
  readonly harmful: ReadonlyArray<string>
}

/**
 * The logistic function.
 *
 * @since 0.1.0
 * @category math
 */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

const HINT_FIELDS = /hint|advice|feedback|guidance|tip/i

/**
 * The instruction text the features are read from: the instructions plus any hint-like request input (a
 * Refine hint, SIMBA advice).
 *
 * @since 0.1.0
 * @category features
 */
export const instructionText = (parsed: Prompt.Parsed): string =>
  [
    parsed.instructions,
    ...Object.entries(parsed.request)
      .filter(([k]) => HINT_FIELDS.test(k))
      .map(([, v]) => v)
  ].join("\n")

/**
 * The hidden features of a task found in an instruction text.
 *
 * @since 0.1.0
 * @category features
 */
export const instructionFeatures = (
  task: Task.AnyTask,
  text: string
): { readonly helpful: Array<string>; readonly harmful: Array<string> } => ({
  helpful: task.helpful.filter((f) => f.patterns.some((p) => p.test(text))).map((f) => f.name),
  harmful: task.harmful.filter((f) => f.patterns.some((p) => p.test(text))).map((f) => f.name)
})

/**
 * Whether a demo's outputs agree with the hidden solver: `undefined` when the demo is not of this task.
 *
 * @since 0.1.0
 * @category features
 */
export const judgeDemo = (
  task: Task.AnyTask,
  outputs: ReadonlyArray<Prompt.Field>,
  demo: Prompt.Demo
): boolean | undefined => {
  const solution = task.solve(demo.inputs, "")
  if (solution === undefined) return undefined
  const expected = task.assign(outputs, solution.gold)
  const keys = Object.keys(expected).filter((k) => !task.softFields.includes(k.toLowerCase()))
  if (keys.length === 0) return undefined
  return keys.every((k) => demo.outputs[k] !== undefined && Task.sameValue(demo.outputs[k], expected[k]))
}

/**
 * Reads the skill features of a prompt for a task request.
 *
 * @since 0.1.0
 * @category features
 */
export const features = (task: Task.AnyTask, parsed: Prompt.Parsed, solution: Task.Solution): Features => {
  let goodDemos = 0
  let wrongDemos = 0
  let irrelevantDemos = 0
  for (const demo of parsed.demos) {
    const verdict = judgeDemo(task, parsed.outputs, demo)
    if (verdict === undefined) irrelevantDemos++
    else if (verdict) goodDemos++
    else wrongDemos++
  }
  const answerKeys = Object.keys(task.assign(parsed.outputs, solution.gold)).filter(
    (k) => !task.softFields.includes(k.toLowerCase())
  )
  const answerAt = Math.min(...answerKeys.map((k) => parsed.outputOrder.indexOf(k)).filter((i) => i >= 0))
  const reasoningAt = parsed.outputOrder.findIndex((n) => Task.isReasoningField(n))
  const { helpful, harmful } = instructionFeatures(task, instructionText(parsed))
  return {
    reasoningFirst: reasoningAt >= 0 && reasoningAt < answerAt,
    goodDemos,
    wrongDemos,
    irrelevantDemos,
    helpful,
    harmful
  }
}

/**
 * The logit of answering correctly.
 *
 * @since 0.1.0
 * @category model
 */
export const logit = (params: Task.SkillParams, f: Features, solution: Task.Solution, modelOffset = 0): number =>
  params.b0 +
  (f.reasoningFirst ? params.bReason : 0) +
  params.bDemo * Math.min(f.goodDemos, 4) -
  params.bWrong * f.wrongDemos +
  params.bInstr * Math.min(f.helpful.length, 3) -
  params.bBad * Math.min(f.harmful.length, 2) +
  solution.evidence +
  solution.difficulty +
  modelOffset

/**
 * The probability of answering correctly.
 *
 * @since 0.1.0
 * @category model
 */
export const probability = (params: Task.SkillParams, f: Features, solution: Task.Solution, modelOffset = 0): number =>
  sigmoid(logit(params, f, solution, modelOffset))
