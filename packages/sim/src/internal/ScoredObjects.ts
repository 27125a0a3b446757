/**
 * JSON-like objects with an `instruction` string and a numeric `score`, found by a linear scan. It replaces the
 * regex `\{[^{}]*"instruction"\s*:\s*"((?:[^"\\]|\\.)*)"[^{}]*"score"\s*:\s*(-?\d+(?:\.\d+)?)[^{}]*\}` (global),
 * which backtracks quadratically on an object that repeats its `instruction` key without closing (recheck,
 * through `pnpm lint:regex`), and gives what `matchAll` gave on any text:
 *
 * - an object opens at a `{`; its `"instruction"` key is the last one before the next brace whose string
 *   closes, is followed by no brace but a `}`, with a `"score"` key between (the regex's greedy `[^{}]*`);
 * - the string may hold braces; a backslash escapes any character but a line break;
 * - the score is the last `"score"` key before that `}` followed by a number;
 * - the next object is looked for after that `}`.
 */
import { isDigit, isSpace, numberEnd, runEnd } from "./Scan.js"

const INSTRUCTION = '"instruction"'
const SCORE = '"score"'
const QUOTE = 34
const BACKSLASH = 92
const OPEN = 123
const CLOSE = 125
const COLON = 58

/** An object read: its instruction text (as written, escapes kept) and score. */
export interface Scored {
  readonly text: string
  readonly score: number
}

const isBrace = (code: number) => code === OPEN || code === CLOSE

/** After `"key"` at `from`: the position past `\s*:\s*`, or -1. */
const afterColon = (text: string, from: number): number => {
  const colon = runEnd(text, from, isSpace)
  return text.charCodeAt(colon) === COLON ? runEnd(text, colon + 1, isSpace) : -1
}

/** The closing quote of the string whose content starts at `from` (`(?:[^"\\]|\\.)*"`), or -1. */
const closingQuote = (text: string, from: number): number => {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === QUOTE) return i
    if (code === BACKSLASH) {
      const next = text.charCodeAt(i + 1)
      if (Number.isNaN(next) || next === 10 || next === 13 || next === 0x2028 || next === 0x2029) return -1
      i++
    }
  }
  return -1
}

/** Every object read, in order. */
export const find = (text: string): Array<Scored> => {
  const out: Array<Scored> = []
  // Forward-only cursors: the instruction keys, the braces before them, the braces and score keys after strings.
  let from = 0
  let braceScan = 0
  let lastBrace = -1
  let nextBrace = -1
  let nextScore = text.indexOf(SCORE)
  let lastScore = -1
  let owner = -1
  let best: { readonly text: string; readonly score: number; readonly close: number } | undefined
  const flush = () => {
    if (best !== undefined) {
      out.push({ text: best.text, score: best.score })
      from = best.close + 1
      best = undefined
    }
  }
  for (let key = text.indexOf(INSTRUCTION); key >= 0; key = text.indexOf(INSTRUCTION, key + 1)) {
    for (; braceScan < key; braceScan++) if (isBrace(text.charCodeAt(braceScan))) lastBrace = braceScan
    if (lastBrace !== owner) {
      flush()
      owner = lastBrace
    }
    if (owner < from || text.charCodeAt(owner) !== OPEN) continue
    const open = afterColon(text, key + INSTRUCTION.length)
    if (open < 0 || text.charCodeAt(open) !== QUOTE) continue
    const quote = closingQuote(text, open + 1)
    if (quote < 0) continue
    if (nextBrace <= quote) {
      nextBrace = -1
      for (let i = quote + 1; i < text.length; i++) {
        if (isBrace(text.charCodeAt(i))) {
          nextBrace = i
          break
        }
      }
      if (nextBrace < 0) break
    }
    if (text.charCodeAt(nextBrace) !== CLOSE) continue
    // The last `"score"\s*:\s*-?\d` that starts before the closing brace (and after the string).
    for (; nextScore >= 0 && nextScore < nextBrace; nextScore = text.indexOf(SCORE, nextScore + 1)) {
      const value = afterColon(text, nextScore + SCORE.length)
      if (value < 0) continue
      const digit = text.charCodeAt(value) === 45 ? value + 1 : value
      if (isDigit(text.charCodeAt(digit))) lastScore = nextScore
    }
    if (lastScore <= quote) continue
    const value = afterColon(text, lastScore + SCORE.length)
    best = {
      text: text.slice(open + 1, quote),
      score: Number(text.slice(value, numberEnd(text, value))),
      close: nextBrace
    }
  }
  flush()
  return out
}
