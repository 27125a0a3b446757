/**
 * The demo's application: the supervised application (`Application.layer`) over the foundation services,
 * a CacheManager (memory L1 over an in-memory SQLite L2; Redis as L3 when `REDIS_URL` is set), two providers
 * (a primary and its backup), fault injection in front of both, and telemetry when asked for.
 *
 * Offline (the default) both providers are the simulated LM with a realistic latency. With `OPENAI_API_KEY`
 * set they are the OpenAI-compatible provider (`OPENAI_BASE_URL` and `OPENAI_MODEL` optional; default model
 * `gpt-4o-mini`): `openai` with a backup `openai_backup` on the same endpoint.
 */
import { LM } from "@effect-dspy/core"
import { type SimDrift, SimLatency, SimLM } from "@effect-dspy/sim"
import { Config, Events, Protection, Telemetry } from "@effect-dspy/foundation"
import { BootstrapFewShot, MIPROv2 } from "@effect-dspy/optimizers"
import { Registry } from "@effect-dspy/runtime"
import {
  Application,
  CacheManager,
  type LMProviders,
  type ModuleManager,
  type OptimizationCoordinator,
  type ReleaseStore,
  type Experiments,
  type ExperienceStore,
  type Loop
} from "@effect-dspy/services"
import * as LoopPhase from "./phases/Loop.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Chaos from "./Chaos.js"

/** The providers the demo runs on. */
export interface Providers {
  readonly kind: "simulated" | "openai"
  readonly model: string
  readonly primary: string
  readonly backup: string
}

/** The providers from the environment: the simulated LM unless `OPENAI_API_KEY` is set. */
export const providersFromEnv = (env: NodeJS.ProcessEnv = process.env): Providers =>
  (env["OPENAI_API_KEY"] ?? "") === ""
    ? { kind: "simulated", model: "sim-1", primary: "primary", backup: "backup" }
    : { kind: "openai", model: env["OPENAI_MODEL"] ?? "gpt-4o-mini", primary: "openai", backup: "openai_backup" }

/** What the demo's layer is built from. */
export interface Options {
  readonly providers: Providers
  readonly chaos: Chaos.Chaos
  /** The simulated LM's seed (default 0). */
  readonly seed?: number
  /** The simulated LM's latency (default lognormal: mean 25 ms, p99 90 ms). */
  readonly latency?: SimLatency.Profile
  /** The breaker's recovery time in ms (default 2,000). */
  readonly recoveryMs?: number
  /** MIPROv2's settings (default `auto: "light"`). */
  readonly mipro?: MIPROv2.Options
  /** Spans as JSON lines into this file. */
  readonly spansFile?: string | undefined
  /** Spans over OTLP/HTTP to this endpoint (else `OTEL_EXPORTER_OTLP_ENDPOINT` or `telemetry.otlpEndpoint`). */
  readonly otlpEndpoint?: string | undefined
  /** Read `EFFECT_DSPY_*` / `OPENAI_*` from the environment into Config (default true). */
  readonly env?: boolean
  /** Where the real providers' key and endpoint come from (default `process.env`). */
  readonly environment?: NodeJS.ProcessEnv
  /** The release database (module versions); default in memory (nothing survives, no restart to show). */
  readonly releasesFile?: string | undefined
  /** The simulated LM's drift control (the loop phase drifts it). */
  readonly drift?: SimDrift.Control
}

/** The configuration the demo starts from (the environment and a config file still apply over it). */
export const configDefaults = (options: Options) => {
  const env = options.environment ?? process.env
  const { primary, backup, model } = options.providers
  const common = { defaultModel: model, poolSize: 32, maxRetries: 2, timeoutMs: 30_000 }
  // Both real providers on the same endpoint and key (the key is decoded as `Redacted`).
  const openai = {
    ...common,
    kind: "openai",
    apiKey: env["OPENAI_API_KEY"],
    ...(env["OPENAI_BASE_URL"] === undefined ? {} : { baseUrl: env["OPENAI_BASE_URL"] })
  }
  const providers =
    options.providers.kind === "simulated"
      ? { [primary]: { ...common, kind: "simulated", backup }, [backup]: { ...common, kind: "simulated" } }
      : { [primary]: { ...openai, backup }, [backup]: openai }
  return {
    modules: { defaultLmProvider: primary, cacheEnabled: true },
    optimization: { workers: 1, concurrency: 8, swapMargin: 1 },
    providers,
    infrastructure: {
      circuitBreakers: {
        [`lm_provider_${primary}`]: { failureThreshold: 5, recoveryTimeMs: options.recoveryMs ?? 2_000 }
      }
    }
  }
}

/** Builds each provider: the simulated LM with latency, or the configured one; fault injection in front. */
export const providerFactory =
  (options: Options): LMProviders.ProviderFactory =>
  (name, settings) =>
    Effect.map(
      settings.kind === "simulated"
        ? Effect.sync(() =>
            SimLM.make({
              name,
              seed: options.seed ?? 0,
              model: settings.defaultModel,
              latency: options.latency ?? SimLatency.lognormal(25, 90),
              ...(options.drift === undefined ? {} : { drift: options.drift })
            })
          )
        : LM.providerFromSettings(name, settings),
      (provider) => options.chaos.wrap(name, provider)
    )

/** Everything the demo's layer provides. */
export type Services =
  | Application.Application
  | ModuleManager.ModuleManager
  | LMProviders.LMProviders
  | LM.LM
  | OptimizationCoordinator.OptimizationCoordinator
  | ReleaseStore.ReleaseStore
  | Experiments.Experiments
  | Loop.Loop
  | ExperienceStore.ExperienceStore
  | CacheManager.CacheManager
  | Config.Config
  | Events.Events
  | Protection.Protection
  | Registry.Registry

/** The demo's application and everything it runs on. */
export const layer = (options: Options): Layer.Layer<Services, unknown> => {
  const config = Config.layer({ defaults: configDefaults(options), env: options.env ?? true })
  const foundation = Layer.mergeAll(Events.layerConfig, Protection.layer, Registry.layer, CacheManager.layer()).pipe(
    Layer.provideMerge(config)
  )
  // Spans only when something receives them: a file, an OTLP endpoint (flag, Config `telemetry.otlpEndpoint`,
  // or `OTEL_EXPORTER_OTLP_ENDPOINT`); without a tracer the modules make no spans at all.
  const tracing = Layer.unwrapEffect(
    Effect.map(
      Effect.flatMap(Config.Config, (c) => c.current),
      (current) =>
        options.spansFile !== undefined ||
        options.otlpEndpoint !== undefined ||
        current.telemetry.otlpEndpoint !== undefined ||
        (process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "") !== ""
          ? Telemetry.layer({ spansFile: options.spansFile, otlpEndpoint: options.otlpEndpoint })
          : Layer.empty
    )
  )
  // Tracing is built first, so the application's own fibers (the optimization workers) trace too.
  return Application.layer({
    providerFactory: providerFactory(options),
    shutdownGracePeriod: "5 seconds",
    releases: { filename: options.releasesFile ?? ":memory:" },
    // The real-time loop acts by itself (its experience store next to the releases, in memory by default).
    loop: { settings: LoopPhase.settings },
    optimization: {
      coordinator: {
        optimizers: {
          bootstrap_few_shot: BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4 }),
          mipro_v2: MIPROv2.make(options.mipro ?? { auto: "light" })
        }
      }
    }
  }).pipe(Layer.provideMerge(foundation), Layer.provideMerge(Layer.provideMerge(tracing, config)))
}
