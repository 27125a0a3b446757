/**
 * The calibration probes of the simulated LM on arithmetic, shared by the tests and `pnpm bench calibration`:
 * instructions (nonsense that contains the rewarded phrases, negated strategies, a paraphrase the proposer
 * never writes, neutral rewordings) and demo sets (answer-only labelled, bootstrapped with worked reasoning,
 * trivial, duplicated, wrong). Each probe is run as a ChainOfThought over `question -> answer: int`.
 *
 * @since 0.1.0
 */
import * as Arithmetic from "./Arithmetic.js"

/**
 * Nonsense that contains the rewarded phrases ("step by step", "verify", "double-check", "intermediate
 * values").
 *
 * @since 0.1.0
 * @category instructions
 */
export const nonsense =
  "Purple elephants step by step verify the moon while bananas double-check intermediate values of the ocean."

/**
 * The strategies, negated and prohibited.
 *
 * @since 0.1.0
 * @category instructions
 */
export const negated = "Do not think step by step. Never verify the answer, and don't write down intermediate values."

/**
 * The canonical instruction's strategies in words the proposer never writes.
 *
 * @since 0.1.0
 * @category instructions
 */
export const paraphrase =
  "Go through the problem one operation at a time, noting the running total after every step; express every quantity in the same unit, compute the contents of each pack before adding, keep fractions exact, and confirm your arithmetic before you answer."

/**
 * Two rewordings with no strategy content.
 *
 * @since 0.1.0
 * @category instructions
 */
export const neutral: readonly [string, string] = ["Answer the question.", "Please respond to the following question."]

/**
 * The canonical best instruction of arithmetic.
 *
 * @since 0.1.0
 * @category instructions
 */
export const canonical: string = Arithmetic.inventory.canonical

/**
 * A demo as plain fields (`reasoning` absent for answer-only demos).
 *
 * @since 0.1.0
 * @category models
 */
export interface Demo {
  readonly question: string
  readonly reasoning?: string
  readonly answer: number
}

/**
 * The demo sets built from (at least 4) training examples: `labeled` (answer only), `bootstrapped` (with the
 * worked reasoning a correct run of the model writes), `trivial` (`What is 2 + 3?`), `duplicate` (one
 * bootstrapped demo four times), `wrong` (plausible wrong answers with their reasoning).
 *
 * @since 0.1.0
 * @category demos
 */
export const demoSets = (
  train: ReadonlyArray<Arithmetic.Example>
): {
  readonly labeled: ReadonlyArray<Demo>
  readonly bootstrapped: ReadonlyArray<Demo>
  readonly trivial: ReadonlyArray<Demo>
  readonly duplicate: ReadonlyArray<Demo>
  readonly wrong: ReadonlyArray<Demo>
} => {
  const four = train.slice(0, 4)
  if (four.length < 4) throw new RangeError(`demoSets needs at least 4 training examples, got ${train.length}`)
  const solved = four.map((e) => {
    const s = Arithmetic.task.solve({ question: e.question }, "")
    if (s === undefined) throw new RangeError(`not an arithmetic problem: ${e.question}`)
    return [e, s] as const
  })
  const bootstrapped = solved.map(([e, s]) => ({
    question: e.question,
    reasoning: s.reasoning(undefined),
    answer: e.answer
  }))
  const trivial: Array<Demo> = [
    [2, 3],
    [4, 1],
    [6, 2],
    [3, 3]
  ].map(([a, b]) => ({ question: `What is ${a} + ${b}?`, reasoning: `${a} + ${b} = ${a! + b!}.`, answer: a! + b! }))
  return {
    labeled: four.map((e) => ({ question: e.question, answer: e.answer })),
    bootstrapped,
    trivial,
    duplicate: [bootstrapped[0]!, bootstrapped[0]!, bootstrapped[0]!, bootstrapped[0]!],
    wrong: solved.map(([e, s]) => {
      const f = s.failures[0]!
      return { question: e.question, reasoning: s.reasoning(f), answer: Number(f.values["answer"]) }
    })
  }
}
