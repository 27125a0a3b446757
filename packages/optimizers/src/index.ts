/**
 * The optimizer contract: `compile(optimizer, student, options)`, the run helpers, reports and progress.
 *
 * @since 0.1.0
 */
export * as Optimizer from "./Optimizer.js"

/**
 * The errors of optimizers (invalid training data, options, budget, too many errors, checkpoints).
 *
 * @since 0.1.0
 */
export * as OptimizerError from "./OptimizerError.js"

/**
 * The typed definitions of every event an optimizer run publishes.
 *
 * @since 0.1.0
 */
export * as OptimizerEvents from "./OptimizerEvents.js"

/**
 * Budgets: max LM calls or cost per run, and what was spent.
 *
 * @since 0.1.0
 */
export * as Budget from "./Budget.js"

/**
 * Checkpoint stores: finished units of optimizer work, so a restarted run resumes.
 *
 * @since 0.1.0
 */
export * as Checkpoint from "./Checkpoint.js"

/**
 * Progress events of an optimizer run.
 *
 * @since 0.1.0
 */
export * as Progress from "./Progress.js"

/**
 * Training-data validation against a program and its metric.
 *
 * @since 0.1.0
 */
export * as TrainingData from "./TrainingData.js"

/**
 * LabeledFewShot: k seeded training examples as demos for every predictor.
 *
 * @since 0.1.0
 */
export * as LabeledFewShot from "./few-shot/LabeledFewShot.js"

/**
 * BootstrapFewShot: demos from the traces of a teacher's successful runs.
 *
 * @since 0.1.0
 */
export * as BootstrapFewShot from "./few-shot/BootstrapFewShot.js"

/**
 * BootstrapFewShotWithRandomSearch: zero-shot, labeled, bootstrapped and shuffled-bootstrap candidates, best
 * on the valset.
 *
 * @since 0.1.0
 */
export * as BootstrapFewShotWithRandomSearch from "./few-shot/BootstrapFewShotWithRandomSearch.js"

/**
 * TPE: a tree-structured Parzen estimator over categorical parameters (MIPROv2's Bayesian sampler).
 *
 * @since 0.1.0
 */
export * as TPE from "./instruction-search/TPE.js"

/**
 * Dataset summaries for instruction proposal (descriptor calls over batches, then a summarizer).
 *
 * @since 0.1.0
 */
export * as DatasetSummary from "./instruction-search/DatasetSummary.js"

/**
 * The grounded instruction proposer: dataset summary, program and module descriptions, tips and demos.
 *
 * @since 0.1.0
 */
export * as GroundedProposer from "./instruction-search/GroundedProposer.js"

/**
 * COPRO: coordinate-ascent instruction and prefix search with a prompt model.
 *
 * @since 0.1.0
 */
export * as COPRO from "./instruction-search/COPRO.js"

/**
 * MIPROv2: instructions and demo sets searched together with TPE over minibatch trials.
 *
 * @since 0.1.0
 */
export * as MIPROv2 from "./instruction-search/MIPROv2.js"

/**
 * Embedders for retrieval: the LM service's `embed`, cosine similarity, nearest neighbours (core's `Embedder`,
 * re-exported: KNNFewShot and core's retrieval share it).
 *
 * @since 0.1.0
 */
export { Embedder } from "@effect-dspy/core"

/**
 * KNNFewShot: per call, bootstrap on the k nearest training examples.
 *
 * @since 0.1.0
 */
export * as KNNFewShot from "./few-shot/KNNFewShot.js"

/**
 * Ensemble: several programs reduced to one prediction (majority by default).
 *
 * @since 0.1.0
 */
export * as Ensemble from "./composite/Ensemble.js"

/**
 * Metrics with feedback: a score with a line of text (GEPA's reflection reads it); plain metrics fit too.
 *
 * @since 0.1.0
 */
export * as Feedback from "./Feedback.js"

/**
 * SIMBA: softmax-sampled rollouts over LM variants, new programs from the largest score spreads (a demo
 * from the best run, or LM-written per-module advice), scored on minibatches.
 *
 * @since 0.1.0
 */
export * as SIMBA from "./evolutionary/SIMBA.js"

/**
 * GEPA: reflective instruction evolution over a per-instance Pareto front, with merges, under a metric-call
 * budget.
 *
 * @since 0.1.0
 */
export * as GEPA from "./evolutionary/GEPA.js"

/**
 * The adaptive optimizer: chooses by override, past runs on the same program, or trainset size.
 *
 * @since 0.1.0
 */
export * as AdaptiveOptimizer from "./composite/AdaptiveOptimizer.js"
