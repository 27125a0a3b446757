/**
 * MultiHopQA: answers a complex question in steps (from the design): decompose it into sub-questions,
 * answer each sub-question with a chain of thought over the context (given documents plus, when a
 * `retrieve` function is supplied, documents retrieved for the sub-question), then synthesize the final
 * answer from the sub-answers.
 *
 * Each step runs in a span (`multihop.question_decomposition`, `multihop.sub_question`, `multihop.synthesis`;
 * created when a tracer is installed) and,
 * when the `Events` service is in the context, records `<step>_start` / `<step>_complete` events under the
 * request's correlation id: the step events' parent is the module's `module_execution_start` event, and
 * the events of the predictors inside a step have the step's start event as parent.
 *
 * @since 0.1.0
 */
import { Correlation, Events } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CoreEvents from "../CoreEvents.js"
import type * as LM from "../lm/LM.js"
import * as Instrument from "../primitives/internal/instrument.js"
import * as Module from "../primitives/Module.js"
import * as Prediction from "../primitives/Prediction.js"
import * as Signature from "../signature/Signature.js"
import * as ChainOfThought from "./ChainOfThought.js"
import type * as Predict from "./Predict.js"

/**
 * The decomposition signature.
 *
 * @since 0.1.0
 * @category signatures
 */
export const Decompose = Signature.make("question -> sub_questions: list[str]", {
  instructions: "Break the complex question into the simpler sub-questions that must be answered first, in order.",
  descriptions: {
    question: "Complex question requiring multiple reasoning steps",
    sub_questions: "The sub-questions, each answerable from one fact"
  }
})

/**
 * The sub-question signature.
 *
 * @since 0.1.0
 * @category signatures
 */
export const AnswerSubQuestion = Signature.make("question, context: list[str] -> answer", {
  descriptions: { context: "Available context documents" }
})

/**
 * The synthesis signature.
 *
 * @since 0.1.0
 * @category signatures
 */
export const Synthesize = Signature.make("question, context: list[str], sub_answers: list[str] -> answer", {
  instructions:
    "Answer complex questions by breaking them into steps and gathering information for each step. Use the answers to the sub-questions to give the final answer.",
  descriptions: { sub_answers: "Each sub-question with its answer" }
})

/**
 * One answered sub-question.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReasoningStep {
  readonly question: string
  readonly rationale: string
  readonly answer: string
}

/**
 * The outputs: the reasoning steps, the synthesis's reasoning and the final answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outputs {
  readonly [key: string]: unknown
  readonly reasoning_steps: ReadonlyArray<ReasoningStep>
  readonly reasoning: string
  readonly answer: string
}

/**
 * The inputs: the question and optional context documents.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inputs {
  readonly question: string
  readonly context?: ReadonlyArray<string>
}

/**
 * Options: a retriever for sub-questions, how many sub-questions run at once (default 1: in order, as the
 * design, each hop seeing what the earlier ones found; above 1 they run independently), the most sub-questions
 * used (default 4), and predictor options. The synthesis sees every document retrieved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<RR = never> {
  readonly retrieve?: (query: string) => Effect.Effect<ReadonlyArray<string>, never, RR>
  readonly concurrency?: number
  readonly maxSubQuestions?: number
  readonly predict?: Predict.Options
}

/**
 * Runs a step in a span and, with `Events`, between its start and complete events (a pair of definitions, such
 * as `CoreEvents.SubQuestion`); the step's body runs with its start event as the parent of the events it records.
 *
 * @since 0.1.0
 * @category combinators
 */
export const step = <Name extends string, S, SI extends Events.Data, C, CI extends Events.Data, A, E, R>(
  events: CoreEvents.StepEvents<Name, S, SI, C, CI>,
  data: NoInfer<S>,
  body: Effect.Effect<A, E, R>,
  completeData: (a: A) => NoInfer<C>
): Effect.Effect<A, E, R> =>
  Instrument.span(`multihop.${events.name}`, { "dspy.step": events.name })(
    Effect.flatMap(Effect.serviceOption(Events.Events), (store) => {
      if (Option.isNone(store)) return body
      return Effect.gen(function* () {
        const start = yield* Events.publishOrLog(events.start, data, { events: store })
        const result = yield* Option.isSome(start) ? Correlation.withParentId(start.value.id)(body) : body
        yield* Events.publishOrLog(events.complete, completeData(result), {
          events: store,
          parentId: Option.isSome(start) ? start.value.id : undefined
        })
        return result
      })
    })
  )

/** The distinct strings, first occurrence first. */
const unique = (xs: ReadonlyArray<string>): Array<string> => [...new Set(xs)]

/**
 * Builds the module. Its predictors are `decompose.predict`, `answer.predict` and `synthesize.predict`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <RR = never>(options: Options<RR> = {}) => {
  const predictOptions = options.predict ?? {}
  const concurrency = options.concurrency ?? 1
  const maxSubQuestions = options.maxSubQuestions ?? 4
  return Module.make({
    name: "MultiHopQA",
    signature: "question, context: list[str] -> reasoning_steps: list[dict], answer: str",
    parameters: {
      decompose: ChainOfThought.make(Decompose, predictOptions),
      answer: ChainOfThought.make(AnswerSubQuestion, predictOptions),
      synthesize: ChainOfThought.make(Synthesize, predictOptions)
    },
    forward: (p, inputs: Inputs): Effect.Effect<Prediction.Prediction<Outputs>, Predict.PredictError, LM.LM | RR> =>
      Correlation.ensureCorrelationId(
        Effect.gen(function* () {
          const context = inputs.context ?? []
          const decomposed = yield* step(
            CoreEvents.QuestionDecomposition,
            { question: inputs.question },
            p.decompose({ question: inputs.question }),
            (d) => ({
              question: inputs.question,
              sub_questions: d.get("sub_questions"),
              sub_question_count: d.get("sub_questions").length
            })
          )
          const subQuestions = decomposed.get("sub_questions").slice(0, maxSubQuestions)
          // Documents retrieved for each sub-question, by index. In order (concurrency 1), each hop also sees
          // what the earlier hops found: its retrieval query carries their answers and its context their
          // documents, so a second hop can follow the bridge entity the first one found.
          const retrievedBy: Array<ReadonlyArray<string>> = subQuestions.map(() => [])
          const answersSoFar: Array<string> = []
          const chained = concurrency === 1
          const answered = yield* Effect.forEach(
            subQuestions,
            (question, i) =>
              step(
                CoreEvents.SubQuestion,
                { sub_question: question },
                Effect.gen(function* () {
                  const query = chained && answersSoFar.length > 0 ? `${question} ${answersSoFar.join(" ")}` : question
                  retrievedBy[i] = options.retrieve === undefined ? [] : yield* options.retrieve(query)
                  const evidence = chained ? unique(retrievedBy.slice(0, i + 1).flat()) : retrievedBy[i]!
                  const answer = yield* p.answer({ question, context: [...context, ...evidence] })
                  answersSoFar.push(String(answer.get("answer")))
                  return answer
                }),
                (a) => ({ sub_question: question, rationale: a.get("reasoning"), answer: a.get("answer") })
              ),
            { concurrency }
          )
          const gathered = unique(retrievedBy.flat())
          const steps: Array<ReasoningStep> = subQuestions.map((question, i) => ({
            question,
            rationale: answered[i]!.get("reasoning"),
            answer: answered[i]!.get("answer")
          }))
          const final = yield* step(
            CoreEvents.Synthesis,
            { question: inputs.question, step_count: steps.length },
            p.synthesize({
              question: inputs.question,
              context: [...context, ...gathered],
              sub_answers: steps.map((s) => `${s.question} -> ${s.answer}`)
            }),
            (f) => ({ question: inputs.question, answer: f.get("answer") })
          )
          const all = [decomposed, ...answered, final]
          return Prediction.fromOutputs<Outputs>(
            { reasoning_steps: steps, reasoning: final.get("reasoning"), answer: final.get("answer") },
            { from: all }
          )
        })
      )
  })
}
