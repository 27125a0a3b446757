import { Example, Module, Predict } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Fiber from "effect/Fiber"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as BootstrapFewShot from "../../src/few-shot/BootstrapFewShot.js"
import * as Checkpoint from "../../src/Checkpoint.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, promptText, recordingSim, signature } from "../support/sim.js"

const data = arithmetic({ seed: 7, train: 30, dev: 10 })
const train12 = data.train.slice(0, 12)
const never = () => false

const demosOf = (program: Module.Program, at = "predict") => Module.demos(program)[at]!

describe("BootstrapFewShot", () => {
  it.effect("demos = bootstrapped traces (up to the max) then labeled examples from the others", () =>
    Effect.gen(function* () {
      const student = cot()
      const { program, report } = yield* Optimizer.compile(
        BootstrapFewShot.make({ maxBootstrappedDemos: 3, maxLabeledDemos: 5 }),
        student,
        { trainset: train12, metric, concurrency: 1 }
      )
      const demos = demosOf(program)
      const bootstrapped = report.details["bootstrappedIndexes"] as ReadonlyArray<number>
      assert.strictEqual(bootstrapped.length, 3)
      assert.strictEqual(demos.length, 5)
      const augmented = demos.slice(0, 3)
      const labeled = demos.slice(3)
      for (const [i, demo] of augmented.entries()) {
        assert.isTrue(demo.get("augmented"))
        assert.isString(demo.get("reasoning"))
        assert.strictEqual(demo.get("question"), train12[bootstrapped[i]!]!.get("question"))
        assert.strictEqual(Number(demo.get("answer")), train12[bootstrapped[i]!]!.get("answer"))
      }
      for (const demo of labeled) {
        const index = train12.findIndex((t) => Equal.equals(t, demo))
        assert.isAtLeast(index, 0)
        assert.notInclude(bootstrapped, index)
      }
      // The walk stopped at the third success: it visited exactly the examples up to it (one round each).
      assert.strictEqual(report.details["attempts"], bootstrapped[2]! + 1)
      assert.strictEqual(report.lmCalls, bootstrapped[2]! + 1)
      assert.strictEqual(demosOf(student).length, 0)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("the teacher gets labeled demos first, never including the example it is run on", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      yield* Optimizer.compile(BootstrapFewShot.make({ maxLabeledDemos: 16 }), cot(), {
        trainset: train12,
        metric: never,
        concurrency: 1
      })
      assert.strictEqual(requests.length, train12.length)
      requests.forEach((request, k) => {
        const text = promptText(request)
        const count = (q: string) => text.split(q).length - 1
        // Example k appears once (as the input), every other training example once (as a demo).
        train12.forEach((example, j) => {
          assert.strictEqual(count(String(example.get("question"))), 1, `request ${k}, example ${j}`)
        })
        const last = request.messages.at(-1)!
        assert.include(String(last.content), String(train12[k]!.get("question")))
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("round r > 0 runs with rolloutId r and temperature 1.0; every round counts as an attempt", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const { report } = yield* Optimizer.compile(BootstrapFewShot.make({ maxRounds: 3, maxLabeledDemos: 0 }), cot(), {
        trainset: train12.slice(0, 4),
        metric: never,
        concurrency: 2
      })
      assert.strictEqual(report.details["attempts"], 12)
      assert.strictEqual(requests.length, 12)
      const byRound = [0, 1, 2].map((r) => requests.filter((q) => (q.rolloutId ?? 0) === r))
      assert.deepStrictEqual(
        byRound.map((rs) => rs.length),
        [4, 4, 4]
      )
      assert.isTrue(byRound[0]!.every((q) => q.rolloutId === undefined && q.temperature === undefined))
      assert.isTrue(byRound[1]!.every((q) => q.temperature === 1))
      assert.isTrue(byRound[2]!.every((q) => q.temperature === 1))
      // No demos when nothing succeeded and no labeled demos are allowed.
    }).pipe(Effect.provide(layer))
  })

  it.effect("failed teacher runs count toward maxErrors, at the same point for every concurrency", () => {
    const { layer, requests } = recordingSim()
    const failing = () => Effect.fail("metric broke")
    return Effect.gen(function* () {
      const one = yield* Effect.flip(
        Optimizer.compile(BootstrapFewShot.make({ maxErrors: 3 }), cot(), {
          trainset: train12,
          metric: failing,
          concurrency: 1
        })
      )
      assert.strictEqual(one._tag, "TooManyErrors")
      assert.strictEqual(requests.length, 3)
      const eight = yield* Effect.flip(
        Optimizer.compile(BootstrapFewShot.make({ maxErrors: 3 }), cot(), {
          trainset: train12,
          metric: failing,
          concurrency: 8
        })
      )
      assert.deepStrictEqual(eight, one)
      if (eight._tag === "TooManyErrors") {
        assert.strictEqual(eight.errors, 3)
        assert.include(eight.lastError, "metric broke")
      }
      // Below the limit, errors are counted and the walk goes on.
      const tolerated = yield* Optimizer.compile(BootstrapFewShot.make({ maxErrors: 100 }), cot(), {
        trainset: train12.slice(0, 5),
        metric: failing,
        concurrency: 3
      })
      assert.strictEqual(tolerated.report.details["errors"], 5)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the same seed gives the same program for concurrency 1, 3 and 8", () =>
    Effect.gen(function* () {
      const compileWith = (concurrency: number) =>
        Effect.map(
          Optimizer.compile(
            BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 8, maxRounds: 2 }),
            cot(),
            {
              trainset: data.train,
              metric,
              seed: 11,
              concurrency
            }
          ),
          (c) => Module.dumpState(c.program)
        )
      const one = yield* compileWith(1)
      assert.deepStrictEqual(yield* compileWith(3), one)
      assert.deepStrictEqual(yield* compileWith(8), one)
      const otherSeed = yield* Effect.map(
        Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 8, maxRounds: 2 }), cot(), {
          trainset: data.train,
          metric,
          seed: 12,
          concurrency: 8
        }),
        (c) => Module.dumpState(c.program)
      )
      assert.notDeepEqual(otherSeed, one)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("teacher runs overlap up to the concurrency, and at most concurrency - 1 run past the walk's end", () => {
    const { layer, requests, flight } = recordingSim()
    return Effect.gen(function* () {
      const { report } = yield* Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 6 }), cot(), {
        trainset: data.train,
        metric,
        concurrency: 3
      })
      assert.isAtMost(flight.max, 3)
      assert.isAtLeast(flight.max, 2)
      const attempts = report.details["attempts"] as number
      assert.isAtLeast(requests.length, attempts)
      assert.isAtMost(requests.length, attempts + 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("property: for any seed and concurrency, the program is the sequential walk's", () =>
    Effect.gen(function* () {
      const settings = { maxBootstrappedDemos: 3, maxLabeledDemos: 5, maxRounds: 2 }
      const trainset = data.train.slice(0, 14)
      const compileWith = (seed: number, concurrency: number) =>
        Effect.map(
          Optimizer.compile(BootstrapFewShot.make(settings), cot(), { trainset, metric, seed, concurrency }),
          (c) => Module.dumpState(c.program)
        )
      const samples = fc.sample(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2, max: 9 })), {
        numRuns: 6,
        seed: 42
      })
      for (const [seed, concurrency] of samples) {
        assert.deepStrictEqual(yield* compileWith(seed, concurrency), yield* compileWith(seed, 1), `seed ${seed}`)
      }
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("a predictor called several times in one run contributes one demo per bootstrapped example", () =>
    Effect.gen(function* () {
      const twice = Module.make({
        name: "Twice",
        parameters: { p: Predict.make(signature) },
        forward: (p, inputs: { readonly question: string }) => Effect.zipRight(p.p(inputs), p.p(inputs))
      })
      const { program } = yield* Optimizer.compile(
        BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 2 }),
        twice,
        { trainset: train12, metric, concurrency: 4 }
      )
      const demos = demosOf(program, "p")
      assert.strictEqual(demos.length, 2)
      assert.isTrue(demos.every((d) => d.get("augmented") === true))
      assert.notStrictEqual(demos[0]!.get("question"), demos[1]!.get("question"))
      const wrongTeacher = yield* Effect.flip(
        Optimizer.compile(BootstrapFewShot.make(), twice, { trainset: train12, metric, teacher: cot() })
      )
      assert.strictEqual(wrongTeacher._tag, "OptimizerConfigError")
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("a compiled program saved, loaded and run gives the same predictions", () =>
    Effect.gen(function* () {
      const { program } = yield* Optimizer.compile(BootstrapFewShot.make({ maxLabeledDemos: 6 }), cot(), {
        trainset: data.train,
        metric
      })
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bfs-")), "program.json")
      yield* Module.save(program, file)
      const loaded = yield* Module.load(cot(), file)
      assert.deepStrictEqual(Module.dumpState(loaded), Module.dumpState(program))
      for (const example of data.dev) {
        const a = yield* Optimizer.callProgram(program, example)
        const b = yield* Optimizer.callProgram(loaded, example)
        assert.deepStrictEqual(a.toRecord(), b.toRecord())
      }
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect(
    "interrupted midway and restarted with the same store: no finished teacher run repeats, same program",
    () => {
      const { layer, requests } = recordingSim()
      const optimizer = BootstrapFewShot.make({ maxBootstrappedDemos: 25, maxLabeledDemos: 4 })
      const options = { trainset: data.train, metric, concurrency: 2, runId: "bootstrap-resume" }
      return Effect.gen(function* () {
        const reference = yield* Optimizer.compile(optimizer, cot(), { ...options, runId: "reference" })
        const referenceCalls = requests.length
        requests.length = 0
        const sixDone = yield* Deferred.make<void>()
        let steps = 0
        const fiber = yield* Effect.fork(
          Optimizer.compile(optimizer, cot(), {
            ...options,
            onProgress: (event) =>
              event._tag === "Step" && ++steps === 6 ? Deferred.succeed(sixDone, undefined) : Effect.void
          })
        )
        yield* Deferred.await(sixDone)
        yield* Fiber.interrupt(fiber)
        const firstCalls = requests.length
        const resumed = yield* Optimizer.compile(optimizer, cot(), options)
        assert.isAtLeast(resumed.report.resumedUnits, 6)
        assert.strictEqual(resumed.report.resumedUnits + resumed.report.units, reference.report.units)
        assert.isAtMost(firstCalls + resumed.report.lmCalls, referenceCalls + options.concurrency)
        assert.isBelow(resumed.report.lmCalls, reference.report.lmCalls)
        assert.deepStrictEqual(Module.dumpState(resumed.program), Module.dumpState(reference.program))
      }).pipe(Effect.provide(layer), Effect.provide(Checkpoint.layerMemory))
    }
  )

  it.effect("a tight budget stops the walk: calls <= max + concurrency - 1, the demos found so far are kept", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const { program, report } = yield* Optimizer.compile(
        BootstrapFewShot.make({ maxBootstrappedDemos: 25, maxLabeledDemos: 0 }),
        cot(),
        { trainset: data.train, metric, concurrency: 4, budget: { maxLmCalls: 5 } }
      )
      assert.isTrue(report.budgetExhausted)
      assert.isTrue(report.details["stoppedByBudget"] as boolean)
      assert.isAtLeast(report.lmCalls, 5)
      assert.isAtMost(report.lmCalls, 5 + 4 - 1)
      assert.strictEqual(requests.length, report.lmCalls)
      const bootstrapped = report.details["bootstrapped"] as number
      assert.isAbove(bootstrapped, 0)
      assert.strictEqual(demosOf(program).length, bootstrapped)
    }).pipe(Effect.provide(layer))
  })
})

// Keep Example referenced for readers: demos are Examples.
void Example.isExample
