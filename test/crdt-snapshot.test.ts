/**
 * Snapshots of the replica's document (crdt/snapshot.ts): a start applies the latest one and
 * replays only the envelopes it does not cover; a damaged or foreign one is ignored; one is
 * never taken while an own change waits unstored.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { EnvelopeLog } from '../crdt/log.js'
import { decodeSnapshot, encodeSnapshot, Snapshots } from '../crdt/snapshot.js'
import { crash, result, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

describe('the replicated store: snapshots', { timeout: 120_000 }, () => {
  after(removeAll)

  it('a start applies the snapshot and replays only the envelopes written after it', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const fromPeer = tap(peer)
    await Promise.all(Array.from({ length: 20 }, async (_, i) => { await peer.putResult(`p${i}`, result(`p${i}`)) }))
    const a = await Replica.open({ path, key })
    for (const b of fromPeer) assert.equal((await a.receive(b)).status, 'applied')
    await Promise.all(Array.from({ length: 50 }, async (_, i) => { await a.putResult(`a${i}`, result(`a${i}`)) }))
    const before = a.snapshot()
    const heads = a.heads()
    await a.close()

    const again = await Replica.open({ path, key })
    assert.equal(again.startup.replayed, 0, 'the snapshot taken at close covers the whole log')
    assert.ok(again.startup.fromSnapshot >= 2)
    assert.deepEqual(again.snapshot(), before)
    assert.deepEqual(again.heads(), heads)
    // Written after the snapshot, then a crash: those envelopes are replayed on top of it.
    await Promise.all(Array.from({ length: 10 }, async (_, i) => { await again.putResult(`late${i}`, result(`late${i}`)) }))
    await again.putResult('a0', result('overwritten'))
    const later = again.snapshot()
    await crash(again)

    const third = await Replica.open({ path, key })
    assert.ok(third.startup.fromSnapshot >= 2)
    assert.ok(third.startup.replayed >= 1, 'what came after the snapshot is replayed')
    assert.deepEqual(third.snapshot(), later)
    assert.equal(third.results('a0').get(third.author)?.latex, 'overwritten')
    // Compaction folds envelopes the snapshot covers with ones it does not: the fold is replayed, and changes nothing.
    await third.compact()
    await crash(third)
    const fourth = await Replica.open({ path, key })
    assert.deepEqual(fourth.snapshot(), later)
    // A peer that catches up from a replica started from a snapshot gets everything, and it goes on writing.
    const fresh = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for await (const b of fourth.missing({})) assert.equal((await fresh.receive(b)).status, 'applied')
    assert.deepEqual(fresh.snapshot(), later)
    const wire = tap(fourth)
    await fourth.putResult('after', result('after'))
    assert.equal((await fresh.receive(wire[0]!)).status, 'applied')
    for (const r of [peer, fourth, fresh]) await r.close()
  })

  it('a snapshot queued ahead of several batches stores them all, in log order, before it is taken', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const fromPeer = tap(peer)
    await peer.putResult('p', result('p'))
    const a = await Replica.open({ path, key })
    // The queue: a remote apply, then a snapshot, then two batches of writes (over 64 KiB together).
    const applied = a.receive(fromPeer[0]!)
    const snapshots = (a as unknown as { snapshots: { grew: (bytes: number) => void } }).snapshots
    snapshots.grew(64 * 1024 * 1024)
    const big = (i: number): ReturnType<typeof result> => ({ ...result(`x_{${i}}`), alternatives: Array.from({ length: 16 }, (_, k) => ({ latex: `${'y'.repeat(400)}${k}`, score: -k })) })
    const writes = Array.from({ length: 20 }, async (_, i) => { await a.putResult(`h${i}`, big(i)) })
    await applied
    await Promise.all(writes)
    const state = a.snapshot()
    await crash(a)
    const again = await Replica.open({ path, key })
    assert.deepEqual(again.snapshot(), state)
    // The log has no gap and its next position is past every batch: a peer takes every envelope, and the next write.
    await again.putResult('after', result('after'))
    const fresh = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const log: Uint8Array[] = []
    for await (const b of again.missing({})) log.push(b)
    // Wider envelopes first, as a peer that already had the batches would: a position given twice would be dropped as a duplicate.
    log.sort((x, y) => again.position(x)!.seq - again.position(y)!.seq).reverse()
    for (const b of log) assert.notEqual((await fresh.receive(b)).status, 'rejected')
    assert.equal(fresh.results('after').get(again.author)?.latex, 'after')
    for (let i = 0; i < 20; i++) assert.equal(fresh.results(`h${i}`).get(again.author)?.latex, `x_{${i}}`)
    for (const r of [peer, again, fresh]) await r.close()
  })

  it('a start reads only the envelopes stored after the snapshot; one of the first format still walks the log', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    for (let i = 0; i < 40; i++) await a.putResult(`h${i}`, result(`x^{${i}}`))
    await a.close()
    // The snapshot at close drops the order's older entries, keeping its own (the count goes on from it).
    let log = await EnvelopeLog.open(path)
    const entries = async (): Promise<number> => { const all = []; for await (const at of log.appendedAfter(0)) all.push(at); return all.length }
    assert.equal(await entries(), 1)
    const covered = log.appended
    assert.ok(covered >= 40)
    await log.close()
    const again = await Replica.open({ path, key })
    assert.equal(again.startup.replayed, 0)
    assert.equal(again.startup.fromSnapshot, 40)
    // Five more, then a crash: exactly those five are read and replayed.
    for (let i = 0; i < 5; i++) await again.putResult(`late${i}`, result(`y^{${i}}`))
    const later = again.snapshot()
    const heads = again.heads()
    await crash(again)
    log = await EnvelopeLog.open(path)
    assert.equal(log.appended, covered + 5)
    const after = []
    for await (const at of log.appendedAfter(covered)) after.push(at.seq)
    assert.deepEqual(after, [40, 41, 42, 43, 44])
    await log.close()
    const third = await Replica.open({ path, key })
    assert.equal(third.startup.replayed, 5)
    assert.deepEqual(third.snapshot(), later)
    assert.deepEqual(third.heads(), heads)
    await crash(third)
    // A snapshot of the first format (no append order): every position is walked, as before.
    log = await EnvelopeLog.open(path)
    const saved = (await log.snapshot())!
    const v1 = decodeSnapshot(saved)!
    assert.equal(v1.order, covered)
    const [head, update] = encodeSnapshot({ ...v1, order: undefined })
    head['texmesh-snapshot\n'.length] = 1
    await log.putSnapshot([head, update])
    await log.close()
    const fourth = await Replica.open({ path, key })
    assert.equal(fourth.startup.fromSnapshot, 40)
    assert.equal(fourth.startup.replayed, 5)
    assert.deepEqual(fourth.snapshot(), later)
    assert.deepEqual(fourth.heads(), heads)
    // It goes on writing after the positions it had: a peer takes the whole log.
    await fourth.putResult('next', result('next'))
    const peer = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    for await (const b of fourth.missing({})) assert.equal((await peer.receive(b)).status, 'applied')
    const last = fourth.snapshot()
    assert.deepEqual(peer.snapshot(), last)
    await fourth.close()
    await peer.close()
    // The snapshot taken at that close is of the new format again, and the next start replays nothing.
    const fifth = await Replica.open({ path, key })
    assert.equal(fifth.startup.replayed, 0)
    assert.deepEqual(fifth.snapshot(), last)
    await fifth.close()
  })

  it('own envelopes stored with no order entry (an older version run after the snapshot) are found by walking the log', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    for (let i = 0; i < 10; i++) await a.putResult(`h${i}`, result(`x^{${i}}`))
    await a.close()
    // An older version: writes without order entries (dropped here, the snapshot's own with them), then a kill -9.
    const again = await Replica.open({ path, key })
    for (let i = 0; i < 4; i++) await again.putResult(`old${i}`, result(`y^{${i}}`))
    const state = again.snapshot()
    const heads = again.heads()
    const db = (again as unknown as { log: { db: { clear: (range: { gt: string, lt: string }) => Promise<void> } } }).log.db
    await db.clear({ gt: 'ord!', lt: 'ord"' })
    await crash(again)
    const third = await Replica.open({ path, key })
    assert.equal(third.startup.replayed, 4, 'the four own envelopes the order does not list are replayed')
    assert.deepEqual(third.snapshot(), state)
    assert.deepEqual(third.heads(), heads)
    // The count goes on past the snapshot's (its own entry is gone too): what comes next is found by the order.
    const log = (third as unknown as { log: EnvelopeLog }).log
    const snapshotOrder = decodeSnapshot((await log.snapshot())!)!.order!
    assert.ok(log.appended >= snapshotOrder)
    await third.putResult('next', result('next'))
    const later = third.snapshot()
    await crash(third)
    const fourth = await Replica.open({ path, key })
    assert.deepEqual(fourth.snapshot(), later)
    await fourth.close()
  })

  it('a damaged snapshot, or one of another format, is ignored: the log is replayed whole', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    await Promise.all(Array.from({ length: 30 }, async (_, i) => { await a.putResult(`h${i}`, result(`x^{${i}}`)) }))
    const before = a.snapshot()
    await a.close()
    let log = await EnvelopeLog.open(path)
    const good = (await log.snapshot())!
    assert.ok(decodeSnapshot(good) != null)
    await log.close()
    const damaged = [
      new TextEncoder().encode('not a snapshot'),
      good.slice(0, good.length - 40),
      Uint8Array.from(good, (b, i) => i === 'texmesh-snapshot\n'.length ? b + 1 : b)
    ]
    for (const bytes of damaged) {
      log = await EnvelopeLog.open(path)
      await log.putSnapshot([bytes])
      await log.close()
      const again = await Replica.open({ path, key })
      assert.ok(again.startup.replayed >= 1, 'the log is replayed')
      assert.deepEqual(again.snapshot(), before)
      assert.deepEqual(await again.quarantined(), [], 'nothing is set aside')
      await crash(again)
    }
  })

  it('is never taken while an own change waits unstored, so a start never holds what the log lacks', async () => {
    const key = await generateKeyPair('Ed25519')
    const path = await dir()
    const a = await Replica.open({ path, key })
    const b = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const sent = tap(a)
    await a.putResult('h0', result('stored'))
    const log = (a as unknown as { log: EnvelopeLog }).log
    log.append = async () => { throw new Error('IO error: No space left on device') }
    await assert.rejects(a.putResult('h1', result('lost')), { name: 'ReplicaWriteError' })
    await a.close()
    const again = await Replica.open({ path, key })
    assert.equal(again.results('h0').get(again.author)?.latex, 'stored')
    assert.equal(again.results('h1').size, 0, 'the unstored change is gone with the process, as its writer was told')
    // The next write continues the log with no gap: a peer takes it.
    const next = tap(again)
    await again.putResult('h2', result('next'))
    for (const bytes of [...sent, ...next]) assert.equal((await b.receive(bytes)).status, 'applied')
    assert.equal(b.results('h2').get(a.author)?.latex, 'next')
    await again.close()
    await b.close()
  })

  it('a snapshot that is due waits for the store to be quiet, unless four times as much was stored meanwhile', async () => {
    const MiB = 1024 * 1024
    const taken: number[] = []
    const snapshots = new Snapshots({
      settle: async () => {},
      state: () => ({ update: new Uint8Array(10), clients: [], logs: [] }),
      put: async parts => { taken.push(parts.reduce((n, p) => n + p.length, 0)) },
      enqueue: async job => { await job() }
    }, 400)
    const pause = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
    // Due at 16 MiB; updates keep coming every 30 ms, so it waits.
    for (let i = 0; i < 10; i++) { snapshots.grew(2 * MiB); await pause(30) }
    assert.equal(taken.length, 0, 'not taken while updates keep coming')
    await pause(900)
    assert.equal(taken.length, 1, 'taken once the store was quiet')
    // A stream that never pauses: taken once 4 x 16 MiB came.
    for (let i = 0; i < 31; i++) { snapshots.grew(2 * MiB); await pause(5) }
    assert.equal(taken.length, 1)
    snapshots.grew(2 * MiB)
    await pause(20)
    assert.equal(taken.length, 2, 'taken without a pause at 64 MiB')
    // Stopped (the replica closing): none is queued as updates grow.
    snapshots.stop()
    snapshots.grew(100 * MiB)
    await pause(900)
    assert.equal(taken.length, 2)
  })
})
