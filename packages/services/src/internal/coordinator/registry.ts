/**
 * The coordinator's default registries: optimizers by name (those with settings in Config are made from the
 * configuration in force when a job is queued) and metrics by name.
 */
import { Evaluate } from "@effect-dspy/core"
import {
  AdaptiveOptimizer,
  BootstrapFewShot,
  COPRO,
  GEPA,
  MIPROv2,
  type Optimizer,
  SIMBA
} from "@effect-dspy/optimizers"
import type { OptimizerEntry } from "../../OptimizationCoordinator.js"

export const defaultOptimizers = (): { readonly [name: string]: OptimizerEntry } => ({
  // Config `optimization.bootstrap`: DSPy's BootstrapFewShot settings.
  bootstrap_few_shot: (config) =>
    BootstrapFewShot.make({
      maxBootstrappedDemos: config.optimization.bootstrap.maxBootstrappedDemos,
      maxLabeledDemos: config.optimization.bootstrap.maxLabeledDemos,
      maxRounds: config.optimization.bootstrap.maxRounds,
      maxErrors: config.optimization.bootstrap.maxErrors
    }),
  mipro_v2: MIPROv2.make(),
  // Config `optimization.copro`: DSPy's COPRO settings.
  copro: (config) =>
    COPRO.make({
      breadth: config.optimization.copro.breadth,
      depth: config.optimization.copro.depth,
      initTemperature: config.optimization.copro.initTemperature
    }),
  simba: SIMBA.make(),
  gepa: GEPA.make({ auto: "light" }),
  adaptive: AdaptiveOptimizer.make()
})

export const defaultMetrics = (): { readonly [name: string]: Optimizer.Metric } => ({
  exact_match: Evaluate.answerExactMatch
})
