/**
 * The fast path of the hottest endpoint, `POST /modules/{id}/execute`: the server's `node:http` request listener
 * hands it every request; it takes the plain ones (the exact path with a valid id, a Bearer key, a JSON body with a
 * Content-Length within the limit, the gate open) and leaves everything else (cookies and tokens, chunked or large
 * bodies, other content types, odd paths, a closing gate) to the platform's HttpApi app, before reading a byte of
 * the body.
 *
 * What it does is what the HttpApi does for that endpoint, with the same code and the same schemas: the same
 * authentication, rate limits and tenant scoping (`Auth.authorize`'s pieces), the endpoint's own payload and
 * success schemas (from the one `Api` description, so the OpenAPI document stays its description), the same
 * handler (`handlers/modules.ts`'s `makeExecute`, whose pieces it runs), the same error bodies and statuses (the
 * Api's error schemas and their status annotations; a decode failure is the platform's `HttpApiDecodeError`, a
 * body that is not JSON the platform's empty 400). What it leaves out is the platform's per-request machinery: a
 * router match, a Scope, a request wrapper with a cached body, the middleware chain and an `Effect.async` around
 * the response's end (docs/decisions.md has the measured reason).
 * `test/FastPath.test.ts` sends the same requests down both paths and compares statuses, headers and bodies.
 *
 * What can be decided without effects is, in plain code, before any fiber, by the functions the HttpApi's
 * authentication and handler use: the key (`Auth.bearerPrincipal`), the tenant scope (`Auth.tenantScopeOf`), the
 * payload (a plain object of bounded fields is checked directly; anything else goes to the payload schema, which
 * words the 400) and the scope (`Auth.missingScope`). A request then costs one fiber, which runs only what is
 * effectful: the key's and the tenant's rate limits (when there are any) and the execution, with the tenant and
 * the end user (`x-subject`) in its FiberRefs from its start. The answers keep the HttpApi's order: a wrong key
 * (401), the key's rate limit (429), the tenant header (401), the tenant's limit (429), the body (400), the scope
 * (403), the execution. The requests whose bodies ended in the same turn of the event loop are decided together
 * after its I/O callbacks. A fiber that ends synchronously (a memoized execution) is answered at once; one that
 * suspends is observed, and interrupted if the client goes away.
 */
import { Prediction } from "@effect-dspy/core"
import { Subject, Tenant } from "@effect-dspy/foundation"
import type { ModuleManager } from "@effect-dspy/services"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiError from "@effect/platform/HttpApiError"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as FiberId from "effect/FiberId"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as http from "node:http"
import { Api } from "../Api.js"
import type { ExecuteRequest } from "../api/ModulesApi.js"
import * as ApiError from "../ApiError.js"
import * as Auth from "../Auth.js"
import * as Bounded from "./bounded.js"
import type { Gate } from "./gate.js"
import { execute, executeScope, toExecution } from "./handlers/modules.js"
import { securityHeaders } from "./headers.js"

/** What a request gets: a status and a JSON body (none: an empty body, as the platform answers a defect). */
interface Reply {
  readonly status: number
  readonly body: string | undefined
}

/**
 * The path the fast path takes; the id's pattern is the endpoint's path schema's (`Schemas.Id`), so a path it
 * matches always decodes (`test/FastPath.test.ts` checks the two patterns are one).
 */
export const executePath = /^\/modules\/([\w.:-]{1,128})\/execute$/

const group = Api.groups.modules as unknown as HttpApiGroup.HttpApiGroup.AnyWithProps
const endpoint = group.endpoints.execute as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps

/** The endpoint's errors, as the HttpApi app encodes them: each schema of the union with its status. */
const errorSchemas = (() => {
  const schemas = new Set<Schema.Schema.Any>()
  HttpApiSchema.deunionize(schemas, (Api as unknown as { readonly errorSchema: Schema.Schema.Any }).errorSchema)
  HttpApiSchema.deunionize(schemas, group.errorSchema)
  HttpApiSchema.deunionize(schemas, endpoint.errorSchema)
  return Array.from(schemas, (schema) => ({
    is: Schema.is(schema as Schema.Schema<unknown>),
    encode: Schema.encodeUnknownEither(schema as Schema.Schema<unknown, unknown>),
    status: HttpApiSchema.getStatusErrorAST(schema.ast)
  }))
})()

const empty = (status: number): Reply => ({ status, body: undefined })

/** An error as the HttpApi app answers it: the first schema of the union that holds it; else a 500. */
const errorReply = (error: unknown): Reply => {
  for (const schema of errorSchemas) {
    if (!schema.is(error)) continue
    const encoded = schema.encode(error)
    return Either.isRight(encoded) ? { status: schema.status, body: JSON.stringify(encoded.right) } : empty(500)
  }
  return empty(500)
}

/** A schema's failure as the platform answers it: its `HttpApiDecodeError` (a 400 naming the field). */
const decodeErrorReply = (error: ParseResult.ParseError): Reply =>
  errorReply(Effect.runSync(HttpApiError.HttpApiDecodeError.fromParseError(error)))

// In the platform's order: the body's headers, then the security headers.
const jsonHeaders = (body: string): Record<string, string> => ({
  "content-type": "application/json",
  "content-length": String(Buffer.byteLength(body)),
  ...securityHeaders
})

const write = (res: http.ServerResponse, reply: Reply): void => {
  if (res.writableEnded) return
  if (reply.body === undefined) {
    res.writeHead(reply.status, securityHeaders)
    res.end()
  } else {
    res.writeHead(reply.status, jsonHeaders(reply.body))
    res.end(reply.body)
  }
}

type Payload = typeof ExecuteRequest.Type

const hasOwn = (o: object, key: string): boolean => Object.hasOwn(o, key)

/**
 * A payload the payload schema certainly accepts, as it decodes it (the same fields; `inputs` is the parsed
 * object itself rather than a copy of it), or `undefined` for the schema to decide (and word a 400): a plain
 * object whose `inputs` is a plain object of at most `maxFields` bounded fields with names of at most
 * `maxFieldName` characters, and whose `callerKey`, if any, is a string of at most 256.
 */
export const plainPayload = (json: unknown): Payload | undefined => {
  if (typeof json !== "object" || json === null || Array.isArray(json) || !hasOwn(json, "inputs")) return undefined
  const { inputs, callerKey } = json as { readonly inputs: unknown; readonly callerKey?: unknown }
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) return undefined
  const names = Object.keys(inputs)
  if (names.length > Bounded.maxFields) return undefined
  for (const name of names) {
    if (name.length > Bounded.maxFieldName || name === "__proto__") return undefined
    if (Bounded.boundedJsonIssue((inputs as Record<string, unknown>)[name]) !== undefined) return undefined
  }
  if (!hasOwn(json, "callerKey")) return { inputs: inputs as Payload["inputs"] }
  return typeof callerKey === "string" && callerKey.length <= 256
    ? { inputs: inputs as Payload["inputs"], callerKey }
    : undefined
}

/**
 * The JSON of predictions served again (the execution memo answers repeated inputs with the same, immutable
 * `Prediction`): made once per prediction. Other outputs are stringified each time (a program may return an object
 * it later changes).
 */
const predictionJson = new WeakMap<object, string>()

const outputJson = (output: unknown): string | undefined => {
  if (!Prediction.isPrediction(output)) return JSON.stringify(output)
  let json = predictionJson.get(output)
  if (json === undefined) {
    json = JSON.stringify(output)
    predictionJson.set(output, json)
  }
  return json
}

/** A plain answer's body: `JSON.stringify` of it (the same keys in the same order), its output's JSON reused. */
const bodyOf = (answer: ReturnType<typeof toExecution>): string => {
  const output = outputJson(answer.output)
  return `{"executionId":${JSON.stringify(answer.executionId)},"moduleId":${JSON.stringify(answer.moduleId)},"version":${JSON.stringify(answer.version)}${
    output === undefined ? "" : `,"output":${output}`
  },"reason":${JSON.stringify(answer.reason)}${answer.arm === undefined ? "" : `,"arm":${JSON.stringify(answer.arm)}`}${
    answer.fallback === undefined ? "" : `,"fallback":${JSON.stringify(answer.fallback)}`
  },"stale":${answer.stale}}`
}

/** Whether an answer holds the success schema's types (then its encoding is itself, in the schema's key order). */
const plainExecution = (value: ReturnType<typeof toExecution>): boolean =>
  typeof value.executionId === "string" &&
  typeof value.moduleId === "string" &&
  typeof value.version === "number" &&
  typeof value.reason === "string" &&
  typeof value.stale === "boolean" &&
  (value.arm === undefined || typeof value.arm === "string") &&
  (value.fallback === undefined || typeof value.fallback === "string")

/**
 * Options of the fast path: the server's gate, credentials and body limit, the application's module manager, and
 * the runtime its executions run on.
 */
export interface Options {
  readonly gate: Gate
  readonly credentials: Auth.Service
  readonly modules: ModuleManager.Service
  readonly maxBodyBytes: number
  readonly runtime: Runtime.Runtime<never>
}

/** What runs before the execution: nothing, or the rate limits (failing with the Api's errors). */
type Before = Effect.Effect<void, ApiError.ApiError> | undefined

const andThen = (before: Before, next: Effect.Effect<void, ApiError.ApiError>): Before =>
  next === Effect.void ? before : before === undefined ? next : Effect.zipRight(before, next)

/**
 * The fast path: a `node:http` request listener that answers a request it takes and returns `true`, or returns
 * `false` (having touched nothing) for the platform to answer.
 */
export const make = (options: Options): ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) => {
  const { gate, credentials, maxBodyBytes, modules } = options
  // Unscoped unless a request's key says otherwise, as the HttpApi's authentication sets it.
  const runFork = Runtime.runFork(Runtime.setFiberRef(options.runtime, Tenant.Tenant, Option.none()))
  const decodePayload = Schema.decodeUnknownEither(Option.getOrThrow(endpoint.payloadSchema) as Schema.Schema<Payload>)
  const encodeSuccess = Schema.encodeEither(endpoint.successSchema as Schema.Schema<unknown, unknown>)
  const successStatus = HttpApiSchema.getStatusSuccessAST(endpoint.successSchema.ast)

  const successReply = (execution: ModuleManager.Execution): Reply => {
    const answer = toExecution(execution)
    if (plainExecution(answer)) return { status: successStatus, body: bodyOf(answer) }
    const encoded = encodeSuccess(answer)
    return Either.isRight(encoded)
      ? { status: successStatus, body: JSON.stringify(encoded.right) }
      : decodeErrorReply(encoded.left)
  }

  /** The body's payload, or its 400 (not JSON: the platform's empty one; else the schema's, naming the field). */
  const payloadOf = (text: string | undefined): Payload | Reply => {
    let json: unknown
    try {
      json = text === undefined ? undefined : text === "" ? null : JSON.parse(text)
    } catch {
      json = undefined
    }
    if (json === undefined) return empty(400)
    const plain = plainPayload(json)
    if (plain !== undefined) return plain
    const decoded = decodePayload(json)
    return Either.isRight(decoded) ? decoded.right : decodeErrorReply(decoded.left)
  }

  /** An exit as the HttpApi app answers it: the execution's, a failure by its schema, a defect an empty 500. */
  const exitReply = (exit: Exit.Exit<unknown, unknown>, answer: Reply | undefined): Reply => {
    if (Exit.isSuccess(exit)) return answer ?? successReply(exit.value as ModuleManager.Execution)
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) return empty(500)
    // The rate limits fail with the Api's own errors; the execution with the application's (which know nothing
    // of the server's classes), mapped as the handler maps them.
    const error = failure.value
    return errorReply(
      error instanceof ApiError.TooManyRequests || error instanceof ApiError.Unauthorized
        ? error
        : ApiError.fromFailure(error)
    )
  }

  // The requests whose bodies ended in one turn of the event loop run together, after its I/O callbacks
  // (`setImmediate`): the fibers their executions wake (the event consumers) then run once for the batch, as they
  // do for a burst of executions in process, rather than once a request after each socket's callback. Under the
  // api bench's load this halved the CPU of a repeated execution behind the fast path; a lone request waits for
  // nothing but the end of the loop's poll phase.
  let pending: Array<() => void> = []
  const flush = () => {
    const batch = pending
    pending = []
    for (const run of batch) run()
  }
  const defer = (run: () => void) => {
    if (pending.push(run) === 1) setImmediate(flush)
  }

  return (req, res) => {
    if (req.method !== "POST" || gate.stopping) return false
    const url = req.url as string
    const match = executePath.exec(url)
    if (match === null) return false
    const headers = req.headers as Readonly<Record<string, string | undefined>>
    const authorization = headers.authorization
    if (authorization === undefined) return false
    const length = headers["content-length"]
    if (length === undefined || !(Number(length) <= maxBodyBytes)) return false
    const contentType = headers["content-type"]
    if (contentType !== undefined && !contentType.toLowerCase().trim().includes("application/json")) return false
    const subject = headers["x-subject"]
    if (subject !== undefined && (subject.length === 0 || subject.length > 512)) return false
    gate.enter()

    const finish = (reply: Reply) => {
      write(res, reply)
      gate.leave()
    }

    // In the HttpApi's order: the key, its rate limit, the tenant, its rate limit, the path (its pattern is the
    // id's: it decodes), the body, the payload, the scope, the execution.
    const respond = (text: string | undefined): void => {
      const principal = Auth.bearerPrincipal(credentials.keys, authorization)
      if (principal instanceof ApiError.Unauthorized) {
        finish(errorReply(principal))
        return
      }
      let before: Before = andThen(undefined, credentials.admit(principal))
      const scope = Auth.tenantScopeOf(credentials.keys, principal, { headers, url })
      let answer: Reply | undefined
      let payload: Payload | undefined
      if (scope instanceof ApiError.Unauthorized) {
        before = andThen(before, Effect.fail(scope))
      } else {
        if (Option.isSome(scope)) before = andThen(before, credentials.admitTenant(scope.value))
        const decoded = payloadOf(text)
        if ("status" in decoded) {
          answer = decoded
        } else {
          const forbidden = Auth.missingScope(principal, executeScope)
          if (forbidden !== undefined) answer = errorReply(forbidden)
          else payload = decoded
        }
      }
      if (before === undefined && answer !== undefined) {
        finish(answer)
        return
      }
      // A repeated execution the module manager answers at once (its execution memo): no fiber. Only for an
      // unscoped request with nothing to run before it and no options, as `executeRemembered` asks.
      if (
        before === undefined &&
        payload !== undefined &&
        payload.callerKey === undefined &&
        subject === undefined &&
        !(scope instanceof ApiError.Unauthorized) &&
        Option.isNone(scope)
      ) {
        const remembered = modules.executeRemembered?.(match[1] as string, payload.inputs)
        if (remembered !== undefined) {
          finish(successReply(remembered))
          return
        }
      }
      const run: Effect.Effect<unknown, unknown> =
        payload === undefined
          ? (before as Effect.Effect<void, ApiError.ApiError>)
          : before === undefined
            ? execute(modules, match[1] as string, payload)
            : Effect.zipRight(before, execute(modules, match[1] as string, payload))
      // The tenant and the end user, in the fiber's references from its start (and its children's).
      const tenant = scope instanceof ApiError.Unauthorized || Option.isNone(scope) ? undefined : scope
      const updateRefs =
        tenant === undefined && subject === undefined
          ? undefined
          : (refs: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) => {
              let updated = refs
              if (tenant !== undefined)
                updated = FiberRefs.updateAs(updated, { fiberId, fiberRef: Tenant.Tenant, value: tenant })
              if (subject !== undefined) {
                updated = FiberRefs.updateAs(updated, {
                  fiberId,
                  fiberRef: Subject.currentSubject,
                  value: Option.some(subject)
                })
              }
              return updated
            }
      const fiber = runFork(run, updateRefs === undefined ? undefined : { updateRefs })
      const exit = fiber.unsafePoll()
      if (exit !== null) {
        finish(exitReply(exit, answer))
        return
      }
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit) || !Cause.isInterruptedOnly(exit.cause)) write(res, exitReply(exit, answer))
        else if (!res.writableEnded && !res.destroyed) write(res, empty(503))
        gate.leave()
      })
      // The client may have gone while the request waited for its batch.
      if (res.destroyed) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      else {
        res.once("close", () => {
          if (!res.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
        })
      }
    }

    // The body is read (within the limit its Content-Length set, which node:http holds it to) before anything is
    // decided; a body cut short (the request closes before its end) is the platform's empty 400, as one that is
    // not JSON, once the credential has been checked.
    let first: Buffer | undefined
    let chunks: Array<Buffer> | undefined
    let started = false
    const start = (complete: boolean) => {
      if (started) return
      started = true
      const text = !complete
        ? undefined
        : chunks !== undefined
          ? Buffer.concat(chunks).toString("utf8")
          : first === undefined
            ? ""
            : first.toString("utf8")
      defer(() => respond(text))
    }
    req.on("data", (chunk: Buffer) => {
      if (first === undefined) first = chunk
      else if (chunks === undefined) chunks = [first, chunk]
      else chunks.push(chunk)
    })
    // Each fires once a request (`start` runs once either way).
    req.on("end", () => start(true))
    req.on("close", () => start(false))
    return true
  }
}
