/**
 * The node under attack, seen from the run: its data dir made ready (a private network's key, the
 * attacker's identities admitted as members), the protocols it speaks with their stream limits, and
 * what it does with the attacker's gossip (delivered per topic, the store's verdict on each envelope),
 * merged into the attacker's table.
 */
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { RunningNode } from '../../node/daemon/start.js'
import { adminPublicKeyOf, type DataDir } from '../../node/datadir/datadir.js'
import { admit, initNetwork } from '../../node/datadir/network-admin.js'
import { encodeCertificateText } from '../../protocols/membership/index.js'
import { CRDT_TOPIC } from '../../protocols/crdt-sync/index.js'
import { TASKS_TOPIC } from '../../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../../protocols/votes/index.js'
import { type ReceiveOutcome } from '../../crdt/replica.js'
import type { AttackerInit, TargetStats } from './messages.js'
import type { TargetRow } from './report.js'
import type { LogSink } from './watch.js'

export const TOPICS = [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]

/** The attacker's keys (M, S, P and two more stream attackers) and, in a private network, the network made and each of them admitted. */
export async function attackerIdentities (dataDir: DataDir, kind: 'private' | 'open'): Promise<{ attackerIds: Set<string>, identities: AttackerInit['identities'], network: AttackerInit['network'] }> {
  const keys = { m: await generateKeyPair('Ed25519'), s: await generateKeyPair('Ed25519'), p: await generateKeyPair('Ed25519'), extra: [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')] }
  const identity = async (k: typeof keys.m): Promise<{ key: string, cert?: string }> => ({
    key: Buffer.from(privateKeyToProtobuf(k)).toString('hex'),
    ...(kind === 'private' ? { cert: encodeCertificateText(await admit(dataDir, peerIdFromPrivateKey(k).toString())) } : {})
  })
  let network: AttackerInit['network']
  if (kind === 'private') {
    const made = await initNetwork(dataDir, 'fuzz', [])
    network = { name: made.network.name, psk: made.network.psk, adminPublicKey: Buffer.from(adminPublicKeyOf(made.network)).toString('base64url') }
  }
  const identities = { m: await identity(keys.m), s: await identity(keys.s), p: await identity(keys.p), extra: await Promise.all(keys.extra.map(identity)) }
  // The identities whose gossip the node's verdicts are counted for.
  const attackerIds = new Set([keys.m, keys.s].map(k => peerIdFromPrivateKey(k).toString()))
  return { attackerIds, identities, network }
}

/** Every protocol the node handles, with its inbound stream limit per connection; gossipsub's first. */
export function protocolsOf (running: RunningNode): AttackerInit['protocols'] {
  const registrar = (running.libp2p as unknown as { components?: { registrar?: { getHandler: (p: string) => { options: { maxInboundStreams?: number } } } } }).components?.registrar
  return running.libp2p.getProtocols().map(protocol => {
    let maxInbound = 32
    try { maxInbound = registrar?.getHandler(protocol).options.maxInboundStreams ?? 32 } catch {}
    return { protocol, maxInbound }
  }).sort((a, b) => Number(/sub\//.test(b.protocol)) - Number(/sub\//.test(a.protocol)))
}

export interface GossipSeen {
  /** the attacker's messages the node delivered, per topic */
  delivered: Record<string, number>
  /** the store's verdicts on the attacker's gossiped envelopes, by status ('error': receive() threw) */
  crdtOutcomes: Record<string, number>
}

/** What the node does with the gossip it gets: delivered per topic, and the store's verdict on each envelope. */
export function watchGossip (running: RunningNode, attackerIds: Set<string>): GossipSeen {
  const delivered: Record<string, number> = Object.fromEntries(TOPICS.map(t => [t, 0]))
  const crdtOutcomes: Record<string, number> = {}
  const outcomes = new WeakMap<Uint8Array, Promise<ReceiveOutcome>>()
  const replica = running.replica
  const receive = replica.receive.bind(replica)
  replica.receive = (bytes: Uint8Array) => {
    const out = receive(bytes)
    outcomes.set(bytes, out)
    return out
  }
  running.libp2p.services.pubsub.addEventListener('message', evt => {
    const msg = evt.detail
    if (!TOPICS.includes(msg.topic) || msg.type !== 'signed' || !attackerIds.has(msg.from.toString())) return
    delivered[msg.topic] = (delivered[msg.topic] ?? 0) + 1
    if (msg.topic === CRDT_TOPIC) {
      void outcomes.get(msg.data)?.then(o => { crdtOutcomes[o.status] = (crdtOutcomes[o.status] ?? 0) + 1 }, () => { crdtOutcomes.error = (crdtOutcomes.error ?? 0) + 1 })
    }
  })
  return { delivered, crdtOutcomes }
}

/** The table: the attacker's counts, with what the node saw of the topics. */
export function targetRows (stats: TargetStats[], { delivered, crdtOutcomes }: GossipSeen, sink: LogSink): TargetRow[] {
  const topicRefusals: Record<string, number> = {
    [TASKS_TOPIC]: sink.count('refused an oversized load message', 'refused a malformed load message'),
    [VOTES_TOPIC]: sink.count('refused an oversized vote message', 'refused an unreadable vote message', 'refused a malformed vote message', 'refused a vote', 'ignored a vote from a non-member')
  }
  return stats.map(s => {
    if (s.kind !== 'topic') return s
    const topic = s.target.slice('topic:'.length)
    const got = delivered[topic] ?? 0
    if (topic === CRDT_TOPIC) {
      const accepted = crdtOutcomes.applied ?? 0
      return { ...s, node: { delivered: got, accepted, refused: (crdtOutcomes.rejected ?? 0) + (crdtOutcomes.pending ?? 0) + (crdtOutcomes.duplicate ?? 0) } }
    }
    const refused = Math.min(got, topicRefusals[topic] ?? 0)
    return { ...s, node: { delivered: got, accepted: got - refused, refused } }
  })
}
