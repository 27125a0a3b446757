import * as Effect from "effect/Effect"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ToolError } from "../CoreError.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ToolError }

/**
 * A tool needing `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tool<R = never> {
  readonly name: string
  readonly description: string
  /** The JSON schema of each argument, by name (DSPy's `Tool.args`). */
  readonly args: { readonly [name: string]: unknown }
  /** Decodes the arguments and runs the tool. */
  readonly call: (args: unknown) => Effect.Effect<unknown, ToolError, R>
}

const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error) {
    const tag = "_tag" in error ? `${String(error._tag)}: ` : ""
    return `${tag}${String(error.message)}`
  }
  return String(error)
}

/**
 * Builds a tool from a name, a description, a parameters schema (a struct) and an Effect function.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I, E, R>(spec: {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<A, I>
  readonly run: (args: A) => Effect.Effect<unknown, E, R>
}): Tool<R> => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(spec.name)) {
    throw new ToolError({
      tool: spec.name,
      message: `Tool name "${spec.name}" is not valid: use letters, digits and underscores, not starting with a digit.`
    })
  }
  const jsonSchema = JSONSchema.make(spec.parameters) as { readonly properties?: { readonly [k: string]: unknown } }
  const decode = Schema.decodeUnknown(spec.parameters)
  return {
    name: spec.name,
    description: spec.description,
    args: jsonSchema.properties ?? {},
    call: (args) =>
      decode(args ?? {}).pipe(
        Effect.mapError(
          (e) =>
            new ToolError({
              tool: spec.name,
              message: `Invalid arguments for ${spec.name}: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
            })
        ),
        Effect.flatMap((decoded) =>
          Effect.mapError(
            spec.run(decoded),
            (cause) => new ToolError({ tool: spec.name, message: describeError(cause), cause })
          )
        )
      )
  }
}

/**
 * The tool as ReAct lists it in its instructions:
 * `name, whose description is <desc>...</desc>. It takes arguments {...}.`
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (tool: Tool<unknown>): string => {
  const desc =
    tool.description === "" ? "." : `, whose description is <desc>${tool.description}</desc>.`.replace(/\n/g, "  ")
  return `${tool.name}${desc} It takes arguments ${JSON.stringify(tool.args)}.`
}

/**
 * Renders a tool result as observation text: strings as they are, anything else as JSON.
 *
 * @since 0.1.0
 * @category formatting
 */
export const renderResult = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value === undefined) return "None"
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
