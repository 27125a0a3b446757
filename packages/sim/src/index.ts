/**
 * The simulated LM: a `Provider` that reads the adapters' prompts, with a calibrated skill model, its
 * `simulated` provider kind and layers.
 *
 * @since 0.1.0
 */
export * as SimLM from "./SimLM.js"

/**
 * Every error of the sim package (`SimConfigError`, `SimServerError`), their union and guard.
 *
 * @since 0.1.0
 */
export * as SimError from "./SimError.js"

/**
 * The simulated LM's answer function (shared by the provider and the server).
 *
 * @since 0.1.0
 */
export * as Engine from "./Engine.js"

/**
 * The local OpenAI-compatible server in front of the simulated LM.
 *
 * @since 0.1.0
 */
export * as SimServer from "./Server.js"

/**
 * The contract of a simulated task, and dataset splits.
 *
 * @since 0.1.0
 */
export * as SimTask from "./Task.js"

/**
 * The arithmetic word-problem task.
 *
 * @since 0.1.0
 */
export * as Arithmetic from "./Arithmetic.js"

/**
 * The query-routing task.
 *
 * @since 0.1.0
 */
export * as Routing from "./Routing.js"

/**
 * The vision task: counting the shapes of generated PNGs, solved from their pixels.
 *
 * @since 0.1.0
 */
export * as Vision from "./Vision.js"

/**
 * The multi-hop task, its knowledge base and search.
 *
 * @since 0.1.0
 */
export * as Multihop from "./Multihop.js"

/**
 * The typed-extraction task.
 *
 * @since 0.1.0
 */
export * as Extraction from "./Extraction.js"

/**
 * The simulated LM's fault profiles.
 *
 * @since 0.1.0
 */
export * as SimFaults from "./Faults.js"

/**
 * Drift of the simulated LM, settable at run time: a task's accuracy drops, or its traffic shifts to harder
 * examples.
 *
 * @since 0.1.0
 */
export * as SimDrift from "./Drift.js"

/**
 * The simulated LM's latency profiles.
 *
 * @since 0.1.0
 */
export * as SimLatency from "./Latency.js"

/**
 * Deterministic hashed n-gram embeddings.
 *
 * @since 0.1.0
 */
export * as SimEmbeddings from "./Embeddings.js"

/**
 * Instruction concepts: what an instruction means to the simulated LM (each task's helpful and harmful
 * strategies, their surface forms and the failure categories they address).
 *
 * @since 0.1.0
 */
export * as SimConcepts from "./Concepts.js"

/**
 * Reading text for meaning: stemming, phrase patterns, negation scope, on-task vocabulary.
 *
 * @since 0.1.0
 */
export * as SimMeaning from "./Meaning.js"

/**
 * The skill model: P(correct) from reasoning, demos and the instruction's meaning.
 *
 * @since 0.1.0
 */
export * as SimSkill from "./Skill.js"

/**
 * The calibration probes (instructions and demo sets) shared by the tests and `pnpm bench calibration`.
 *
 * @since 0.1.0
 */
export * as Probes from "./Probes.js"
