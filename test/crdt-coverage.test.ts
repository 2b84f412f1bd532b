/**
 * Coverage of the logs (crdt/coverage.ts): the ranges of log positions held, the head up to
 * which a log is complete, and what a peer that has less lacks.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Coverage, Coverages } from '../crdt/coverage.js'

describe('log coverage', () => {
  it('covers what its ranges hold; a wider range replaces the narrower ones it covers', () => {
    const c = new Coverage()
    assert.equal(c.head(), -1)
    assert.equal(c.covers(0, 0), false)
    c.add(0, 0)
    c.add(1, 1)
    c.add(3, 3)
    assert.deepEqual(c.ranges, [{ first: 0, seq: 0 }, { first: 1, seq: 1 }, { first: 3, seq: 3 }])
    assert.equal(c.head(), 1, 'position 2 is missing')
    assert.equal(c.covers(1, 1), true)
    assert.equal(c.covers(0, 1), false, 'no one range covers both')
    assert.deepEqual(c.within(0, 2), [{ first: 0, seq: 0 }, { first: 1, seq: 1 }])
    c.add(0, 2)
    assert.deepEqual(c.ranges, [{ first: 0, seq: 2 }, { first: 3, seq: 3 }])
    assert.equal(c.head(), 3)
    assert.equal(c.covers(1, 2), true)
  })

  it('a log that does not start at 0 has no head', () => {
    const c = new Coverage()
    c.add(2, 5)
    assert.equal(c.head(), -1)
  })

  it('tells what a peer that has a log up to a position lacks', () => {
    const c = new Coverage()
    c.add(0, 4)
    c.add(5, 5)
    c.add(6, 9)
    assert.deepEqual(c.wanted(-1), c.ranges)
    assert.deepEqual(c.wanted(4), [{ first: 5, seq: 5 }, { first: 6, seq: 9 }])
    assert.deepEqual(c.wanted(7), [{ first: 6, seq: 9 }], 'a range partly held is sent whole')
    assert.deepEqual(c.wanted(9), [])
  })

  it('the head is the end of the run of positions held from 0, whatever the order of the ranges (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(30), fc.nat(5)), { maxLength: 20 }), ranges => {
      const c = new Coverage()
      const held = new Set<number>()
      for (const [first, length] of ranges) {
        c.add(first, first + length)
        for (let p = first; p <= first + length; p++) held.add(p)
      }
      let head = -1
      while (held.has(head + 1)) head++
      assert.equal(c.head(), head)
      for (const p of held) assert.ok(c.ranges.some(r => r.first <= p && p <= r.seq), `position ${p} stays covered`)
    }))
  })

  it('answers covers, within and head as a plain scan of its ranges would, in order or not (property)', () => {
    const range = fc.tuple(fc.nat(40), fc.nat(6)).map(([first, length]) => ({ first, seq: first + length }))
    // Mostly in order, as logs are read and written, with some out-of-order and folded ranges.
    const adds = fc.array(fc.oneof({ arbitrary: fc.constant('next' as const), weight: 3 }, { arbitrary: range, weight: 1 }), { maxLength: 30 })
    fc.assert(fc.property(adds, fc.array(range, { minLength: 5, maxLength: 5 }), (steps, probes) => {
      const c = new Coverage()
      let naive: Array<{ first: number, seq: number }> = []
      let end = -1
      for (const step of steps) {
        const r = step === 'next' ? { first: end + 1, seq: end + 1 + (end % 3 === 0 ? 2 : 0) } : step
        end = Math.max(end, r.seq)
        c.add(r.first, r.seq)
        naive = naive.filter(n => !(r.first <= n.first && n.seq <= r.seq))
        naive.push(r)
        naive.sort((a, b) => a.first - b.first)
        assert.deepEqual(c.ranges, naive)
        let head = -1
        for (const n of naive) { if (n.first > head + 1) break; head = Math.max(head, n.seq) }
        assert.equal(c.head(), head)
        for (const p of probes) {
          assert.equal(c.covers(p.first, p.seq), naive.some(n => n.first <= p.first && p.seq <= n.seq))
          assert.deepEqual(c.within(p.first, p.seq), naive.filter(n => p.first <= n.first && n.seq <= p.seq))
        }
      }
    }))
  })

  it('keeps one coverage per log, and gives heads and logs in order of log id', () => {
    const all = new Coverages()
    assert.equal(all.get('b!01'), undefined)
    all.of('b!01').add(0, 3)
    all.of('a!02').add(1, 1)
    assert.equal(all.of('b!01'), all.get('b!01'))
    assert.deepEqual(all.heads(), { 'b!01': 3, 'a!02': -1 })
    assert.deepEqual(all.sorted().map(([id]) => id), ['a!02', 'b!01'])
  })
})
