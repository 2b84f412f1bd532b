import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { fileURLToPath } from 'node:url'
import { lpStream } from '@libp2p/utils'
import type { RunningNode } from '../node/daemon/start.js'
import { BLOB_PROTOCOL, BlobError, blobService } from '../protocols/blob/index.js'
import { SILENT_LOG } from '../protocols/log.js'
import { sha256Hex } from '../util/sha256.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

const IMAGE = fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))

const isBlobError = (reason: string) => (err: unknown): boolean => err instanceof BlobError && err.reason === reason

describe('blob protocol', { timeout: 60_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })

  it('serves submitted images by hash, verified, and refuses what it should while serving on', async () => {
    const dirA = await tempDir()
    const dirB = await tempDir()
    const dirC = await tempDir()
    dirs.push(dirA, dirB, dirC)
    // No workers: the submitted image stays in A's store untouched.
    const a = await startTestNode(dirA, { workers: 0, modelledCompute: [10, 10] })
    nodes.push(a)
    const b = await startTestNode(dirB, { workers: 0, modelledCompute: [10, 10], bootstrap: [a.libp2p.getMultiaddrs()[0]!.toString()] })
    nodes.push(b)
    await waitFor('B to connect', () => b.libp2p.getPeers().length === 1)
    const bytes = await readFile(IMAGE)
    const task = await a.submit(bytes, { file: 'fraction.png', critical: false })
    assert.equal(task.hash, sha256Hex(bytes))

    // B fetches with a client of its own (B's node already serves the protocol).
    const client = blobService({ source: { get: async () => undefined } })({ node: b.libp2p, log: SILENT_LOG })
    assert.deepEqual(Buffer.from(await client.fetch(a.peerId, task.hash)), bytes)
    // Images of many chunks (64 KiB each) arrive whole, every time.
    const noise = await sharp(randomBytes(700 * 700 * 3), { raw: { width: 700, height: 700, channels: 3 } }).png().toBuffer()
    assert.ok(noise.length > 1024 * 1024)
    const big = await a.submit(noise, { file: 'noise.png', critical: false })
    for (let i = 0; i < 5; i++) assert.deepEqual(Buffer.from(await client.fetch(a.peerId, big.hash)), noise)
    await assert.rejects(client.fetch(a.peerId, 'ab'.repeat(32)), isBlobError('missing'))
    await assert.rejects(client.fetch(a.peerId, task.hash, { maxBytes: 100 }), isBlobError('too-large'))
    await assert.rejects(client.fetch(a.peerId, 'not-a-hash'), isBlobError('malformed'))

    // Malformed and oversized requests are refused; the node keeps serving.
    for (const request of [new TextEncoder().encode('{"hash": 7}'), new TextEncoder().encode('garbage'), new Uint8Array(4096).fill(65)]) {
      const stream = await b.libp2p.dialProtocol(a.peerId, BLOB_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(request)
      const reply = await lp.read({ signal: AbortSignal.timeout(5000) }).then(r => JSON.parse(new TextDecoder().decode(r.subarray())), () => null)
      if (request.length < 256) assert.equal(reply?.status, 'refused')
      else assert.equal(reply, null, 'an oversized request gets no answer, only a reset')
      stream.abort(new Error('done'))
    }
    assert.deepEqual(Buffer.from(await client.fetch(a.peerId, task.hash)), bytes, 'still serving')

    // A lying peer: C answers for the hash with other bytes; the fetch refuses them.
    const c = await startTestNode(dirC, { workers: 0, modelledCompute: [10, 10], bootstrap: [b.libp2p.getMultiaddrs()[0]!.toString()] })
    nodes.push(c)
    await c.libp2p.unhandle(BLOB_PROTOCOL)
    const liar = blobService({ source: { get: async () => new TextEncoder().encode('not the image') } })({ node: c.libp2p, log: SILENT_LOG })
    await liar.start()
    await waitFor('C to connect', () => b.libp2p.getPeers().some(p => p.equals(c.peerId)))
    await assert.rejects(client.fetch(c.peerId, task.hash), isBlobError('hash-mismatch'))
    await liar.stop()
  })
})
