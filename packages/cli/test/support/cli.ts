/**
 * Runs the `effect-dspy` command line in this process: the executable's program (`Cli.main`, as `src/bin.ts` runs
 * it, on `NodeContext`) with its console captured, the environment given as the config provider (and the variables
 * the remote commands read from `process.env` set for the call), and the exit code the executable would give (0 on
 * success, 1 on a failure). A process costs seconds to start from source; the tests about the executable itself
 * (Cli.test.ts) still spawn it.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as nodeConsole from "node:console"
import * as stream from "node:stream"
import * as Cli from "../../src/Cli.js"

/** What a run of the command line gave. */
export interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment without provider keys or a config file, so the default provider is the simulated LM. */
export const cleanEnvironment: { readonly [name: string]: string } = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined &&
      !entry[0].startsWith("OPENAI_") &&
      !entry[0].startsWith("ANTHROPIC_") &&
      !entry[0].startsWith("EFFECT_DSPY")
  )
)

const sink = (append: (text: string) => void) =>
  new stream.Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      append(chunk.toString())
      callback()
    }
  })

/** An Effect console writing into strings (`log` to stdout, `error` and `warn` to stderr, as `console` does). */
const capture = () => {
  let stdout = ""
  let stderr = ""
  const unsafe = new nodeConsole.Console({
    stdout: sink((text) => (stdout += text)),
    stderr: sink((text) => (stderr += text)),
    colorMode: false
  })
  const sync =
    <A extends ReadonlyArray<unknown>>(f: (...args: A) => void) =>
    (...args: A) =>
      Effect.sync(() => f(...args))
  const console: Console.Console = {
    [Console.TypeId]: Console.TypeId,
    assert: sync((condition: boolean, ...args: ReadonlyArray<unknown>) =>
      unsafe.assert(condition, ...(args as Array<string>))
    ),
    clear: Effect.void,
    count: sync((label?: string) => unsafe.count(label)),
    countReset: sync((label?: string) => unsafe.countReset(label)),
    debug: sync((...args: ReadonlyArray<unknown>) => unsafe.debug(...args)),
    dir: sync((item: unknown, options?: unknown) => unsafe.dir(item, options as never)),
    dirxml: sync((...args: ReadonlyArray<unknown>) => unsafe.dirxml(...args)),
    error: sync((...args: ReadonlyArray<unknown>) => unsafe.error(...args)),
    group: sync((options?: { readonly label?: string | undefined; readonly collapsed?: boolean | undefined }) =>
      options?.collapsed === true ? unsafe.groupCollapsed(options.label) : unsafe.group(options?.label)
    ),
    groupEnd: Effect.sync(() => unsafe.groupEnd()),
    info: sync((...args: ReadonlyArray<unknown>) => unsafe.info(...args)),
    log: sync((...args: ReadonlyArray<unknown>) => unsafe.log(...args)),
    table: sync((data: unknown, properties?: ReadonlyArray<string>) =>
      unsafe.table(data, properties as Array<string> | undefined)
    ),
    time: sync((label?: string) => unsafe.time(label)),
    timeEnd: sync((label?: string) => unsafe.timeEnd(label)),
    timeLog: sync((label?: string, ...args: ReadonlyArray<unknown>) => unsafe.timeLog(label, ...args)),
    trace: sync((...args: ReadonlyArray<unknown>) => unsafe.trace(...args)),
    warn: sync((...args: ReadonlyArray<unknown>) => unsafe.warn(...args)),
    unsafe
  }
  return { console, output: () => ({ stdout, stderr }) }
}

/**
 * Makes the `EFFECT_DSPY*` variables of `process.env` those of `environment` for the call (the remote commands read
 * them there), and restores them after.
 */
const withProcessEnvironment = <A, E, R>(
  environment: { readonly [name: string]: string },
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const names = [...new Set([...Object.keys(environment), ...Object.keys(process.env)])].filter((name) =>
    name.startsWith("EFFECT_DSPY")
  )
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = names.map((name) => [name, process.env[name]] as const)
      for (const name of names) {
        const value = environment[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        for (const [name, value] of before) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )
}

/**
 * Runs `effect-dspy ...args` in this process with `environment` (default: {@link cleanEnvironment}) and gives its
 * exit code and output. Never fails: a failure is a non-zero code with the message on stderr, as from the executable.
 */
export const run = (
  args: ReadonlyArray<string>,
  environment: { readonly [name: string]: string } = cleanEnvironment
): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const { console, output } = capture()
    return Cli.main(["node", "effect-dspy", ...args]).pipe(
      Effect.provide(NodeContext.layer),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(environment)))),
      Effect.withConsole(console),
      // The executable's clock: a test's TestClock would hold every sleep of the command.
      Effect.withClock(Clock.make()),
      (effect) => withProcessEnvironment(environment, effect),
      Effect.exit,
      Effect.map((exit) => ({ code: Exit.isSuccess(exit) ? 0 : 1, ...output() }))
    )
  })
