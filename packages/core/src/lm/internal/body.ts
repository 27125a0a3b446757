/**
 * Reading response bodies within a size limit. The transport and the provider signal trouble with these two
 * internal errors (they cross the SDK's promise code as `Error`s); the provider maps them onto the LM family.
 *
 * @internal
 */
import * as Data from "effect/Data"

/** The body grew past `limitBytes`; reading stopped there. */
export class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<{ readonly limitBytes: number }> {
  override get message(): string {
    return `the response body passed ${this.limitBytes} bytes`
  }
}

/** The connection broke while the body was read (after the status and headers had arrived). */
export class BodyReadFailed extends Data.TaggedError("BodyReadFailed")<{ readonly cause: unknown }> {
  override get message(): string {
    return `the connection broke while reading the response: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** The limit a request asks of the transport, passed in its `RequestInit` (the SDK's `fetchOptions`). */
export interface LimitInit {
  readonly maxResponseBytes?: number
}

/** The limit in a `RequestInit`, or none. */
export const limitOf = (init: unknown): number =>
  typeof init === "object" && init !== null && typeof (init as LimitInit).maxResponseBytes === "number"
    ? (init as { maxResponseBytes: number }).maxResponseBytes
    : Number.POSITIVE_INFINITY

/** Fails at once when the declared `content-length` is over the limit. */
export const checkDeclared = (contentLength: string | null | undefined, limitBytes: number): void => {
  if (contentLength === null || contentLength === undefined) return
  const declared = Number(contentLength)
  if (Number.isFinite(declared) && declared > limitBytes) throw new ResponseTooLarge({ limitBytes })
}

/**
 * The body's text, read chunk by chunk and abandoned (the stream cancelled) as soon as it passes the limit.
 * A body already read (no stream) is measured as it is.
 */
export const readText = async (response: Response, limitBytes: number): Promise<string> => {
  checkDeclared(response.headers.get("content-length"), limitBytes)
  const body = response.body
  if (body === null || body === undefined) {
    const text = await response.text()
    if (Buffer.byteLength(text, "utf8") > limitBytes) throw new ResponseTooLarge({ limitBytes })
    return text
  }
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const parts: Array<string> = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limitBytes) {
        reader.cancel().catch(() => undefined)
        throw new ResponseTooLarge({ limitBytes })
      }
      parts.push(decoder.decode(value, { stream: true }))
    }
  } catch (error) {
    if (error instanceof ResponseTooLarge) throw error
    throw new BodyReadFailed({ cause: error })
  }
  parts.push(decoder.decode())
  return parts.join("")
}
