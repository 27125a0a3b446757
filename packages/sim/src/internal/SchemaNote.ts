/**
 * The JSON-schema note of an output field in a system prompt (`{name}  # note: the value you produce must adhere
 * to the JSON schema: {...}`), read from one line.
 */

/**
 * `\{(\w+)\}\s+# note: the value you produce must adhere to the JSON schema: (.*)$` on one line, without the
 * regex's quadratic retries (recheck): the note must close the line, so the first note found that ends past the
 * line's last line break (`.` crosses none) is the regex's match.
 */
export const find = (line: string): readonly [name: string, schema: string] | undefined => {
  const lastBreak = Math.max(line.lastIndexOf("\r"), line.lastIndexOf("\u2028"), line.lastIndexOf("\u2029"))
  for (const m of line.matchAll(/\{(\w+)\}\s+# note: the value you produce must adhere to the JSON schema: /g)) {
    const end = m.index + m[0].length
    if (end > lastBreak) return [m[1]!, line.slice(end)]
  }
  return undefined
}
