/**
 * `effect-dspy jobs`: the optimization jobs of a running server (`jobs list`, `jobs status ID`, `jobs cancel ID`),
 * as one JSON line each with `--json`, else as a table.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { request } from "../internal/remote.js"

const url = Options.text("url").pipe(
  Options.withDescription("The server (default EFFECT_DSPY_URL, else http://127.0.0.1:8080)"),
  Options.optional
)
const json = Options.boolean("json").pipe(Options.withDescription("Print JSON lines"))

interface Job {
  readonly id: string
  readonly moduleId: string
  readonly optimizer: string
  readonly status: string
  readonly progress: { readonly trials: number; readonly bestScore?: number; readonly lmCalls: number }
}

const line = (job: Job) =>
  `${job.id}  ${job.moduleId}  ${job.optimizer}  ${job.status}  trials ${job.progress.trials}  best ${
    job.progress.bestScore === undefined ? "-" : job.progress.bestScore.toFixed(2)
  }  LM calls ${job.progress.lmCalls}`

const print = (jobs: ReadonlyArray<Job>, asJson: boolean) =>
  Console.log(asJson ? jobs.map((j) => JSON.stringify(j)).join("\n") : jobs.map(line).join("\n"))

const list = Command.make("list", { url, json }, (o) =>
  Effect.flatMap(request(o.url, "GET", "/jobs"), (jobs) => print(jobs as ReadonlyArray<Job>, o.json))
).pipe(Command.withDescription("Lists the jobs"))

const status = Command.make("status", { url, json, id: Args.text({ name: "id" }) }, (o) =>
  Effect.flatMap(request(o.url, "GET", `/jobs/${encodeURIComponent(o.id)}`), (job) => print([job as Job], o.json))
).pipe(Command.withDescription("Shows one job"))

const cancel = Command.make("cancel", { url, json, id: Args.text({ name: "id" }) }, (o) =>
  Effect.flatMap(request(o.url, "POST", `/jobs/${encodeURIComponent(o.id)}/cancel`), (job) =>
    print([job as Job], o.json)
  )
).pipe(Command.withDescription("Cancels a queued or running job"))

/**
 * The `jobs` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("jobs").pipe(
  Command.withDescription("The optimization jobs of a running server"),
  Command.withSubcommands([list, status, cancel])
)
