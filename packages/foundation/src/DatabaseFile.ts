/**
 * A guard against storage that disappears under a running process. An open SQLite connection keeps writing to
 * its file descriptor after the file was deleted or replaced, so every write "succeeds" and is lost at the next
 * restart. {@link watch} remembers the file's device and inode when the store opens; {@link check} (one
 * `fs.statSync`, about a microsecond) says whether the path still names that same, writable file. Stores call it
 * after each write and before acknowledging it, so nothing is acknowledged that a restart could not read back.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/**
 * What {@link watch} remembers of a database file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watched {
  readonly filename: string
  readonly dev: number
  readonly ino: number
}

/**
 * Remembers the identity of the database file at `filename` (already opened); `undefined` for in-memory
 * databases (`":memory:"` or an empty name), which nothing can delete.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watch = (filename: string): Watched | undefined => {
  if (filename === ":memory:" || filename === "" || filename.startsWith("file::memory:")) return undefined
  try {
    const stat = fs.statSync(filename)
    return { filename, dev: stat.dev, ino: stat.ino }
  } catch {
    return undefined
  }
}

/**
 * Why the watched file can no longer be trusted — deleted, replaced by another file, or made read-only — or
 * `undefined` when it is still the file that was opened. A store that gets a reason must fail (or degrade), not
 * acknowledge.
 *
 * @since 0.1.0
 * @category checks
 */
export const check = (watched: Watched | undefined): string | undefined => {
  if (watched === undefined) return undefined
  const stat = fs.statSync(watched.filename, { throwIfNoEntry: false })
  if (stat === undefined) return `the database file '${watched.filename}' was deleted while in use`
  if (stat.ino !== watched.ino || stat.dev !== watched.dev) {
    return `the database file '${watched.filename}' was replaced by another file while in use`
  }
  // Mode bits, not access(2): a root process may write anywhere, but a file an operator made read-only is a
  // file that must not be written.
  if ((stat.mode & 0o222) === 0) return `the database file '${watched.filename}' was made read-only`
  return undefined
}

/**
 * How long, at most, a statement waits for a lock another connection holds (SQLite's `busy_timeout`): 250 ms.
 * The driver (better-sqlite3) waits synchronously, blocking the event loop, and its default is 5 s; a store
 * sets this short bound on its connection ({@link busyTimeoutPragma}) so that a database locked by another
 * process (an open transaction, a backup) fails the statement with "database is locked" instead of stalling
 * every fiber of the process.
 *
 * @since 0.1.0
 * @category constants
 */
export const busyTimeoutMs = 250

/**
 * The statement that sets {@link busyTimeoutMs} on a connection (run once, when the store opens).
 *
 * @since 0.1.0
 * @category constants
 */
export const busyTimeoutPragma = `PRAGMA busy_timeout = ${busyTimeoutMs}`

/**
 * Whether a driver message says the database was locked by another connection past the busy timeout
 * (`SQLITE_BUSY`, "database is locked").
 *
 * @since 0.1.0
 * @category checks
 */
export const isLocked = (message: string): boolean =>
  message.includes("database is locked") || message.includes("SQLITE_BUSY")

/**
 * The sentence for a statement that failed on a lock held by another connection: what happened and what to do.
 *
 * @since 0.1.0
 * @category checks
 */
export const lockedReason = (filename: string): string =>
  `the database file '${filename}' is locked by another connection (waited ${busyTimeoutMs} ms): end the other process's transaction or backup`
