/**
 * Retention in the application: with Config `tenants.retentionMs` naming tenants, the `retention` process
 * (`Retention.childSpec`) is started under the application's root, erasing through the `DataRights` in context or,
 * without one, a `DataRights` over the application's own stores (experiences, events, saved programs and live
 * modules, the CacheManager when there is one).
 */
import { type ConfigSchema, Events, Tenant } from "@effect-dspy/foundation"
import { RuntimeError, Supervisor } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CacheManager from "../../CacheManager.js"
import * as ExperienceStore from "../../loop/ExperienceStore.js"
import * as ModuleManager from "../../ModuleManager.js"
import * as ReleaseStore from "../../releases/ReleaseStore.js"
import * as DataRights from "../DataRights.js"
import * as Retention from "../Retention.js"

/** The retention policies of the config (one per tenant named in `tenants.retentionMs`). */
const policiesOf = (tenants: ConfigSchema.DSPyConfig["tenants"]): ReadonlyArray<Retention.Policy> =>
  Object.entries(tenants.retentionMs).map(([tenant, maxAgeMs]) => ({ tenant, maxAgeMs }))

const failed = (message: string, cause?: unknown) =>
  new RuntimeError.ChildStartFailed({ childId: "retention", cause: cause ?? message, message })

/** Starts the retention process under `root` when the config names retention policies; nothing otherwise. */
export const start = (
  root: Supervisor.SupervisorRef,
  tenants: ConfigSchema.DSPyConfig["tenants"],
  stores: {
    readonly experiences: ExperienceStore.Service
    readonly events: Events.Service
    readonly releases: ReleaseStore.Service
    readonly modules: ModuleManager.Service
    readonly cache: Option.Option<CacheManager.Service>
  }
): Effect.Effect<void, RuntimeError.ChildStartFailed> =>
  Effect.gen(function* () {
    const policies = policiesOf(tenants)
    if (policies.length === 0) return
    const bad = policies.find((p) => !Tenant.pattern.test(p.tenant))
    if (bad !== undefined)
      return yield* failed(
        `tenants.retentionMs names "${bad.tenant}", which is not a tenant id (lowercase letters, digits, _ and -)`
      )
    const given = yield* Effect.serviceOption(DataRights.DataRights)
    const rights = Option.isSome(given)
      ? given.value
      : yield* Effect.flatMap(DataRights.sourcesFromContext, DataRights.make).pipe(
          Effect.provideService(ExperienceStore.ExperienceStore, stores.experiences),
          Effect.provideService(Events.Events, stores.events),
          Effect.provideService(ReleaseStore.ReleaseStore, stores.releases),
          Effect.provideService(ModuleManager.ModuleManager, stores.modules),
          (effect) =>
            Option.isSome(stores.cache)
              ? Effect.provideService(effect, CacheManager.CacheManager, stores.cache.value)
              : effect
        )
    yield* Supervisor.startChild(
      root,
      Retention.childSpec(rights, { policies, intervalMs: tenants.retentionIntervalMs })
    ).pipe(Effect.mapError((e) => failed(`The retention process did not start: ${e.message}`, e)))
  })
