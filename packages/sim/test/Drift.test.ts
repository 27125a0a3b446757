import { assert, describe, it } from "@effect/vitest"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Drift from "../src/Drift.js"
import * as Engine from "../src/Engine.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const questions = Task.generate(Arithmetic.task, 91, 300)

/** The share of questions the engine answers right, and its mean P(correct). */
const accuracy = (settings: Engine.Settings, qs: ReadonlyArray<{ readonly question: string }>) => {
  let right = 0
  let p = 0
  for (const q of qs) {
    const a = Engine.answer({ model: "sim-1", messages: P.chat(P.cotSig, { question: q.question }) }, settings, 0)
    right += a.decision.correct === true ? 1 : 0
    p += a.decision.probability ?? 0
  }
  return { rate: right / qs.length, p: p / qs.length }
}

describe("SimDrift", () => {
  it("an accuracy drop lowers accuracy on its task from the next call, and clearing it restores it", () => {
    const drift = Drift.make()
    const before = accuracy({ drift }, questions)
    drift.set({ _tag: "AccuracyDrop", task: "arithmetic", logits: 1.5 })
    const during = accuracy({ drift }, questions)
    drift.clear()
    const after = accuracy({ drift }, questions)
    assert.isBelow(during.rate, before.rate - 0.15)
    assert.isBelow(during.p, before.p - 0.15)
    assert.deepStrictEqual(after, before)
  })

  it("a drop of another task changes nothing", () => {
    const drift = Drift.make({ _tag: "AccuracyDrop", task: "routing", logits: 3 })
    assert.deepStrictEqual(accuracy({ drift }, questions.slice(0, 50)), accuracy({}, questions.slice(0, 50)))
  })

  it("a harder family shifts the traffic to harder examples", () => {
    const drift = Drift.make()
    const difficulty = (n: number) => {
      let sum = 0
      for (let i = 0; i < n; i++) {
        const e = Drift.example(drift, "arithmetic", 3, i) as { readonly question: string }
        sum += Arithmetic.task.solve({ question: e.question }, "")!.difficulty
      }
      return sum / n
    }
    const before = difficulty(150)
    drift.set({ _tag: "HarderFamily", task: "arithmetic", share: 0.3 })
    const during = difficulty(150)
    assert.isBelow(during, before - 0.3)
    const harder = Array.from({ length: 150 }, (_, i) => Drift.example(drift, "arithmetic", 3, i)) as Array<{
      readonly question: string
    }>
    drift.clear()
    const plain = Array.from({ length: 150 }, (_, i) => Drift.example(drift, "arithmetic", 3, i)) as Array<{
      readonly question: string
    }>
    assert.isBelow(accuracy({}, harder).p, accuracy({}, plain).p - 0.05)
  })

  it("refuses a bad drift with a message saying what to fix", () => {
    const drift = Drift.make()
    assert.throws(() => drift.set({ _tag: "AccuracyDrop", task: "arithmetic", logits: -1 }), /logits must be/)
    assert.throws(() => drift.set({ _tag: "HarderFamily", task: "arithmetic", share: 0 }), /share must be/)
    assert.isUndefined(drift.current())
  })
})
