import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { clientIdFor, decodeEnvelope, encodeEnvelope, EnvelopeError, MAX_UPDATE_BYTES, newIncarnation, signEnvelope, verifyEnvelope } from '../crdt/envelope.js'
import { checkAuthorship, ownsKey } from '../crdt/authorship.js'

interface Author { key: Ed25519PrivateKey, id: string, incarnation: Uint8Array, client: number }

async function author (): Promise<Author> {
  const key = await generateKeyPair('Ed25519')
  const incarnation = newIncarnation()
  return { key, id: peerIdFromPrivateKey(key).toString(), incarnation, client: clientIdFor(key.publicKey.raw, incarnation) }
}

/** A doc writing as `a`, and the updates its writes produce. */
function docOf (a: Author, client = a.client): { doc: Y.Doc, capture: (write: () => void) => Uint8Array } {
  const doc = new Y.Doc()
  doc.clientID = client
  return {
    doc,
    capture: (write) => {
      let update: Uint8Array | undefined
      const on = (u: Uint8Array): void => { update = update == null ? u : Y.mergeUpdates([update, u]) }
      doc.on('update', on)
      doc.transact(write)
      doc.off('update', on)
      assert.ok(update != null, 'the write made an update')
      return update
    }
  }
}

describe('CRDT envelopes', () => {
  let alice: Author
  let mallory: Author
  before(async () => {
    alice = await author()
    mallory = await author()
  })

  it('round-trip through their wire form and verify', async () => {
    const e = await signEnvelope(alice.key, alice.id, { incarnation: alice.incarnation, client: alice.client, first: 7, seq: 7, update: Uint8Array.of(1, 2, 3) })
    const back = decodeEnvelope(encodeEnvelope(e))
    assert.deepEqual([back.author, back.client, back.seq], [alice.id, alice.client, 7])
    for (const k of ['incarnation', 'update', 'signature'] as const) assert.deepEqual([...back[k]], [...e[k]], k)
    assert.deepEqual(await verifyEnvelope(back), { ok: true })
    assert.ok(alice.client > 2 ** 32 || alice.client < 2 ** 53, 'a 53-bit client id')
  })

  it('refuse a changed update, seq or incarnation, and a client id not bound to the author', async () => {
    const e = await signEnvelope(alice.key, alice.id, { incarnation: alice.incarnation, client: alice.client, first: 0, seq: 0, update: Uint8Array.of(1, 2, 3) })
    assert.equal((await verifyEnvelope({ ...e, update: Uint8Array.of(1, 2, 4) })).ok, false)
    assert.equal((await verifyEnvelope({ ...e, seq: 1 }) as { reason: string }).reason, 'bad-signature')
    assert.equal((await verifyEnvelope({ ...e, incarnation: newIncarnation() }) as { reason: string }).reason, 'bad-client')
    // Mallory signs for Alice's client id: the id is not derived from Mallory's key.
    const forged = await signEnvelope(mallory.key, mallory.id, { incarnation: alice.incarnation, client: alice.client, first: 0, seq: 0, update: Uint8Array.of(1) })
    assert.equal((await verifyEnvelope(forged) as { reason: string }).reason, 'bad-client')
    // Mallory claims to be Alice.
    const claimed = { ...forged, author: alice.id }
    assert.equal((await verifyEnvelope(claimed) as { reason: string }).reason, 'bad-signature')
    assert.equal((await verifyEnvelope({ ...e, author: 'not-a-peer-id' }) as { reason: string }).reason, 'bad-author')
  })

  it('refuse malformed and oversized wire forms', async () => {
    const e = encodeEnvelope(await signEnvelope(alice.key, alice.id, { incarnation: alice.incarnation, client: alice.client, first: 0, seq: 0, update: Uint8Array.of(9) }))
    for (const bad of [new Uint8Array(0), e.subarray(0, e.length - 1), Uint8Array.of(...e, 0), Uint8Array.of(2, ...e.subarray(1)), new Uint8Array(1000).fill(0xff), Uint8Array.of(...e.subarray(0, 5), 0xff, 0xfe, ...e.subarray(7))]) {
      assert.throws(() => decodeEnvelope(bad), EnvelopeError)
    }
    await assert.rejects(signEnvelope(alice.key, alice.id, { incarnation: alice.incarnation, client: alice.client, first: 0, seq: 0, update: new Uint8Array(MAX_UPDATE_BYTES + 1) }), EnvelopeError)
  })
})

describe('CRDT authorship rules', () => {
  let alice: Author
  let mallory: Author
  before(async () => {
    alice = await author()
    mallory = await author()
  })
  const own = (a: Author, ...more: number[]) => (c: number): boolean => c === a.client || more.includes(c)

  it('accept an author writing, overwriting and deleting its own entries', () => {
    const { doc, capture } = docOf(alice)
    const key = `hash1/${alice.id}`
    const first = capture(() => { doc.getMap('results').set(key, { latex: 'x' }) })
    assert.equal(checkAuthorship(first, alice.id, own(alice)).ok, true)
    const again = capture(() => { doc.getMap('results').set(key, { latex: 'y' }) })
    assert.equal(checkAuthorship(again, alice.id, own(alice)).ok, true)
    const gone = capture(() => { doc.getMap('results').delete(key) })
    assert.equal(checkAuthorship(gone, alice.id, own(alice)).ok, true)
    const member = capture(() => { doc.getMap('members').set(alice.id, { cert: '...' }) })
    assert.equal(checkAuthorship(member, alice.id, own(alice)).ok, true)
  })

  it('accept a new incarnation of an author replacing its old entry', () => {
    const old = docOf(alice)
    const first = old.capture(() => { old.doc.getMap('results').set(`h/${alice.id}`, 1) })
    const reborn = docOf(alice, clientIdFor(alice.key.publicKey.raw, newIncarnation()))
    Y.applyUpdate(reborn.doc, first)
    const second = reborn.capture(() => { reborn.doc.getMap('results').set(`h/${alice.id}`, 2) })
    assert.equal(checkAuthorship(second, alice.id, own(alice, reborn.doc.clientID)).ok, true)
    assert.equal(checkAuthorship(second, alice.id, own(alice)).ok, false, 'unless that incarnation is bound to the author')
  })

  it('refuse every way of touching another author\'s data', () => {
    const a = docOf(alice)
    const aliceWrite = a.capture(() => { a.doc.getMap('results').set(`h/${alice.id}`, { latex: 'x' }) })
    const m = docOf(mallory)
    const isMallory = own(mallory)
    const expect = (update: Uint8Array, reason: string): void => {
      const r = checkAuthorship(update, mallory.id, isMallory)
      assert.equal(r.ok, false, `expected ${reason}`)
      assert.equal((r as { reason: string }).reason, reason, (r as { detail: string }).detail)
    }
    // Without having seen Alice's entry: a value under her key.
    expect(m.capture(() => { m.doc.getMap('results').set(`h/${alice.id}`, { latex: 'evil' }) }), 'foreign-key')
    expect(m.capture(() => { m.doc.getMap('results').set('h', { latex: 'evil' }) }), 'foreign-key')
    // Having seen it: an overwrite is placed after her item and deletes it.
    const m1 = docOf(mallory)
    Y.applyUpdate(m1.doc, aliceWrite)
    expect(m1.capture(() => { m1.doc.getMap('results').set(`h/${alice.id}`, { latex: 'evil' }) }), 'foreign-origin')
    // A bare delete of her entry.
    const m2 = docOf(mallory)
    Y.applyUpdate(m2.doc, aliceWrite)
    expect(m2.capture(() => { m2.doc.getMap('results').delete(`h/${alice.id}`) }), 'foreign-delete')
    // Writing under Alice's client id.
    const asAlice = docOf(mallory, alice.client)
    expect(asAlice.capture(() => { asAlice.doc.getMap('results').set(`h2/${mallory.id}`, 1) }), 'foreign-struct')
    // Nested shared types and maps outside the document.
    expect(m.capture(() => { m.doc.getMap('results').set(`h3/${mallory.id}`, new Y.Map()) }), 'bad-content')
    expect(m.capture(() => { m.doc.getMap('elsewhere').set(mallory.id, 1) }), 'bad-parent')
    expect(m.capture(() => { m.doc.getText('results-text').insert(0, 'x') }), 'bad-parent')
  })

  it('refuse garbage without throwing', () => {
    for (const junk of [Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), new Uint8Array(64).fill(7), Uint8Array.of(200, 1, 5)]) {
      const r = checkAuthorship(junk, mallory.id, own(mallory))
      assert.equal(r.ok, false)
    }
  })

  it('own keys are the author\'s id or end with it', () => {
    assert.ok(ownsKey(`abc/${alice.id}`, alice.id))
    assert.ok(ownsKey(alice.id, alice.id))
    assert.equal(ownsKey(`abc/${alice.id}x`, alice.id), false)
    assert.equal(ownsKey(`${alice.id}/abc`, alice.id), false)
  })
})
