/**
 * `prefix(.+?)suffix` (unanchored, `.` not crossing a line break) found by a linear scan instead of a regex:
 * the regex backtracks quadratically on text that repeats the prefix without the suffix.
 */

import { isLineBreak } from "./Scan.js"

/** A prefix and a suffix around the text to capture. */
export type Pattern = readonly [prefix: string, suffix: string]

/**
 * The leftmost match of `prefix(.+?)suffix` in `text`, as `RegExp.exec` gives it (`[0]` the whole match, `[1]`
 * the capture), or null. The capture is at least one character long and holds no line break.
 */
export const find = (text: string, [prefix, suffix]: Pattern): readonly [string, string] | null => {
  let suffixAt = -1
  let lineBreakAt = -1
  let lineBreakScanned = 0
  for (let at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
    const start = at + prefix.length
    // The first suffix at start + 1 or later, and the first line break at start or later: both only move forward.
    if (suffixAt < start + 1) suffixAt = text.indexOf(suffix, start + 1)
    if (suffixAt < 0) return null
    if (lineBreakAt < start) {
      lineBreakAt = -1
      for (let i = Math.max(start, lineBreakScanned); i < text.length; i++) {
        if (isLineBreak(text.charCodeAt(i))) {
          lineBreakAt = i
          break
        }
      }
      lineBreakScanned = lineBreakAt < 0 ? text.length : lineBreakAt
    }
    if (lineBreakAt < 0 || suffixAt <= lineBreakAt) {
      return [text.slice(at, suffixAt + suffix.length), text.slice(start, suffixAt)]
    }
  }
  return null
}
