/**
 * Per-protocol inputs for the stream campaign (campaign-streams.ts): for each protocol the node speaks,
 * the largest frame it reads, its own deadline, valid and hostile inputs, and how to judge its reply;
 * gossipsub's RPC streams (meshsub, floodsub) get hostile subscriptions, messages and control messages.
 */
import type { PeerId } from '@libp2p/interface'
import { RPC } from '@libp2p/gossipsub/message'
import { MEMBERSHIP_PROTOCOL, type MembershipCertificate } from '../../protocols/membership/index.js'
import { PEER_EXCHANGE_PROTOCOL } from '../../protocols/peer-exchange/index.js'
import { CRDT_SYNC_PROTOCOL, CRDT_TOPIC } from '../../protocols/crdt-sync/index.js'
import { BLOB_PROTOCOL } from '../../protocols/blob/index.js'
import { TASKS_PROTOCOL, TASKS_TOPIC } from '../../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../../protocols/votes/index.js'
import { concat, frames, json, lp, lpJson, pb } from './encoding.js'
import { HOSTILE_SCALARS, deepJson, hostileObjects, longString } from './hostile.js'
import type { Rng } from './rng.js'

export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

/** gossipsub's RPC protocols: they share one handler, and read an inbound stream for as long as the connection lasts. */
export const isGossipProtocol = (protocol: string): boolean => /^\/(meshsub|floodsub)\//.test(protocol)

export interface Profile {
  /** the largest frame the node reads on this protocol (undefined: it reads no frames) */
  maxFrame?: number
  /** the node's own deadline for the stream */
  timeoutMs: number
  valid: (rng: Rng) => Uint8Array[]
  hostile: (rng: Rng) => Array<{ bytes: Uint8Array[], mustRefuse?: boolean }>
  judge?: (reply: Uint8Array) => 'answered' | 'refused'
  /** the payload a slowloris trickles */
  trickle?: (rng: Rng) => Uint8Array
}

/** The first frame's JSON answer: refused when it says so, answered otherwise. */
export function judgeJson (refusal: (reply: any) => boolean) {
  return (bytes: Uint8Array): 'answered' | 'refused' => {
    const first = json(frames(bytes, 1)[0])
    if (first == null) return 'refused'
    return refusal(first) ? 'refused' : 'answered'
  }
}

export function profiles (ctx: { stolen: string[], knownHashes: string[], certS?: MembershipCertificate, certM?: MembershipCertificate, mLog?: string }): Map<string, Profile> {
  const map = new Map<string, Profile>()

  map.set(TASKS_PROTOCOL, {
    maxFrame: 1024,
    timeoutMs: 5000,
    valid: rng => [lpJson(rng.chance(0.7)
      ? JSON.stringify({ kind: 'steal', want: 1 + rng.below(16), ...(rng.chance(0.3) ? { backups: rng.chance(0.5) } : {}) })
      : JSON.stringify(rng.chance(0.5) ? { kind: 'release', id: ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(20) } : { kind: 'failed', id: ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(20), reason: 'fuzz' }))],
    hostile: rng => {
      const id = ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(24)
      const texts = [
        ...hostileObjects({ kind: 'steal', want: 1 }),
        ...hostileObjects({ kind: 'steal', want: 1, backups: true }),
        ...hostileObjects({ kind: 'failed', id, reason: 'x' }),
        ...hostileObjects({ kind: 'release', id }),
        JSON.stringify({ kind: 'steal', want: 0 }), JSON.stringify({ kind: 'steal', want: 17 }), JSON.stringify({ kind: 'steal', want: 1e6 }),
        JSON.stringify({ kind: 'failed', id: 'x'.repeat(64), reason: longString(rng, 512) }),
        JSON.stringify({ kind: 'failed', id: 'x'.repeat(65), reason: 'r' }), JSON.stringify({ kind: 'failed', id, reason: 'r'.repeat(513) }),
        JSON.stringify({ kind: 'release', id: '__proto__' }), JSON.stringify({ kind: 'failed', id: 'constructor', reason: 'x' }),
        JSON.stringify({ kind: 'grant' }), JSON.stringify({ kind: '__proto__', want: 1 })
      ]
      const t = rng.pick(texts)
      // Inputs the schema refuses must never get an answer (the node aborts the stream).
      const refuse = /"want":(0|17|1000000|-1|1\.5|1e|null|true|""|\[|\{|"|9007)/.test(t) || /"id":"x{65}"|"r{513}"|"extra"|"kind":"(grant|__proto__)"/.test(t)
      return [{ bytes: [lpJson(t)], ...(refuse ? { mustRefuse: true } : {}) }]
    },
    judge: judgeJson(r => r.leases == null && r.ok == null)
  })

  map.set(BLOB_PROTOCOL, {
    maxFrame: 256,
    timeoutMs: 60_000,
    valid: rng => [lpJson(JSON.stringify({ hash: ctx.knownHashes.length > 0 && rng.chance(0.5) ? rng.pick(ctx.knownHashes) : rng.hex(64) }))],
    hostile: rng => {
      const h = rng.hex(64)
      const texts = [
        ...hostileObjects({ hash: h }),
        JSON.stringify({ hash: h.toUpperCase() }), JSON.stringify({ hash: h.slice(1) }), JSON.stringify({ hash: h + '0' }),
        JSON.stringify({ hash: ` ${h}` }), JSON.stringify({ hash: `${h}\n` }), JSON.stringify({ hash: '../'.repeat(20) }),
        JSON.stringify({ hash: h }) + ' '.repeat(256 - JSON.stringify({ hash: h }).length)
      ]
      const t = rng.pick(texts)
      return [{ bytes: [lpJson(t)] }]
    },
    judge: judgeJson(r => r.status === 'refused')
  })

  map.set(CRDT_SYNC_PROTOCOL, {
    maxFrame: 1024 * 1024,
    timeoutMs: 60_000,
    valid: rng => [lpJson(rng.chance(0.5) ? '{}' : JSON.stringify({ [ctx.mLog ?? `${rng.hex(52)}!${rng.hex(32)}`]: rng.below(5) - 1 }))],
    hostile: rng => {
      const big = (keys: number, keyLen: number): string => {
        const parts: string[] = []
        for (let i = 0; i < keys; i++) parts.push(`"${rng.hex(keyLen - 8)}${String(i).padStart(8, '0')}":${rng.below(1000)}`)
        return `{${parts.join(',')}}`
      }
      const texts = [
        ...hostileObjects({ [`${rng.hex(52)}!${rng.hex(32)}`]: 1 }),
        JSON.stringify({ __proto__: 5 }), '{"__proto__":0}', '{"constructor":3}', '{"toString":1}', '{"hasOwnProperty":1}', '{"valueOf":-1}',
        JSON.stringify({ ['k'.repeat(256)]: 1 }), JSON.stringify({ ['k'.repeat(257)]: 1 }), JSON.stringify({ x: -2 }), JSON.stringify({ x: 2 ** 53 }),
        '[1,2,3]', '"heads"', 'null'
      ]
      const r = rng.below(20)
      // Heads near the 1 MiB cap: many logs (fine), and just over it (the frame is refused).
      if (r === 0) return [{ bytes: [lpJson(big(4000, 250))] }]
      if (r === 1) return [{ bytes: [lpJson(big(4300, 250))], mustRefuse: true }]
      return [{ bytes: [lpJson(rng.pick(texts))] }]
    },
    judge: bytes => {
      // An answer is envelopes and an end mark (an empty frame); a refusal is a reset with nothing.
      const fs = frames(bytes)
      return fs.length > 0 ? 'answered' : 'refused'
    }
  })

  map.set(MEMBERSHIP_PROTOCOL, {
    maxFrame: 4096,
    timeoutMs: 10_000,
    valid: () => [lpJson(JSON.stringify({ certificate: ctx.certS ?? null }))],
    hostile: rng => {
      const base = ctx.certS ?? ctx.certM ?? { v: 1, network: 'fuzz', peer: '12D3KooWfuzz', issuedAt: 1, expiresAt: 2, sig: 'x'.repeat(86) }
      const certs = [
        ...hostileObjects(base as unknown as Record<string, unknown>),
        JSON.stringify({ ...base, network: 'n'.repeat(64) }), JSON.stringify({ ...base, network: 'n'.repeat(65) }),
        JSON.stringify({ ...base, peer: 'p'.repeat(128) }), JSON.stringify({ ...base, peer: 'p'.repeat(129) }),
        JSON.stringify({ ...base, issuedAt: 8.64e15 + 1 }), JSON.stringify({ ...base, expiresAt: 1e300 }), JSON.stringify({ ...base, issuedAt: 1e300, expiresAt: 1e301 }),
        JSON.stringify({ ...base, expiresAt: 1 }), JSON.stringify({ ...base, sig: 'A'.repeat(86) }), JSON.stringify({ ...base, sig: 'A'.repeat(85) }),
        JSON.stringify(ctx.certM ?? base), JSON.stringify({ ...base, v: 2 }), JSON.stringify('texmesh-cert-v1:' + 'A'.repeat(100))
      ]
      const c = rng.pick(certs)
      const text = rng.chance(0.1) ? `{"certificate":${c}}`.padEnd(rng.chance(0.5) ? 4096 : 4097, ' ') : rng.chance(0.1) ? rng.pick(HOSTILE_SCALARS) : `{"certificate":${c}}`
      return [{ bytes: [lpJson(text)] }]
    }
  })

  map.set(PEER_EXCHANGE_PROTOCOL, {
    timeoutMs: 10_000,
    valid: () => [],
    hostile: rng => [{ bytes: [lpJson(rng.pick(['[]', deepJson(100), '{"peers":[]}', ...HOSTILE_SCALARS]))] }]
  })

  map.set(IDENTIFY_PROTOCOL, {
    timeoutMs: 10_000,
    valid: () => [],
    hostile: rng => [{ bytes: [lp(concat([pb.string(6, longString(rng, 100)), pb.bytes(1, rng.bytes(36))]))] }]
  })

  map.set(PING_PROTOCOL, {
    timeoutMs: 10_000,
    valid: rng => [rng.bytes(32)],
    hostile: rng => {
      const n = rng.pick([0, 1, 31, 33, 64, 1000, 65_536, 1024 * 1024])
      return [{ bytes: [rng.bytes(n)] }]
    },
    judge: () => 'answered',
    trickle: rng => rng.bytes(32)
  })
  return map
}

/** A protocol the harness knows nothing of: random frames. */
export function genericProfile (): Profile {
  return { timeoutMs: 10_000, valid: rng => [lp(rng.bytes(32))], hostile: rng => [{ bytes: [lp(rng.bytes(rng.below(1000)))] }] }
}

/** gossipsub's RPC streams, with hostile RPCs from `from` (S, the peer gossipsub knows). */
export function gossipProfile (from: PeerId): Profile {
  return {
    maxFrame: 4 * 1024 * 1024,
    // gossipsub reads an inbound stream for as long as the connection lasts: there is no deadline to wait for.
    timeoutMs: 3000,
    valid: rng => [lp(RPC.encode({ subscriptions: [{ subscribe: true, topic: rng.pick([TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]) }], messages: [] }))],
    hostile: rng => [{ bytes: [lp(hostileRpc(rng, from))] }],
    // gossipsub never answers on an inbound stream: taken, unless it reset the stream.
    judge: () => 'answered'
  }
}

/** gossipsub RPCs (meshsub/floodsub): hostile subscriptions, messages and control messages. */
function hostileRpc (rng: Rng, from: PeerId): Uint8Array {
  const topic = rng.pick([TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC, rng.hex(16), '', longString(rng, 200)])
  const ids = (n: number): Uint8Array[] => Array.from({ length: n }, () => rng.bytes(rng.pick([0, 8, 40, 200])))
  const r = rng.below(12)
  const rpc: RPC = { subscriptions: [], messages: [] }
  switch (r) {
    case 0: rpc.subscriptions = Array.from({ length: rng.pick([10, 1000, 5000, 5001]) }, () => ({ subscribe: rng.chance(0.9), topic: rng.hex(rng.pick([4, 16, 64])) })); break
    case 1: rpc.subscriptions = [{ subscribe: true, topic: 't'.repeat(rng.pick([1000, 100_000])) }]; break
    case 2: rpc.messages = [{ topic, data: rng.bytes(rng.pick([0, 100, 5000, 300_000])) }]; break // unsigned
    case 3: rpc.messages = [{ topic, data: rng.bytes(100), from: from.toMultihash().bytes, seqno: rng.bytes(rng.pick([0, 8, 100])), signature: rng.bytes(rng.pick([0, 64, 1000])), key: rng.bytes(rng.pick([0, 36, 2000])) }]; break
    case 4: rpc.messages = Array.from({ length: rng.pick([100, 5000, 5001]) }, () => ({ topic, data: rng.bytes(4) })); break
    case 5: rpc.control = { ihave: [{ topicID: topic, messageIDs: ids(rng.pick([10, 5000, 5001])) }], iwant: [], graft: [], prune: [], idontwant: [] }; break
    case 6: rpc.control = { ihave: [], iwant: [{ messageIDs: ids(rng.pick([10, 5000, 5001])) }], graft: [], prune: [], idontwant: [] }; break
    case 7: rpc.control = { ihave: [], iwant: [], graft: Array.from({ length: rng.pick([1, 100, 5001]) }, () => ({ topicID: rng.pick([topic, rng.hex(8)]) })), prune: [], idontwant: [] }; break
    case 8: rpc.control = { ihave: [], iwant: [], graft: [], prune: [{ topicID: topic, peers: Array.from({ length: rng.pick([1, 16, 17]) }, () => ({ peerID: rng.bytes(38), signedPeerRecord: rng.bytes(rng.pick([0, 200, 5000])) })), backoff: rng.pick([0, 1, 2 ** 40]) }], idontwant: [] }; break
    case 9: rpc.control = { ihave: [], iwant: [], graft: [], prune: [], idontwant: [{ messageIDs: ids(rng.pick([1, 512, 513])) }] }; break
    default: rpc.subscriptions = [{ subscribe: rng.chance(0.5), topic }]
  }
  return RPC.encode(rpc)
}
