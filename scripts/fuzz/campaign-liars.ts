/**
 * Campaign 3: liars, fresh identities without libp2p's identify and ping services, connect to the node
 * over and over and answer its identify, ping, membership, peer-exchange and catch-up requests with
 * hostile data.
 */
import { createLibp2p } from 'libp2p'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { MEMBERSHIP_PROTOCOL } from '../../protocols/membership/index.js'
import { PEER_EXCHANGE_PROTOCOL } from '../../protocols/peer-exchange/index.js'
import { CRDT_SYNC_PROTOCOL } from '../../protocols/crdt-sync/index.js'
import { answerCrdt, answerPeers } from './answers.js'
import type { Attacker } from './attacker.js'
import { concat, lp, lpJson, pb, varint } from './encoding.js'
import { deepJson, hostileObjects } from './hostile.js'
import { sleep } from './pace.js'
import { IDENTIFY_PROTOCOL, PING_PROTOCOL, isGossipProtocol } from './profiles.js'
import type { Rng } from './rng.js'
import { answerStreams, collect, readRequest, reply } from './stream-io.js'

export async function liars (a: Attacker): Promise<void> {
  const rng = a.rng.fork()
  const targets = [IDENTIFY_PROTOCOL, PING_PROTOCOL, MEMBERSHIP_PROTOCOL, PEER_EXCHANGE_PROTOCOL].map(p => `answer:${p}`)
  const enough = (): boolean => targets.every(t => a.stats.of(t, 'answer').sent >= a.init.count) && a.stats.of(`answer:${CRDT_SYNC_PROTOCOL}`, 'answer').sent >= a.init.count
  const lanes = 12
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (a.timeLeft() && !enough()) {
      // A connection the node refuses (its pending-connection limit and per-IP rate are shared with the raw TCP campaign) is counted, not an error.
      await oneLiar(a, rng.fork()).then(() => { a.stats.count('answer:connections', 'answer', 'liar', 'answered') }, err => { a.stats.count('answer:connections', 'answer', 'liar', 'refused', (err as Error).message) })
      a.report()
    }
  }))
}

async function oneLiar (a: Attacker, rng: Rng): Promise<void> {
  const key = await generateKeyPair('Ed25519')
  const liar = await createLibp2p({ ...a.transport(), privateKey: key, services: {} } as any)
  const nodeProtocols = a.init.protocols.map(p => p.protocol).filter(p => !isGossipProtocol(p))
  try {
    // Counted without the error's message (a liar's broken answer is no error of the node's).
    const handle = async (protocol: string, f: (stream: Stream) => Promise<string>): Promise<void> =>
      await answerStreams(liar, protocol, 16, f, (cls, outcome) => { a.stats.count(`answer:${protocol}`, 'answer', cls, outcome) })
    await handle(IDENTIFY_PROTOCOL, async stream => {
      const honest = (protocols: string[]): Uint8Array => concat([
        pb.string(5, 'ipfs/0.1.0'), pb.string(6, 'fuzz/1.0'), pb.bytes(1, publicKeyToProtobuf(key.publicKey)),
        ...protocols.map(p => pb.string(3, p)), pb.bytes(2, multiaddr('/ip4/127.0.0.1/tcp/9').bytes)
      ])
      // Plausible answers half the time, so that the node goes on to ask for the rest (ping, certificates, peers, catch-up).
      const v = rng.chance(0.5) ? 99 : rng.below(11)
      const useful = [MEMBERSHIP_PROTOCOL, PEER_EXCHANGE_PROTOCOL, CRDT_SYNC_PROTOCOL, PING_PROTOCOL]
      switch (v) {
        case 0: await reply(stream, [lp(rng.bytes(rng.below(500)))]); return 'random'
        case 1: await reply(stream, [lp(concat([pb.string(6, 'x'), pb.bytes(1, rng.bytes(36))]))]); return 'garbage-key'
        case 2: await reply(stream, [lp(concat([pb.string(6, 'x'), ...useful.map(p => pb.string(3, p))]))]); return 'no-key'
        case 3: await reply(stream, [lp(concat([pb.bytes(1, publicKeyToProtobuf(a.who.m.key.publicKey)), ...useful.map(p => pb.string(3, p))]))]); return 'another-key'
        case 4: await reply(stream, [varint(8193), rng.bytes(8193)]); return 'oversized'
        case 5: await reply(stream, [lp(concat([honest(useful), ...Array.from({ length: 300 }, () => pb.string(3, `/fuzz/${rng.hex(12)}`))]))]); return 'many-protocols'
        case 6: await reply(stream, [lp(concat([honest(useful), ...Array.from({ length: 200 }, () => pb.bytes(2, rng.bytes(rng.below(30))))]))]); return 'bad-addrs'
        case 7: await reply(stream, [lp(concat([honest(useful), pb.bytes(8, rng.bytes(rng.below(2000))), pb.bytes(4, rng.bytes(20))]))]); return 'bad-record'
        case 8: await reply(stream, Array.from({ length: 12 }, () => lp(honest(useful)))); return 'many-messages'
        case 9: await reply(stream, [lp(honest(useful))], { trickleMs: 150 }); return 'slowloris'
        case 10: await reply(stream, [lp(honest([...useful, ...nodeProtocols, 'x'.repeat(1000)]))]); return 'long-protocol'
        default: await reply(stream, [lp(honest(useful))]); return 'plausible'
      }
    })
    await handle(PING_PROTOCOL, async stream => {
      const got = collect(stream)
      await Promise.race([got.ended, sleep(300)])
      const v = rng.below(5)
      if (v === 0) { await reply(stream, [rng.bytes(32)]); return 'wrong-echo' }
      if (v === 1) { await sleep(6000); return 'stall' }
      if (v === 2) { await reply(stream, [rng.bytes(rng.pick([31, 33, 1024 * 1024]))]); return 'wrong-length' }
      if (v === 3) { await reply(stream, [got.bytes().subarray(0, 32)], { trickleMs: 300 }); return 'slowloris' }
      await reply(stream, [got.bytes().subarray(0, 32)])
      return 'echo'
    })
    await handle(MEMBERSHIP_PROTOCOL, async stream => {
      await readRequest(stream)
      const base = a.certM ?? { v: 1, network: 'fuzz', peer: peerIdFromPrivateKey(key).toString(), issuedAt: 1, expiresAt: 2 ** 40, sig: 'A'.repeat(86) }
      const v = rng.below(8)
      const msg = (cert: string): Uint8Array => lpJson(`{"certificate":${cert}}`)
      switch (v) {
        case 0: await reply(stream, [lp(rng.bytes(rng.below(5000)))]); return 'random'
        case 1: await reply(stream, [msg(rng.pick(hostileObjects(base as unknown as Record<string, unknown>)))]); return 'hostile-certificate'
        case 2: await reply(stream, [msg(JSON.stringify(a.certM ?? base))]); return 'another-peers-certificate'
        case 3: await reply(stream, [varint(4097), rng.bytes(4097)]); return 'oversized'
        case 4: await reply(stream, [msg(deepJson(1900))]); return 'deep'
        case 5: await sleep(6000); return 'stall'
        case 6: await reply(stream, [msg('null')], { trickleMs: 200 }); return 'slowloris'
        default: await reply(stream, [msg(JSON.stringify({ ...base, peer: peerIdFromPrivateKey(key).toString() }))]); return 'forged-certificate'
      }
    })
    await handle(PEER_EXCHANGE_PROTOCOL, async stream => await answerPeers(a, stream, rng))
    await handle(CRDT_SYNC_PROTOCOL, async stream => await answerCrdt(a, stream, rng))
    await liar.start()
    await liar.dial(a.nodeAddr, { signal: AbortSignal.timeout(10_000) })
    // The node identifies, pings, exchanges certificates and peers and pulls; some of it again a few seconds later.
    await sleep(rng.chance(0.5) ? 2000 + rng.below(1000) : 5000 + rng.below(2000))
  } finally {
    await Promise.resolve(liar.stop()).catch(() => {})
  }
}
