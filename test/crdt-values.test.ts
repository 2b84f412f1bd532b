/**
 * The results' texts kept out of the Yjs document (crdt/value-store.ts): the document's own
 * encoding carries markers, not texts; every read gives the text back, after a start from the
 * snapshot too; a start whose value store is gone replays the log; a kill -9 after a text reached
 * the store but before its envelope did still reads the value acknowledged before; texts no key
 * shows are dropped once a snapshot no longer refers to them.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import type { EnvelopeLog } from '../crdt/log.js'
import type { ValueStore } from '../crdt/value-store.js'
import { result, review, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

interface Inside { log: EnvelopeLog, values: Pick<ValueStore, 'flushed'> & { db: { close: () => Promise<void>, keys: () => AsyncIterable<string> } }, doc: { encodeState: () => Uint8Array } }
const inside = (r: Replica): Inside => r as unknown as Inside

/** Close a replica's LevelDB folders under it, as a kill -9 leaves them (texts not yet written are lost). */
async function crash (r: Replica): Promise<void> {
  await (r as unknown as { serial: { idle: () => Promise<void> } }).serial.idle()
  await inside(r).log.close()
  await inside(r).values.db.close()
}

/** The ids of the texts the value store has on disk. */
async function storedIds (r: Replica): Promise<string[]> {
  const out: string[] = []
  for await (const k of inside(r).values.db.keys()) if (k.startsWith('v!')) out.push(k.slice(2))
  return out
}

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
    assert.equal((await storedIds(a)).length, 31)
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
    for (const r of [third, fresh, peer]) await r.close()
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
    await inside(b).values.db.close()
    void unacknowledged
    const c = await Replica.open({ path, key })
    assert.equal(c.results('h').get(c.author)?.latex, '\\acknowledged')
    await c.close()
  })

  it('drops the texts no key shows once a snapshot no longer refers to them, and not before', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    for (let i = 0; i < 5; i++) await a.putResult(`h${i}`, result(`\\first{${i}}`))
    await a.close()
    const b = await Replica.open({ path, key })
    const first = await storedIds(b)
    assert.equal(first.length, 5)
    for (let i = 0; i < 3; i++) await b.putResult(`h${i}`, result(`\\second{${i}}`))
    await inside(b).values.flushed()
    assert.equal((await storedIds(b)).length, 8, 'the texts the snapshot on disk refers to are kept until the next one')
    await crash(b)
    const c = await Replica.open({ path, key })
    assert.equal(c.results('h1').get(c.author)?.latex, '\\second{1}')
    assert.equal(c.results('h4').get(c.author)?.latex, '\\first{4}')
    // Overwritten again, and a snapshot taken at close: what it does not show is dropped, the texts
    // the replay after the kill overwrote among them (garbage known only in memory is found again).
    await c.putResult('h1', result('\\third{1}'))
    await c.close()
    const d = await Replica.open({ path, key })
    const ids = await storedIds(d)
    assert.equal(ids.length, 5, 'one text for each key')
    assert.ok(first.slice(0, 3).every(id => !ids.includes(id)))
    assert.equal(d.results('h1').get(d.author)?.latex, '\\third{1}')
    assert.equal(d.results('h0').get(d.author)?.latex, '\\second{0}')
    assert.deepEqual(d.allResults().map(r => r.entry.latex).sort(), ['\\first{3}', '\\first{4}', '\\second{0}', '\\second{2}', '\\third{1}'])
    await d.close()
  })
})
