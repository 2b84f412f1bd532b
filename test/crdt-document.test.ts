/**
 * ReplicaDocument's lookup by author: with few authors it looks up each one's key, with many it
 * keeps an index of keys by prefix; both give the same entries, kept current as keys are written
 * and removed.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ReplicaDocument } from '../crdt/document.js'
import { encodeValue } from '../crdt/values.js'
import { result } from './crdt-helpers.js'

describe('the replica document: entries by author', () => {
  it('looks up each author\'s key, or uses the index past 256 authors, with the same answers', () => {
    const few = new Set(['A', 'B', 'C'])
    const many = new Set([...few, ...Array.from({ length: 300 }, (_, i) => `P${i}`)])
    const docs = [few, many].map(authors => new ReplicaDocument(1, () => {}, () => authors))
    const write = (key: string, latex: string): void => { for (const d of docs) d.setLocal([{ map: 'results', key, text: encodeValue(result(latex)) }]) }
    write('h1/A', 'a')
    write('h1/B', 'b')
    write('h2/C', 'c')
    // Not under this prefix and one author: a longer key, and another image.
    write('h1/x/A', 'nested')
    write('h10/A', 'other image')
    for (const d of docs) {
      assert.deepEqual([...d.byAuthor<{ latex: string }>('results', 'h1/')].map(([by, e]) => [by, e.latex]).sort(), [['A', 'a'], ['B', 'b']])
      assert.deepEqual([...d.byAuthor<{ latex: string }>('results', 'h2/').keys()], ['C'])
      assert.equal(d.byAuthor('results', 'h3/').size, 0)
    }
    // Kept current once read: a rewrite, a removal, a new key.
    write('h1/A', 'a2')
    for (const d of docs) (d as unknown as { doc: { getMap: (m: string) => { delete: (k: string) => void } } }).doc.getMap('results').delete('h1/B')
    write('h2/A', 'new')
    for (const d of docs) {
      assert.deepEqual([...d.byAuthor<{ latex: string }>('results', 'h1/')].map(([by, e]) => [by, e.latex]), [['A', 'a2']])
      assert.deepEqual([...d.byAuthor<{ latex: string }>('results', 'h2/').keys()].sort(), ['A', 'C'])
    }
    for (const d of docs) d.destroy()
  })
})
