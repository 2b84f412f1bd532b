/**
 * Writes issued together (in one turn of the event loop: a PDF's formulas, a burst of results)
 * are applied to the document together: each group of up to `maxBytes` becomes one Yjs
 * transaction, so one update and one log position, rather than one of each per write. A Yjs
 * transaction with its update costs about as much as the rest of a write (measured: 40,000 single
 * sets a second against 300,000 in transactions of 77). A write is in the document once the turn
 * that issued it has ended (a microtask), and its promise is the group's.
 */
/** Writes issued together go into one transaction up to about this many characters (its update then stays well under an envelope's 256 KiB). */
export const STAGE_BYTES = 56 * 1024

export class WriteStage<T> {
  private staged: Array<{ item: T, done: { resolve: () => void, reject: (err: unknown) => void } }> = []
  private flushing = false

  /**
   * @param commit applies a group to the document and resolves once it is stored
   * @param sizeOf about how many bytes an item's update takes
   */
  constructor (private readonly commit: (group: T[]) => Promise<void>, private readonly sizeOf: (item: T) => number, private readonly maxBytes: number) {}

  /** Stage a write; resolves once its group is stored. */
  add (item: T): Promise<void> {
    if (this.staged.length === 0) queueMicrotask(() => { this.flush() })
    return new Promise((resolve, reject) => { this.staged.push({ item, done: { resolve, reject } }) })
  }

  /**
   * Commit what is staged now, in groups (at the end of the turn, or at once before the replica
   * closes). Writes staged meanwhile (by a listener a commit told) follow, in the order given; a
   * flush called meanwhile (a listener closing the replica) leaves them to this one.
   */
  flush (): void {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.staged.length > 0) this.commitStaged()
    } finally {
      this.flushing = false
    }
  }

  private commitStaged (): void {
    const staged = this.staged
    this.staged = []
    let group: typeof staged = []
    let bytes = 0
    const commit = (): void => {
      if (group.length === 0) return
      const members = group
      group = []
      bytes = 0
      let stored: Promise<void>
      try {
        stored = this.commit(members.map(m => m.item))
      } catch (err) {
        stored = Promise.reject(err)
      }
      stored.then(() => { for (const m of members) m.done.resolve() }, (err: unknown) => { for (const m of members) m.done.reject(err) })
    }
    for (const s of staged) {
      const size = this.sizeOf(s.item)
      if (group.length > 0 && bytes + size > this.maxBytes) commit()
      group.push(s)
      bytes += size
    }
    commit()
  }
}
