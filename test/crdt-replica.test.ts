import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as Y from 'yjs'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { Replica, type ResultEntry } from '../crdt/replica.js'
import { clientIdFor, decodeEnvelope, encodeEnvelope, signEnvelope } from '../crdt/envelope.js'
import { removeDir, tempDir } from './helpers.js'

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
  for await (const x of it) return x
  throw new Error('empty')
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

  it('replicas converge whatever the order, duplication and delay of delivery (property)', async () => {
    const keys = await Promise.all([0, 1, 2, 3].map(async () => await generateKeyPair('Ed25519')))
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 3, max: 4 }),
      fc.array(fc.record({ node: fc.nat(3), image: fc.constantFrom('a', 'b', 'c'), latex: fc.string({ maxLength: 6 }), kind: fc.constantFrom('result', 'correction') }), { minLength: 1, maxLength: 12 }),
      fc.infiniteStream(fc.nat()),
      async (n, ops, order) => {
        const replicas = await Promise.all(keys.slice(0, n).map(async key => await Replica.open({ path: await dir(), key })))
        const wire = replicas.map(tap)
        for (const [i, op] of ops.entries()) {
          const r = replicas[op.node % n]!
          if (op.kind === 'result') await r.putResult(op.image, result(op.latex, i))
          else await r.putCorrection(op.image, { latex: op.latex, time: i })
        }
        const all = wire.flat()
        // Every replica gets every envelope, shuffled, some twice.
        const pick = order[Symbol.iterator]()
        for (const r of replicas) {
          const deliveries = [...all, ...all.filter(() => (pick.next().value as number) % 3 === 0)]
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = (pick.next().value as number) % (i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!]
          }
          for (const b of deliveries) {
            const out = await r.receive(b)
            assert.notEqual(out.status, 'rejected', JSON.stringify(out))
          }
        }
        // Identical maps (key order in a Y.Map follows arrival; the content must not).
        const first = replicas[0]!.snapshot()
        for (const r of replicas) assert.deepEqual(r.snapshot(), first)
        for (const r of replicas) await r.close()
      }
    ), { numRuns: 15 })
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
    // An author who is not a member.
    const strangerKey = kx!
    const sDoc = new Y.Doc()
    const sInc = new Uint8Array(16).fill(9)
    sDoc.clientID = clientIdFor(strangerKey.publicKey.raw, sInc)
    let su: Uint8Array | undefined
    sDoc.on('update', (u: Uint8Array) => { su = u })
    sDoc.getMap('results').set(`h/${stranger}`, result('s'))
    await expectRefused(encodeEnvelope(await signEnvelope(strangerKey, stranger, { incarnation: sInc, client: sDoc.clientID, first: 0, seq: 0, update: su! })), 'not-a-member')
    assert.deepEqual(refused, ['bad-signature', 'malformed', 'malformed', 'foreign-origin', 'broken-log', 'not-a-member'])
    // Still serving: a later honest write goes through.
    await alice.putResult('h2', result('y'))
    assert.equal((await bob.receive(aliceWire[1]!)).status, 'applied')
    assert.equal(bob.results('h2').get(alice.author)?.latex, 'y')
    for (const r of [alice, mallory, bob]) await r.close()
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

