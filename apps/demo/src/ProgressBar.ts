/**
 * A progress bar on a text stream (the demo's stderr). On a terminal it redraws one line in place (at most
 * every 100 ms); elsewhere (a CI log, a pipe) it prints a line at each quarter and at the end, so logs stay
 * short.
 */

/** Where bars are drawn. */
export interface Output {
  readonly write: (text: string) => void
  readonly isTTY: boolean
}

/** One bar. */
export interface Bar {
  /** Moves the bar to `fraction` (0 to 1) with a short status after it. */
  readonly update: (fraction: number, status: string) => void
  /** Completes the bar with a final status and ends its line. */
  readonly done: (status: string) => void
}

const WIDTH = 28

const draw = (label: string, fraction: number, status: string): string => {
  const f = Math.max(0, Math.min(1, fraction))
  const filled = Math.round(f * WIDTH)
  const percent = `${Math.floor(f * 100)}%`.padStart(4)
  return `  ${label} [${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${percent}  ${status}`
}

/** Starts a bar labelled `label`. */
export const make = (output: Output, label: string, now: () => number = () => performance.now()): Bar => {
  let lastDraw = Number.NEGATIVE_INFINITY
  let lastQuarter = -1
  let last = { fraction: 0, status: "" }
  let finished = false
  return {
    update: (fraction, status) => {
      if (finished) return
      last = { fraction, status }
      if (output.isTTY) {
        const t = now()
        if (t - lastDraw < 100) return
        lastDraw = t
        output.write(`\r\x1b[2K${draw(label, fraction, status)}`)
      } else {
        const quarter = Math.floor(Math.max(0, Math.min(0.999, fraction)) * 4)
        if (quarter > lastQuarter) {
          lastQuarter = quarter
          output.write(`${draw(label, fraction, status)}\n`)
        }
      }
    },
    done: (status) => {
      if (finished) return
      finished = true
      last = { fraction: 1, status }
      const line = draw(label, last.fraction, last.status)
      output.write(output.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`)
    }
  }
}
