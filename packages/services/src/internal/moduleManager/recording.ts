/**
 * Execution ids and the recording hook of the execute path: every execution gets an id (a process prefix and a
 * counter: no clock, no random draw per call), and, when a recorder is installed (the real-time loop's
 * experience store), one record per execution, handed over synchronously (an object and an array push; the
 * store writes it in batches off the request path).
 */
import type * as ExperienceStore from "../../loop/ExperienceStore.js"

const prefix = `ex_${Date.now().toString(36)}${Math.floor(Math.random() * 0x10000).toString(36)}_`
let counter = 0

/** A fresh execution id, unique within the process and practically unique across processes. */
export const nextExecutionId = (): string => `${prefix}${(counter++).toString(36)}`

/** Where the execute path hands each finished execution (installed by the loop). */
export interface Recorder {
  readonly record: (experience: ExperienceStore.Experience) => void
}

/** The slot the module manager reads on each execution (empty: nothing is recorded). */
export interface RecorderSlot {
  current: Recorder | undefined
}
