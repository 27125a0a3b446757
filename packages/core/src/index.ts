/**
 * Every error of the core package in one module (members of foundation's error family), their union and guard.
 *
 * @since 0.1.0
 */
export * as CoreError from "./CoreError.js"

/**
 * The typed definitions of every event the core package publishes.
 *
 * @since 0.1.0
 */
export * as CoreEvents from "./CoreEvents.js"

/**
 * Field types in DSPy's vocabulary (`int`, `list[str]`, `Literal[...]`), their schemas and JSON schemas.
 *
 * @since 0.1.0
 */
export * as FieldType from "./signature/FieldType.js"

/**
 * Signatures: the string and typed forms, immutable edits, merge, validation, JSON form.
 *
 * @since 0.1.0
 */
export * as Signature from "./signature/Signature.js"

/**
 * The errors of signatures.
 *
 * @since 0.1.0
 */
export * as SignatureError from "./signature/SignatureError.js"

/**
 * Image and audio values for `Image` and `Audio` fields: from bytes, files or URLs, sniffed, limited, digested.
 *
 * @since 0.1.0
 */
export * as Media from "./media/Media.js"

/**
 * Examples: records of input and label fields.
 *
 * @since 0.1.0
 */
export * as Example from "./primitives/Example.js"

/**
 * Predictions: the parsed outputs of a module call with all completions and usage.
 *
 * @since 0.1.0
 */
export * as Prediction from "./primitives/Prediction.js"

/**
 * The LM wire model: completion requests, responses, chunks, usage.
 *
 * @since 0.1.0
 */
export * as Completion from "./lm/Completion.js"

/**
 * The LM error family (rate limited, timeout, context window, auth, bad request, server).
 *
 * @since 0.1.0
 */
export * as LMError from "./lm/LMError.js"

/**
 * The provider contract: the raw transport to one LM backend.
 *
 * @since 0.1.0
 */
export * as Provider from "./lm/Provider.js"

/**
 * The LM service: cache, retries, history, usage per run and telemetry in front of a provider.
 *
 * @since 0.1.0
 */
export * as LM from "./lm/LM.js"

/**
 * Provider kinds: how a configured provider's `kind` becomes a provider; the LM layer learns them from its
 * context.
 *
 * @since 0.1.0
 */
export * as ProviderKind from "./lm/ProviderKind.js"

/**
 * The LM retry policy: exponential backoff with jitter for retryable errors, honouring Retry-After.
 *
 * @since 0.1.0
 */
export * as Retry from "./lm/Retry.js"

/**
 * LM call history and its readable rendering.
 *
 * @since 0.1.0
 */
export * as History from "./lm/History.js"

/**
 * Per-model prices and call cost.
 *
 * @since 0.1.0
 */
export * as Pricing from "./lm/Pricing.js"

/**
 * The OpenAI-compatible provider on the official `openai` SDK.
 *
 * @since 0.1.0
 */
export * as OpenAIProvider from "./lm/OpenAIProvider.js"

/**
 * The Anthropic provider (Claude, the Messages API) on the official `@anthropic-ai/sdk`.
 *
 * @since 0.1.0
 */
export * as AnthropicProvider from "./lm/AnthropicProvider.js"

/**
 * What a provider's model can do (context window, output limit, JSON modes, tools, images): the JSON mode and
 * the early fit check of each request.
 *
 * @since 0.1.0
 */
export * as Capabilities from "./lm/Capabilities.js"

/**
 * Token counts of requests (`gpt-tokenizer` for OpenAI's encodings, an approximation for the rest).
 *
 * @since 0.1.0
 */
export * as Tokens from "./lm/Tokens.js"

/**
 * The LM cache: a memory LRU over a SQLite disk cache.
 *
 * @since 0.1.0
 */
export * as LMCache from "./cache/LMCache.js"

/**
 * Cache keys: sha256 of the canonical request.
 *
 * @since 0.1.0
 */
export * as CacheKey from "./cache/CacheKey.js"

/**
 * The adapter contract, `AdapterParseError`, field-level streaming events and the fallback combinator.
 *
 * @since 0.1.0
 */
export * as Adapter from "./adapters/Adapter.js"

/**
 * The `[[ ## field ## ]]` markers and the escaping that keeps values from forging them.
 *
 * @since 0.1.0
 */
export * as FieldMarker from "./adapters/FieldMarker.js"

/**
 * DSPy's ChatAdapter (`[[ ## field ## ]]` sections), with the JSON fallback.
 *
 * @since 0.1.0
 */
export * as ChatAdapter from "./adapters/ChatAdapter.js"

/**
 * DSPy's JSONAdapter (structured outputs, tolerant JSON).
 *
 * @since 0.1.0
 */
export * as JSONAdapter from "./adapters/JSONAdapter.js"

/**
 * Tolerant JSON reading for LM answers.
 *
 * @since 0.1.0
 */
export * as JsonRepair from "./adapters/JsonRepair.js"

/**
 * Modules: immutable programs (a tree of named predictors plus a `forward` Effect), predictor paths,
 * replacement, state dump/load and save/load.
 *
 * @since 0.1.0
 */
export * as Module from "./primitives/Module.js"

/**
 * Programs (a module or a bare predictor) as DSPy users run them: `call`, `batch` over many inputs, and
 * `runPromise` with one LM.
 *
 * @since 0.1.0
 */
export * as Program from "./primitives/Program.js"

/**
 * Fiber-scoped tracing of predictor calls (for bootstrapping demos).
 *
 * @since 0.1.0
 */
export * as Trace from "./primitives/Trace.js"

/**
 * The basic predictor: adapter + LM, demos and instructions as parameters.
 *
 * @since 0.1.0
 */
export * as Predict from "./predict/Predict.js"

/**
 * ChainOfThought: a predictor with a `reasoning` output first.
 *
 * @since 0.1.0
 */
export * as ChainOfThought from "./predict/ChainOfThought.js"

/**
 * Tools for ReAct: Effect functions with Schema parameters.
 *
 * @since 0.1.0
 */
export * as Tool from "./predict/Tool.js"

/**
 * ReAct: an agent loop over tools with trajectory truncation and an extract step.
 *
 * @since 0.1.0
 */
export * as ReAct from "./predict/ReAct.js"

/**
 * MultiChainComparison: compares M reasoning attempts.
 *
 * @since 0.1.0
 */
export * as MultiChainComparison from "./predict/MultiChainComparison.js"

/**
 * BestOfN: N attempts with rollout ids, kept by reward.
 *
 * @since 0.1.0
 */
export * as BestOfN from "./predict/BestOfN.js"

/**
 * Refine: BestOfN with LM-written advice as hints.
 *
 * @since 0.1.0
 */
export * as Refine from "./predict/Refine.js"

/**
 * Parallel: bounded concurrency with an error budget.
 *
 * @since 0.1.0
 */
export * as Parallel from "./predict/Parallel.js"

/**
 * majority: the most common value of a field across completions.
 *
 * @since 0.1.0
 */
export * as Majority from "./predict/Majority.js"

/**
 * MultiHopQA: decompose, answer sub-questions, synthesize, with step events.
 *
 * @since 0.1.0
 */
export * as MultiHopQA from "./predict/MultiHopQA.js"

/**
 * Evaluate: score a program over a devset with bounded concurrency, max errors and progress.
 *
 * @since 0.1.0
 */
export * as Evaluate from "./evaluate/Evaluate.js"

/**
 * The answer metrics: normalisation, exact match, token F1, passage match.
 *
 * @since 0.1.0
 */
export * as AnswerMatch from "./evaluate/AnswerMatch.js"

/**
 * Embedders: texts to vectors over the LM service's `embed` (retrieval, KNNFewShot), cosine similarity.
 *
 * @since 0.1.0
 */
export * as Embedder from "./retrieve/Embedder.js"

/**
 * An in-memory vector index with top-k cosine search, saved to and loaded from a versioned JSON file.
 *
 * @since 0.1.0
 */
export * as VectorIndex from "./retrieve/VectorIndex.js"

/**
 * The retriever service (DSPy's `rm`): embeddings over a corpus, an index file, or any search function.
 *
 * @since 0.1.0
 */
export * as Retriever from "./retrieve/Retriever.js"

/**
 * Retrieve: DSPy's `dspy.Retrieve(k)`, the passages for a query from the retriever in the context.
 *
 * @since 0.1.0
 */
export * as Retrieve from "./retrieve/Retrieve.js"

/**
 * The `<name>` tags of the XMLAdapter and the escaping that keeps values from forging them.
 *
 * @since 0.1.0
 */
export * as XmlTag from "./adapters/XmlTag.js"

/**
 * DSPy's XMLAdapter (`<field>` elements), with the JSON fallback.
 *
 * @since 0.1.0
 */
export * as XMLAdapter from "./adapters/XMLAdapter.js"

/**
 * DSPy's TwoStepAdapter: a free-text main call, then an extraction call for the typed fields.
 *
 * @since 0.1.0
 */
export * as TwoStepAdapter from "./adapters/TwoStepAdapter.js"

/**
 * `streamify`: any program as a Stream of field deltas, status messages and its final output.
 *
 * @since 0.1.0
 */
export * as Streamify from "./stream/Streamify.js"

/**
 * PII detectors (e-mail, phone, payment card, IBAN, SSN, IP, date of birth, API key, your own) with validation,
 * linear on any input.
 *
 * @since 0.1.0
 */
export * as Detector from "./privacy/Detector.js"

/**
 * The privacy policy (off, detect, mask, redact, block) per module and provider, at the LM boundary and for
 * every store (`Privacy.scrub`).
 *
 * @since 0.1.0
 */
export * as Privacy from "./privacy/Privacy.js"
