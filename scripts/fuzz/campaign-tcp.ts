/**
 * Campaign 4: raw TCP sockets to the node's port before any handshake (garbage, slowloris, half-closes,
 * stalls, big writes); and, at the end, whether a peer still connects while stalled sockets hold all of
 * libp2p's pending-connection slots.
 */
import net from 'node:net'
import { createLibp2p } from 'libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Attacker } from './attacker.js'
import { pool, sleep } from './pace.js'
import type { Outcome } from './stats.js'

export async function rawTcp (a: Attacker): Promise<void> {
  const rng = a.rng.fork()
  const target = 'tcp'
  const port = a.init.node.tcpPort
  const one = async (cls: string, data: (s: net.Socket) => Promise<void>, holdMs: number): Promise<void> => {
    const outcome = await new Promise<Outcome>(resolve => {
      const s = net.connect({ host: '127.0.0.1', port })
      let settled = false
      const done = (o: Outcome): void => { if (!settled) { settled = true; clearTimeout(timer); s.destroy(); resolve(o) } }
      const timer = setTimeout(() => { done('stalled') }, holdMs)
      s.on('error', () => { done('refused') })
      s.on('close', () => { done('refused') })
      s.on('data', () => {})
      s.on('connect', () => { data(s).catch(() => { done('refused') }) })
    })
    a.stats.count(target, 'transport', cls, outcome)
  }
  const jobs = Array.from({ length: a.init.count }, (_, i) => i)
  // Four sockets at a time, a few per second: libp2p keeps 10 connections pending at most and takes
  // 100 per second from one IP, and the other campaigns connect from 127.0.0.1 too.
  await pool(jobs, 4, a.deadline, async () => {
    const v = rng.below(6)
    if (v === 0) await one('random', async s => { s.end(Buffer.from(rng.bytes(rng.below(4096)))) }, 2000)
    else if (v === 1) await one('multistream-garbage', async s => { s.write('\x13/multistream/1.0.0\n'); s.write(Buffer.from(rng.bytes(200))) }, 2000)
    else if (v === 2) await one('slowloris', async s => { for (let i = 0; i < 20 && !s.destroyed; i++) { s.write(Buffer.from(rng.bytes(1))); await sleep(100) } }, 2500)
    else if (v === 3) await one('half-close', async s => { s.end() }, 1000)
    else if (v === 4) await one('stall', async () => {}, 1500)
    else await one('big', async s => { s.write(Buffer.from(rng.bytes(256 * 1024))) }, 2000)
    // libp2p refuses more than a set number of inbound connections per second from one IP (every attacker here shares 127.0.0.1).
    await sleep(150)
  })
}

/** Hold more stalled raw connections than libp2p's pending-upgrade limit and see whether an honest dial still gets through. */
export async function pendingSlots (a: Attacker): Promise<string> {
  const sockets: net.Socket[] = []
  try {
    for (let i = 0; i < 12; i++) {
      const s = net.connect({ host: '127.0.0.1', port: a.init.node.tcpPort })
      s.on('error', () => {})
      sockets.push(s)
    }
    await sleep(300)
    const key = await generateKeyPair('Ed25519')
    const probe = await createLibp2p({ ...a.transport(), privateKey: key, services: {} } as any)
    try {
      await probe.start()
      const t0 = Date.now()
      const ok = await probe.dial(a.nodeAddr, { signal: AbortSignal.timeout(5000) }).then(() => true, () => false)
      return ok
        ? `a new peer connected (${Date.now() - t0} ms) while 12 raw connections stalled before the handshake`
        : 'a new peer could NOT connect while 12 raw connections stalled before the handshake (libp2p\'s maxIncomingPendingConnections, 10 by default): an attacker holding the pending slots keeps new peers out for the upgrade timeout'
    } finally {
      await Promise.resolve(probe.stop()).catch(() => {})
    }
  } finally {
    for (const s of sockets) s.destroy()
  }
}
