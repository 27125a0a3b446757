/**
 * `effect-dspy optimize --module qa --optimizer bootstrap_few_shot --trainset train.jsonl`: starts an
 * optimization job on a running server. The trainset (and `--valset`) is JSON lines, one example a line:
 * `{"fields":{"question":"...","answer":"..."},"inputs":["question"]}`. Prints `{"id","merged"}`; with `--wait`,
 * waits for the job to end and prints it (exit code 1 when it failed).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { InvalidInput, RemoteFailed } from "../CliError.js"
import { request } from "../internal/remote.js"

const readExamples = (file: string): Effect.Effect<ReadonlyArray<unknown>, InvalidInput> =>
  Effect.try({
    try: () =>
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as unknown),
    catch: (cause) =>
      new InvalidInput({
        input: file,
        message: `${file} is not JSON lines of {"fields":{...},"inputs":[...]} (${String(cause)})`
      })
  })

const terminal = new Set(["succeeded", "failed", "cancelled", "swapped", "rejected"])

/**
 * The `optimize` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "optimize",
  {
    url: Options.text("url").pipe(
      Options.withDescription("The server (default EFFECT_DSPY_URL, else http://127.0.0.1:8080)"),
      Options.optional
    ),
    module: Options.text("module").pipe(Options.withDescription("The module to optimize")),
    optimizer: Options.text("optimizer").pipe(Options.withDescription("The optimizer, e.g. bootstrap_few_shot")),
    trainset: Options.file("trainset", { exists: "yes" }).pipe(Options.withDescription("JSON lines of examples")),
    valset: Options.file("valset", { exists: "yes" }).pipe(Options.optional),
    metric: Options.text("metric").pipe(Options.optional),
    wait: Options.boolean("wait").pipe(Options.withDescription("Wait for the job to end"))
  },
  (o) =>
    Effect.gen(function* () {
      const trainset = yield* readExamples(o.trainset)
      const valset = Option.isSome(o.valset) ? yield* readExamples(o.valset.value) : undefined
      const started = (yield* request(o.url, "POST", "/jobs", {
        moduleId: o.module,
        optimizer: o.optimizer,
        trainset,
        ...(valset === undefined ? {} : { valset }),
        ...(Option.isSome(o.metric) ? { metric: o.metric.value } : {})
      })) as { readonly id: string }
      if (!o.wait) return yield* Console.log(JSON.stringify(started))
      while (true) {
        const job = (yield* request(o.url, "GET", `/jobs/${encodeURIComponent(started.id)}`)) as {
          readonly status: string
          readonly error?: string
        }
        if (terminal.has(job.status)) {
          yield* Console.log(JSON.stringify(job))
          if (job.status === "failed") {
            return yield* new RemoteFailed({
              status: 500,
              message: `the job failed: ${job.error ?? "no reason given"}`
            })
          }
          return
        }
        yield* Effect.sleep("1 second")
      }
    })
).pipe(Command.withDescription("Starts an optimization job on a running server"))
