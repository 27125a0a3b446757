/**
 * Small text scanners used instead of regexes that backtrack (`/^"+|"+$/g` is quadratic on a long run of quotes
 * not at the end): each is one pass over its input.
 */

/** `text` without its leading and trailing double quotes. */
export const stripQuotes = (text: string): string => {
  let start = 0
  while (start < text.length && text[start] === '"') start++
  let end = text.length
  while (end > start && text[end - 1] === '"') end--
  return text.slice(start, end)
}
