/**
 * A memory-reducing garbage collection, for after a burst of allocation that happens once (a
 * node's memories built or loaded from its store at start). V8 keeps the pages such a burst
 * freed in its pool, resident, and gives them back to the system only in a collection of this
 * kind, which nothing else asks for (measured at a million results: 530 MiB of RSS kept, given
 * back by one collection that held the thread 1.5 s). The collection is V8's own (`gc()`,
 * reached by the flag Node documents for it), run once.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type Gc = (options: { type: 'major', execution: 'sync', flavor: 'regular' | 'last-resort' }) => void
let gc: Gc | undefined

/**
 * Collect, giving freed pages back; returns how long it held the thread (ms) and the RSS before
 * and after (bytes). `flavor` 'regular': one major collection, enough to finalize objects that
 * hold native memory V8 does not see (a dropped usearch graph: its memory goes a turn later).
 */
export function releaseFreedMemory (flavor: 'regular' | 'last-resort' = 'last-resort'): { ms: number, rssBefore: number, rssAfter: number } {
  if (gc == null) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as Gc
  }
  const rssBefore = process.memoryUsage.rss()
  const start = performance.now()
  gc({ type: 'major', execution: 'sync', flavor })
  return { ms: performance.now() - start, rssBefore, rssAfter: process.memoryUsage.rss() }
}
