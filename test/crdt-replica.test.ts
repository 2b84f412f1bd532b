/**
 * The replica's own writes and what it keeps: persistence and the rebuild from LevelDB,
 * convergence whatever the delivery, a lost data dir, listeners that write, exact author keys,
 * close, a full disk, kill -9. Refusals are in crdt-refusals.test.ts, compaction in
 * crdt-compaction.test.ts, held envelopes in crdt-held.test.ts.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { clientIdFor, decodeEnvelope } from '../crdt/envelope.js'
import { waitFor } from './helpers.js'
import { first, result, review, tap, tempDirs } from './crdt-helpers.js'

const WRITER = fileURLToPath(new URL('./children/crdt-writer.js', import.meta.url))

const { dir, removeAll } = tempDirs()

describe('the replicated store', { timeout: 120_000 }, () => {
  after(removeAll)

  it('persists writes and rebuilds the document from LevelDB', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const r = await Replica.open({ path, key })
    const seen: string[] = []
    r.subscribe(c => seen.push(`${c.map}:${c.key}:${String(c.local)}`))
    await r.putResult('h1', result('x^{2}'))
    await r.putCorrection('h1', review('x^{3}', 2))
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
        // Half the replicas count their entries from the start (then kept as changes come), the rest only at the end.
        for (const r of replicas.filter((_, i) => i % 2 === 0)) { r.size('results'); r.size('corrections') }
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
          else await r.putCorrection(o.image, review(o.latex, i))
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
        for (const r of replicas) {
          assert.equal(r.size('results'), Object.keys(first.results).length)
          assert.equal(r.size('corrections'), Object.keys(first.corrections).length)
        }
        for (const r of replicas) await r.close()
      }
    ), { numRuns: 15 })
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
    bob.subscribe(c => { if (!c.local && c.map === 'results') writes.push(bob.putCorrection(c.key.slice(0, c.key.indexOf('/')), review('seen', 2))) })
    await alice.putResult('h', result('x'))
    await Promise.all(writes)
    // The listener's write is staged after the result's turn (stage.ts): the next position, in the same envelope or the next.
    assert.deepEqual(aliceWire.map(b => [decodeEnvelope(b).first, decodeEnvelope(b).seq]).flat(), aliceWire.length === 1 ? [0, 1] : [0, 0, 1, 1], 'both writes, in order')
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

  it('refuses a write whose update could not be signed (over 256 KiB) before it reaches the document: no gap in the log', async () => {
    const a = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const b = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const sent = tap(a)
    const huge = { ...result('x'), alternatives: Array.from({ length: 16 }, (_, i) => ({ latex: `${'y'.repeat(4090)}${i}`, score: -i })), regions: Array.from({ length: 64 }, (_, i) => ({ bbox: { x: 0, y: i, width: 1, height: 1 }, latex: `${'z'.repeat(4090)}${i}`, confidence: 0.5 })) }
    await assert.rejects(a.putResult('huge', huge), /over the 262144 bytes an update may hold/)
    assert.equal(a.results('huge').size, 0)
    await a.putResult('next', result('next'))
    for (const bytes of sent) assert.equal((await b.receive(bytes)).status, 'applied')
    assert.equal(b.results('next').get(a.author)?.latex, 'next')
    await a.close()
    await b.close()
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
    // Writes of one turn share an update (and a log position): each is still a change counted.
    const together = await Promise.allSettled(['x', 'y', 'z'].map(async x => { await a.putResult(`t${x}`, result(x)) }))
    assert.ok(together.every(r => r.status === 'rejected' && /could not store 5 changes/.test((r.reason as Error).message)))
    assert.equal(a.unstoredChanges(), 5)
    assert.equal(sent.length, 1, 'a change not stored is not published')
    assert.equal(a.results('h2').get(a.author)?.latex, 'c', 'it stays in the document')
    full = false
    await waitFor('the kept changes to be stored by a retry', () => a.unstoredChanges() === 0, 10_000)
    assert.equal(sent.length, 4)
    // A peer applies every envelope: the log has no gap that would hold back later writes.
    for (const bytes of sent) assert.equal((await b.receive(bytes)).status, 'applied')
    await a.putResult('h3', result('d'))
    assert.equal((await b.receive(sent[4]!)).status, 'applied')
    const expected = ['a', 'b', 'c', 'd']
    assert.deepEqual(['h0', 'h1', 'h2', 'h3'].map(h => b.results(h).get(a.author)?.latex), expected)
    await a.close()
    await b.close()
    const again = await Replica.open({ path, key })
    assert.deepEqual(['h0', 'h1', 'h2', 'h3'].map(h => again.results(h).get(again.author)?.latex), expected)
    await again.close()
  })

  for (const mode of ['serial', 'batched', 'apply'] as const) {
    it(`kill -9 of a process ${mode === 'apply' ? 'applying batched envelopes' : `writing (${mode})`} loses nothing acknowledged`, async () => {
      const key = await generateKeyPair('Ed25519')
      const path = await dir()
      const child = spawn(process.execPath, [WRITER, path, Buffer.from(privateKeyToProtobuf(key)).toString('hex'), mode], { stdio: ['ignore', 'pipe', 'inherit'] })
      const acked = new Set<number>()
      let writer: string | undefined
      let out = ''
      // Killed at a point of the run that differs from run to run: after some hundreds of acknowledgements.
      const enough = mode === 'serial' ? 200 : 1000 + Math.floor(Math.random() * 1000)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the child did not get going')) }, 30_000)
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
          const lines = out.split('\n')
          out = lines.pop()!
          for (const line of lines) {
            if (line.startsWith('acked ')) acked.add(Number(line.slice(6)))
            if (line.startsWith('writer ')) writer = line.slice(7)
          }
          if (acked.size >= enough) {
            clearTimeout(timer)
            child.kill('SIGKILL')
            resolve()
          }
        })
      })
      await new Promise(resolve => child.once('close', resolve))
      const r = await Replica.open({ path, key })
      const author = mode === 'apply' ? writer! : r.author
      for (const i of acked) assert.equal(r.results(`image-${i}`).get(author)?.latex, `x^{${i}}`, `write ${i} was acknowledged`)
      assert.ok(acked.size >= enough)
      await r.close()
    })
  }
})
