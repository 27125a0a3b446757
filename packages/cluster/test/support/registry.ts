/**
 * The optimizer registry of the cluster tests' runners and clients: a BootstrapFewShot that runs the teacher on
 * every training example (one checkpointed unit each), so a job lasts long enough to be killed mid-way.
 */
import { BootstrapFewShot, type Optimizer } from "@effect-dspy/optimizers"

export const optimizers: { readonly [name: string]: Optimizer.Optimizer } = {
  bootstrap_all: BootstrapFewShot.make({
    maxBootstrappedDemos: 1000,
    maxLabeledDemos: 0,
    maxRounds: 1,
    maxErrors: 1000
  })
}
