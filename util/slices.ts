/**
 * Going over many items without holding the event loop: the items are taken in slices of about
 * SLICE_MS each, with a turn of the event loop between (setImmediate), so a node that builds its
 * memories from a store of a million results answers its API and its peers meanwhile. Work that
 * can wait also gives way to work that cannot (giveWay): a memory built while the store applies a
 * catch-up waits between its slices until the store is quiet.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'

/** How long a slice runs before the event loop gets a turn (util/backlog.ts slices the same). */
export const SLICE_MS = 20
/** How often giving way looks whether the urgent work is done. */
export const POLL_MS = 10
/** Urgent work is done once it has been away this long (envelopes of a catch-up come a few ms apart). */
export const QUIET_MS = 30
/** The longest work that can wait gives way in a row, so that it gets through on a node that is always busy. */
export const MAX_WAIT_MS = 500

/**
 * Call `take` on each item, pausing for a turn every SLICE_MS (and for `pause` when given). Stops
 * early, before the next item, once `stopped()` is true; false then (true when every item was
 * taken). The iterable is read as it is walked, so items added meanwhile (a JavaScript Map's, a
 * Y.Map's) are reached.
 */
export async function inSlices<T> (items: Iterable<T>, take: (item: T) => void, stopped: () => boolean, sliceMs = SLICE_MS, pause: () => Promise<unknown> = nextTurn): Promise<boolean> {
  let from = performance.now()
  for (const item of items) {
    if (stopped()) return false
    take(item)
    if (performance.now() - from >= sliceMs) {
      await pause()
      from = performance.now()
    }
  }
  return !stopped()
}

/**
 * A pause between slices that gives way to urgent work: a turn of the event loop, then, while
 * `busy()` says urgent work is queued, a wait until it has been away QUIET_MS (at most
 * `maxWaitMs` in a row). Quiet carries over from one pause to the next; `quietAtStart` false
 * makes the first pause wait for quiet too (util/backlog.ts: changes come in bursts).
 */
export function giveWay (busy: () => boolean, maxWaitMs = MAX_WAIT_MS, quietAtStart = true): () => Promise<void> {
  let quiet = quietAtStart ? QUIET_MS : 0
  return async () => {
    await nextTurn()
    for (let waited = 0; ; waited += POLL_MS) {
      quiet = busy() ? 0 : quiet + POLL_MS
      if (quiet >= QUIET_MS || waited >= maxWaitMs) return
      await sleep(POLL_MS, undefined, { ref: false })
    }
  }
}
