/**
 * Character classes on UTF-16 code units, and the grouped-digit run every numeric detector starts from. Each
 * scanner walks the text once and jumps past every candidate it looked at, so the work is linear in the text.
 */

/** A scanner: calls `emit` with the `[start, end)` of every match, left to right. */
export type Scan = (text: string, emit: (start: number, end: number) => void) => void

export const isDigit = (c: number): boolean => c >= 48 && c <= 57
export const isUpper = (c: number): boolean => c >= 65 && c <= 90
export const isLower = (c: number): boolean => c >= 97 && c <= 122
export const isAlpha = (c: number): boolean => isUpper(c) || isLower(c)
export const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c)
export const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)

/** The code unit at `i`, or -1 outside the text. */
export const at = (text: string, i: number): number => (i >= 0 && i < text.length ? text.charCodeAt(i) : -1)

/** A run of digit groups separated by single separator characters, as {@link digitGroups} reads it. */
export interface Groups {
  /** Where the run ends (exclusive); the caller resumes scanning there. */
  readonly end: number
  /** `[start, end)` of each group of digits. */
  readonly groups: ReadonlyArray<readonly [number, number]>
  /** The separator before each group after the first (one character each). */
  readonly separators: ReadonlyArray<number>
  /** The run has more than `maxGroups` groups or `maxChars` characters (it is read to its end all the same). */
  readonly tooLong: boolean
}

/**
 * Reads the run of digit groups that starts at `start` (a digit): groups of digits joined by one separator
 * accepted by `isSeparator`. A separator not followed by a digit ends the run before it.
 */
export const digitGroups = (
  text: string,
  start: number,
  isSeparator: (c: number) => boolean,
  maxGroups: number,
  maxChars: number
): Groups => {
  const groups: Array<readonly [number, number]> = []
  const separators: Array<number> = []
  let i = start
  const n = text.length
  let tooLong = false
  for (;;) {
    const groupStart = i
    while (i < n && isDigit(text.charCodeAt(i))) i++
    if (groups.length < maxGroups) groups.push([groupStart, i])
    else tooLong = true
    if (i + 1 < n && isSeparator(text.charCodeAt(i)) && isDigit(text.charCodeAt(i + 1))) {
      if (separators.length < maxGroups) separators.push(text.charCodeAt(i))
      i++
      continue
    }
    break
  }
  return { end: i, groups, separators, tooLong: tooLong || i - start > maxChars }
}

/** The lower-cased text of the `width` characters before `index`. */
export const before = (text: string, index: number, width: number): string =>
  text.slice(Math.max(0, index - width), index).toLowerCase()
