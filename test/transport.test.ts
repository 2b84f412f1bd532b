import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { RunningNode } from '../node/daemon/start.js'
import { DataDir } from '../node/datadir/datadir.js'
import { initNetwork } from '../node/datadir/network-admin.js'
import { swarmKeyFromPsk } from '../node/datadir/invite.js'
import { boundedPreSharedKey } from '../node/daemon/pnet.js'
import { safeYamux } from '../node/daemon/muxer.js'
import { removeDir, startTestNode, tempDir } from './helpers.js'

/** The `xsalsa20` module @libp2p/pnet encrypts with (one WebAssembly memory for the whole process). */
const xsalsa20 = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { _xor: { _memory: Uint8Array, _pointer: number }, finalize: () => void }

/** The size of that memory now (a new cipher looks at it afresh). */
function cipherMemory (): number {
  const x = xsalsa20(new Uint8Array(24), new Uint8Array(32))
  const n = x._xor._memory.buffer.byteLength
  x.finalize()
  return n
}

/** The highest of the slots 16 new ciphers take: it climbs when closed connections keep theirs. */
function cipherSlots (): number {
  const xs = Array.from({ length: 16 }, () => xsalsa20(new Uint8Array(24), new Uint8Array(32)))
  const top = Math.max(...xs.map(x => x._xor._pointer))
  for (const x of xs) x.finalize()
  return top
}

/** Exceptions nothing caught while `run` ran (and a moment after). */
async function uncaughtDuring (run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const listener = (err: Error): void => { seen.push(`${err.name}: ${err.message}`) }
  process.on('uncaughtException', listener)
  try {
    await run()
    await new Promise(resolve => setTimeout(resolve, 100))
  } finally {
    process.off('uncaughtException', listener)
  }
  return seen
}

describe('the transport under load and churn', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  const peers: Libp2p[] = []
  after(async () => {
    for (const p of peers) await Promise.resolve(p.stop()).catch(() => {})
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })

  async function privateNode (): Promise<{ node: RunningNode, psk: Uint8Array }> {
    const dir = await tempDir()
    dirs.push(dir)
    const { network } = await initNetwork(new DataDir(dir), 'transport-test', [])
    const node = await startTestNode(dir)
    nodes.push(node)
    return { node, psk: swarmKeyFromPsk(network.psk) }
  }

  async function peer (psk: Uint8Array): Promise<Libp2p> {
    const p = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [safeYamux()],
      connectionProtector: boundedPreSharedKey({ psk })
    })
    peers.push(p)
    return p
  }

  it('large transfers on several private-network connections keep the cipher memory at its size, and throw nothing', async () => {
    const { node, psk } = await privateNode()
    const members = await Promise.all([0, 1, 2].map(async () => await peer(psk)))
    for (const m of members) await m.dial(node.libp2p.getMultiaddrs()[0]!)
    const before = cipherMemory()
    const payload = new Uint8Array(2 * 1024 * 1024).fill(7)
    const uncaught = await uncaughtDuring(async () => {
      for (let round = 0; round < 3; round++) {
        // Each member pings with 2 MiB on two streams at once; the node echoes it all back.
        await Promise.all(members.flatMap(m => [0, 1].map(async () => {
          const s: Stream = await m.dialProtocol(node.peerId, '/ipfs/ping/1.0.0')
          let got = 0
          await new Promise<void>(resolve => {
            const timer = setTimeout(resolve, 20_000)
            s.addEventListener('message', evt => { got += evt.data.byteLength; if (got >= payload.length) { clearTimeout(timer); resolve() } })
            s.addEventListener('close', () => { clearTimeout(timer); resolve() })
            s.send(payload)
          })
          s.abort(new Error('done'))
          assert.equal(got, payload.length, 'the echo came back whole')
        })))
      }
    })
    assert.deepEqual(uncaught, [])
    // Before the fix, one burst over ~640 KiB grew it, and stale views of it grew it again and again up to its 62.5 MiB maximum.
    assert.equal(cipherMemory(), before)
  })

  it('closed private-network connections give their cipher slots back', async () => {
    const { node, psk } = await privateNode()
    const m = await peer(psk)
    const before = cipherSlots()
    for (let i = 0; i < 40; i++) {
      await m.dial(node.libp2p.getMultiaddrs()[0]!)
      await m.hangUp(node.peerId)
    }
    await new Promise(resolve => setTimeout(resolve, 500))
    // Four ciphers a connection (two each side, both in this process): 40 connections that kept theirs would be 10 KiB of slots.
    const after = cipherSlots()
    assert.ok(after - before <= 16 * 64, `cipher slots climbed from ${before} to ${after}`)
  })

  it('a stream opened as its connection starts closing throws nothing where nothing would catch it', async () => {
    const uncaught = await uncaughtDuring(async () => {
      for (let i = 0; i < 5; i++) {
        const [a, b] = multiaddrConnectionPair()
        const muxer = safeYamux()().createStreamMuxer(a)
        safeYamux()().createStreamMuxer(b)
        // yamux sends the new stream's first frame from a microtask: the connection closes before it.
        const opened = muxer.createStream().then(() => 'opened', (err: Error) => err.name)
        void a.close().catch(() => {})
        await opened
      }
    })
    assert.deepEqual(uncaught, [])
  })
})
