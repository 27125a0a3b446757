/**
 * The committed probes of the skill model (issue 11): means over 10 LM seeds of ChainOfThought on 300
 * arithmetic dev examples per seed; the baseline is ChainOfThought with no demos and the default instruction.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Engine from "../src/Engine.js"
import * as Probes from "../src/Probes.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const SEEDS = Array.from({ length: 10 }, (_, i) => i + 1)
const DEV = 300
const NOT_SUPPLIED = "Not supplied for this particular example."

const withInstruction = (instructions: string | undefined, sig: P.Sig = P.cotSig): P.Sig =>
  instructions === undefined ? sig : { ...sig, instructions }

const asDemos = (demos: ReadonlyArray<Probes.Demo>): Array<P.DemoDef> =>
  demos.map((d) => ({
    inputs: { question: d.question },
    outputs: { reasoning: d.reasoning ?? NOT_SUPPLIED, answer: d.answer }
  }))

type Config = readonly [P.Sig, (sets: ReturnType<typeof Probes.demoSets>) => ReadonlyArray<Probes.Demo>]

const none = () => []
const configs = {
  predict: [P.predictSig, none],
  baseline: [P.cotSig, none],
  labeled: [P.cotSig, (s) => s.labeled],
  bootstrapped: [P.cotSig, (s) => s.bootstrapped],
  best: [withInstruction(Probes.canonical), (s) => s.bootstrapped],
  canonical: [withInstruction(Probes.canonical), none],
  nonsense: [withInstruction(Probes.nonsense), none],
  negated: [withInstruction(Probes.negated), none],
  paraphrase: [withInstruction(Probes.paraphrase), none],
  trivial: [P.cotSig, (s) => s.trivial],
  duplicate: [P.cotSig, (s) => s.duplicate],
  wrong: [P.cotSig, (s) => s.wrong],
  neutralA: [withInstruction(Probes.neutral[0]), none],
  neutralB: [withInstruction(Probes.neutral[1]), none]
} satisfies Record<string, Config>

type Name = keyof typeof configs

/** Per configuration: the mean accuracy (%) over seeds, and every example's outcome in order. */
const measure = (): Record<Name, { mean: number; outcomes: Array<boolean> }> => {
  const out = {} as Record<Name, { mean: number; outcomes: Array<boolean> }>
  for (const name of Object.keys(configs) as Array<Name>) out[name] = { mean: 0, outcomes: [] }
  for (const seed of SEEDS) {
    const data = Task.splits(Arithmetic.task, { seed, train: 20, dev: DEV, test: 0 })
    const sets = Probes.demoSets(data.train)
    for (const [name, [sig, demosOf]] of Object.entries(configs) as Array<[Name, Config]>) {
      const demos = asDemos(demosOf(sets))
      let ok = 0
      for (const e of data.dev) {
        const r = Engine.respond({ model: "sim-1", messages: P.chat(sig, { question: e.question }, demos) }, { seed })
        const right = Number(P.parseChat(r.choices[0]!.content)["answer"]) === e.answer
        out[name].outcomes.push(right)
        if (right) ok++
      }
      out[name].mean += (100 * ok) / data.dev.length / SEEDS.length
    }
  }
  return out
}

describe("skill model probes (means over 10 LM seeds, CoT on arithmetic)", () => {
  const m = measure()
  const base = m.baseline.mean
  const report = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v.mean * 10) / 10]))

  it("is calibrated: Predict 35-45, CoT 50-55, 4 bootstrapped demos 68-76 and above labelled, best 82-90", () => {
    assert.isTrue(m.predict.mean >= 35 && m.predict.mean <= 45, JSON.stringify(report))
    assert.isTrue(base >= 50 && base <= 55, JSON.stringify(report))
    assert.isTrue(m.bootstrapped.mean >= 68 && m.bootstrapped.mean <= 76, JSON.stringify(report))
    assert.isAbove(m.bootstrapped.mean, m.labeled.mean, JSON.stringify(report))
    assert.isTrue(m.best.mean >= 82 && m.best.mean <= 90, JSON.stringify(report))
  })

  it("nonsense containing the rewarded phrases earns at most 2 points over the baseline", () => {
    assert.isAtMost(m.nonsense.mean, base + 2, JSON.stringify(report))
  })

  it("negated strategies earn at most 1 point over the baseline", () => {
    assert.isAtMost(m.negated.mean, base + 1, JSON.stringify(report))
  })

  it("a paraphrase the proposer never writes earns at least 80% of the canonical instruction's gain", () => {
    const proposed = new Set(Arithmetic.inventory.concepts.flatMap((c) => c.phrasings))
    assert.isFalse(proposed.has(Probes.paraphrase))
    assert.isAbove(m.canonical.mean - base, 10, JSON.stringify(report))
    assert.isAtLeast(m.paraphrase.mean - base, 0.8 * (m.canonical.mean - base), JSON.stringify(report))
  })

  it("wrong demos score below the baseline; trivial or duplicated demos at least 5 below varied relevant ones", () => {
    assert.isBelow(m.wrong.mean, base, JSON.stringify(report))
    assert.isAtMost(m.trivial.mean, m.bootstrapped.mean - 5, JSON.stringify(report))
    assert.isAtMost(m.duplicate.mean, m.bootstrapped.mean - 5, JSON.stringify(report))
  })

  it("two neutral rewordings agree on at least 97% of per-example outcomes", () => {
    const a = m.neutralA.outcomes
    const b = m.neutralB.outcomes
    const agree = a.filter((x, i) => x === b[i]).length / a.length
    assert.isAtLeast(agree, 0.97)
  })
})
