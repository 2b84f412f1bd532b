/**
 * A run of one client's updates folded without a document (crdt/fold.ts): what it holds is what
 * the updates hold, applied after the same earlier updates, and an entry written again within
 * the run keeps only its last value.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Y from 'yjs'
import { foldUpdates } from '../crdt/fold.js'

/** A document's updates, one per operation: sets and deletes of a few keys in two maps. */
function updatesOf (ops: ReadonlyArray<{ map: 0 | 1, key: number, value: string | null }>): Uint8Array[] {
  const doc = new Y.Doc({ gc: true })
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => { updates.push(u) })
  for (const op of ops) {
    const map = doc.getMap(op.map === 0 ? 'results' : 'corrections')
    if (op.value == null) map.delete(`k${op.key}`)
    else map.set(`k${op.key}`, op.value)
  }
  doc.destroy()
  return updates
}

const stateOf = (updates: readonly Uint8Array[]): unknown => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  const state = { results: doc.getMap('results').toJSON(), corrections: doc.getMap('corrections').toJSON(), pending: doc.store.pendingStructs != null }
  doc.destroy()
  return state
}

describe('folding a run of own updates', () => {
  it('holds what the run holds, after any earlier updates, and delivered to a replica that has part of the run', () => {
    const op = fc.record({ map: fc.constantFrom(0 as const, 1 as const), key: fc.integer({ min: 0, max: 5 }), value: fc.option(fc.string({ maxLength: 20 }), { freq: 4 }) })
    fc.assert(fc.property(fc.array(op, { minLength: 2, maxLength: 40 }), fc.nat(), fc.nat(), (ops, a, b) => {
      const updates = updatesOf(ops)
      if (updates.length < 2) return
      const start = a % (updates.length - 1)
      const part = start + (b % (updates.length - start))
      const folded = foldUpdates(updates.slice(start))!
      const expected = stateOf(updates)
      assert.deepEqual(stateOf([...updates.slice(0, start), folded]), expected)
      // A replica with some of the run already: the fold's structs it has are skipped.
      assert.deepEqual(stateOf([...updates.slice(0, part), folded]), expected)
      assert.equal((expected as { pending: boolean }).pending, false)
    }), { numRuns: 1000 })
  })

  it('keeps only the last value of an entry written again within the run', () => {
    const big = 'x'.repeat(2000)
    const updates = updatesOf([{ map: 0, key: 1, value: 'first' }, ...Array.from({ length: 50 }, (_, i) => ({ map: 0 as const, key: 2, value: `${big}${i}` }))])
    const merged = Y.mergeUpdates(updates.slice(1))
    const folded = foldUpdates(updates.slice(1))!
    assert.ok(merged.length > 100_000, `${merged.length} bytes merged`)
    assert.ok(folded.length < 3000, `${folded.length} bytes folded`)
    assert.deepEqual(stateOf([updates[0]!, folded]), stateOf(updates))
    // Without any entry written again, the fold is the merge.
    const fresh = updatesOf(Array.from({ length: 10 }, (_, i) => ({ map: 1 as const, key: i, value: `v${i}` })))
    assert.deepEqual(foldUpdates(fresh), Y.mergeUpdates(fresh))
    // A gap in the clocks, or two clients: no fold.
    assert.equal(foldUpdates([fresh[0]!, fresh[2]!]), undefined)
    assert.equal(foldUpdates([fresh[0]!, updatesOf([{ map: 0, key: 1, value: 'other' }])[0]!]), undefined)
  })
})
