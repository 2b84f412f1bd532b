import { it } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { PeerKeeper } from '../node/daemon/peer-keeper.js'
import type { Log } from '../node/log.js'
import { freePort, removeDir, startTestNode, tempDir, waitFor } from './helpers.js'
import type { RunningNode } from '../node/daemon/start.js'

async function plainNode (listen: string[], privateKey?: Awaited<ReturnType<typeof generateKeyPair>>): Promise<Libp2p> {
  return await createLibp2p({
    ...(privateKey != null ? { privateKey } : {}),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** A logger whose lines the test can read. */
function capturedLog (): { log: Log, messages: string[] } {
  const messages: string[] = []
  const sink = new Writable({ write (chunk, _enc, done) { messages.push(String(JSON.parse(String(chunk)).msg)); done() } })
  return { log: pino({ level: 'debug' }, sink), messages }
}

it('dials a peer seen while libp2p was starting once the keeper starts', { timeout: 30_000 }, async () => {
  const a = await plainNode(['/ip4/127.0.0.1/tcp/0'])
  const b = await plainNode(['/ip4/127.0.0.1/tcp/0'])
  const keeper = new PeerKeeper(a, { bootstrap: [] }, capturedLog().log)
  try {
    keeper.discovered({ id: b.peerId, multiaddrs: b.getMultiaddrs() })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(a.getPeers().length, 0, 'nothing is dialled before start')
    keeper.start()
    await waitFor('a connected to b', () => a.getPeers().some(p => p.equals(b.peerId)), 10_000)
  } finally {
    keeper.stop()
    await Promise.all([a.stop(), b.stop()])
  }
})

it('a LAN peer given up on is dialled again when discovery sees it again', { timeout: 30_000 }, async () => {
  const a = await plainNode(['/ip4/127.0.0.1/tcp/0'])
  const bKey = await generateKeyPair('Ed25519')
  const bId = peerIdFromPrivateKey(bKey)
  const bAddr = multiaddr(`/ip4/127.0.0.1/tcp/${await freePort()}`)
  const { log, messages } = capturedLog()
  const keeper = new PeerKeeper(a, { bootstrap: [], minBackoffMs: 20, maxBackoffMs: 200, maxAttempts: 2, dialTimeoutMs: 2000 }, log)
  let b: Libp2p | undefined
  try {
    keeper.start()
    // b is announced but not listening yet: the keeper tries, then gives up
    keeper.discovered({ id: bId, multiaddrs: [bAddr] })
    await waitFor('the keeper to give up on b', () => messages.includes('giving up on peer until it is discovered again'), 10_000)
    b = await plainNode([bAddr.toString()], bKey)
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(a.getPeers().length, 0, 'a peer given up on is not dialled until it is seen again')
    // mDNS answers every few seconds; each answer is a sighting
    const sightings = setInterval(() => { keeper.discovered({ id: bId, multiaddrs: [bAddr] }) }, 100)
    try {
      await waitFor('a connected to b', () => a.getPeers().some(p => p.equals(bId)), 10_000)
    } finally {
      clearInterval(sightings)
    }
  } finally {
    keeper.stop()
    await Promise.all([a.stop(), b?.stop()])
  }
})

it('after a restart a node dials the texmesh peers of its last run from its peer store, with no mDNS or bootstrap', { timeout: 60_000 }, async () => {
  const dirs = [await tempDir(), await tempDir()]
  const port = await freePort()
  const listenA = [`/ip4/127.0.0.1/tcp/${port}`]
  const nodes: RunningNode[] = []
  try {
    const a = await startTestNode(dirs[0]!, { listen: listenA })
    nodes.push(a)
    const b = await startTestNode(dirs[1]!, { bootstrap: [`${listenA[0]!}/p2p/${a.peerId.toString()}`] })
    nodes.push(b)
    await waitFor('b connected to a', () => b.libp2p.getPeers().length === 1)
    await waitFor('a identified by b', async () => (await b.libp2p.peerStore.get(a.peerId)).protocols.length > 0)
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
    nodes.push(await startTestNode(dirs[0]!, { listen: listenA }))
    const b2 = await startTestNode(dirs[1]!, { bootstrap: [] })
    nodes.push(b2)
    await waitFor('b connected to a again', () => b2.libp2p.getPeers().some(p => p.equals(a.peerId)), 20_000)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await Promise.all(dirs.map(removeDir))
  }
})
