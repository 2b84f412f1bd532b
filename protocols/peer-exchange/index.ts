/**
 * Peer exchange: after identify, ask a peer which peers it is connected to
 * (ids and their listen addresses) so that nodes which only know a bootstrap
 * node meet each other directly. Without it, a campus network spread over
 * subnets (no mDNS) would be a star around its bootstrap nodes.
 *
 * @example
 * ```ts
 * services: { peerExchange: peerExchange({ onPeers: peers => keeper.offer(peers) }) }
 * ```
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { z } from 'zod'
import { isLinkLocalAddress, isLoopbackAddress } from '../address-scope.js'
import { decodeJson, encodeJson } from '../json.js'
import {
  FOLLOW_UP_MS, MAX_ADDRS_PER_PEER, MAX_EXCHANGED_PEERS, MAX_PEER_EXCHANGE_BYTES, PEER_EXCHANGE_MAX_STREAMS,
  PEER_EXCHANGE_PROTOCOL, PEER_EXCHANGE_TIMEOUT_MS, REFRESH_MS
} from './constants.js'

export * from './constants.js'

export interface ExchangedPeer { id: PeerId, addrs: Multiaddr[] }

export interface PeerExchangeInit {
  /** called with the valid peers a remote told us about (never ourselves or the remote) */
  onPeers: (peers: ExchangedPeer[], from: PeerId) => void
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
}

export interface PeerExchangeComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  peerId: PeerId
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface PeerExchange {}

const PeerList = z.array(z.object({
  id: z.string().max(128),
  addrs: z.array(z.string().max(256)).max(64)
})).max(1024)

/**
 * Addresses worth passing on or dialling: TCP or WebSockets (what texmesh
 * listens on), no /p2p/ of another peer, and loopback only between peers that
 * themselves talk over loopback (several nodes on one machine): a loopback
 * address from another host would make us dial ports on our own machine.
 */
export function usableAddress (addr: Multiaddr, peer: PeerId, overLoopback: boolean): boolean {
  const parts = addr.getComponents()
  if (!parts.some(c => c.name === 'tcp')) return false
  if (parts.some(c => c.name === 'p2p' && c.value !== peer.toString())) return false
  if (parts.some(c => c.name === 'p2p-circuit' || c.name === 'unix')) return false
  if (isLinkLocalAddress(addr)) return false
  return overLoopback || !isLoopbackAddress(addr)
}

function isLoopbackConnection (conn: Connection | undefined): boolean {
  return conn != null && isLoopbackAddress(conn.remoteAddr)
}

class PeerExchangeService implements PeerExchange, Startable {
  private readonly log: Logger
  private started = false
  /** one exchange per peer while it stays connected: an attacker reconnecting is still bounded by connection limits */
  private readonly asked = new Set<string>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()

  constructor (private readonly components: PeerExchangeComponents, private readonly init: PeerExchangeInit) {
    this.log = components.logger.forComponent('texmesh:protocols:peer-exchange')
    this.onIdentify = this.onIdentify.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'texmesh:peer-exchange'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(PEER_EXCHANGE_PROTOCOL, this.handle, { maxInboundStreams: PEER_EXCHANGE_MAX_STREAMS, maxOutboundStreams: PEER_EXCHANGE_MAX_STREAMS })
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    const refresh = setInterval(() => {
      const peers = this.components.connectionManager.getConnections().map(c => c.remotePeer)
      const peer = peers[Math.floor((this.init.random ?? Math.random)() * peers.length)]
      if (peer != null && this.asked.has(peer.toString())) void this.ask(peer)
    }, REFRESH_MS)
    refresh.unref()
    this.timers.add(refresh)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.asked.clear()
    await this.components.registrar.unhandle(PEER_EXCHANGE_PROTOCOL)
    this.started = false
  }

  private onIdentify (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void {
    const peer = evt.detail.peerId
    if (!evt.detail.protocols.includes(PEER_EXCHANGE_PROTOCOL) || this.asked.has(peer.toString())) return
    this.asked.add(peer.toString())
    void this.ask(peer)
    const followUp = setTimeout(() => {
      this.timers.delete(followUp)
      if (this.started && this.asked.has(peer.toString())) void this.ask(peer)
    }, FOLLOW_UP_MS)
    followUp.unref()
    this.timers.add(followUp)
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    this.asked.delete(evt.detail.toString())
  }

  private async ask (peer: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(PEER_EXCHANGE_TIMEOUT_MS)
    let stream: Stream | undefined
    try {
      stream = await this.components.connectionManager.openStream(peer, PEER_EXCHANGE_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_PEER_EXCHANGE_BYTES, maxBufferSize: MAX_PEER_EXCHANGE_BYTES + 16 })
      const reply = await lp.read({ signal })
      await stream.close({ signal })
      const peers = this.decode(reply.subarray(), peer)
      if (peers.length > 0) this.init.onPeers(peers, peer)
    } catch (err) {
      this.log('peer exchange with %p failed - %e', peer, err)
      stream?.abort(err as Error)
    }
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(PEER_EXCHANGE_TIMEOUT_MS)
    try {
      const list: Array<{ id: string, addrs: string[] }> = []
      for (const conn of this.components.connectionManager.getConnections()) {
        if (list.length >= MAX_EXCHANGED_PEERS) break
        if (list.some(p => p.id === conn.remotePeer.toString())) continue
        const info = await this.components.peerStore.get(conn.remotePeer).catch(() => undefined)
        const overLoopback = isLoopbackConnection(connection)
        const addrs = (info?.addresses ?? []).map(a => a.multiaddr)
          .filter(a => usableAddress(a, conn.remotePeer, overLoopback))
          .map(a => a.toString()).slice(0, MAX_ADDRS_PER_PEER)
        if (addrs.length > 0) list.push({ id: conn.remotePeer.toString(), addrs })
      }
      const lp = lpStream(stream, { maxDataLength: MAX_PEER_EXCHANGE_BYTES, maxBufferSize: MAX_PEER_EXCHANGE_BYTES + 16 })
      await lp.write(encodeJson(list), { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log('answering peer exchange failed - %e', err)
      stream.abort(err as Error)
    }
  }

  /** Untrusted input: parse, cap, drop what does not parse rather than fail the lot. */
  private decode (bytes: Uint8Array, from: PeerId): ExchangedPeer[] {
    const parsed = PeerList.safeParse(decodeJson(bytes))
    if (!parsed.success) {
      this.log('malformed peer list from %p', from)
      return []
    }
    const overLoopback = isLoopbackConnection(this.components.connectionManager.getConnections(from)[0])
    const out: ExchangedPeer[] = []
    for (const entry of parsed.data.slice(0, MAX_EXCHANGED_PEERS)) {
      try {
        const id = peerIdFromString(entry.id)
        if (id.equals(this.components.peerId) || id.equals(from)) continue
        const addrs = entry.addrs.slice(0, MAX_ADDRS_PER_PEER).map(a => multiaddr(a)).filter(a => usableAddress(a, id, overLoopback))
        if (addrs.length > 0) out.push({ id, addrs })
      } catch {
        // one bad entry does not spoil the others
      }
    }
    return out
  }
}

export function peerExchange (init: PeerExchangeInit): (components: PeerExchangeComponents) => PeerExchange {
  return (components) => new PeerExchangeService(components, init)
}
