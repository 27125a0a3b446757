/**
 * Reading and writing XMLAdapter messages (docs/prompt-format.md): the system message shows each field as a
 * `<name>` element, values are elements read with core's `XmlTag` (escaped tags stay in the value), and answers
 * are written as elements.
 *
 * @internal
 */
import { XmlTag } from "@effect-dspy/core"
import * as FieldType from "../FieldType.js"

/** Whether a system message with these output fields shows the XMLAdapter's structure. */
export const isXml = (system: string, outputs: ReadonlyArray<{ readonly name: string }>): boolean =>
  outputs.length > 0 && system.includes(`\n${XmlTag.close(outputs[0]!.name)}`)

/** The elements of a message as a record of trimmed, unescaped values (the first element of a name wins). */
export const sections = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const { name, value } of XmlTag.elements(text)) {
    if (Object.hasOwn(out, name)) continue
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** An answer: one element per output, in the requested order. */
export const render = (order: ReadonlyArray<string>, values: Readonly<Record<string, unknown>>): string =>
  order.map((name) => XmlTag.element(name, FieldType.render(values[name]))).join("\n\n")
