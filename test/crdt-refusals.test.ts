/**
 * What the replica refuses, and what it sets aside: hostile envelopes (forged, foreign,
 * overwriting, garbage, too deep, a "__proto__" key) are refused whole and leave the state as it
 * was; stored data that no longer passes is quarantined at start-up, never stopping it.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Y from 'yjs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Replica } from '../crdt/replica.js'
import { type ResultEntry } from '../crdt/schemas.js'
import { clientIdFor, decodeEnvelope, encodeEnvelope, MAX_UPDATE_BYTES, newIncarnation, signEnvelope, signingBytes } from '../crdt/envelope.js'
import { EnvelopeLog } from '../crdt/log.js'
import { checkValue, MAX_VALUE_DEPTH } from '../crdt/values.js'
import { deepEnvelope } from './helpers.js'
import { result, review, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

describe('the replicated store: refusals and quarantine', { timeout: 120_000 }, () => {
  after(removeAll)

  it('whatever a replica accepts, among hostile envelopes, duplicates and any order, it opens again on its data dir with the same maps (property)', async () => {
    const keys = await Promise.all([0, 1, 2].map(async () => await generateKeyPair('Ed25519')))
    const authors = keys.map(k => peerIdFromPrivateKey(k).toString())
    const owner = await generateKeyPair('Ed25519')
    /** A validly signed envelope of `key` that makes `write` in a fresh incarnation. */
    const signed = async (key: Ed25519PrivateKey, write: (doc: Y.Doc, author: string) => void): Promise<Uint8Array> => {
      const author = peerIdFromPrivateKey(key).toString()
      const incarnation = newIncarnation()
      const client = clientIdFor(key.publicKey.raw, incarnation)
      const doc = new Y.Doc()
      doc.clientID = client
      write(doc, author)
      return encodeEnvelope(await signEnvelope(key, author, { incarnation, client, first: 0, seq: 0, update: Y.encodeStateAsUpdate(doc) }))
    }
    const HOSTILE = ['deep', 'shape', 'foreign', 'oversized', 'proto', 'parent', 'garbage', 'forged'] as const
    const hostile = async (kind: typeof HOSTILE[number], who: number, other: number, pool: Uint8Array[]): Promise<Uint8Array> => {
      const key = keys[who]!
      const author = authors[who]!
      switch (kind) {
        case 'deep': return await deepEnvelope(key, author, other === 0 ? MAX_VALUE_DEPTH + 1 : 3000)
        case 'shape': return await signed(key, (doc, a) => { doc.getMap('results').set(`h/${a}`, { ...result('x'), confidence: 2 }) })
        case 'foreign': return await signed(key, doc => { doc.getMap('results').set(`h/${authors[(who + 1 + other % 2) % 3]}`, result('stolen')) })
        case 'proto': return await signed(key, (doc, a) => { doc.getMap('corrections').set(`h/${a}`, JSON.parse('{"__proto__": {"deep": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}, "latex": "x", "time": 1}')) })
        case 'parent': return await signed(key, (doc, a) => { doc.getMap('elsewhere').set(`h/${a}`, result('x')) })
        case 'garbage': return Uint8Array.from({ length: 1 + other * 37 }, (_, i) => (i * 31 + other) & 0xff)
        case 'forged': {
          const valid = pool[other % Math.max(1, pool.length)] ?? await signed(key, (doc, a) => { doc.getMap('results').set(`h/${a}`, result('x')) })
          const forged = Uint8Array.from(valid)
          forged[forged.length - 1] = forged[forged.length - 1]! ^ 1
          return forged
        }
        case 'oversized': {
          const incarnation = newIncarnation()
          const fields = { author, incarnation, client: clientIdFor(key.publicKey.raw, incarnation), first: 0, seq: 0, update: new Uint8Array(MAX_UPDATE_BYTES + 1) }
          return encodeEnvelope({ ...fields, signature: await key.sign(signingBytes(fields)) })
        }
      }
    }
    const op = fc.oneof(
      { weight: 4, arbitrary: fc.record({ do: fc.constant('write' as const), who: fc.nat(2), image: fc.constantFrom('a', 'b', 'c'), latex: fc.string({ maxLength: 8 }), map: fc.constantFrom('results', 'corrections', 'members', 'evidence', 'calibration', 'big') }) },
      { weight: 1, arbitrary: fc.record({ do: fc.constant('own' as const), image: fc.constantFrom('a', 'b', 'c'), latex: fc.string({ maxLength: 8 }) }) },
      { weight: 2, arbitrary: fc.record({ do: fc.constant('hostile' as const), kind: fc.constantFrom(...HOSTILE), who: fc.nat(2), other: fc.nat(3) }) },
      { weight: 3, arbitrary: fc.record({ do: fc.constant('deliver' as const), count: fc.integer({ min: 1, max: 5 }) }) }
    )
    await fc.assert(fc.asyncProperty(
      fc.array(op, { minLength: 1, maxLength: 24 }),
      fc.constantFrom(0, 2),
      fc.infiniteStream(fc.nat()),
      async (ops, compactEvery, order) => {
        const pick = order[Symbol.iterator]()
        const next = (): number => pick.next().value as number
        const writers = await Promise.all(keys.map(async key => await Replica.open({ path: await dir(), key, compactEvery: 0 })))
        const valid = writers.map(tap)
        const bad: Uint8Array[] = []
        const kinds = new Map<Uint8Array, string>()
        const path = await dir()
        const r = await Replica.open({ path, key: owner, compactEvery })
        const deliver = async (bytes: Uint8Array): Promise<void> => {
          const out = await r.receive(bytes)
          // Refused whole; a forged copy of an envelope already applied is a duplicate (known by its position), ignored too.
          if (bad.includes(bytes)) assert.ok(out.status === 'rejected' || (out.status === 'duplicate' && kinds.get(bytes) === 'forged'), `a hostile envelope (${kinds.get(bytes) ?? '?'}): ${JSON.stringify(out)}`)
          else assert.notEqual(out.status, 'rejected', JSON.stringify(out))
        }
        for (const [i, o] of ops.entries()) {
          if (o.do === 'write') {
            const w = writers[o.who]!
            if (o.map === 'results') await w.putResult(o.image, result(o.latex, i))
            else if (o.map === 'corrections') await w.putCorrection(o.image, review(o.latex, i))
            else if (o.map === 'members') await w.putMember({ certificate: `texmesh-cert-v1:${o.latex}x`, time: i })
            else if (o.map === 'evidence') await w.putEvidence(`voter${o.image}`, `task${o.latex.length}`, { votes: [{ latex: o.latex }, { latex: `${o.latex}'` }], time: i })
            else if (o.map === 'calibration') await w.putCalibration(`model-${o.image}`, { model: `model-${o.image}`, curve: [[0, 0], [1, 1]], fittedOn: [[0.5, 1]], time: i })
            else await w.putResult(o.image, result(`${o.latex}${'x'.repeat(4000)}`, i)) // at the LaTeX cap
          } else if (o.do === 'own') {
            await r.putResult(o.image, result(o.latex, i))
          } else if (o.do === 'hostile') {
            const b = await hostile(o.kind, o.who, o.other, valid.flat())
            bad.push(b)
            kinds.set(b, o.kind)
            await deliver(b)
          } else {
            const all = [...valid.flat(), ...bad]
            for (let k = 0; k < o.count && all.length > 0; k++) await deliver(all[next() % all.length]!)
          }
        }
        // Then everything, shuffled, some twice.
        const all = [...valid.flat(), ...bad, ...valid.flat().filter(() => next() % 3 === 0)]
        for (let i = all.length - 1; i > 0; i--) {
          const j = next() % (i + 1);
          [all[i], all[j]] = [all[j]!, all[i]!]
        }
        for (const b of all) await deliver(b)
        const snapshot = r.snapshot()
        const heads = r.heads()
        for (const w of writers) await w.close()
        await r.close()
        const again = await Replica.open({ path, key: owner, compactEvery })
        try {
          assert.deepEqual(await again.quarantined(), [], 'nothing it accepted is set aside at the next start')
          assert.deepEqual(again.snapshot(), snapshot)
          assert.deepEqual(again.heads(), heads)
          // Nothing hostile got in: no entry written under another author's key, no value with a foreign prototype.
          assert.ok(!Object.values(snapshot.results as Record<string, ResultEntry>).some(v => v.latex === 'stolen'))
          for (const map of Object.values(snapshot)) for (const v of Object.values(map)) assert.equal(checkValue(v), null)
        } finally {
          await again.close()
        }
      }
    ), { numRuns: 40 })
  })

  it('a hostile batch among honest batches, all received at once, is refused alone: the batches beside it are applied', async () => {
    const [ka, kc, km] = await Promise.all([0, 1, 2].map(async () => await generateKeyPair('Ed25519')))
    const alice = await Replica.open({ path: await dir(), key: ka! })
    const carol = await Replica.open({ path: await dir(), key: kc! })
    const mallory = peerIdFromPrivateKey(km!).toString()
    const aliceWire = tap(alice)
    const carolWire = tap(carol)
    // Writes issued together share envelopes: batches of many results each.
    await Promise.all(Array.from({ length: 200 }, async (_, i) => { await alice.putResult(`a${i}`, result(`a${i}`)) }))
    await Promise.all(Array.from({ length: 200 }, async (_, i) => { await carol.putResult(`c${i}`, result(`c${i}`)) }))
    assert.ok(aliceWire.length < 200 && carolWire.length < 200, 'the writes were batched')
    // Mallory's batch: 20 results of her own and, among them, an overwrite of one of Alice's.
    const inc = new Uint8Array(16).fill(7)
    const md = new Y.Doc()
    md.clientID = clientIdFor(km!.publicKey.raw, inc)
    Y.applyUpdate(md, decodeEnvelope(aliceWire[0]!).update)
    const updates: Uint8Array[] = []
    md.on('update', (u: Uint8Array) => { updates.push(u) })
    md.transact(() => {
      for (let i = 0; i < 20; i++) md.getMap('results').set(`m${i}/${mallory}`, result(`m${i}`))
      md.getMap('results').set(`a0/${alice.author}`, result('stolen'))
    })
    const hostile = encodeEnvelope(await signEnvelope(km!, mallory, { incarnation: inc, client: md.clientID, first: 0, seq: 20, update: Y.mergeUpdates(updates) }))
    // And a copy of one of Carol's batches with a byte of its update changed.
    const forged = Uint8Array.from(carolWire[0]!)
    forged[forged.length - 100] = forged[forged.length - 100]! ^ 1
    const refused: string[] = []
    const bob = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519'), onReject: reason => refused.push(reason) })
    const outcomes = await Promise.all([forged, ...aliceWire, hostile, ...carolWire].map(async b => await bob.receive(b)))
    assert.deepEqual(refused.sort(), ['bad-signature', 'foreign-origin'])
    assert.equal(outcomes.filter(o => o.status === 'applied').length, aliceWire.length + carolWire.length)
    for (let i = 0; i < 200; i++) {
      assert.equal(bob.results(`a${i}`).get(alice.author)?.latex, `a${i}`)
      assert.equal(bob.results(`c${i}`).get(carol.author)?.latex, `c${i}`, 'the forged copy did not keep out the real batch')
    }
    assert.equal(bob.results('m0').size, 0, 'nothing of the hostile batch is applied')
    for (const r of [alice, carol, bob]) await r.close()
  })

  it('refuses forged, foreign, overwriting and garbage envelopes; state unchanged, still serving', async () => {
    const [ka, km, kx] = await Promise.all([0, 1, 2].map(async () => await generateKeyPair('Ed25519')))
    const stranger = (await Replica.open({ path: await dir(), key: kx! })).author
    const refused: string[] = []
    const alice = await Replica.open({ path: await dir(), key: ka! })
    const mallory = await Replica.open({ path: await dir(), key: km! })
    const bob = await Replica.open({ path: await dir(), key: (await generateKeyPair('Ed25519')) as Ed25519PrivateKey, admits: a => a !== stranger, onReject: reason => refused.push(reason) })
    const aliceWire = tap(alice)
    await alice.putResult('h', result('x'))
    assert.equal((await bob.receive(aliceWire[0]!)).status, 'applied')
    const state = JSON.stringify(bob.snapshot())
    const expectRefused = async (bytes: Uint8Array, reason: string): Promise<void> => {
      const out = await bob.receive(bytes)
      assert.equal(out.status, 'rejected')
      assert.equal((out as { reason: string }).reason, reason)
      assert.equal(JSON.stringify(bob.snapshot()), state)
    }
    // A changed update under Alice's signature.
    const e = decodeEnvelope(aliceWire[0]!)
    await expectRefused(encodeEnvelope({ ...e, seq: 1, first: 1 }), 'bad-signature')
    // Garbage and truncation.
    await expectRefused(Uint8Array.of(1, 2, 3), 'malformed')
    await expectRefused(aliceWire[0]!.subarray(0, 40), 'malformed')
    // An author that is not UTF-8 text: refused as malformed, not thrown.
    const badAuthor = Uint8Array.of(...aliceWire[0]!)
    badAuthor.set([0xff, 0xfe, 0xc3], 5)
    await expectRefused(badAuthor, 'malformed')
    // Mallory, having seen Alice's entry, overwrites it and signs that as her own.
    let evil: Uint8Array | undefined
    const inc = new Uint8Array(16).fill(5)
    const md = new Y.Doc()
    md.clientID = clientIdFor(km!.publicKey.raw, inc)
    Y.applyUpdate(md, e.update)
    md.on('update', (u: Uint8Array) => { evil = u })
    md.getMap('results').set(`h/${alice.author}`, result('evil'))
    const overwrite = await signEnvelope(km!, mallory.author, { incarnation: inc, client: md.clientID, first: 0, seq: 0, update: evil! })
    await expectRefused(encodeEnvelope(overwrite), 'foreign-origin')
    // And the rest of that log is refused too.
    const next = await signEnvelope(km!, mallory.author, { incarnation: inc, client: md.clientID, first: 1, seq: 1, update: evil! })
    await expectRefused(encodeEnvelope(next), 'broken-log')
    // Mallory, in a fresh incarnation, deletes Alice's entry.
    const dInc = new Uint8Array(16).fill(6)
    const dd = new Y.Doc()
    dd.clientID = clientIdFor(km!.publicKey.raw, dInc)
    Y.applyUpdate(dd, e.update)
    let del: Uint8Array | undefined
    dd.on('update', (u: Uint8Array) => { del = u })
    dd.getMap('results').delete(`h/${alice.author}`)
    await expectRefused(encodeEnvelope(await signEnvelope(km!, mallory.author, { incarnation: dInc, client: dd.clientID, first: 0, seq: 0, update: del! })), 'foreign-delete')
    // An oversized envelope.
    await expectRefused(encodeEnvelope({ ...e, update: new Uint8Array(MAX_UPDATE_BYTES + 4096) }), 'oversized')
    // An author who is not a member.
    const strangerKey = kx!
    const sDoc = new Y.Doc()
    const sInc = new Uint8Array(16).fill(9)
    sDoc.clientID = clientIdFor(strangerKey.publicKey.raw, sInc)
    let su: Uint8Array | undefined
    sDoc.on('update', (u: Uint8Array) => { su = u })
    sDoc.getMap('results').set(`h/${stranger}`, result('s'))
    await expectRefused(encodeEnvelope(await signEnvelope(strangerKey, stranger, { incarnation: sInc, client: sDoc.clientID, first: 0, seq: 0, update: su! })), 'not-a-member')
    assert.deepEqual(refused, ['bad-signature', 'malformed', 'malformed', 'malformed', 'foreign-origin', 'broken-log', 'foreign-delete', 'oversized', 'not-a-member'])
    // Still serving: a later honest write goes through.
    await alice.putResult('h2', result('y'))
    assert.equal((await bob.receive(aliceWire[1]!)).status, 'applied')
    assert.equal(bob.results('h2').get(alice.author)?.latex, 'y')
    for (const r of [alice, mallory, bob]) await r.close()
  })

  it('refuses values nested deeper than the bound, whether the decoder manages them or not', async () => {
    const alice = await generateKeyPair('Ed25519')
    const mallory = await generateKeyPair('Ed25519')
    const bob = await Replica.open({ path: await dir(), key: alice })
    const author = (await Replica.open({ path: await dir(), key: mallory })).author
    const refusals: string[] = []
    const check = async (depth: number): Promise<void> => {
      const out = await bob.receive(await deepEnvelope(mallory, author, depth))
      assert.equal(out.status, 'rejected', `depth ${depth}`)
      refusals.push((out as { reason: string }).reason)
    }
    // Deeper than the bound but easy to decode, a few thousand deep (decoded warm, not cold), and far beyond any stack.
    for (const depth of [MAX_VALUE_DEPTH + 2, 4600, 100_000]) await check(depth)
    for (const r of refusals) assert.ok(['too-deep', 'undecodable'].includes(r), r)
    assert.equal(refusals[0], 'too-deep')
    assert.equal(bob.size('evidence'), 0)
    // A value within the bound but not of the map's shape is refused too.
    assert.equal(checkValue({ a: [[[1]]] }), null)
    assert.equal(checkValue(JSON.parse('{"__proto__": 1}'))?.reason, 'bad-value')
    await assert.rejects(bob.putEvidence('v', 't', { votes: [{ a: 1 }, { a: [[[[[[[[[[[[[[1]]]]]]]]]]]]]] } as never], time: 1 }))
    await bob.close()
  })

  it('refuses a value with a "__proto__" key, which the decoder makes its prototype (hidden from the bounds)', async () => {
    const mallory = await generateKeyPair('Ed25519')
    const author = (await Replica.open({ path: await dir(), key: mallory })).author
    const bob = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const incarnation = new Uint8Array(16).fill(7)
    const client = clientIdFor(mallory.publicKey.raw, incarnation)
    const doc = new Y.Doc()
    doc.clientID = client
    // A correction of the right shape, with a value deeper than the bound under "__proto__".
    const deep = JSON.stringify(Array.from({ length: MAX_VALUE_DEPTH + 5 }).reduce<unknown>(x => [x], 1))
    doc.getMap('corrections').set(`h/${author}`, JSON.parse(`{"__proto__": {"polluted": 1, "deep": ${deep}}, "latex": "x", "time": 1}`))
    const bytes = encodeEnvelope(await signEnvelope(mallory, author, { incarnation, client, first: 0, seq: 0, update: Y.encodeStateAsUpdate(doc) }))
    const out = await bob.receive(bytes)
    assert.equal(out.status, 'rejected')
    assert.equal((out as { reason: string }).reason, 'bad-value')
    assert.equal(bob.size('corrections'), 0)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    await bob.close()
  })

  it('values are JSON text in the document, checked as objects are; objects as older versions wrote them are still taken', async () => {
    const mallory = await generateKeyPair('Ed25519')
    const author = peerIdFromPrivateKey(mallory).toString()
    const bob = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    let n = 0
    const envelope = async (value: unknown): Promise<Uint8Array> => {
      const incarnation = new Uint8Array(16).fill(++n)
      const client = clientIdFor(mallory.publicKey.raw, incarnation)
      const doc = new Y.Doc()
      doc.clientID = client
      doc.getMap('results').set(`h${n}/${author}`, value)
      return encodeEnvelope(await signEnvelope(mallory, author, { incarnation, client, first: 0, seq: 0, update: Y.encodeStateAsUpdate(doc) }))
    }
    const deep = Array.from({ length: 3000 }).reduce<unknown>(x => [x], 1)
    const refusals: Array<[unknown, string]> = [
      [JSON.stringify({ ...result('x'), confidence: 2 }), 'bad-value'],
      [JSON.stringify({ ...result('x'), alternatives: deep }), 'too-deep'],
      [`{"__proto__": {"polluted": 1}, ${JSON.stringify(result('x')).slice(1)}`, 'bad-value'],
      ['x^{2}', 'bad-value']
    ]
    for (const [value, reason] of refusals) {
      const out = await bob.receive(await envelope(value))
      assert.equal((out as { reason?: string }).reason, reason, String(value).slice(0, 80))
    }
    assert.equal(bob.size('results'), 0)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    // Accepted: JSON text, and an object (an older version's write); both read back as entries.
    assert.equal((await bob.receive(await envelope(JSON.stringify(result('text'))))).status, 'applied')
    assert.equal((await bob.receive(await envelope(result('object')))).status, 'applied')
    assert.equal(bob.results(`h${n - 1}`).get(author)?.latex, 'text')
    assert.equal(bob.results(`h${n}`).get(author)?.latex, 'object')
    assert.deepEqual(bob.allResults().map(r => r.entry.latex).sort(), ['object', 'text'])
    // A local write is stored as text.
    const own = tap(bob)
    await bob.putResult('mine', result('mine'))
    const item = Y.decodeUpdate(decodeEnvelope(own[0]!).update).structs[0] as Y.Item
    assert.equal(typeof (item.content as Y.ContentAny).arr[0], 'string')
    await bob.close()
  })

  it('stored data never stops a start: an envelope that fails to decode or check is quarantined, the rest kept', async () => {
    const key = await generateKeyPair('Ed25519')
    const mallory = await generateKeyPair('Ed25519')
    const path = await dir()
    const r = await Replica.open({ path, key })
    await r.putResult('h1', result('x^{2}'))
    const malloryId = (await Replica.open({ path: await dir(), key: mallory })).author
    await r.close()
    // Written straight into LevelDB, past every check: one far too deep to decode, one within reach of the decoder.
    const log = await EnvelopeLog.open(path)
    for (const depth of [100_000, MAX_VALUE_DEPTH + 5]) {
      const bytes = await deepEnvelope(mallory, malloryId, depth)
      await log.append(decodeEnvelope(bytes), bytes)
    }
    await log.close()
    for (let start = 0; start < 2; start++) {
      const again = await Replica.open({ path, key })
      assert.equal(again.results('h1').get(again.author)?.latex, 'x^{2}')
      assert.equal(again.size('evidence'), 0)
      const q = await again.quarantined()
      assert.equal(q.length, 2, 'both set aside, once')
      for (const e of q) {
        assert.equal(e.author, malloryId)
        assert.match(e.reason, /undecodable|too-deep/)
      }
      await again.putResult('h2', result('y'))
      await again.close()
    }
  })
})
