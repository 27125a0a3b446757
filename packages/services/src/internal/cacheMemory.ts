/**
 * The L1 tier: a bounded least-recently-used map (on a `Map`'s insertion order: a hit moves the entry to the
 * end) with an index from module id to that module's entries, so that a module is invalidated in
 * O(its entries) and evicted or expired entries leave the index too.
 */
import type { Json } from "./cacheJson.js"

/** One stored value; `expiresAt` 0 means it never expires. */
export interface MemoryEntry {
  readonly moduleId: string
  readonly key: string
  readonly value: Json
  readonly expiresAt: number
}

/** The composite key of a module's entry (the separator cannot occur in a validated module id). */
export const compositeKey = (moduleId: string, key: string): string => `${moduleId}\u0000${key}`

/** The memory tier. */
export class MemoryTier {
  private readonly entries = new Map<string, MemoryEntry>()
  private readonly byModule = new Map<string, Set<string>>()
  /** Entries dropped to stay within capacity or because they expired. */
  evictions = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  /** The live entry, refreshed as most recently used; an expired one is removed (counted as an eviction). */
  get(moduleId: string, key: string, now: number): MemoryEntry | undefined {
    const id = compositeKey(moduleId, key)
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    this.entries.delete(id)
    if (entry.expiresAt !== 0 && now >= entry.expiresAt) {
      this.unindex(entry.moduleId, id)
      this.evictions++
      return undefined
    }
    this.entries.set(id, entry)
    return entry
  }

  set(entry: MemoryEntry): void {
    const id = compositeKey(entry.moduleId, entry.key)
    this.entries.delete(id)
    this.entries.set(id, entry)
    let index = this.byModule.get(entry.moduleId)
    if (index === undefined) {
      index = new Set()
      this.byModule.set(entry.moduleId, index)
    }
    index.add(id)
    while (this.entries.size > this.capacity) {
      const [oldestId, oldest] = this.entries.entries().next().value as [string, MemoryEntry]
      this.entries.delete(oldestId)
      this.unindex(oldest.moduleId, oldestId)
      this.evictions++
    }
  }

  delete(moduleId: string, key: string): boolean {
    const id = compositeKey(moduleId, key)
    if (!this.entries.delete(id)) return false
    this.unindex(moduleId, id)
    return true
  }

  /** Removes every entry of the module; returns how many of them were live (not expired) at `now`. */
  deleteModule(moduleId: string, now: number): number {
    const index = this.byModule.get(moduleId)
    if (index === undefined) return 0
    let live = 0
    for (const id of index) {
      const entry = this.entries.get(id)
      if (entry !== undefined && (entry.expiresAt === 0 || now < entry.expiresAt)) live++
      this.entries.delete(id)
    }
    this.byModule.delete(moduleId)
    return live
  }

  /** How many entries the module has here. */
  moduleSize(moduleId: string): number {
    return this.byModule.get(moduleId)?.size ?? 0
  }

  /** The module ids with entries here. */
  modules(): Array<string> {
    return [...this.byModule.keys()]
  }

  /** The module's live entries at `now` (not refreshed as used). */
  entriesOf(moduleId: string, now: number): Array<MemoryEntry> {
    const out: Array<MemoryEntry> = []
    for (const id of this.byModule.get(moduleId) ?? []) {
      const entry = this.entries.get(id)
      if (entry !== undefined && (entry.expiresAt === 0 || now < entry.expiresAt)) out.push(entry)
    }
    return out
  }

  clear(): void {
    this.entries.clear()
    this.byModule.clear()
  }

  private unindex(moduleId: string, id: string): void {
    const index = this.byModule.get(moduleId)
    if (index === undefined) return
    index.delete(id)
    if (index.size === 0) this.byModule.delete(moduleId)
  }
}
