/**
 * Work that can wait: keys to process (the latest value given for each), put off while
 * `busy()` says more urgent work is queued (a replica applying a catch-up), then taken in slices
 * of about 20 ms with a turn of the event loop between. It never waits more than `maxWaitMs` in
 * a row, so a node that is always busy still gets through it.
 */
import { giveWay, MAX_WAIT_MS, SLICE_MS } from './slices.js'

export class Backlog<V> {
  private readonly pending = new Map<string, V>()
  private running = false
  private stopped = false
  private readonly waiting: Array<() => void> = []

  constructor (private readonly take: (key: string, value: V) => void, private readonly busy: () => boolean, private readonly maxWaitMs = MAX_WAIT_MS) {}

  /** Keys not yet taken. */
  get size (): number { return this.pending.size }

  /** Put `key` in (again: it is taken once, with the latest value). */
  add (key: string, value: V): void {
    if (this.stopped) return
    this.pending.delete(key)
    this.pending.set(key, value)
    if (!this.running) void this.run()
  }

  /** Resolves once nothing is pending (at once when nothing is). */
  async settled (): Promise<void> {
    if (!this.running && this.pending.size === 0) return
    await new Promise<void>(resolve => this.waiting.push(resolve))
  }

  /** Take what is pending now, for at most `budgetMs` (at a stop, so that it is saved); true when nothing is left. */
  drain (budgetMs: number): boolean {
    return this.slice(budgetMs)
  }

  /** Take pending keys for about `ms`; true when none is left. */
  private slice (ms: number): boolean {
    const from = performance.now()
    for (const [key, value] of this.pending) {
      if (performance.now() - from >= ms) return false
      this.pending.delete(key)
      try {
        this.take(key, value)
      } catch {
        // one key's failure is its own: the rest are taken
      }
    }
    return true
  }

  /** Drop what is pending and take nothing more. */
  stop (): void {
    this.stopped = true
    this.pending.clear()
  }

  private async run (): Promise<void> {
    this.running = true
    try {
      // Taken once the urgent work has been away for a while (envelopes of a catch-up come a few
      // ms apart), or after maxWaitMs of waiting (util/slices.ts giveWay).
      const pause = giveWay(this.busy, this.maxWaitMs, false)
      while (this.pending.size > 0 && !this.stopped) {
        await pause()
        this.slice(SLICE_MS)
      }
    } finally {
      this.running = false
      for (const resolve of this.waiting.splice(0)) resolve()
    }
  }
}
