import * as Effect from "effect/Effect"
import * as Embedder from "../../src/retrieve/Embedder.js"

const vocabulary = ["paris", "france", "rome", "italy", "berlin", "germany", "capital", "river"]
const words = (text: string) => text.toLowerCase().split(/[^a-z]+/)

/** A bag-of-words embedder over a fixed vocabulary: texts sharing words are similar. */
export const bagOfWords = Embedder.make((texts) =>
  Effect.succeed(texts.map((t) => vocabulary.map((w) => words(t).filter((x) => x === w).length)))
)

/** Four passages about capitals. */
export const corpus = [
  "Paris is the capital of France.",
  "Rome is the capital of Italy.",
  "Berlin is the capital of Germany.",
  "The Seine is a river in Paris, France."
]
