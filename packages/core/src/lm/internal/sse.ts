/**
 * A server-sent-events decoder for streamed chat completions: text in (as it arrives), the `data` of each
 * event out. Lines end at `\r\n`, `\n` or `\r`; `data:` lines of one event are joined with `\n`; comments and
 * other fields are skipped, except `event:` (an `error` event is reported as such). Each character is looked
 * at once, however the text is cut.
 *
 * @internal
 */

/** One event: its `data`, and its `event` name when it has one. */
export interface Event {
  readonly data: string
  readonly event: string | undefined
}

export class Decoder {
  private buf = ""
  private scanned = 0
  private afterCR = false
  private data: Array<string> = []
  private event: string | undefined

  /** Feeds text; returns the events it completes. */
  push(text: string): Array<Event> {
    const out: Array<Event> = []
    let t = text
    // A "\r\n" cut between two pushes: the "\n" ends nothing new.
    if (this.afterCR && t.startsWith("\n")) t = t.slice(1)
    this.afterCR = false
    this.buf += t
    let start = 0
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i]
      if (c !== "\n" && c !== "\r") continue
      this.line(this.buf.slice(start, i), out)
      if (c === "\r") {
        if (i + 1 < this.buf.length) {
          if (this.buf[i + 1] === "\n") i++
        } else this.afterCR = true
      }
      start = i + 1
    }
    this.buf = this.buf.slice(start)
    this.scanned = this.buf.length
    return out
  }

  /** The end of the text: an event left without its blank line is still delivered. */
  end(): Array<Event> {
    const out: Array<Event> = []
    if (this.buf.length > 0) this.line(this.buf, out)
    this.buf = ""
    this.scanned = 0
    this.line("", out)
    return out
  }

  private line(line: string, out: Array<Event>): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ data: this.data.join("\n"), event: this.event })
      this.data = []
      this.event = undefined
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") this.data.push(value)
    else if (field === "event") this.event = value
  }
}
