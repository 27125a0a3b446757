/**
 * The privacy policy's cost. `scan_throughput`: MB/s of mixed text (prose with e-mails, phones, cards, IBANs,
 * SSNs, IPs, dates of birth and keys, about one finding per 400 characters) through all the built-in detectors
 * (target >= 10), with each detector's own figure beside it (`scan_throughput_<kind>`).
 * `scan_time_ratio_10mb_1mb`: the time for 10 MB over the time for 1 MB (linear: about 10).
 * `mask_overhead_p50`: microseconds added to a `Predict.forward` call on the simulated LM in process by masking
 * (a question holding an e-mail and a phone number, masked, answered and unmasked), the median of per-call
 * differences against the same call without a policy, interleaved call by call (target <= 20).
 */
import { Random } from "@effect-dspy/foundation"
import { Detector, LM, Predict, Privacy, Signature } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, nowUs, quantile } from "../Harness.js"

const MB = 1 << 20

const words = (
  "the order was shipped on time and the customer asked about the invoice for last month while our team " +
  "reviewed the account settings and updated the delivery address before the weekend meeting with support"
).split(" ")
const pii = [
  "ada.lovelace@example.com",
  "+44 20 7946 0958",
  "(415) 555-2671",
  "4111 1111 1111 1111",
  "GB82 WEST 1234 5698 7654 32",
  "SSN 123-45-6788",
  "192.168.10.24",
  "2001:db8::8a2e:370:7334",
  "born on 1985-03-12",
  "sk-proj-abcdefghijklmnopqrstuvwx012345",
  "order 20240117 ref 4411-22",
  "version 1.2.3 at 10:30"
]

/** Mixed text of `bytes` characters, the same for a seed. */
const mixedText = (bytes: number, seed = 7): string => {
  const rng = Random.make(seed, "privacy-bench")
  const parts: Array<string> = []
  let length = 0
  while (length < bytes) {
    const part = rng.int(60) === 0 ? pii[rng.int(pii.length)]! : words[rng.int(words.length)]!
    parts.push(part)
    length += part.length + 1
  }
  return parts.join(" ").slice(0, bytes)
}

/** The best of `runs` timings of `scan` over `text`, in ms. */
const timeScan = (scan: (text: string) => unknown, text: string, runs: number): number => {
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < runs; r++) {
    const start = nowUs()
    scan(text)
    best = Math.min(best, (nowUs() - start) / 1000)
  }
  return best
}

const bench: Bench = {
  name: "privacy",
  description: "PII scan throughput (all detectors and each), linearity, and masking's cost on a Predict call",
  run: async (report) => {
    const text = mixedText(MB)
    const all = Detector.scanner(Detector.builtins())
    if (all(text).length === 0) throw new Error("privacy bench: the mixed text has no findings")
    timeScan(all, text, 2)
    const allMs = timeScan(all, text, 5)
    report({ bench: "privacy", metric: "scan_throughput", value: 1000 / allMs, unit: "MB/s", target: ">= 10 MB/s" })
    for (const detector of Detector.builtins()) {
      const one = Detector.scanner([detector])
      timeScan(one, text, 1)
      const ms = timeScan(one, text, 5)
      report({ bench: "privacy", metric: `scan_throughput_${detector.kind}`, value: 1000 / ms, unit: "MB/s" })
    }
    const big = mixedText(10 * MB)
    const bigMs = timeScan(all, big, 3)
    report({
      bench: "privacy",
      metric: "scan_time_ratio_10mb_1mb",
      value: bigMs / allMs,
      unit: "x",
      target: "< 20x (linear: 10x, quadratic: 100x)"
    })

    // Masking on a Predict call: the same predictor and question, with and without the policy.
    const provider = SimLM.make({})
    const masked = ManagedRuntime.make(
      LM.layerProvider(provider, {
        privacy: Privacy.make(Effect.succeed({ ...Privacy.defaults, mode: "mask" as const }))
      })
    )
    const plain = ManagedRuntime.make(LM.layerProvider(provider))
    const predictor = Predict.make(Signature.make("question -> answer"))
    const question = "Please send the invoice to ada.lovelace@example.com or call +44 20 7946 0958 today."
    const call = Predict.forward(predictor, { question })
    const check = await masked.runPromise(
      Effect.zipRight(
        call,
        Effect.flatMap(LM.LM, (lm) => lm.history)
      )
    )
    const sent = JSON.stringify(check.at(-1)!.request)
    if (sent.includes("ada.lovelace@example.com") || !sent.includes("<EMAIL_1>")) {
      throw new Error("privacy bench: the masked call did not mask the e-mail")
    }
    const ITERATIONS = 8_000
    const WARMUP = 2_000
    const differences: Array<number> = []
    const plainSamples: Array<number> = []
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      const a = nowUs()
      await plain.runPromise(call)
      const b = nowUs()
      await masked.runPromise(call)
      const c = nowUs()
      if (i < WARMUP) continue
      plainSamples.push(b - a)
      differences.push(c - b - (b - a))
    }
    await masked.dispose()
    await plain.dispose()
    report({ bench: "privacy", metric: "predict_plain_p50", value: quantile(plainSamples, 0.5), unit: "us" })
    report({
      bench: "privacy",
      metric: "mask_overhead_p50",
      value: quantile(differences, 0.5),
      unit: "us",
      target: "<= 20 us"
    })
  }
}

export default bench
