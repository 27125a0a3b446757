/**
 * Cross-package integration tests of the DSPy core (run with `pnpm --filter @effect-dspy/integration-tests test`).
 * Every test talks to the local simulated-LM server (`SimServer.serve`, loopback, ephemeral port) through the
 * LM service built from Config with an `openai` provider: the real OpenAIProvider and `openai` SDK over HTTP.
 *
 * - `Programs.test.ts`: Predict, ChainOfThought (Evaluate band), a two-predictor module, typed outputs, n > 1,
 *   field-level streaming, BestOfN sampling.
 * - `Faults.test.ts`: each injected fault kind (retries, typed errors, JSON fallback, AdapterParseError),
 *   a 30% fault mix over 100 concurrent calls, a circuit breaker around LM calls.
 * - `Streaming.test.ts`: streamed n > 1, slow and broken streams, interruption of held calls and streams.
 * - `ReActAndState.test.ts`: ReAct with the multi-hop search tool; save/load round trips, cache off and on.
 * - `Correlation.test.ts`: one correlation id over every span and event of MultiHopQA runs; parent-id trees.
 * - `Secrets.test.ts`: the API key never reaches history, events, spans, saved files or error messages.
 * - `LiveConfig.test.ts`: usage, embeddings, and run-time Config updates reaching the LM service.
 * - `Protected.test.ts`: Evaluate's maxErrors, executeProtected's call timeout, Parallel's per-call timeout.
 * - `DSPyTutorials.test.ts`: DSPy's tutorial patterns through the public entry points: a custom multi-hop module
 *   compiled with BootstrapFewShot, evaluated, saved and loaded; Evaluate of a bare Predict; `Program.batch`;
 *   ReAct evaluated over a devset.
 * - `ApplicationFaults.test.ts`: the supervised application (two `openai` providers, primary and backup) under a
 *   30% fault mix over 200 concurrent executions: every one ends, the breaker fails over, then recovers.
 * - `Chaos.test.ts`: the supervised application against the chaos server (`support/ChaosServer.ts`: valid,
 *   malformed, dripped, reset and oversized answers in a seeded mix), 500 concurrent requests: each ends in a
 *   result or a typed error, with no unhandled rejection or process warning.
 *
 * `support.ts` holds the shared set-up (the dummy key, the Config overrides, the LM layer, server stats).
 */
export {}
