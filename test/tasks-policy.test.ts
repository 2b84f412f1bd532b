import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  afterFailure, announceDelay, backupsFor, fetchBackoffMs, fetchFailureBlamesTask, grantedTo, isBackupCandidate, isBackupOf, isWaiting,
  leaseAllowance, leaseRanOut, loadCounts, loadForThief, movingAverage, nextExpiry, originsWithWork, queuedFor, weightedChoice, type OriginLoad
} from '../protocols/tasks/policy.js'
import { ANNOUNCE_MIN_MS, FETCH_BACKOFF_MS, LOAD_STALE_MS, MAX_FAILURES, MAX_FETCH_BACKOFF_MS, MAX_LEASES_PER_PEER } from '../protocols/tasks/constants.js'
import type { TaskRecord } from '../protocols/tasks/record.js'
import { BlobError } from '../protocols/blob/index.js'
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

  it('counts only a fetch failure that is the image\'s fault against the task', () => {
    for (const reason of ['missing', 'too-large', 'hash-mismatch'] as const) assert.ok(fetchFailureBlamesTask(new BlobError(reason, 'x')), reason)
    for (const reason of ['refused', 'malformed', 'transport'] as const) assert.ok(!fetchFailureBlamesTask(new BlobError(reason, 'x')), reason)
    assert.ok(!fetchFailureBlamesTask(new Error('connection reset')))
  })
})

let seq = 0
/** A task record as the queue keeps it (queued, never granted, unless told otherwise). */
function task (over: Partial<TaskRecord> = {}): TaskRecord {
  seq++
  return { id: `t${seq}`, hash: String(seq % 10).repeat(64), file: `f${seq}.png`, critical: false, submittedAt: seq, state: 'queued', grants: 0, regrants: 0, failures: [], workers: [], ...over }
}
const leasedTo = (peer: string, grantedAt: number, over: Partial<TaskRecord> = {}): TaskRecord =>
  task({ state: 'leased', lease: { peer, grantedAt, expiresAt: grantedAt + 30_000 }, ...over })

/** The origin's side of the policy (what protocols/tasks/queue.ts stores), without LevelDB. */
describe('work-sharing policy at the origin', () => {
  it('announces at most once per ANNOUNCE_MIN_MS', () => {
    assert.equal(announceDelay(1_000, 1_020), ANNOUNCE_MIN_MS - 20)
    assert.equal(announceDelay(1_000, 1_000 + ANNOUNCE_MIN_MS), 0)
    assert.equal(announceDelay(0, 5_000), 0)
  })

  it('tells a refused thief that nothing is left, so it stops asking', () => {
    const left = { queued: 4, backups: 2 }
    assert.deepEqual(loadForThief(true, 1, false, left), left, 'granted: the real counts')
    assert.deepEqual(loadForThief(false, 0, false, left), { queued: 0, backups: 0 }, 'not admitted')
    assert.deepEqual(loadForThief(true, 0, false, left), { queued: 0, backups: 0 }, 'at its cap while tasks wait')
    assert.deepEqual(loadForThief(true, 0, true, { queued: 0, backups: 2 }), { queued: 0, backups: 0 }, 'no backup it would finish sooner')
    assert.deepEqual(loadForThief(true, 0, false, { queued: 0, backups: 2 }), { queued: 0, backups: 2 }, 'nothing queued: backups may still wait')
  })

  it('counts waiting tasks and backup candidates, never critical ones', () => {
    const open = [
      task(), task(), task({ critical: true }),
      leasedTo('a', 0), leasedTo('b', 0, { backup: { peer: 'c', grantedAt: 1 } }), leasedTo('d', 0, { critical: true })
    ]
    assert.deepEqual(loadCounts(open), { queued: 2, backups: 1 })
    assert.deepEqual(open.map(isWaiting), [true, true, false, false, false, false])
    assert.deepEqual(open.map(isBackupCandidate), [false, false, false, true, false, false])
  })

  it('caps the leases and backups one worker holds, but not the origin\'s own', () => {
    const open = [
      ...Array.from({ length: MAX_LEASES_PER_PEER - 2 }, () => leasedTo('w', 0)),
      leasedTo('x', 0, { backup: { peer: 'w', grantedAt: 1 } }),
      ...Array.from({ length: 20 }, () => leasedTo('me', 0))
    ]
    assert.equal(leaseAllowance(open, 'w', 'me', 5), 1)
    assert.equal(leaseAllowance([...open, leasedTo('w', 0)], 'w', 'me', 5), 0)
    assert.equal(leaseAllowance(open, 'other', 'me', 5), 5)
    assert.equal(leaseAllowance(open, 'me', 'me', 5), 5)
  })

  it('grants queued tasks oldest first, never critical ones nor one the worker failed', () => {
    const failed = task({ failures: [{ peer: 'w', reason: 'bad' }] })
    const open = [leasedTo('a', 0), failed, task({ critical: true }), task(), task(), task()]
    assert.deepEqual(queuedFor(open, 'w', 'me', 2), [open[3], open[4]])
    assert.deepEqual(queuedFor(open, 'w', 'me', 10), [open[3], open[4], open[5]])
    // the origin may try its own task again, for a passing fault
    const own = task({ failures: [{ peer: 'me', reason: 'bad' }] })
    assert.deepEqual(queuedFor([own], 'me', 'me', 1), [own])
    assert.deepEqual(queuedFor([own], 'w', 'me', 1), [own])
  })

  it('backs up overdue tasks first, most overdue first, then the one expected to finish last', () => {
    const now = 100_000
    const figures = { turnaround: new Map([['slow', 20_000], ['fast', 1_000]]), pace: new Map<string, number>() }
    const lateFast = leasedTo('fast', now - 5_000) // due 4 s ago
    const laterFast = leasedTo('fast', now - 9_000) // due 8 s ago
    const slow = leasedTo('slow', now - 1_000) // due in 19 s
    const slower = leasedTo('slow', now) // due in 20 s
    const open = [slow, lateFast, slower, laterFast]
    assert.deepEqual(backupsFor(open, 'idle', 10, now, figures, 30_000), [laterFast, lateFast, slower, slow])
    assert.deepEqual(backupsFor(open, 'idle', 1, now, figures, 30_000), [laterFast])
  })

  it('backs up only tasks the asker does not hold, has not failed, and that have no backup yet', () => {
    const now = 100_000
    const figures = { turnaround: new Map<string, number>(), pace: new Map<string, number>() }
    const open = [
      leasedTo('idle', 0),
      leasedTo('a', 0, { failures: [{ peer: 'idle', reason: 'bad' }] }),
      leasedTo('a', 0, { backup: { peer: 'b', grantedAt: 1 } }),
      leasedTo('a', 0, { critical: true }),
      task()
    ]
    assert.deepEqual(backupsFor(open, 'idle', 5, now, figures, 30_000), [])
  })

  it('does not back up a task the asker would not finish sooner, unless it is overdue', () => {
    const now = 100_000
    // no turnaround figures yet: a holder is expected to take leaseMs
    const open = [leasedTo('a', now - 10_000), leasedTo('a', now - 40_000)]
    const slowAsker = { turnaround: new Map<string, number>(), pace: new Map([['idle', 25_000]]) }
    assert.deepEqual(backupsFor(open, 'idle', 5, now, slowAsker, 30_000), [open[1]], 'due in 20 s: a 25 s asker would not beat it')
    const fastAsker = { turnaround: new Map<string, number>(), pace: new Map([['idle', 500]]) }
    assert.deepEqual(backupsFor(open, 'idle', 5, now, fastAsker, 30_000), [open[1], open[0]])
    // a holder without figures is expected to take what the others take on average
    const averaged = { turnaround: new Map([['x', 5_000], ['y', 15_000]]), pace: new Map([['idle', 500]]) }
    assert.deepEqual(backupsFor([leasedTo('a', now - 9_000)], 'idle', 5, now, averaged, 30_000).length, 1, 'due in 1 s')
    assert.deepEqual(backupsFor([leasedTo('a', now - 9_800)], 'idle', 5, now, averaged, 30_000).length, 0, 'due in 0.2 s, the asker takes 0.5 s')
  })

  it('counts failure reports from distinct workers; the origin\'s own second failure is final', () => {
    let t = leasedTo('a', 0)
    let r = afterFailure(t, 'a', 'me', 'x'.repeat(600))
    assert.equal(r.failures.length, 1)
    assert.equal(r.failures[0]!.reason.length, 512)
    assert.equal(r.final, false)
    t = { ...t, failures: r.failures }
    r = afterFailure(t, 'a', 'me', 'again')
    assert.equal(r.failures.length, 1, 'the same worker counts once')
    assert.equal(r.final, false)
    for (let i = 1; i < MAX_FAILURES; i++) {
      r = afterFailure(t, `w${i}`, 'me', 'bad')
      t = { ...t, failures: r.failures }
    }
    assert.equal(t.failures.length, MAX_FAILURES)
    assert.equal(r.final, true)
    const own = leasedTo('me', 0, { failures: [{ peer: 'me', reason: 'first' }] })
    assert.equal(afterFailure(own, 'me', 'me', 'second').final, true)
    assert.equal(afterFailure(leasedTo('me', 0), 'me', 'me', 'first').final, false)
  })

  it('runs leases out on time and times the next expiry by the earliest', () => {
    const a = leasedTo('a', 1_000) // expires 31 000
    const b = leasedTo('b', 500) // expires 30 500
    assert.ok(!leaseRanOut(a, 30_999))
    assert.ok(leaseRanOut(a, 31_000))
    assert.ok(!leaseRanOut(task(), 1e12))
    assert.equal(nextExpiry([task(), a, b]), 30_500)
    assert.equal(nextExpiry([task()]), undefined)
  })

  it('knows who holds a task and when each worker got it, and averages their times', () => {
    const t = leasedTo('a', 10, { backup: { peer: 'b', grantedAt: 20 } })
    assert.equal(grantedTo(t, 'a'), 10)
    assert.equal(grantedTo(t, 'b'), 20)
    assert.equal(grantedTo(t, 'c'), undefined)
    assert.ok(isBackupOf(t, 'b'))
    assert.ok(!isBackupOf(t, 'a'))
    assert.equal(movingAverage(undefined, 100), 100)
    assert.equal(movingAverage(100, 200), 130)
  })
})
