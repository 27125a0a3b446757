/**
 * The built-in answer metrics, as DSPy computes them: text normalised SQuAD-style (Unicode NFD, lower case,
 * punctuation and the articles a/an/the removed, whitespace collapsed), then exact match, token F1 or
 * passage match. The string functions are here; `Evaluate` wraps them into metrics over examples and
 * predictions (`Evaluate.answerExactMatch`, ...).
 *
 * @since 0.1.0
 */

const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
const ARTICLES = /\b(a|an|the)\b/g

/**
 * Normalises a text for answer comparison: NFD, lower case, ASCII punctuation removed, the articles
 * `a`, `an`, `the` removed, whitespace collapsed to single spaces (DSPy's `normalize_text`).
 *
 * @since 0.1.0
 * @category normalisation
 */
export const normalizeText = (text: string): string => {
  const lowered = text.normalize("NFD").toLowerCase()
  let withoutPunctuation = ""
  for (const ch of lowered) if (!PUNCTUATION.has(ch)) withoutPunctuation += ch
  return withoutPunctuation.replace(ARTICLES, " ").split(/\s+/).filter(Boolean).join(" ")
}

/**
 * The normalised tokens of a text.
 *
 * @since 0.1.0
 * @category normalisation
 */
export const tokens = (text: string): Array<string> => {
  const normalized = normalizeText(text)
  return normalized === "" ? [] : normalized.split(" ")
}

/**
 * True when the prediction equals one of the answers after normalisation.
 *
 * @since 0.1.0
 * @category metrics
 */
export const exactMatch = (prediction: string, answers: string | ReadonlyArray<string>): boolean => {
  const normalized = normalizeText(prediction)
  const list = typeof answers === "string" ? [answers] : answers
  return list.some((answer) => normalizeText(answer) === normalized)
}

/**
 * Token F1 between a prediction and one answer (0 when they share no token, including when both are empty,
 * as in DSPy).
 *
 * @since 0.1.0
 * @category metrics
 */
export const f1Score = (prediction: string, answer: string): number => {
  const predicted = tokens(prediction)
  const gold = tokens(answer)
  const counts = new Map<string, number>()
  for (const token of gold) counts.set(token, (counts.get(token) ?? 0) + 1)
  let same = 0
  for (const token of predicted) {
    const left = counts.get(token) ?? 0
    if (left > 0) {
      same++
      counts.set(token, left - 1)
    }
  }
  if (same === 0) return 0
  const precision = same / predicted.length
  const recall = same / gold.length
  return (2 * precision * recall) / (precision + recall)
}

/**
 * The best token F1 of the prediction against any of the answers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const f1 = (prediction: string, answers: string | ReadonlyArray<string>): number => {
  const list = typeof answers === "string" ? [answers] : answers
  let best = 0
  for (const answer of list) best = Math.max(best, f1Score(prediction, answer))
  return best
}

/**
 * DSPy's `_answer_match`: exact match when `frac >= 1`, else token F1 of at least `frac`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const answerMatch = (prediction: string, answers: string | ReadonlyArray<string>, frac = 1): boolean =>
  frac >= 1 ? exactMatch(prediction, answers) : f1(prediction, answers) >= frac

/**
 * True when the passage contains one of the answers as a whole run of normalised tokens.
 *
 * @since 0.1.0
 * @category metrics
 */
export const passageHasAnswer = (passage: string, answers: string | ReadonlyArray<string>): boolean => {
  const text = ` ${normalizeText(passage)} `
  const list = typeof answers === "string" ? [answers] : answers
  return list.some((answer) => {
    const normalized = normalizeText(answer)
    return normalized !== "" && text.includes(` ${normalized} `)
  })
}

/**
 * True when any passage contains one of the answers (DSPy's `answer_passage_match`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const passageMatch = (passages: ReadonlyArray<string>, answers: string | ReadonlyArray<string>): boolean =>
  passages.some((passage) => passageHasAnswer(passage, answers))
