import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Embedder from "../../src/retrieve/Embedder.js"
import * as VectorIndex from "../../src/retrieve/VectorIndex.js"
import { bagOfWords, corpus } from "./support.js"

const fixture = path.join(import.meta.dirname, "fixtures", "vector-index-v1.json")

describe("VectorIndex", () => {
  it.effect("search returns the k most similar passages, best first, ties to the earlier passage", () =>
    Effect.gen(function* () {
      const index = yield* VectorIndex.build(corpus, { embedder: bagOfWords })
      const [query] = yield* bagOfWords.embed(["Which river runs through Paris in France?"])
      const hits = VectorIndex.search(index, query!, 2)
      assert.deepStrictEqual(
        hits.map((h) => h.index),
        [3, 0]
      )
      assert.isTrue(hits[0]!.score > hits[1]!.score)
      // a query matching "capital" only ties passages 0, 1 and 2: the earlier ones win
      const tie = VectorIndex.search(index, [0, 0, 0, 0, 0, 0, 1, 0], 2)
      assert.deepStrictEqual(
        tie.map((h) => h.index),
        [0, 1]
      )
      assert.strictEqual(VectorIndex.search(index, query!, 10).length, corpus.length)
      assert.deepStrictEqual(VectorIndex.search(index, query!, 0), [])
    })
  )

  it("top-k equals a full sort for random vectors", () => {
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648 - 0.5
    }
    const vectors = Array.from({ length: 200 }, () => Array.from({ length: 8 }, rand))
    const index = Either.getOrThrow(
      VectorIndex.fromVectors(
        vectors.map((_, i) => `p${i}`),
        vectors
      )
    )
    const query = Array.from({ length: 8 }, rand)
    const sorted = vectors
      .map((v, i) => ({ i, s: Embedder.cosine(v, query) }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, 7)
      .map((x) => x.i)
    assert.deepStrictEqual(
      VectorIndex.search(index, query, 7).map((h) => h.index),
      sorted
    )
  })

  it("fromVectors rejects mismatched counts and sizes with what to fix", () => {
    const counts = VectorIndex.fromVectors(["a", "b"], [[1, 0]])
    assert.isTrue(
      Either.isLeft(counts) && counts.left.reason === "shape" && /one vector per passage/.test(counts.left.message)
    )
    const sizes = VectorIndex.fromVectors(["a", "b"], [[1, 0], [1]])
    assert.isTrue(Either.isLeft(sizes) && /one \(non-empty\) model/.test(sizes.left.message))
  })

  it.effect("save -> load round-trips an index; the file is removed after", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vector-index-"))
      try {
        const file = path.join(dir, "index.json")
        const index = yield* VectorIndex.build(corpus, { embedder: bagOfWords, model: "bow" })
        yield* VectorIndex.save(index, file)
        const loaded = yield* VectorIndex.load(file)
        assert.deepStrictEqual(loaded, index)
        const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { version: number }
        assert.strictEqual(saved.version, VectorIndex.currentVersion)
        const missing = yield* Effect.flip(VectorIndex.load(path.join(dir, "absent.json")))
        assert.strictEqual(missing.reason, "io")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )

  it.effect("opens a version 1 file (the first released format)", () =>
    Effect.gen(function* () {
      const index = yield* VectorIndex.load(fixture)
      assert.strictEqual(index.dimensions, 3)
      assert.strictEqual(index.model, "bag-of-words-3")
      assert.deepStrictEqual(
        VectorIndex.search(index, [0, 1, 0], 1).map((h) => h.text),
        ["Rome is the capital of Italy."]
      )
    })
  )

  it("rejects a file of a future version, saying to upgrade", () => {
    const future = { ...JSON.parse(fs.readFileSync(fixture, "utf8")), version: VectorIndex.currentVersion + 1 }
    const r = VectorIndex.decode(future, "future.json")
    assert.isTrue(Either.isLeft(r))
    if (Either.isLeft(r)) {
      assert.strictEqual(r.left.reason, "version")
      assert.match(r.left.message, /newer than this effect-dspy reads/)
    }
    const garbage = VectorIndex.decode({ hello: 1 })
    assert.isTrue(Either.isLeft(garbage) && garbage.left.reason === "decode")
  })

  it("migrates an older file forward through each step, and fails where a step is missing", () => {
    const v1 = JSON.parse(fs.readFileSync(fixture, "utf8")) as Record<string, unknown>
    // a hypothetical version 2 renames `entries` to `items`
    const steps: VectorIndex.Migrations = {
      1: ({ entries, ...rest }) => ({ ...rest, items: entries })
    }
    const migrated = Either.getOrThrow(VectorIndex.migrate(v1, { target: 2, steps }))
    assert.strictEqual(migrated["version"], 2)
    assert.deepStrictEqual(migrated["items"], v1["entries"])
    const gap = VectorIndex.migrate(v1, { target: 3, steps })
    assert.isTrue(Either.isLeft(gap) && /no migration to 3/.test(gap.left.message))
  })
})
