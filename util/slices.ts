/**
 * Going over many items without holding the event loop: the items are taken in slices of about
 * SLICE_MS each, with a turn of the event loop between (setImmediate), so a node that builds its
 * memories from a store of a million results answers its API and its peers meanwhile.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'

/** How long a slice runs before the event loop gets a turn (util/backlog.ts slices the same). */
export const SLICE_MS = 20

/**
 * Call `take` on each item, pausing for a turn every SLICE_MS. Stops early, before the next
 * item, once `stopped()` is true; false then (true when every item was taken). The iterable is
 * read as it is walked, so items added meanwhile (a JavaScript Map's, a Y.Map's) are reached.
 */
export async function inSlices<T> (items: Iterable<T>, take: (item: T) => void, stopped: () => boolean, sliceMs = SLICE_MS): Promise<boolean> {
  let from = performance.now()
  for (const item of items) {
    if (stopped()) return false
    take(item)
    if (performance.now() - from >= sliceMs) {
      await nextTurn()
      from = performance.now()
    }
  }
  return !stopped()
}
