import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import type { RunningNode } from '../node/daemon/start.js'
import type { ResultEntry } from '../crdt/schemas.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'
import { review } from './crdt-helpers.js'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import { safeYamux } from '../node/daemon/muxer.js'
import { CRDT_SYNC_PROTOCOL } from '../protocols/crdt-sync/index.js'

function result (latex: string): ResultEntry {
  return { latex, confidence: 0.8, alternatives: [], model: 'texmesh-v1+test', time: Date.now() }
}

describe('replicated store between two real nodes', { timeout: 90_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })

  it('spreads writes over gossip, and converges after a partition', async () => {
    const dirA = await tempDir()
    const dirB = await tempDir()
    dirs.push(dirA, dirB)
    const a = await startTestNode(dirA)
    nodes.push(a)
    const addrA = a.libp2p.getMultiaddrs()[0]!
    let b = await startTestNode(dirB, { bootstrap: [addrA.toString()] })
    nodes.push(b)
    await waitFor('the nodes to connect', () => a.libp2p.getPeers().length === 1)

    await a.replica.putResult('img1', result('x^{2}'))
    await waitFor('B to get A\'s result', () => b.replica.results('img1').get(a.peerId.toString())?.latex === 'x^{2}')

    // Partition: B goes down; both write (B as it comes back, and redials A from its peer store); they converge.
    await b.stop()
    await a.replica.putResult('img2', result('a+b'))
    await a.replica.putCorrection('img1', review('x^{3}', Date.now()))
    b = await startTestNode(dirB)
    nodes.push(b)
    await b.replica.putResult('img2', result('a-b'))
    await b.replica.putResult('img3', result('\\frac{1}{2}'))
    assert.equal(b.replica.results('img1').get(a.peerId.toString())?.latex, 'x^{2}', 'what B had survives its restart')
    await b.libp2p.dial(addrA)
    await waitFor('the replicas to converge', () => JSON.stringify(sorted(a.replica.snapshot())) === JSON.stringify(sorted(b.replica.snapshot())), 30_000)
    const img2 = a.replica.results('img2')
    assert.deepEqual([...img2.keys()].sort(), [a.peerId.toString(), b.peerId.toString()].sort())
    assert.equal(img2.get(b.peerId.toString())?.latex, 'a-b')
    assert.equal(b.replica.corrections('img1').get(a.peerId.toString())?.latex, 'x^{3}')
  })

  it('a catch-up answer that holds something other than envelopes is not read further', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const a = await startTestNode(dir)
    nodes.push(a)
    let stored = 0
    const receive = a.replica.receive.bind(a.replica)
    a.replica.receive = async (bytes: Uint8Array) => { stored++; return await receive(bytes) }
    // A peer that answers every catch-up with 2000 frames of one byte: each would be a refusal, and a warning logged.
    const peer = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [safeYamux()], services: { identify: identify() } })
    try {
      let asked = 0
      await peer.handle(CRDT_SYNC_PROTOCOL, (stream: Stream) => {
        asked++
        const junk = new Uint8Array(4000)
        for (let i = 0; i < junk.length; i += 2) junk.set([1, 0x2a], i)
        stream.send(junk)
        void stream.close().catch(() => {})
      })
      await peer.dial(a.libp2p.getMultiaddrs()[0]!)
      await waitFor('the node to ask the peer to catch up', () => asked >= 1)
      await new Promise(resolve => setTimeout(resolve, 1500))
      assert.equal(stored, 0, `${stored} frames of ${asked} junk answers went to the store`)
    } finally {
      await Promise.resolve(peer.stop()).catch(() => {})
    }
  })

  it('a node that was away catches up on a backlog of many megabytes', async () => {
    const dirA = await tempDir()
    const dirB = await tempDir()
    dirs.push(dirA, dirB)
    const a = await startTestNode(dirA)
    nodes.push(a)
    // 1500 results of ~3 KB: the catch-up answer is ~5 MB of envelopes, far more than one message
    const long = 'x^{2}+'.repeat(500)
    for (let i = 0; i < 1500; i++) await a.replica.putResult(`backlog${i}`, result(`${long}${i}`))
    const b = await startTestNode(dirB, { bootstrap: [a.libp2p.getMultiaddrs()[0]!.toString()] })
    nodes.push(b)
    // Well inside ANTI_ENTROPY_MS (30 s): the pages must follow each other at once, not one per anti-entropy round.
    await waitFor('B to catch up', () => b.replica.results('backlog1499').size === 1 && b.replica.results('backlog0').size === 1, 20_000)
  })
})

function sorted (snapshot: Record<string, Record<string, unknown>>): Array<[string, Array<[string, unknown]>]> {
  return Object.entries(snapshot).sort(([x], [y]) => x.localeCompare(y))
    .map(([m, v]) => [m, Object.entries(v).sort(([x], [y]) => x.localeCompare(y))])
}
