/**
 * The fast path of the hottest endpoint, `POST /modules/{id}/execute`: the server's `node:http` request listener
 * hands it every request; it takes the plain ones (the exact path with a valid id, a Bearer key, a JSON body with a
 * Content-Length within the limit, the gate open) and leaves everything else (cookies and tokens, chunked or large
 * bodies, other content types, odd paths, a closing gate) to the platform's HttpApi app, before reading a byte of
 * the body.
 *
 * What it does is what the HttpApi does for that endpoint, with the same code and the same schemas: the same
 * authentication, rate limits and tenant scoping (`Auth.authorize`), the endpoint's own path, payload and success
 * schemas (from the one `Api` description, so the OpenAPI document stays its description), the same handler
 * (`handlers/modules.ts`'s `makeExecute`), the same error bodies and statuses (the Api's error schemas and their
 * status annotations; a decode failure is the platform's `HttpApiDecodeError`, a body that is not JSON the
 * platform's empty 400), in the same order (credentials, then the path, then the body). What it leaves out is the
 * platform's per-request machinery: a router match, a Scope, a request wrapper with a cached body, the middleware
 * chain and an `Effect.async` around the response's end (docs/decisions.md has the measured reason).
 * `test/FastPath.test.ts` sends the same requests down both paths and compares statuses, headers and bodies.
 */
import { FiberLocal, Subject } from "@effect-dspy/foundation"
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
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as http from "node:http"
import { Api } from "../Api.js"
import * as Auth from "../Auth.js"
import type { Gate } from "./gate.js"
import { makeExecute } from "./handlers/modules.js"
import { securityHeaders } from "./headers.js"

/** What a request gets: a status and a JSON body (none: an empty body, as the platform answers a defect). */
interface Reply {
  readonly status: number
  readonly body: string | undefined
}

/** The path the fast path takes; the id's pattern is the endpoint's path schema's (`Schemas.Id`). */
const executePath = /^\/modules\/([\w.:-]{1,128})\/execute$/

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

/** A cause as the platform answers it: a failure by its schema, a defect an empty 500. */
const causeReply = (cause: Cause.Cause<unknown>): Reply => {
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) ? errorReply(failure.value) : empty(500)
}

// In the platform's order: the body's headers, then the security headers.
const jsonHeaders = (body: string) => ({
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

/**
 * The fast path: a `node:http` request listener that answers a request it takes and returns `true`, or returns
 * `false` (having touched nothing) for the platform to answer.
 */
export const make = (options: Options): ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) => {
  const { gate, credentials, maxBodyBytes } = options
  const runFork = Runtime.runFork(options.runtime)
  const decodePath = Schema.decodeUnknownEither(
    Option.getOrThrow(endpoint.pathSchema) as Schema.Schema<{ readonly id: string }>
  )
  const decodePayload = Schema.decodeUnknownEither(
    Option.getOrThrow(endpoint.payloadSchema) as Schema.Schema<Parameters<ReturnType<typeof makeExecute>>[0]["payload"]>
  )
  const encodeSuccess = Schema.encodeEither(endpoint.successSchema as Schema.Schema<unknown, unknown>)
  const successStatus = HttpApiSchema.getStatusSuccessAST(endpoint.successSchema.ast)
  const handler = makeExecute(options.modules)
  const decodeFailure = (error: ParseResult.ParseError) => HttpApiError.HttpApiDecodeError.refailParseError(error)
  const success = (execution: unknown): Effect.Effect<Reply, HttpApiError.HttpApiDecodeError> => {
    const encoded = encodeSuccess(execution)
    return Either.isRight(encoded)
      ? Effect.succeed({ status: successStatus, body: JSON.stringify(encoded.right) })
      : decodeFailure(encoded.left)
  }

  // In the HttpApi's order: the credential, the path, the body (not JSON: the platform's empty 400), the payload,
  // the handler, the success schema. Synchronous up to the execution.
  const program = (head: Auth.RequestHead, id: string, text: string | undefined): Effect.Effect<Reply> =>
    Effect.flatMap(Auth.authorize(credentials, head), (principal) => {
      const path = decodePath({ id })
      if (Either.isLeft(path)) return decodeFailure(path.left)
      let json: unknown
      try {
        json = text === undefined ? undefined : text === "" ? null : JSON.parse(text)
      } catch {
        json = undefined
      }
      if (json === undefined) return Effect.succeed(empty(400))
      const payload = decodePayload(json)
      if (Either.isLeft(payload)) return decodeFailure(payload.left)
      return Effect.flatMap(
        FiberLocal.provideService(
          handler({ path: path.right, payload: payload.right }),
          Auth.CurrentPrincipal,
          principal
        ),
        success
      )
    }).pipe(Effect.catchAllCause((cause) => Effect.succeed(causeReply(cause))))

  return (req, res) => {
    if (req.method !== "POST" || gate.stopping) return false
    const match = executePath.exec(req.url ?? "")
    if (match === null) return false
    const headers = req.headers as Readonly<Record<string, string | undefined>>
    if (headers.authorization === undefined) return false
    const length = headers["content-length"]
    if (length === undefined || !(Number(length) <= maxBodyBytes)) return false
    const contentType = headers["content-type"]
    if (contentType !== undefined && !contentType.toLowerCase().trim().includes("application/json")) return false
    const subject = headers["x-subject"]
    if (subject !== undefined && (subject.length === 0 || subject.length > 512)) return false
    gate.enter()
    // The body is read (within the limit its Content-Length set, which node:http holds it to) before the program
    // starts; a body cut short (an error, or a close before its end) is the platform's empty 400, as one that is
    // not JSON, once the credential has been checked.
    let text = ""
    let started = false
    const start = (body: string | undefined) => {
      if (started) return
      started = true
      const run = program({ headers, url: req.url as string }, match[1] as string, body)
      const fiber = runFork(subject === undefined ? run : Subject.withSubject(run, subject), { immediate: true })
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) write(res, exit.value)
        else if (!Cause.isInterruptedOnly(exit.cause)) write(res, empty(500))
        else if (!res.writableEnded && !res.destroyed) write(res, empty(503))
        gate.leave()
      })
      res.once("close", () => {
        if (!res.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      })
    }
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => {
      text += chunk
    })
    req.once("end", () => start(text))
    req.once("error", () => start(undefined))
    req.once("close", () => start(undefined))
    return true
  }
}
