/**
 * The privacy policy at the LM boundary: the request is scanned (and masked, redacted or refused) before the
 * cache key, the provider, the history or telemetry see it; the answer is unmasked for the caller after them,
 * and checked for PII the caller did not give.
 */
import { Events, Metrics } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as MetricLabel from "effect/MetricLabel"
import * as Context from "effect/Context"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Completion from "../../lm/Completion.js"
import type * as LMError from "../../lm/LMError.js"
import * as CoreEvents from "../../CoreEvents.js"
import type * as Detector from "../Detector.js"
import * as Privacy from "../Privacy.js"

/** Where the call goes: the provider's name for `privacy.providers` and for telemetry. */
export interface Target {
  /** The configured provider name (`providers.<name>`), which `privacy.providers` is keyed by. */
  readonly policyName: string
  /** The provider as telemetry names it. */
  readonly provider: string
  readonly events: Option.Option<Events.Service>
}

/** Applies `f` to a content's text (each text part of a multimodal content; media parts pass unchanged). */
const mapContent = (content: Completion.Content, f: (text: string) => string): Completion.Content => {
  if (typeof content === "string") return f(content)
  let changed = false
  const parts = content.map((p) => {
    if (p.type !== "text") return p
    const text = f(p.text)
    if (text === p.text) return p
    changed = true
    return { ...p, text }
  })
  return changed ? parts : content
}

const mapMessage = (m: Completion.Message, f: (text: string) => string): Completion.Message => {
  const content = mapContent(m.content, f)
  if (m.toolCalls === undefined) return content === m.content ? m : { ...m, content }
  return { ...m, content, toolCalls: m.toolCalls.map((c) => ({ ...c, arguments: f(c.arguments) })) }
}

const mapResponse = (r: Completion.CompletionResponse, f: (text: string) => string): Completion.CompletionResponse => ({
  ...r,
  choices: r.choices.map((c) => ({
    ...c,
    content: f(c.content),
    ...(c.toolCalls === undefined ? {} : { toolCalls: c.toolCalls.map((t) => ({ ...t, arguments: f(t.arguments) })) })
  }))
})

/** The caller's own input: the last user message (the current inputs, after any demos), with its tool results. */
const callerInput = (request: Completion.CompletionRequest): string => {
  let text = ""
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!
    text += `${Completion.textOf(m.content)}\n`
    if (m.role === "user") break
  }
  return text
}

const publish = (target: Target, fiber: Fiber.RuntimeFiber<unknown, unknown>) => {
  const events = Option.isSome(target.events) ? target.events : Context.getOption(fiber.currentContext, Events.Events)
  return <T extends string, A, I extends Events.Data>(definition: Events.Definition<T, A, I>, data: A) =>
    Option.isNone(events) ? Effect.void : Effect.asVoid(Events.publishOrLog(definition, data, { events: events.value }))
}

/** A request with the policy's mode applied, and what was found (and the masking, to unmask the answer). */
export interface Applied {
  readonly request: Completion.CompletionRequest
  readonly kinds: { readonly [kind: string]: number }
  readonly masking: Privacy.Masking | undefined
}

/** Applies `mode` to every text of a request. */
export const applyToRequest = (
  engine: Privacy.Engine,
  mode: Privacy.Mode,
  request: Completion.CompletionRequest
): Applied => {
  const kinds: Record<string, number> = {}
  const found = (f: Detector.Finding) => {
    kinds[f.kind] = (kinds[f.kind] ?? 0) + 1
  }
  if (mode === "mask") {
    const masking = Privacy.masking(engine)
    const messages = request.messages.map((m) => mapMessage(m, (t) => masking.mask(t, found)))
    return { request: masking.size() === 0 ? request : { ...request, messages }, kinds, masking }
  }
  const messages = request.messages.map((m) =>
    mapMessage(m, (t) => {
      const findings = engine.scan(t)
      for (const f of findings) found(f)
      return mode === "redact" && findings.length > 0 ? Privacy.redact(t, findings) : t
    })
  )
  return { request: mode === "redact" ? { ...request, messages } : request, kinds, masking: undefined }
}

const leakLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()

/**
 * Runs `run` (the cached, retried, recorded call) on the request as the policy lets it out, and gives the caller
 * the answer with its placeholders restored, after the leakage check.
 */
export const guard = (
  engine: Privacy.Engine,
  target: Target,
  request: Completion.CompletionRequest,
  run: (request: Completion.CompletionRequest) => Effect.Effect<Completion.CompletionResponse, LMError.LMError>
): Effect.Effect<Completion.CompletionResponse, LMError.LMError> =>
  Effect.withFiberRuntime((fiber) => {
    const modules = fiber.getFiberRef(Privacy.currentModules)
    const module = modules.at(-1)
    const mode = engine.modeFor(modules, target.policyName)
    const leakage = engine.settings.leakage
    if (mode === "off" && leakage === "off") return run(request)
    const emit = publish(target, fiber)
    const applied = mode === "off" ? undefined : applyToRequest(engine, mode, request)
    const kinds = applied === undefined ? [] : Object.keys(applied.kinds).sort()
    let before: Effect.Effect<void, LMError.LMError> = Effect.void
    if (applied !== undefined && kinds.length > 0 && mode !== "off") {
      Privacy.countFindings(applied.kinds, "lm_request", mode)
      before = emit(CoreEvents.PiiDetected, {
        provider: target.provider,
        model: request.model,
        module: module ?? null,
        mode,
        kinds: applied.kinds
      })
      if (mode === "block") {
        before = Effect.zipRight(
          before,
          Effect.fail(
            new Privacy.PrivacyBlocked({
              provider: target.provider,
              model: request.model,
              target: "lm_request",
              kinds,
              message: `The request to ${target.provider} holds ${kinds.join(", ")} and the privacy policy for it is "block": nothing was sent. Remove the data, allow the values (privacy.allow) or set privacy.mode (or privacy.modules / privacy.providers) to mask or redact.`
            })
          )
        )
      }
    }
    const sent = applied?.request ?? request
    const masking = applied?.masking
    const answered = Effect.flatMap(before, () => run(sent))
    const restored =
      masking === undefined || masking.size() === 0
        ? answered
        : Effect.map(answered, (r) => mapResponse(r, masking.unmask))
    if (leakage === "off") return restored
    const input = callerInput(request)
    return Effect.flatMap(restored, (response) => {
      const leaked: Record<string, number> = {}
      for (const c of response.choices) {
        for (const f of Privacy.leaks(engine, input, c.content)) leaked[f.kind] = (leaked[f.kind] ?? 0) + 1
      }
      const leakedKinds = Object.keys(leaked).sort()
      if (leakedKinds.length === 0) return Effect.succeed(response)
      for (const kind of leakedKinds) {
        let labels = leakLabels.get(kind)
        if (labels === undefined) {
          labels = [MetricLabel.make("kind", kind)]
          leakLabels.set(kind, labels)
        }
        Metrics.privacyLeaks.unsafeUpdate(leaked[kind]!, labels)
      }
      const blocked = leakage === "block"
      const event = emit(CoreEvents.PiiLeak, {
        provider: target.provider,
        model: request.model,
        module: module ?? null,
        kinds: leaked,
        blocked
      })
      if (!blocked) return Effect.as(event, response)
      return Effect.zipRight(
        event,
        Effect.fail(
          new Privacy.PrivacyLeak({
            provider: target.provider,
            model: request.model,
            kinds: leakedKinds,
            message: `The answer of ${target.provider} holds ${leakedKinds.join(", ")} that did not come from the caller's input, and privacy.leakage is "block": the answer was withheld.`
          })
        )
      )
    })
  })

/** Applies `mode` to embedding inputs (`mask` redacts: there is no answer to unmask), or refuses them. */
export const guardEmbed = (
  engine: Privacy.Engine,
  target: Target,
  model: string,
  inputs: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, LMError.LMError> =>
  Effect.suspend(() => {
    const mode = engine.modeFor([], target.policyName)
    if (mode === "off") return Effect.succeed(inputs)
    const kinds: Record<string, number> = {}
    const out = inputs.map((t) => {
      const findings = engine.scan(t)
      for (const f of findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1
      return mode === "mask" || mode === "redact" ? Privacy.redact(t, findings) : t
    })
    const found = Object.keys(kinds).sort()
    if (found.length === 0) return Effect.succeed(inputs)
    Privacy.countFindings(kinds, "lm_embed", mode)
    if (mode === "block") {
      return Effect.fail(
        new Privacy.PrivacyBlocked({
          provider: target.provider,
          model,
          target: "lm_embed",
          kinds: found,
          message: `The texts to embed hold ${found.join(", ")} and the privacy policy is "block": nothing was sent.`
        })
      )
    }
    return Effect.succeed(out)
  })

/**
 * The policy on a streamed call: the request as for {@link guard}; with `mask`, each choice's text is unmasked
 * as it arrives (a possible placeholder at the end of a chunk waits for the next one). The leakage check needs
 * the whole answer: streams are not checked (`complete` is).
 */
export const guardStream = <E>(
  engine: Privacy.Engine,
  target: Target,
  request: Completion.CompletionRequest,
  run: (request: Completion.CompletionRequest) => Stream.Stream<Completion.CompletionChunk, E | LMError.LMError>
): Stream.Stream<Completion.CompletionChunk, E | LMError.LMError> =>
  Stream.unwrap(
    Effect.withFiberRuntime<Stream.Stream<Completion.CompletionChunk, E | LMError.LMError>, LMError.LMError>(
      (fiber) => {
        const modules = fiber.getFiberRef(Privacy.currentModules)
        const module = modules.at(-1)
        const mode = engine.modeFor(modules, target.policyName)
        if (mode === "off") return Effect.succeed(run(request))
        const applied = applyToRequest(engine, mode, request)
        const kinds = Object.keys(applied.kinds).sort()
        if (kinds.length > 0) Privacy.countFindings(applied.kinds, "lm_request", mode)
        const detected =
          kinds.length === 0
            ? Effect.void
            : publish(target, fiber)(CoreEvents.PiiDetected, {
                provider: target.provider,
                model: request.model,
                module: module ?? null,
                mode,
                kinds: applied.kinds
              })
        if (mode === "block" && kinds.length > 0) {
          return Effect.zipRight(
            detected,
            Effect.fail(
              new Privacy.PrivacyBlocked({
                provider: target.provider,
                model: request.model,
                target: "lm_request",
                kinds,
                message: `The request to ${target.provider} holds ${kinds.join(", ")} and the privacy policy for it is "block": nothing was sent.`
              })
            )
          )
        }
        const masking = applied.masking
        const stream = run(applied.request)
        if (masking === undefined || masking.size() === 0) return Effect.as(detected, stream)
        const carry = new Map<number, string>()
        const unmasked = stream.pipe(
          Stream.map((chunk): Completion.CompletionChunk => {
            const text = (carry.get(chunk.index) ?? "") + chunk.delta
            let cut = text.length
            if (chunk.finishReason === undefined) {
              const open = text.lastIndexOf("<")
              if (open >= 0 && text.indexOf(">", open) < 0 && text.length - open < 48) cut = open
            }
            carry.set(chunk.index, text.slice(cut))
            return { ...chunk, delta: masking.unmask(text.slice(0, cut)) }
          }),
          Stream.concat(
            Stream.suspend(() =>
              Stream.fromIterable(
                [...carry.entries()]
                  .filter(([, rest]) => rest.length > 0)
                  .map(([index, rest]): Completion.CompletionChunk => ({ index, delta: masking.unmask(rest) }))
              )
            )
          )
        )
        return Effect.as(detected, unmasked)
      }
    )
  )
