/**
 * Router decisions waiting for the real-time loop's feedback: when a routed handler's output is a managed
 * module's execution (it carries an `executionId`, as `ModuleHandlers.modules` handlers' do), the router links
 * that execution to its decision here; the loop, when it records the first feedback of an execution, takes the
 * link and rewards the decision with the feedback's reward. A link is taken once: duplicate and `updated`
 * feedback reward nothing more (a decision takes one reward).
 *
 * Process-wide and keyed by execution id (unique within the process); bounded (the oldest links go first, as a
 * router forgets its oldest decisions), and a router's links go when its scope closes. The router also stores each
 * link with its decision (`RouterStore`), and registers the unrewarded ones here again when it starts: feedback on
 * an execution routed before a restart still rewards its decision.
 */
import * as Effect from "effect/Effect"

/** How a linked decision is rewarded (the router's `reward`, bound to the decision). */
interface Link {
  readonly owner: object
  readonly reward: (value: number) => Effect.Effect<void, unknown>
}

const links = new Map<string, Link>()

/** The links kept at most (the oldest dropped first). */
export const maxLinks = 100_000

/** The execution id of a handler's output, when it is a managed module's execution. */
export const executionIdOf = (output: unknown): string | undefined => {
  if (typeof output !== "object" || output === null) return undefined
  const id = (output as { readonly executionId?: unknown }).executionId
  return typeof id === "string" ? id : undefined
}

/** Whether any decision waits for feedback (so the loop skips the lookups when none does). */
export const linked = (): boolean => links.size > 0

/** Links `executionId` to a decision of `owner` (a router). */
export const link = (executionId: string, owner: object, reward: Link["reward"]): void => {
  links.delete(executionId)
  links.set(executionId, { owner, reward })
  if (links.size > maxLinks) links.delete(links.keys().next().value!)
}

/** Drops every link of `owner` (its router closed). */
export const drop = (owner: object): void => {
  for (const [id, l] of links) if (l.owner === owner) links.delete(id)
}

/**
 * Rewards the decision linked to `executionId`, once (the link is taken), with `value` in [0, 1]. Nothing when no
 * decision is linked; a rejected reward (the decision was rewarded directly, or forgotten) is logged, not failed:
 * the feedback itself is recorded.
 */
export const reward = (executionId: string, value: number): Effect.Effect<void> => {
  if (links.size === 0) return Effect.void
  const l = links.get(executionId)
  if (l === undefined) return Effect.void
  links.delete(executionId)
  return Effect.catchAllCause(l.reward(value), (cause) =>
    Effect.logDebug(`The router decision of execution "${executionId}" was not rewarded`, cause)
  )
}
