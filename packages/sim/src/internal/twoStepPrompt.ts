/**
 * Reading and answering TwoStepAdapter prompts (docs/prompt-format.md): the main call's system message lists
 * the fields under `As input, you will be provided with:` / `Your outputs must contain:`, messages hold
 * `name: value` blocks, and the answer is written the same way; the extraction call (a ChatAdapter prompt whose
 * instructions ask to extract the fields from a `text` input) is answered with the values that text states.
 *
 * @internal
 */
const INTRO = "You are a helpful assistant that can solve tasks based on user input."
const INPUTS = "As input, you will be provided with:"
const OUTPUTS = "Your outputs must contain:"
const SPECIFIC = "Specific instructions: "
const EXTRACT = "Your job is to extract the fields from the text verbatim."

/** Whether a system message is the TwoStepAdapter's main-call message. */
export const isTwoStep = (system: string): boolean => system.startsWith(INTRO) && system.includes(`\n${OUTPUTS}\n`)

/**
 * The system message in the adapters' shared form (field lines under `Your input fields are:` / `Your output
 * fields are:`, the instructions as the objective), so the common reader reads its fields.
 */
export const normalize = (system: string): string => {
  const lines = system
    .split("\n")
    .map((line) => (line === INPUTS ? "Your input fields are:" : line === OUTPUTS ? "Your output fields are:" : line))
  const at = lines.findIndex((l) => l.startsWith(SPECIFIC))
  const instructions = at < 0 ? "" : lines.slice(at).join("\n").slice(SPECIFIC.length)
  const head = at < 0 ? lines : lines.slice(0, at)
  return `${head.join("\n")}\n\nIn adhering to this structure, your objective is: ${instructions}`
}

/** The `name: value` blocks of a message for the given field names (a line starting `name:` opens one). */
export const sections = (text: string, names: ReadonlyArray<string>): Record<string, string> => {
  const known = new Set(names)
  const out: Record<string, string> = {}
  let current: string | undefined
  const lines: Record<string, Array<string>> = {}
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":")
    const key = colon > 0 ? line.slice(0, colon).trim() : ""
    if (known.has(key) && !Object.hasOwn(lines, key)) {
      current = key
      lines[key] = [line.slice(colon + 1)]
    } else if (current !== undefined) lines[current]!.push(line)
  }
  for (const [key, value] of Object.entries(lines)) {
    Object.defineProperty(out, key, {
      value: value.join("\n").trim(),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

/** An answer: `name: value` per output, in order, separated by blank lines. */
export const render = (
  order: ReadonlyArray<string>,
  values: Readonly<Record<string, unknown>>,
  format: (value: unknown) => string
): string => order.map((name) => `${name}: ${format(values[name])}`).join("\n\n")

/** For an extraction request (a `text` input and the extraction instructions): the outputs the text states. */
export const extraction = (parsed: {
  readonly instructions: string
  readonly request: Readonly<Record<string, string>>
  readonly outputs: ReadonlyArray<{ readonly name: string }>
}): Record<string, unknown> | undefined => {
  const text = parsed.request["text"]
  if (text === undefined || !parsed.instructions.includes(EXTRACT)) return undefined
  return sections(
    text,
    parsed.outputs.map((f) => f.name)
  )
}
