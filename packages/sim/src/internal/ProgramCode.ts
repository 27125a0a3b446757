/** The predictors a program's code lists (`name = Kind(signature)` lines), as the sim describes a program. */
import * as Scan from "./Scan.js"

/**
 * Every `^\s*(\S+) = (\w+)\(([^)]*)\)` of a program's code (the `gm` regex's matches), found line by line: the
 * regex retried each line start through runs of blanks and to the next `)`, quadratically (recheck). A match
 * from a line start whose blanks run into the next lines is the one from the last of those lines, so each line
 * is tried with blanks that stay on it, and the next `)` is found once for all lines before it.
 */
export const predictors = (code: string): Array<readonly [name: string, kind: string, args: string]> => {
  const out: Array<readonly [string, string, string]> = []
  const head = /[^\S\n\r\u2028\u2029]*(\S+) = (\w+)\(/y
  let close = -1
  let from = 0
  for (let line = 0; line <= code.length; line++) {
    if (line > 0 && !Scan.isLineBreak(code.charCodeAt(line - 1))) continue
    if (line < from) continue
    head.lastIndex = line
    const m = head.exec(code)
    if (m === null) continue
    const args = line + m[0].length
    if (close < args) close = code.indexOf(")", args)
    if (close < 0) break
    out.push([m[1]!, m[2]!, code.slice(args, close)])
    from = close + 1
  }
  return out
}
