/**
 * Remote envelopes held back: the replica holds those that name an unknown incarnation within
 * a byte cap and applies them once it arrives; the HeldEnvelopes store's caps, indexes and
 * retries, unit by unit.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Replica } from '../crdt/replica.js'
import { clientIdFor, encodeEnvelope, signEnvelope } from '../crdt/envelope.js'
import { DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_HELD_BYTES_PER_AUTHOR, HeldEnvelopes, heldKey, type Held, type HeldCaps } from '../crdt/held.js'
import { result, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

describe('the replicated store: held envelopes', { timeout: 120_000 }, () => {
  after(removeAll)

  it('holds envelopes that name an unknown incarnation within a byte cap, and applies them once it arrives', async () => {
    const key = await generateKeyPair('Ed25519') as Ed25519PrivateKey
    const author = (await Replica.open({ path: await dir(), key })).author
    // The old incarnation writes 40 entries; a new one overwrites each in its own envelope.
    const oldInc = new Uint8Array(16).fill(1)
    const newInc = new Uint8Array(16).fill(2)
    const oldDoc = new Y.Doc()
    oldDoc.clientID = clientIdFor(key.publicKey.raw, oldInc)
    for (let i = 0; i < 40; i++) oldDoc.getMap('results').set(`h${i}/${author}`, result(`old${i}`))
    const oldUpdate = Y.encodeStateAsUpdate(oldDoc)
    const newDoc = new Y.Doc()
    newDoc.clientID = clientIdFor(key.publicKey.raw, newInc)
    Y.applyUpdate(newDoc, oldUpdate)
    const updates: Uint8Array[] = []
    newDoc.on('update', (u: Uint8Array) => { updates.push(u) })
    for (let i = 0; i < 40; i++) newDoc.getMap('results').set(`h${i}/${author}`, result(`new${i} ${'p'.repeat(400)}`))
    const envelopes = await Promise.all(updates.map(async (update, seq) => encodeEnvelope(await signEnvelope(key, author, { incarnation: newInc, client: newDoc.clientID, first: seq, seq, update }))))
    const cap = 8 * 1024
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519'), maxHeldBytes: 4 * cap, maxHeldBytesPerAuthor: cap })
    for (const b of envelopes) assert.equal((await peer.receive(b)).status, 'pending')
    const held = peer.heldEnvelopes()
    assert.ok(held.bytes <= cap && held.bytes > cap / 2, `${held.bytes} bytes held`)
    assert.equal(held.notAdmitted, 0)
    const kept = held.pending
    // The old incarnation arrives: the held envelopes are applied, the rest come with catch-up.
    const oldEnvelope = encodeEnvelope(await signEnvelope(key, author, { incarnation: oldInc, client: oldDoc.clientID, first: 0, seq: 0, update: oldUpdate }))
    assert.equal((await peer.receive(oldEnvelope)).status, 'applied')
    assert.deepEqual(peer.heldEnvelopes(), { pending: 0, notAdmitted: 0, bytes: 0 })
    // The held ones were applied (so they are duplicates now); the dropped ones are taken when they come again.
    const again = await Promise.all(envelopes.map(async b => (await peer.receive(b)).status))
    assert.equal(again.filter(s => s === 'duplicate').length, kept)
    assert.equal(again.filter(s => s === 'applied').length, 40 - kept)
    for (let i = 0; i < 40; i++) assert.ok(peer.results(`h${i}`).get(author)?.latex.startsWith(`new${i} `))
    await peer.close()
  })

  it('keeps the time an envelope was first held when it is tried again and held again', async () => {
    const key = await generateKeyPair('Ed25519') as Ed25519PrivateKey
    const author = peerIdFromPrivateKey(key).toString()
    // Two incarnations write an entry each; a third overwrites both in one envelope, which waits for both.
    const docs = [1, 2, 3].map(n => {
      const doc = new Y.Doc()
      doc.clientID = clientIdFor(key.publicKey.raw, new Uint8Array(16).fill(n))
      return doc
    })
    docs[0]!.getMap('results').set(`h1/${author}`, result('one'))
    docs[1]!.getMap('results').set(`h2/${author}`, result('two'))
    const firsts = docs.slice(0, 2).map(d => Y.encodeStateAsUpdate(d))
    for (const u of firsts) Y.applyUpdate(docs[2]!, u)
    let last: Uint8Array | undefined
    docs[2]!.on('update', (u: Uint8Array) => { last = u })
    docs[2]!.transact(() => {
      docs[2]!.getMap('results').set(`h1/${author}`, result('three'))
      docs[2]!.getMap('results').set(`h2/${author}`, result('four'))
    })
    const [one, two, three] = await Promise.all([...firsts, last!].map(async (update, i) =>
      encodeEnvelope(await signEnvelope(key, author, { incarnation: new Uint8Array(16).fill(i + 1), client: docs[i]!.clientID, first: 0, seq: 0, update }))))
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    assert.equal(peer.heldSince(), undefined)
    const before = Date.now()
    assert.equal((await peer.receive(three!)).status, 'pending')
    const since = peer.heldSince()
    assert.ok(since != null && since >= before && since <= Date.now())
    await new Promise(resolve => setTimeout(resolve, 20))
    // The first incarnation arrives: the held envelope is tried again, and held again for the second.
    assert.equal((await peer.receive(one!)).status, 'applied')
    assert.equal(peer.heldEnvelopes().pending, 1)
    assert.equal(peer.heldSince(), since)
    assert.equal((await peer.receive(two!)).status, 'applied')
    assert.equal(peer.heldSince(), undefined)
    assert.equal(peer.results('h1').get(author)?.latex, 'three')
    assert.equal(peer.results('h2').get(author)?.latex, 'four')
    await peer.close()
  })
})

/** A held envelope of `n` bytes. */
function held (author: string, n: number, waitsFor: Held['waitsFor'] = 'admission'): Held {
  return { bytes: new Uint8Array(n), author, waitsFor }
}

describe('HeldEnvelopes', () => {
  it('holds within the cap of each author and of all, letting the oldest go first', () => {
    const h = new HeldEnvelopes({ maxHeldBytes: 100, maxHeldBytesPerAuthor: 40 })
    assert.equal(h.hold('a1', held('a', 20)), true)
    assert.equal(h.hold('a2', held('a', 20)), true)
    // A third of a's goes over its 40 bytes: a's oldest goes.
    assert.equal(h.hold('a3', held('a', 20)), true)
    assert.equal(h.unhold('a1'), undefined)
    assert.deepEqual(h.counts(), { pending: 0, notAdmitted: 2, bytes: 40 })
    for (const [i, author] of ['b', 'c', 'd'].entries()) assert.equal(h.hold(`${author}1`, held(author, 20 + i)), true)
    // 40 + 20 + 21 + 22 = 103 bytes, over the 100 of all: the oldest of all (a2) goes.
    assert.equal(h.unhold('a2'), undefined)
    assert.deepEqual(h.counts(), { pending: 0, notAdmitted: 4, bytes: 83 })
  })

  it('does not hold one larger than a cap, and holds a key once', () => {
    const h = new HeldEnvelopes({ maxHeldBytes: 100, maxHeldBytesPerAuthor: 40 })
    assert.equal(h.hold('big', held('a', 41)), false)
    assert.equal(new HeldEnvelopes({ maxHeldBytes: 30, maxHeldBytesPerAuthor: 40 }).hold('k', held('a', 31)), false)
    assert.equal(h.hold('k', held('a', 10, [7])), true)
    assert.equal(h.hold('k', held('a', 10, [7])), true)
    assert.deepEqual(h.counts(), { pending: 1, notAdmitted: 0, bytes: 10 })
  })

  it('reads the caps at each hold, with the defaults when none are given', () => {
    const caps: HeldCaps = {}
    const h = new HeldEnvelopes(caps)
    assert.equal(h.hold('k1', held('a', DEFAULT_MAX_HELD_BYTES_PER_AUTHOR + 1)), false)
    assert.equal(h.hold('k2', held('a', DEFAULT_MAX_HELD_BYTES_PER_AUTHOR)), true)
    assert.ok(DEFAULT_MAX_HELD_BYTES >= DEFAULT_MAX_HELD_BYTES_PER_AUTHOR)
    caps.maxHeldBytesPerAuthor = 10
    assert.equal(h.hold('k3', held('a', 10)), true)
    assert.deepEqual(h.counts(), { pending: 0, notAdmitted: 1, bytes: 10 })
  })

  it('tells which are due once: those waiting for a client now known, and those of an author whose member entry changed', () => {
    const h = new HeldEnvelopes({})
    h.hold('p1', held('a', 1, [1, 2]))
    h.hold('p2', held('a', 1, [2]))
    h.hold('n1', held('a', 1))
    h.hold('n2', held('b', 1))
    assert.deepEqual(h.due(), new Set())
    h.clientKnown(3)
    assert.deepEqual(h.due(), new Set(), 'no envelope waits for client 3')
    h.clientKnown(2)
    assert.deepEqual(h.due(), new Set(['p1', 'p2']))
    assert.deepEqual(h.due(), new Set(), 'told once')
    // A member entry of a: only its envelopes held for admission, not those waiting for a client.
    h.memberChanged('a')
    h.memberChanged('c')
    assert.deepEqual(h.due(), new Set(['n1']))
    assert.deepEqual(h.due(), new Set())
  })

  it('forgets an envelope let go, in its counts and its indexes', () => {
    const h = new HeldEnvelopes({})
    h.hold('p', held('a', 5, [1]))
    h.hold('n', held('a', 7))
    assert.deepEqual(h.counts(), { pending: 1, notAdmitted: 1, bytes: 12 })
    assert.equal(h.unhold('p')?.bytes.length, 5)
    assert.equal(h.unhold('p'), undefined)
    h.clientKnown(1)
    assert.deepEqual(h.due(), new Set())
    assert.equal(h.unhold('n')?.author, 'a')
    h.memberChanged('a')
    assert.deepEqual(h.due(), new Set())
    assert.deepEqual(h.counts(), { pending: 0, notAdmitted: 0, bytes: 0 })
  })

  it('tells when the envelope held longest was first held', () => {
    const h = new HeldEnvelopes({})
    assert.equal(h.oldest(), undefined)
    h.hold('a', { ...held('a', 1), since: 200 })
    h.hold('b', { ...held('b', 1), since: 100 })
    const before = Date.now()
    h.hold('c', held('c', 1))
    assert.equal(h.oldest(), 100)
    h.unhold('b')
    assert.equal(h.oldest(), 200)
    h.unhold('a')
    assert.ok(h.oldest()! >= before && h.oldest()! <= Date.now(), 'held now when no time is given')
    h.unhold('c')
    assert.equal(h.oldest(), undefined)
  })

  it('keys a held envelope by its log and positions', () => {
    assert.equal(heldKey('AUTHOR!00ff', 3, 9), 'AUTHOR!00ff!3!9')
  })
})
