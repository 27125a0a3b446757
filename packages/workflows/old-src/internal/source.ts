/**
 * A workflow file's text as a YAML document (JSON is YAML too) that keeps where each key sits, so an issue found
 * later at a key path (`steps[2].timeoutMs`) is reported at its line and column.
 */
import * as YAML from "yaml"
import type { Issue } from "../WorkflowError.js"

/** A parsed document: its plain value, and a locator from key paths to positions. */
export interface Source {
  readonly file: string
  readonly value: unknown
  readonly locate: (path: ReadonlyArray<PropertyKey>) => { readonly line: number; readonly column: number } | undefined
}

/** A key path as text: `steps[2].branch.cases[0].when`. */
export const pathText = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`
  return out === "" ? "(root)" : out
}

/** Parses the text; a syntax error is an issue with its line. */
export const parse = (
  file: string,
  text: string
): { readonly ok: true; readonly source: Source } | { readonly ok: false; readonly issues: ReadonlyArray<Issue> } => {
  const lineCounter = new YAML.LineCounter()
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      // The first syntax error: the ones after it are mostly its echoes.
      issues: doc.errors.slice(0, 1).map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0])
        return {
          file,
          line: pos.line,
          column: pos.col,
          path: "(syntax)",
          message: `not valid YAML or JSON: ${e.message.split("\n")[0]}`
        }
      })
    }
  }
  const locate = (path: ReadonlyArray<PropertyKey>) => {
    // The deepest node on the path that exists; for a key, the key's own position.
    for (let n = path.length; n >= 0; n--) {
      const parent = n === 0 ? doc.contents : doc.getIn(path.slice(0, n - 1) as Array<unknown>, true)
      if (n === 0) {
        const range = (doc.contents as { range?: [number, number, number] } | null)?.range
        return range ? toPos(lineCounter, range[0]) : undefined
      }
      const last = path[n - 1]
      if (YAML.isMap(parent)) {
        const pair = parent.items.find((item) => YAML.isScalar(item.key) && item.key.value === last)
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range
        if (range) return toPos(lineCounter, range[0])
      } else if (YAML.isSeq(parent) && typeof last === "number") {
        const range = (parent.items[last] as { range?: [number, number, number] } | undefined)?.range
        if (range) return toPos(lineCounter, range[0])
      }
    }
    return undefined
  }
  return { ok: true, source: { file, value: doc.toJS({ maxAliasCount: 100 }) as unknown, locate } }
}

const toPos = (counter: YAML.LineCounter, offset: number) => {
  const p = counter.linePos(offset)
  return { line: p.line, column: p.col }
}

/** An issue at a key path, placed in the source. */
export const issueAt = (source: Source, path: ReadonlyArray<PropertyKey>, message: string): Issue => {
  const pos = source.locate(path)
  return {
    file: source.file,
    ...(pos === undefined ? {} : { line: pos.line, column: pos.column }),
    path: pathText(path),
    message
  }
}

/** An issue as one line: `file:line:column key: message`. */
export const render = (issue: Issue): string =>
  `${issue.file}${issue.line === undefined ? "" : `:${issue.line}:${issue.column ?? 1}`} ${issue.path}: ${issue.message}`
