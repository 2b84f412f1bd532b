/**
 * Which log positions this replica holds, log by log: the ranges its stored
 * envelopes cover, how far each log is complete (the heads that catch-up
 * compares), and from where a peer that has less must be sent envelopes.
 * Pure bookkeeping: no Yjs, no LevelDB.
 */

/** Covered log positions of one (author, incarnation) log. */
export class Coverage {
  /** the ranges held, sorted by first position */
  ranges: Array<{ first: number, seq: number }> = []
  /** no two ranges overlap: what a log written and folded by its author gives */
  private disjoint = true
  private cachedHead: number | undefined = -1

  covers (first: number, seq: number): boolean {
    if (!this.disjoint) return this.ranges.some(r => r.first <= first && seq <= r.seq)
    const i = this.lastAtOrBefore(first)
    return i >= 0 && seq <= this.ranges[i]!.seq
  }

  add (first: number, seq: number): void {
    const last = this.ranges[this.ranges.length - 1]
    if (last == null || first > last.seq) {
      // The usual case, a log read or written in order: one more range at the end.
      if (this.cachedHead != null && first <= this.cachedHead + 1) this.cachedHead = Math.max(this.cachedHead, seq)
      this.ranges.push({ first, seq })
      return
    }
    this.ranges = this.ranges.filter(r => !(first <= r.first && r.seq <= seq))
    this.ranges.push({ first, seq })
    this.ranges.sort((a, b) => a.first - b.first)
    this.disjoint = this.ranges.every((r, i) => i === 0 || r.first > this.ranges[i - 1]!.seq)
    this.cachedHead = undefined
  }

  /** The last position up to which the log is complete from 0, or -1. */
  head (): number {
    if (this.cachedHead != null) return this.cachedHead
    let head = -1
    for (const r of this.ranges) {
      if (r.first > head + 1) break
      head = Math.max(head, r.seq)
    }
    this.cachedHead = head
    return head
  }

  /** The ranges a replica that has this log up to `have` lacks: what this one holds past it. */
  wanted (have: number): Array<{ first: number, seq: number }> {
    return this.ranges.filter(r => r.seq > have)
  }

  /** The stored ranges a wider envelope covering `first`..`seq` replaces. */
  within (first: number, seq: number): Array<{ first: number, seq: number }> {
    const out: Array<{ first: number, seq: number }> = []
    for (let i = this.lastAtOrBefore(first - 1) + 1; i < this.ranges.length && this.ranges[i]!.first <= seq; i++) {
      if (this.ranges[i]!.seq <= seq) out.push(this.ranges[i]!)
    }
    return out
  }

  /** The index of the last range whose first position is `position` or earlier; -1 when none. */
  private lastAtOrBefore (position: number): number {
    let lo = 0
    let hi = this.ranges.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.ranges[mid]!.first <= position) lo = mid + 1
      else hi = mid - 1
    }
    return hi
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
