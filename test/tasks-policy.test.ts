import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fetchBackoffMs, originsWithWork, weightedChoice, type OriginLoad } from '../protocols/tasks/policy.js'
import { FETCH_BACKOFF_MS, LOAD_STALE_MS, MAX_FETCH_BACKOFF_MS } from '../protocols/tasks/constants.js'
import { Rng } from '../formulas/rng.js'

/** Work sharing's policy (protocols/tasks/policy.ts), without a network. */
describe('work-sharing policy', () => {
  it('steals only from origins that said lately that work waits, and that are usable', () => {
    const now = 100_000
    const load = new Map<string, OriginLoad>([
      ['busy', { queued: 5, backups: 0, at: now - 1_000 }],
      ['stale', { queued: 9, backups: 9, at: now - LOAD_STALE_MS - 1 }],
      ['empty', { queued: 0, backups: 2, at: now }],
      ['stranger', { queued: 3, backups: 0, at: now }]
    ])
    const usable = (p: string): boolean => p !== 'stranger'
    assert.deepEqual(originsWithWork(load, 'queued', now, usable), [['busy', 5]])
    assert.deepEqual(originsWithWork(load, 'backups', now, usable), [['empty', 2]])
  })

  it('chooses the busiest origin most often, in proportion to its work', () => {
    const rng = new Rng(11)
    const counts = new Map<string, number>()
    for (let i = 0; i < 10_000; i++) {
      const o = weightedChoice([['a', 1], ['b', 3]], () => rng.next())!
      counts.set(o, (counts.get(o) ?? 0) + 1)
    }
    const share = counts.get('b')! / 10_000
    assert.ok(Math.abs(share - 0.75) < 0.03, `b chosen ${share}`)
    assert.equal(weightedChoice([], () => 0.5), undefined)
    assert.equal(weightedChoice([['only', 2]], () => 0.999), 'only')
  })

  it('backs off after failures, doubling up to the cap', () => {
    assert.equal(fetchBackoffMs(0), FETCH_BACKOFF_MS)
    assert.equal(fetchBackoffMs(1), 2 * FETCH_BACKOFF_MS)
    assert.equal(fetchBackoffMs(3), 8 * FETCH_BACKOFF_MS)
    assert.equal(fetchBackoffMs(30), MAX_FETCH_BACKOFF_MS)
  })
})
