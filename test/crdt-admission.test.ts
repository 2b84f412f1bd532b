/**
 * Admission (crdt/admission.ts): who may write, from `admits` and from membership certificates
 * in the members map or in the envelope itself, with verified certificates remembered.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { Admission, certificatesIn } from '../crdt/admission.js'
import type { Envelope } from '../crdt/envelope.js'

/** An envelope of `author` carrying `update` (admission reads nothing else). */
function envelope (author: string, update: Uint8Array = new Uint8Array()): Envelope {
  return { author, incarnation: new Uint8Array(16), client: 1, first: 0, seq: 0, update, signature: new Uint8Array() }
}

/** An update that writes `values` into the members map. */
function membersUpdate (values: Record<string, unknown>): Uint8Array {
  const doc = new Y.Doc()
  for (const [k, v] of Object.entries(values)) doc.getMap('members').set(k, v)
  return Y.encodeStateAsUpdate(doc)
}

describe('admission', () => {
  it('admits this node always, every author without admits or certifiedUntil, and whom admits admits', async () => {
    assert.equal(await new Admission('me', {}, () => undefined).admitted(envelope('x')), true)
    const a = new Admission('me', { admits: author => author === 'friend' }, () => undefined)
    assert.equal(await a.admitted(envelope('me')), true)
    assert.equal(await a.admitted(envelope('friend')), true)
    assert.equal(await a.admitted(envelope('stranger')), false)
  })

  it('admits an author by a certificate in its member entry until it expires, asking once per certificate until told to forget', async () => {
    const asked: string[] = []
    let until = Date.now() + 60_000
    const entries: Record<string, unknown> = { alice: { certificate: 'cert-a', time: 1 }, bob: { certificate: 'cert-b', time: 1 }, carol: { certificate: '', time: 1 } }
    const a = new Admission('me', {
      admits: () => false,
      certifiedUntil: async (author, certificate) => {
        asked.push(`${author}:${certificate}`)
        return certificate === 'cert-a' ? until : undefined
      }
    }, author => entries[author])
    assert.equal(await a.admitted(envelope('alice')), true)
    assert.equal(await a.admitted(envelope('alice')), true)
    assert.equal(await a.admitted(envelope('bob')), false)
    assert.equal(await a.admitted(envelope('carol')), false, 'an entry not of the members shape is not read')
    assert.equal(await a.admitted(envelope('dave')), false)
    assert.deepEqual(asked, ['alice:cert-a', 'bob:cert-b'], 'each certificate checked once')
    until = Date.now() - 1
    assert.equal(await a.admitted(envelope('alice')), true, 'the remembered answer stands')
    a.forget('alice')
    assert.equal(await a.admitted(envelope('alice')), false, 'asked again after forget: expired')
    assert.deepEqual(asked, ['alice:cert-a', 'bob:cert-b', 'alice:cert-a'])
  })

  it('admits an author by a certificate in the envelope itself', async () => {
    const a = new Admission('me', { certifiedUntil: async (author, certificate) => certificate === `cert-${author}` ? Date.now() + 60_000 : undefined }, () => undefined)
    assert.equal(await a.admitted(envelope('erin', membersUpdate({ erin: { certificate: 'cert-erin', time: 1 } }))), true)
    assert.equal(await a.admitted(envelope('erin', membersUpdate({ erin: { certificate: 'cert-other', time: 1 } }))), false)
  })

  it('finds at most four certificates in an update, in any map, and none in garbage', () => {
    const certs = Object.fromEntries([1, 2, 3, 4, 5].map(i => [`p${i}`, { certificate: `c${i}`, time: i }]))
    assert.deepEqual(certificatesIn(membersUpdate(certs)), ['c1', 'c2', 'c3', 'c4'])
    const doc = new Y.Doc()
    doc.getMap('results').set('h/x', { certificate: 'in-results', time: 1 })
    doc.getMap('results').set('h/y', { latex: 'x' })
    assert.deepEqual(certificatesIn(Y.encodeStateAsUpdate(doc)), ['in-results'])
    assert.deepEqual(certificatesIn(Uint8Array.of(1, 2, 3, 255)), [])
  })
})
