/**
 * Work sharing's policy as pure functions, testable without a network: which
 * origin a worker steals from, and how long a slot waits after a failure.
 */
import { FETCH_BACKOFF_MS, LOAD_STALE_MS, MAX_FETCH_BACKOFF_MS } from './constants.js'

/** What an origin last said it holds: tasks waiting, backup candidates, and when it said so (ms). */
export interface OriginLoad { queued: number, backups: number, at: number }

/** Origins with tasks (or backup candidates) waiting, said recently, that `usable` accepts (a member, connected): each with how many. */
export function originsWithWork (load: ReadonlyMap<string, OriginLoad>, what: 'queued' | 'backups', now: number, usable: (peer: string) => boolean): Array<[string, number]> {
  const out: Array<[string, number]> = []
  for (const [peer, l] of load) {
    if (l[what] <= 0 || now - l.at > LOAD_STALE_MS || !usable(peer)) continue
    out.push([peer, l[what]])
  }
  return out
}

/** One of the candidates at random, each as likely as its weight; undefined when there is none. */
export function weightedChoice<T> (candidates: ReadonlyArray<readonly [T, number]>, random: () => number): T | undefined {
  const total = candidates.reduce((s, [, w]) => s + w, 0)
  let r = random() * total
  for (const [item, w] of candidates) {
    r -= w
    if (r < 0) return item
  }
  return candidates[candidates.length - 1]?.[0]
}

/**
 * After `failures` failures in a row, a slot waits FETCH_BACKOFF_MS, doubling with each, up to
 * MAX_FETCH_BACKOFF_MS.
 */
export function fetchBackoffMs (failures: number): number {
  return Math.min(MAX_FETCH_BACKOFF_MS, FETCH_BACKOFF_MS * 2 ** failures)
}
