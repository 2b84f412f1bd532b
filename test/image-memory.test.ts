/**
 * The image memory (node/daemon/image-memory.ts): embeddings held in slots of one array, found
 * by cosine, one hit per image (its most similar result), per model, with `keep` and a least
 * cosine; kept current as results are rewritten, and a freed slot used again.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { ImageMemory } from '../node/daemon/image-memory.js'
import { sha256Hex } from '../util/sha256.js'
import { result, tap, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()
const hashOf = (i: number): string => sha256Hex(new TextEncoder().encode(`image memory test ${i}`))
/** An embedding whose first two components are x and y, the rest 0. */
const embedding = (x: number, y: number): string => Buffer.from(Int8Array.from({ length: 128 }, (_, i) => i === 0 ? x : i === 1 ? y : 0).buffer).toString('base64')
const QUERY = Float32Array.from({ length: 128 }, (_, i) => i === 0 ? 1 : 0)

describe('image memory', { timeout: 60_000 }, () => {
  after(removeAll)

  it('finds the nearest images per model, one hit each, and keeps up with rewrites', async () => {
    const a = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const b = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const fromB = tap(b)
    await b.putResult(hashOf(1), { ...result('b1'), model: 'm1', embedding: embedding(100, 80) })
    for (const bytes of fromB) assert.equal((await a.receive(bytes)).status, 'applied')
    await a.putResult(hashOf(1), { ...result('a1'), model: 'm1', embedding: embedding(127, 0) })
    await a.putResult(hashOf(2), { ...result('a2'), model: 'm1', embedding: embedding(120, 40) })
    await a.putResult(hashOf(3), { ...result('a3'), model: 'm1', embedding: embedding(0, 127) })
    await a.putResult(hashOf(4), { ...result('a4'), model: 'm2', embedding: embedding(127, 0) })
    await a.putResult(hashOf(5), result('no embedding'))
    const images = new ImageMemory(a)
    images.begin()
    await images.ready
    assert.deepEqual([images.size(), images.size('m1'), images.size('m2'), images.size('other')], [5, 4, 1, 0])

    const near = (k: number, min?: number, keep?: (hash: string) => boolean): Array<[number, string, number]> =>
      images.near(QUERY, 'm1', k, min, keep).map(h => [[1, 2, 3].find(i => hashOf(i) === h.hash)!, h.author === a.author ? 'a' : 'b', Math.round(h.cosine * 1000) / 1000])
    assert.deepEqual(near(10), [[1, 'a', 1], [2, 'a', 0.949], [3, 'a', 0]], 'one hit per image, its most similar result; another model\'s never')
    assert.deepEqual(near(1), [[1, 'a', 1]])
    assert.deepEqual(near(10, 0.9), [[1, 'a', 1], [2, 'a', 0.949]])
    assert.deepEqual(near(10, 0.5, hash => hash !== hashOf(1)), [[2, 'a', 0.949]], 'an image keep refuses is not found through its other results')

    // A's result of image 1 rewritten without an embedding: B's is found; a new one takes the freed slot.
    await a.putResult(hashOf(1), result('a1 again'))
    assert.deepEqual(near(10), [[2, 'a', 0.949], [1, 'b', 0.781], [3, 'a', 0]])
    assert.deepEqual([images.size(), images.size('m1')], [4, 3])
    await a.putResult(hashOf(6), { ...result('a6'), model: 'm1', embedding: embedding(127, 1) })
    assert.equal(images.near(QUERY, 'm1', 1)[0]!.hash, hashOf(6))
    // A rewrite under another model moves it there.
    await a.putResult(hashOf(6), { ...result('a6'), model: 'm2', embedding: embedding(127, 1) })
    assert.deepEqual([images.size('m1'), images.size('m2')], [3, 2])
    images.stop()
    await a.close()
    await b.close()
  })
})
