/**
 * The results' texts kept out of the Yjs document (crdt/value-store.ts): the document's own
 * encoding carries references, not texts; every read gives the text back, after a start from the
 * snapshot too; a start whose value store is gone replays the log; a kill -9 after a text reached
 * the store but before its envelope did still reads the value acknowledged before, and a write
 * that failed goes again from where the last one ended.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { EnvelopeLog } from '../crdt/log.js'
import { ReplicaDocument } from '../crdt/document.js'
import { decodeEnvelope } from '../crdt/envelope.js'
import { decodeSnapshot, encodeSnapshot } from '../crdt/snapshot.js'
import { ValueStore } from '../crdt/value-store.js'
import { crash, result, review, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

interface Inside { log: EnvelopeLog, values: ValueStore, doc: { encodeState: () => Uint8Array } }
const inside = (r: Replica): Inside => r as unknown as Inside

const has = (bytes: Uint8Array, text: string): boolean => Buffer.from(bytes).includes(Buffer.from(text))

describe('the replicated store: results\' texts in the value store', { timeout: 120_000 }, () => {
  after(removeAll)

  it('keeps texts out of the document, reads them back, and after a start from the snapshot', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const fromPeer = tap(peer)
    await peer.putResult('remote', result('\\from{peer}'))
    const a = await Replica.open({ path, key })
    for (const b of fromPeer) assert.equal((await a.receive(b)).status, 'applied')
    await Promise.all(Array.from({ length: 30 }, async (_, i) => { await a.putResult(`h${i}`, result(`\\local{${i}}`)) }))
    await a.putCorrection('h0', review('\\kept{in-doc}'))
    await inside(a).values.flushed()
    const state = inside(a).doc.encodeState()
    assert.ok(!has(state, '\\\\local{7}') && !has(state, '\\\\from{peer}'), 'the document holds no result text')
    assert.ok(has(state, '\\\\kept{in-doc}'), 'other maps keep their values in the document')
    assert.equal(a.results('h7').get(a.author)?.latex, '\\local{7}')
    assert.equal(a.results('remote').get(peer.author)?.latex, '\\from{peer}')
    assert.equal(a.allResults().length, 31)
    const before = a.snapshot()
    await a.close()

    const again = await Replica.open({ path, key })
    assert.equal(again.startup.replayed, 0)
    assert.deepEqual(again.snapshot(), before)
    // A peer catching up from it gets the texts, not markers.
    const fresh = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for await (const b of again.missing({})) assert.equal((await fresh.receive(b)).status, 'applied')
    assert.deepEqual(fresh.snapshot(), before)
    await again.close()

    // The value store lost: its snapshot refers to texts that are not there, so the log is replayed.
    await rm(join(path, 'values'), { recursive: true })
    const third = await Replica.open({ path, key })
    assert.equal(third.startup.fromSnapshot, 0)
    assert.ok(third.startup.replayed > 0)
    assert.deepEqual(third.snapshot(), before)
    await third.close()
    // The next start goes on with that store, from the snapshot taken at close; only its file is left.
    const fourth = await Replica.open({ path, key })
    assert.equal(fourth.startup.replayed, 0)
    assert.deepEqual(fourth.snapshot(), before)
    assert.deepEqual(await readdir(join(path, 'values')), [inside(fourth).values.id])
    const id = inside(fourth).values.id
    await fourth.close()
    // A texts file shorter than its snapshot says (a data dir copied while the node ran): the log is replayed.
    await truncate(join(path, 'values', id), 100)
    const fifth = await Replica.open({ path, key })
    assert.equal(fifth.startup.fromSnapshot, 0)
    assert.deepEqual(fifth.snapshot(), before)
    assert.notEqual(inside(fifth).values.id, id)
    await fifth.close()
    for (const r of [fresh, peer]) await r.close()
  })

  it('a kill -9 after a new text reached the store, before its envelope did, still reads the value acknowledged before', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    await a.putResult('h', result('\\acknowledged'))
    await a.close()
    const b = await Replica.open({ path, key })
    // The log refuses the next envelope (its LevelDB closed under it); the new text still goes to the value store.
    await inside(b).log.close()
    const unacknowledged = b.putResult('h', result('\\never{stored}')).then(() => 'stored', () => 'refused')
    await new Promise(resolve => setTimeout(resolve, 50))
    await inside(b).values.flushed()
    assert.equal(b.results('h').get(b.author)?.latex, '\\never{stored}')
    await inside(b).values.close()
    void unacknowledged
    const c = await Replica.open({ path, key })
    assert.equal(c.results('h').get(c.author)?.latex, '\\acknowledged')
    await c.close()
  })

  it('a kill -9 loses only texts the log has: a start replays them', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    for (let i = 0; i < 5; i++) await a.putResult(`h${i}`, result(`\\first{${i}}`))
    await a.close()
    const b = await Replica.open({ path, key })
    await Promise.all(Array.from({ length: 3 }, async (_, i) => { await b.putResult(`h${i}`, result(`\\second{${i}}`)) }))
    await b.putResult('new', result('\\new'))
    await crash(b)
    const c = await Replica.open({ path, key })
    assert.ok(c.startup.replayed >= 1)
    assert.deepEqual(c.allResults().map(r => r.entry.latex).sort(), ['\\first{3}', '\\first{4}', '\\new', '\\second{0}', '\\second{1}', '\\second{2}'])
    await c.close()
  })

  it('a start on a snapshot of an older version (texts inside) swaps them out once, and the next start goes on from a snapshot that refers to the file', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    await Promise.all(Array.from({ length: 10 }, async (_, i) => { await a.putResult(`h${i}`, result(`\\old{${i}}`)) }))
    const envelopes: Uint8Array[] = []
    for await (const b of a.missing({})) envelopes.push(b)
    const before = a.snapshot()
    await a.close()
    // The snapshot as an older version wrote it: the same document with its texts inside, no texts file.
    const log = await EnvelopeLog.open(path)
    const saved = decodeSnapshot((await log.snapshot())!)!
    const doc = new ReplicaDocument(1, () => {}, () => new Set())
    for (const b of envelopes) doc.apply(decodeEnvelope(b).update)
    await log.putSnapshot(encodeSnapshot({ update: doc.encodeState(), clients: saved.clients, logs: saved.logs, order: saved.order }), saved.order)
    await log.close()
    await rm(join(path, 'values'), { recursive: true })
    assert.ok(has(doc.encodeState(), '\\\\old{3}'))

    const b = await Replica.open({ path, key })
    assert.equal(b.startup.replayed, 0)
    assert.deepEqual(b.snapshot(), before)
    const id = inside(b).values.id
    await b.close()
    const c = await Replica.open({ path, key })
    assert.equal(c.startup.replayed, 0)
    assert.equal(inside(c).values.id, id, 'the snapshot taken at close refers to the texts file')
    assert.ok(!has(inside(c).doc.encodeState(), '\\\\old{3}'))
    assert.deepEqual(c.snapshot(), before)
    await c.close()
  })

  it('a start writes the texts keys show into a new file when the others take over half of it', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => { await a.putResult(`h${i}`, result(`\\round{${round}}_{${i}}`)) }))
    }
    // Writes issued together, each key set twice in one transaction: the text before counts as garbage once.
    await Promise.all(Array.from({ length: 40 }, async (_, i) => { await a.putResult(`h${i % 20}`, result(`\\twice{${i}}`)) }))
    const id = inside(a).values.id
    const garbage = inside(a).values.garbage
    const size = inside(a).values.size
    assert.ok(garbage > size / 2 && garbage < size, `${garbage} of ${size} bytes are texts no key shows`)
    const before = a.snapshot()
    await a.close()
    const was = ValueStore.compactBytes
    ValueStore.compactBytes = 1
    try {
      const b = await Replica.open({ path, key })
      assert.notEqual(inside(b).values.id, id)
      assert.deepEqual(await readdir(join(path, 'values')), [inside(b).values.id])
      assert.equal(inside(b).values.size, size - garbage, 'the new file holds the texts keys show, and nothing else')
      assert.equal(inside(b).values.garbage, 0)
      assert.deepEqual(b.snapshot(), before)
      await b.putResult('after', result('\\after'))
      await b.close()
      // The snapshot taken after the rewrite refers to the new file: the next start goes on with it.
      const c = await Replica.open({ path, key })
      assert.equal(c.startup.replayed, 0)
      assert.equal(c.results('after').get(c.author)?.latex, '\\after')
      const now = c.snapshot().results
      assert.equal(Object.keys(now).length, 21)
      for (const [k, v] of Object.entries(before.results)) assert.deepEqual(now[k], v)
      await c.close()
      // Overwritten again, and a rewrite that fails (a full disk, say): the start goes on with the file it had.
      const d = await Replica.open({ path, key })
      for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 20 }, async (_, i) => { await d.putResult(`h${i}`, result(`\\again{${round}}_{${i}}`)) }))
      const kept = inside(d).values.id
      const state = d.snapshot()
      await d.close()
      const flushed = Object.getOwnPropertyDescriptor(ValueStore.prototype, 'flushed')!
      ValueStore.prototype.flushed = async () => { throw new Error('ENOSPC: no space left on device') }
      let e: Replica
      try {
        e = await Replica.open({ path, key })
      } finally {
        Object.defineProperty(ValueStore.prototype, 'flushed', flushed)
      }
      assert.equal(inside(e).values.id, kept)
      assert.deepEqual(await readdir(join(path, 'values')), [kept])
      assert.deepEqual(e.snapshot(), state)
      await e.close()
    } finally {
      ValueStore.compactBytes = was
    }
  })

  it('a write that failed is made again, from where the last one ended', async () => {
    const folder = await dir()
    const store = ValueStore.open(folder)
    const one = store.hold('{"a":"first"}')
    await store.flushed()
    // The next write fails (its file descriptor closed under it); the texts stay held, and readable.
    const fd = (store as unknown as { fd: number }).fd
    const { closeSync, openSync } = await import('node:fs')
    closeSync(fd)
    const two = store.hold('{"b":"sécond"}')
    await assert.rejects(store.flushed())
    assert.equal(store.read(two), '{"b":"sécond"}')
    // The same descriptor number, open again on the same file: the next write goes where the failed one would have.
    assert.equal(openSync(join(folder, store.id), 'r+'), fd)
    const three = store.hold('{"c":3}')
    await store.flushed(true)
    await store.close()
    const again = ValueStore.open(folder, store.id)
    assert.deepEqual([one, two, three].map(r => again.read(r)), ['{"a":"first"}', '{"b":"sécond"}', '{"c":3}'])
    assert.equal(again.read('zz:3'), undefined)
    // Texts held together beyond one write's slice (a start replaying a whole log): each where its reference says.
    const big = Array.from({ length: 3 }, (_, i) => `"${String(i).repeat(5_000_000)}"`)
    const refs = big.map(t => again.hold(t))
    await again.flushed()
    assert.ok(refs.every((r, i) => again.read(r) === big[i]))
    // Many texts, read in order (in windows of the file), backwards, and one spanning a window's end.
    const small = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ latex: `x_{${i}}`.repeat(1 + i % 7), é: i }))
    const smallRefs = small.map(t => again.hold(t))
    await again.flushed()
    assert.deepEqual(smallRefs.map(r => again.read(r)), small)
    assert.deepEqual([...smallRefs].reverse().map(r => again.read(r)), [...small].reverse())
    await again.close()
    await assert.rejects(again.flushed(), /closed/)
  })
})
