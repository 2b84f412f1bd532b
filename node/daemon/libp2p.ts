import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { safeYamux } from './muxer.js'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { mdns } from '@libp2p/mdns'
import { bootstrap } from '@libp2p/bootstrap'
import { boundedPreSharedKey } from './pnet.js'
import { createHash } from 'node:crypto'
import type { Ed25519PrivateKey, PeerDiscovery, PeerInfo } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { membership, type Membership, type MembershipInit } from '../../protocols/membership/index.js'
import { peerExchange, type PeerExchange, type PeerExchangeInit } from '../../protocols/peer-exchange/index.js'
import { swarmKeyFromPsk, type NetworkDescriptor } from '../datadir/invite.js'
import { VERSION } from '../version.js'
import { ListenError, PortInUseError } from '../errors.js'

/**
 * Mesh degrees. Every node forwards every message to its mesh peers, so the
 * network's cost per message is about nodes x degree writes (each one framed
 * and encrypted). gossipsub's defaults (D 6, up to 12) suit large public
 * networks of big messages; texmesh's messages are small and frequent (a few
 * hundred bytes per result), and a campus network has tens of nodes, for which
 * a mesh of 4 still reaches everyone in two or three hops.
 */
export const GOSSIP_MESH = {
  D: 4,
  Dlo: 3,
  Dhi: 6,
  Dout: 2,
  Dlazy: 4,
  // IDONTWANT saves bandwidth on large messages, but for ours sending it costs as much as the
  // duplicate it prevents: one control write to each mesh peer per message received.
  idontwantMinDataSize: 16 * 1024
}

/** How long the peer store keeps a peer's addresses (and a peer without any). */
const PEER_ADDRESS_AGE_MS = 30 * 24 * 3600 * 1000

/** Author, sequence number and signature of a signed gossip message, as a cache key. */
function fastMessageId (msg: { from?: Uint8Array, seqno?: Uint8Array, signature?: Uint8Array }): string {
  const part = (b: Uint8Array | undefined): string => b == null ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
  return `${part(msg.from)}.${part(msg.seqno)}.${part(msg.signature)}`
}

export type TexmeshServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  membership: Membership
  peerExchange: PeerExchange
}
export type TexmeshLibp2p = Libp2p<TexmeshServices>

export interface Libp2pOptions {
  privateKey: Ed25519PrivateKey
  listen: string[]
  bootstrap: string[]
  /** the model version this node's results carry: peers read it, with the version, in identify's agent */
  model: string
  mdns: boolean
  /**
   * Every mDNS sighting of a peer, the first and each one after. libp2p's own
   * peer:discovery fires only for a peer new to the peer store, so a node whose
   * persisted store already knows its LAN peers would never hear of them again.
   */
  onLanPeer?: (peer: PeerInfo) => void
  network?: NetworkDescriptor
  datastore: Datastore
  membership: MembershipInit
  peerExchange: PeerExchangeInit
  /** simnet's partitions: connections to and from these peers are refused */
  denied?: (peer: string) => boolean
  /**
   * gossipsub's flood publishing: a node's own message goes to every peer on the topic, not only
   * its mesh (sim:gossip measures the network without it) @default true
   */
  floodPublish?: boolean
}

/** What identify tells peers of this node: `texmesh/VERSION model/MODEL` (agentParts reads it back). */
export function agentOf (version: string, model: string): string {
  return `texmesh/${version} model/${model}`
}

/** A peer's version and model from its identify agent, when it is a texmesh node's. */
export function agentParts (agent: string): { version: string, model?: string } | undefined {
  const m = /^texmesh\/([\x21-\x7e]{1,64})(?: model\/([\x21-\x7e]{1,128}))?$/.exec(agent)
  const [, version, model] = m ?? []
  if (version == null) return undefined
  return model != null ? { version, model } : { version }
}

/**
 * The mDNS service tag: nodes of different networks on one LAN do not even
 * try to dial each other. The tag is derived from the network key, never the
 * key itself, since mDNS answers are readable by anyone on the LAN.
 */
export function mdnsServiceTag (network?: NetworkDescriptor): string {
  if (network == null) return 'texmesh-open'
  return 'texmesh-' + createHash('sha256').update('texmesh/mdns/' + network.psk).digest('hex').slice(0, 16)
}

function gaterOf (denied: (peer: string) => boolean): Record<string, (peer: any) => Promise<boolean>> {
  const deny = async (peer: any): Promise<boolean> => denied(String(peer))
  return { denyDialPeer: deny, denyInboundEncryptedConnection: deny, denyOutboundEncryptedConnection: deny }
}

/** libp2p 3 with the transports and services every texmesh node runs. Not started. */
export async function buildLibp2p (options: Libp2pOptions): Promise<TexmeshLibp2p> {
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (options.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: options.bootstrap, timeout: 0 }))
  if (options.mdns) {
    const lan = mdns({ serviceTag: mdnsServiceTag(options.network), interval: 5000 })
    peerDiscovery.push((components) => {
      const discovery = lan(components)
      const onLanPeer = options.onLanPeer
      if (onLanPeer != null) discovery.addEventListener('peer', (evt) => { onLanPeer(evt.detail) })
      return discovery
    })
  }

  return await createLibp2p<TexmeshServices>({
    start: false,
    privateKey: options.privateKey,
    datastore: options.datastore,
    addresses: { listen: options.listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [safeYamux()],
    ...(options.network != null ? { connectionProtector: boundedPreSharedKey({ psk: swarmKeyFromPsk(options.network.psk) }) } : {}),
    // libp2p resets inbound connections past 5 per second per IP by default; simnet runs
    // dozens of nodes on one host, and a lab behind NAT looks like one IP.
    connectionManager: { dialTimeout: 10_000, inboundConnectionThreshold: 100 },
    // libp2p forgets a peer's addresses an hour after it first saw them (it expects a DHT to find
    // them again); texmesh has none, and a restarted node redials the peers of its last run from here.
    peerStore: { maxAddressAge: PEER_ADDRESS_AGE_MS, maxPeerAge: PEER_ADDRESS_AGE_MS },
    peerDiscovery,
    ...(options.denied != null ? { connectionGater: gaterOf(options.denied) } : {}),
    nodeInfo: { name: 'texmesh', version: VERSION, userAgent: agentOf(VERSION, options.model) },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        floodPublish: options.floodPublish ?? true,
        // gossipsub penalises more than 10 peers on one IP (a Sybil defence): past 16 the penalty
        // graylists them all and no mesh forms. Peers on loopback are this machine's own (simnet).
        scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']) },
        // Without a fast id, gossipsub checks the signature of every copy of a message before it
        // sees that the copy is a duplicate: with a mesh of ~6 peers, 6 Ed25519 verifications per
        // message. Only copies that validated are remembered under this id, so a forged copy with
        // a valid message's author and seqno is still checked (and rejected).
        fastMsgIdFn: fastMessageId,
        ...GOSSIP_MESH
      }),
      membership: membership(options.membership),
      peerExchange: peerExchange(options.peerExchange)
    }
  })
}

/** libp2p's error when it cannot listen, said as a user can act on it (which port, which address). */
export function describeListenError (err: unknown, listen: string[]): Error {
  const where = `cannot listen on ${listen.join(', ')}`
  for (let e: any = err, depth = 0; e != null && depth < 5; e = e.cause, depth++) {
    const text = String(e.message)
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(text)) {
      return new PortInUseError(`${where}: a port is already in use (another texmesh node? choose others with --listen)`, { cause: err })
    }
    if (e.code === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL/.test(text)) {
      return new ListenError(`${where}: an address is not one of this machine's (0.0.0.0 listens on all of them)`, { cause: err })
    }
    if (e.code === 'EACCES' || /EACCES/.test(text)) {
      return new ListenError(`${where}: permission denied (ports below 1024 need privileges)`, { cause: err })
    }
    if (e.name === 'UnsupportedListenAddressesError' || e.name === 'UnsupportedListenAddressError') {
      return new ListenError(`${where}: ${text.split(' - ')[0]!.split('. ')[0]!}`, { cause: err })
    }
  }
  return err as Error
}
