import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as Y from 'yjs'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { Replica } from '../crdt/replica.js'
import { type ResultEntry } from '../crdt/schemas.js'
import { clientIdFor, decodeEnvelope, encodeEnvelope, MAX_UPDATE_BYTES, signEnvelope } from '../crdt/envelope.js'
import { EnvelopeLog } from '../crdt/log.js'
import { checkValue, MAX_VALUE_DEPTH } from '../crdt/values.js'
import { deepEnvelope, removeDir, tempDir, waitFor } from './helpers.js'
import { newIncarnation, signingBytes } from '../crdt/envelope.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

const WRITER = fileURLToPath(new URL('./children/crdt-writer.js', import.meta.url))

const dirs: string[] = []
async function dir (): Promise<string> {
  const d = await tempDir('texmesh-crdt-')
  dirs.push(d)
  return d
}

function result (latex: string, time = 1): ResultEntry {
  return { latex, confidence: 0.9, alternatives: [{ latex: `${latex}'`, score: -3 }], model: 'texmesh-v1+test', time }
}

async function first<T> (it: AsyncIterable<T>): Promise<T> {
  const iterator = it[Symbol.asyncIterator]()
  const next = await iterator.next()
  await iterator.return?.()
  if (next.done === true) throw new Error('empty')
  return next.value
}

/** Every own envelope a replica publishes. */
function tap (r: Replica): Uint8Array[] {
  const out: Uint8Array[] = []
  r.onEnvelope(b => out.push(b))
  return out
}

describe('the replicated store', { timeout: 120_000 }, () => {
  after(async () => { for (const d of dirs) await removeDir(d) })

  it('persists writes and rebuilds the document from LevelDB', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const r = await Replica.open({ path, key })
    const seen: string[] = []
    r.subscribe(c => seen.push(`${c.map}:${c.key}:${String(c.local)}`))
    await r.putResult('h1', result('x^{2}'))
    await r.putCorrection('h1', { latex: 'x^{3}', time: 2 })
    await r.putCalibration('texmesh-v1+test', { model: 'texmesh-v1+test', curve: [[0, 0], [1, 1]], fittedOn: [[0.9, 1]], time: 3 })
    await r.putMember({ certificate: 'texmesh-cert-v1:abc', time: 4 })
    assert.deepEqual(seen, [`results:h1/${r.author}:true`, `corrections:h1/${r.author}:true`, `calibration:texmesh-v1+test/${r.author}:true`, `members:${r.author}:true`])
    await assert.rejects(r.putResult('h2', { ...result('y'), confidence: 2 }), 'entries are validated')
    const before = r.snapshot()
    const heads = r.heads()
    await r.close()
    const again = await Replica.open({ path, key })
    assert.deepEqual(again.snapshot(), before)
    assert.deepEqual(again.heads(), heads)
    assert.equal(again.results('h1').get(again.author)?.latex, 'x^{2}')
    // The same data dir keeps its incarnation: later writes continue the same log,
    // under the same bound client id, so other replicas take them.
    const wire = tap(again)
    await again.putResult('h3', result('z'))
    assert.deepEqual(Object.values(again.heads()), [4])
    const other = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for await (const b of again.missing({})) assert.equal((await other.receive(b)).status, 'applied')
    assert.equal(decodeEnvelope(wire[0]!).client, decodeEnvelope((await first(again.missing({}))))!.client)
    assert.deepEqual(other.snapshot(), again.snapshot())
    await other.close()
    await again.close()
  })

  it('replicas converge whatever the order, duplication and delay of delivery, with writes between deliveries (property)', async () => {
    const keys = await Promise.all([0, 1, 2, 3, 4].map(async () => await generateKeyPair('Ed25519')))
    const op = fc.oneof(
      fc.record({ do: fc.constant('write' as const), node: fc.nat(4), image: fc.constantFrom('a', 'b', 'c'), latex: fc.string({ maxLength: 6 }), kind: fc.constantFrom('result', 'correction') }),
      // Hand one replica some of the envelopes published so far, so later writes build on others' entries.
      fc.record({ do: fc.constant('deliver' as const), node: fc.nat(4), count: fc.integer({ min: 1, max: 6 }) })
    )
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 3, max: 5 }),
      fc.array(op, { minLength: 1, maxLength: 20 }),
      fc.infiniteStream(fc.nat()),
      async (n, ops, order) => {
        const replicas = await Promise.all(keys.slice(0, n).map(async key => await Replica.open({ path: await dir(), key, compactEvery: 0 })))
        const wire = replicas.map(tap)
        const pick = order[Symbol.iterator]()
        const next = (): number => pick.next().value as number
        const deliver = async (r: Replica, b: Uint8Array): Promise<void> => {
          const out = await r.receive(b)
          assert.notEqual(out.status, 'rejected', JSON.stringify(out))
        }
        for (const [i, o] of ops.entries()) {
          const r = replicas[o.node % n]!
          if (o.do === 'deliver') {
            const all = wire.flat()
            for (let k = 0; k < o.count && all.length > 0; k++) await deliver(r, all[next() % all.length]!)
          } else if (o.kind === 'result') await r.putResult(o.image, result(o.latex, i))
          else await r.putCorrection(o.image, { latex: o.latex, time: i })
        }
        const all = wire.flat()
        // Then every replica gets every envelope, shuffled, some twice.
        for (const r of replicas) {
          const deliveries = [...all, ...all.filter(() => next() % 3 === 0)]
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = next() % (i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!]
          }
          for (const b of deliveries) await deliver(r, b)
        }
        // Identical maps (key order in a Y.Map follows arrival; the content must not).
        const first = replicas[0]!.snapshot()
        for (const r of replicas) assert.deepEqual(r.snapshot(), first)
        for (const r of replicas) await r.close()
      }
    ), { numRuns: 15 })
  })

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
            else if (o.map === 'corrections') await w.putCorrection(o.image, { latex: o.latex, time: i })
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

  it('a node that lost its data dir writes under a new client id, and its new entry replaces the old', async () => {
    const key = await generateKeyPair('Ed25519')
    const first = await Replica.open({ path: await dir(), key })
    const firstWire = tap(first)
    await first.putResult('h', result('old'))
    await first.close()
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    await peer.receive(firstWire[0]!)
    // Same key, empty data dir: a new incarnation. It catches up, then writes.
    const reborn = await Replica.open({ path: await dir(), key })
    const rebornWire = tap(reborn)
    for await (const b of peer.missing(reborn.heads())) await reborn.receive(b)
    await reborn.putResult('h', result('new'))
    assert.notEqual(decodeEnvelope(rebornWire[0]!).client, decodeEnvelope(firstWire[0]!).client)
    assert.equal((await peer.receive(rebornWire[0]!)).status, 'applied')
    assert.equal(peer.results('h').get(reborn.author)?.latex, 'new')
    assert.equal(Object.keys(peer.heads()).length, 2, 'two logs of one author')
    await reborn.close()
    await peer.close()
  })

  it('compaction folds own envelopes into one; the rebuilt and the caught-up replica hold the same', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const r = await Replica.open({ path, key })
    for (let i = 0; i < 50; i++) await r.putResult(`h${i % 10}`, result(`x_{${i}}`, i))
    const before = r.snapshot()
    assert.deepEqual(await r.compact(), { merged: 50, envelopes: 1 })
    await r.close()
    const reopened = await Replica.open({ path, key })
    assert.deepEqual(reopened.snapshot(), before)
    const fresh = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    let sent = 0
    for await (const b of reopened.missing(fresh.heads())) { sent++; assert.equal((await fresh.receive(b)).status, 'applied') }
    assert.equal(sent, 1)
    assert.deepEqual(fresh.snapshot(), before)
    assert.deepEqual(fresh.heads(), reopened.heads())
    await reopened.close()
    await fresh.close()
  })

  it('a listener may write during a remote apply and after a local write: each write is stored, signed and published', async () => {
    const alice = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const bobPath = await dir()
    const bobKey = await generateKeyPair('Ed25519')
    const bob = await Replica.open({ path: bobPath, key: bobKey })
    const aliceWire = tap(alice)
    const bobWire = tap(bob)
    const writes: Array<Promise<void>> = []
    // Alice calibrates after each of her own results; Bob corrects each result he receives.
    alice.subscribe(c => { if (c.local && c.map === 'results') writes.push(alice.putCalibration('m', { model: 'm', curve: [[0, 0], [1, 1]], fittedOn: [], time: 1 })) })
    bob.subscribe(c => { if (!c.local && c.map === 'results') writes.push(bob.putCorrection(c.key.slice(0, c.key.indexOf('/')), { latex: 'seen', time: 2 })) })
    await alice.putResult('h', result('x'))
    await Promise.all(writes)
    assert.equal(aliceWire.length, 2, 'the listener\'s write has its own envelope')
    for (const b of aliceWire) assert.equal((await bob.receive(b)).status, 'applied')
    await Promise.all(writes)
    assert.equal(bobWire.length, 1, 'the write made during the apply is published')
    assert.equal(decodeEnvelope(bobWire[0]!).client, clientIdFor(bobKey.publicKey.raw, decodeEnvelope(bobWire[0]!).incarnation))
    const carol = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for (const b of [...aliceWire, ...bobWire]) assert.equal((await carol.receive(b)).status, 'applied')
    assert.equal(carol.corrections('h').get(bob.author)?.latex, 'seen')
    assert.equal(carol.calibration('m').get(alice.author)?.model, 'm')
    await bob.close()
    const reopened = await Replica.open({ path: bobPath, key: bobKey })
    assert.equal(reopened.corrections('h').get(bob.author)?.latex, 'seen', 'and it is stored')
    for (const r of [alice, carol, reopened]) await r.close()
  })

  it('compaction drops overwritten values; a peer keeps only the wider envelope', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const alice = await Replica.open({ path, key, compactEvery: 0 })
    const bob = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const wire = tap(alice)
    const big = 'x'.repeat(2000)
    for (let i = 0; i < 300; i++) await alice.putResult('h', result(`${big}${i}`, i))
    await alice.putResult('other', result('y'))
    for (const b of wire) await bob.receive(b)
    const storedBytes = async (r: Replica): Promise<{ bytes: number, envelopes: number }> => {
      let bytes = 0
      let envelopes = 0
      for await (const b of r.missing({})) { bytes += b.length; envelopes++ }
      return { bytes, envelopes }
    }
    assert.ok((await storedBytes(alice)).bytes > 600_000)
    await alice.compact()
    await alice.compact()
    const after = await storedBytes(alice)
    assert.ok(after.bytes < 30_000, `${after.bytes} bytes after compaction`)
    assert.equal(after.envelopes, 1)
    // The folded envelope passes the authorship check (its deletes name only Alice's items) and replaces Bob's 301.
    for await (const b of alice.missing({})) assert.equal((await bob.receive(b)).status, 'applied')
    assert.deepEqual(await storedBytes(bob), after)
    assert.deepEqual(bob.heads(), alice.heads())
    const fresh = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for await (const b of alice.missing({})) assert.equal((await fresh.receive(b)).status, 'applied')
    assert.equal(fresh.results('h').get(alice.author)?.latex, `${big}299`)
    assert.deepEqual(fresh.snapshot(), alice.snapshot())
    await alice.close()
    const reopened = await Replica.open({ path, key })
    assert.deepEqual(reopened.snapshot(), fresh.snapshot())
    // Writes after a compaction continue the same log and still reach peers.
    const more = tap(reopened)
    await reopened.putResult('h', result('last'))
    assert.equal((await fresh.receive(more[0]!)).status, 'applied')
    assert.equal(fresh.results('h').get(alice.author)?.latex, 'last')
    for (const r of [bob, fresh, reopened]) await r.close()
  })

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

  it('reads entries by exact author key, and a write racing close() rejects cleanly', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const r = await Replica.open({ path, key })
    await r.putResult('h', result('mine'))
    // "h/OTHER" + "/" + own id: an entry for image "h/OTHER", not one by author "OTHER/ME" for image "h".
    await r.putResult('h/12D3KooWVictim', result('sneaky'))
    assert.deepEqual([...r.results('h').keys()], [r.author])
    assert.deepEqual([...r.results('h/12D3KooWVictim').keys()], [r.author])
    assert.deepEqual([...r.members().keys()], [])
    const acknowledged = r.putResult('h2', result('before close'))
    const closing = r.close()
    await assert.rejects(r.putResult('h3', result('after close')), { name: 'ReplicaClosedError' })
    await assert.rejects(r.compact(), { name: 'ReplicaClosedError' })
    assert.equal((await r.receive(Uint8Array.of(1))).status, 'rejected')
    await acknowledged
    await closing
    await r.close()
    const again = await Replica.open({ path, key })
    assert.equal(again.results('h2').get(again.author)?.latex, 'before close')
    assert.equal(again.results('h3').size, 0)
    await again.close()
  })

  it('keeps an own change LevelDB refused (disk full), in order, and stores and publishes it once writes work again', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    const b = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const sent = tap(a)
    await a.putResult('h0', result('a'))
    // The disk fills up: LevelDB refuses every write until space is freed.
    const log = (a as any).log
    const append = log.append.bind(log)
    let full = true
    log.append = async (...args: unknown[]) => {
      if (full) throw new Error('IO error: /data/000042.log: No space left on device')
      return await append(...args)
    }
    await assert.rejects(a.putResult('h1', result('b')), { name: 'ReplicaWriteError', message: /No space left on device.*kept in memory/ })
    await assert.rejects(a.putResult('h2', result('c')), { name: 'ReplicaWriteError', message: /could not store 2 changes/ })
    assert.equal(a.unstoredChanges(), 2)
    assert.equal(sent.length, 1, 'a change not stored is not published')
    assert.equal(a.results('h2').get(a.author)?.latex, 'c', 'it stays in the document')
    full = false
    await waitFor('the kept changes to be stored by a retry', () => a.unstoredChanges() === 0, 10_000)
    assert.equal(sent.length, 3)
    // A peer applies every envelope: the log has no gap that would hold back later writes.
    for (const bytes of sent) assert.equal((await b.receive(bytes)).status, 'applied')
    await a.putResult('h3', result('d'))
    assert.equal((await b.receive(sent[3]!)).status, 'applied')
    const expected = ['a', 'b', 'c', 'd']
    assert.deepEqual(['h0', 'h1', 'h2', 'h3'].map(h => b.results(h).get(a.author)?.latex), expected)
    await a.close()
    await b.close()
    const again = await Replica.open({ path, key })
    assert.deepEqual(['h0', 'h1', 'h2', 'h3'].map(h => again.results(h).get(again.author)?.latex), expected)
    await again.close()
  })

  it('kill -9 of a writing process loses no acknowledged write', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const child = spawn(process.execPath, [WRITER, path, Buffer.from(privateKeyToProtobuf(key)).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = -1
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the writer did not get going')) }, 30_000)
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        const m = [...out.matchAll(/acked (\d+)\n/g)]
        if (m.length > 0) acked = Number(m[m.length - 1]![1])
        if (acked >= 200) {
          clearTimeout(timer)
          child.kill('SIGKILL')
          resolve()
        }
      })
    })
    await new Promise(resolve => child.once('close', resolve))
    const r = await Replica.open({ path, key })
    for (let i = 0; i <= acked; i++) assert.equal(r.results(`image-${i}`).get(r.author)?.latex, `x^{${i}}`, `write ${i} was acknowledged`)
    await r.close()
  })
})
