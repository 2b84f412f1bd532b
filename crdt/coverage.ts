/**
 * Which log positions this replica holds, log by log: the ranges its stored
 * envelopes cover, how far each log is complete (the heads that catch-up
 * compares), and from where a peer that has less must be sent envelopes.
 * Pure bookkeeping: no Yjs, no LevelDB.
 */

/** Covered log positions of one (author, incarnation) log. */
export class Coverage {
  ranges: Array<{ first: number, seq: number }> = []
  covers (first: number, seq: number): boolean {
    return this.ranges.some(r => r.first <= first && seq <= r.seq)
  }

  add (first: number, seq: number): void {
    this.ranges = this.ranges.filter(r => !(first <= r.first && r.seq <= seq))
    this.ranges.push({ first, seq })
    this.ranges.sort((a, b) => a.first - b.first)
  }

  /** The last position up to which the log is complete from 0, or -1. */
  head (): number {
    let head = -1
    for (const r of this.ranges) {
      if (r.first > head + 1) break
      head = Math.max(head, r.seq)
    }
    return head
  }

  /** The ranges a replica that has this log up to `have` lacks: what this one holds past it. */
  wanted (have: number): Array<{ first: number, seq: number }> {
    return this.ranges.filter(r => r.seq > have)
  }

  /** The stored ranges a wider envelope covering `first`..`seq` replaces. */
  within (first: number, seq: number): Array<{ first: number, seq: number }> {
    return this.ranges.filter(r => first <= r.first && r.seq <= seq)
  }
}

/** The coverage of every log, by log id ("AUTHOR!INCARNATION"). */
export class Coverages {
  private readonly logs = new Map<string, Coverage>()

  /** The coverage of a log, or undefined when nothing of it is held. */
  get (logId: string): Coverage | undefined {
    return this.logs.get(logId)
  }

  /** The coverage of a log, made empty the first time. */
  of (logId: string): Coverage {
    let c = this.logs.get(logId)
    if (c == null) this.logs.set(logId, c = new Coverage())
    return c
  }

  /** How far this replica has each log: log id -> last complete position. */
  heads (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, c] of this.logs) out[id] = c.head()
    return out
  }

  /** Every log and its coverage, by log id. */
  sorted (): Array<[string, Coverage]> {
    return [...this.logs].sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)
  }
}
