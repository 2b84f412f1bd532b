/**
 * Compaction of the own log: own envelopes folded into few, overwritten values dropped, and
 * the rebuilt, caught-up and reopened replicas holding the same.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { result, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()

describe('the replicated store: compaction', { timeout: 120_000 }, () => {
  after(removeAll)

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
})
