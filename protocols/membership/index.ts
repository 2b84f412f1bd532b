/**
 * Membership exchange: on every new connection each side presents its
 * certificate and checks the other's. The result (member, refused with a
 * reason, no certificate) is kept per peer and later decides who counts in a
 * Byzantine quorum. Nothing here decides whether a connection may exist:
 * the pre-shared network key already keeps strangers out.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ services: { membership: membership({ network, certificate: () => cert }) } })
 * node.services.membership.stateOf(peerId) // { state: 'member', expiresAt: ... }
 * ```
 */
import { lpStream } from '@libp2p/utils'
import type { ComponentLogger, Libp2pEvents, Logger, PeerId, Startable, Stream, Connection, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { z } from 'zod'
import {
  MAX_MEMBERSHIP_MESSAGE_BYTES, MEMBERSHIP_MAX_INBOUND_STREAMS, MEMBERSHIP_MAX_OUTBOUND_STREAMS,
  MEMBERSHIP_PROTOCOL, MEMBERSHIP_TIMEOUT_MS
} from './constants.js'
import { verifyCertificate, type CertificateRefusal, type MembershipCertificate } from './certificate.js'
import { decodeJson, encodeJson } from '../json.js'

export * from './certificate.js'
export * from './revocation.js'
export { MEMBERSHIP_PROTOCOL } from './constants.js'

export type PeerMembership =
  /** the network is open (no admin key): membership does not apply */
  | { state: 'open' }
  /** connected, exchange not finished */
  | { state: 'pending' }
  /** the peer presented no certificate */
  | { state: 'none' }
  | { state: 'member', expiresAt: number }
  | { state: 'refused', reason: CertificateRefusal, detail: string }

export interface MembershipInit {
  /** the private network this node belongs to; undefined for an open network */
  network?: { name: string, adminPublicKey: Uint8Array }
  /** this node's certificate, read at every exchange so a newly installed one is used at once */
  certificate: () => MembershipCertificate | undefined
  /** called whenever a peer's membership state is decided */
  onPeerState?: (peer: PeerId, membership: PeerMembership) => void
  /** @default MEMBERSHIP_TIMEOUT_MS */
  timeout?: number
  /** @default Date.now */
  now?: () => number
}

export interface MembershipComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface Membership {
  /** membership of a connected peer (expiry is re-checked on every call) */
  stateOf(peer: PeerId): PeerMembership
  /** present our (possibly new) certificate to every connected peer again */
  reannounce(): Promise<void>
  /** the certificate a connected member presented (quorum certificates carry their voters') */
  certificateOf(peer: PeerId): MembershipCertificate | undefined
}

/** A member whose certificate has run out since it was checked no longer counts. */
export function withExpiry (membership: PeerMembership, now: number): PeerMembership {
  if (membership.state === 'member' && membership.expiresAt <= now) {
    return { state: 'refused', reason: 'expired', detail: `certificate expired at ${new Date(membership.expiresAt).toISOString()}` }
  }
  return membership
}

/** Exchanges tried per connection (the first, then retries 2, 4, 8 and 16 s apart) */
const EXCHANGE_ATTEMPTS = 5
const EXCHANGE_RETRY_MS = 2000

const MembershipMessage = z.object({ certificate: z.unknown().nullable() }).strict()

class MembershipService implements Membership, Startable {
  private readonly states = new Map<string, PeerMembership>()
  private readonly certificates = new Map<string, MembershipCertificate>()
  private readonly inFlight = new Set<string>()
  /** peers whose exchange must run again when the one in flight ends (our certificate changed meanwhile) */
  private readonly again = new Set<string>()
  private readonly log: Logger
  private readonly timeout: number
  private readonly now: () => number
  private started = false

  constructor (private readonly components: MembershipComponents, private readonly init: MembershipInit) {
    this.log = components.logger.forComponent('texmesh:protocols:membership')
    this.timeout = init.timeout ?? MEMBERSHIP_TIMEOUT_MS
    this.now = init.now ?? Date.now
    this.onIdentify = this.onIdentify.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'texmesh:membership'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(MEMBERSHIP_PROTOCOL, this.handle, {
      maxInboundStreams: MEMBERSHIP_MAX_INBOUND_STREAMS,
      maxOutboundStreams: MEMBERSHIP_MAX_OUTBOUND_STREAMS
    })
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.components.registrar.unhandle(MEMBERSHIP_PROTOCOL)
    this.states.clear()
    this.started = false
  }

  stateOf (peer: PeerId): PeerMembership {
    if (this.init.network == null) return { state: 'open' }
    return withExpiry(this.states.get(peer.toString()) ?? { state: 'pending' }, this.now())
  }

  async reannounce (): Promise<void> {
    const peers = this.components.connectionManager.getConnections().map(c => c.remotePeer)
    const unique = new Map(peers.map(p => [p.toString(), p]))
    await Promise.all([...unique.values()].map(async peer => { await this.exchange(peer) }))
  }

  private onIdentify (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void {
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(MEMBERSHIP_PROTOCOL)) {
      this.record(peerId, this.init.network == null ? { state: 'open' } : { state: 'none' })
      return
    }
    // The responder side learns our certificate from our exchange; one exchange per peer is enough.
    const known = this.states.get(peerId.toString())
    if (known != null && known.state !== 'pending') return
    void this.exchange(peerId)
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    this.states.delete(evt.detail.toString())
    this.certificates.delete(evt.detail.toString())
  }

  certificateOf (peer: PeerId): MembershipCertificate | undefined {
    return this.stateOf(peer).state === 'member' ? this.certificates.get(peer.toString()) : undefined
  }

  private async exchange (peer: PeerId, attempt = 0): Promise<void> {
    const key = peer.toString()
    if (this.inFlight.has(key)) {
      this.again.add(key)
      return
    }
    this.inFlight.add(key)
    const signal = AbortSignal.timeout(this.timeout)
    let stream: Stream | undefined
    try {
      stream = await this.components.connectionManager.openStream(peer, MEMBERSHIP_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_MEMBERSHIP_MESSAGE_BYTES, maxBufferSize: MAX_MEMBERSHIP_MESSAGE_BYTES + 16 })
      await lp.write(this.ownMessage(), { signal })
      const reply = await lp.read({ signal })
      await stream.close({ signal })
      await this.receive(peer, reply.subarray())
    } catch (err) {
      this.log('membership exchange with %p failed - %e', peer, err)
      stream?.abort(err as Error)
      // Tried again with backoff while the peer stays connected and unknown (a busy or starting
      // peer): identify does not fire again on this connection, and until the exchange succeeds
      // the peer gets no leases, blobs or ballots.
      if (attempt + 1 < EXCHANGE_ATTEMPTS && this.started) {
        setTimeout(() => {
          if (this.started && this.connected(peer) && this.stateOf(peer).state === 'pending') void this.exchange(peer, attempt + 1)
        }, EXCHANGE_RETRY_MS * 2 ** attempt).unref()
      }
    } finally {
      this.inFlight.delete(key)
      if (this.again.delete(key) && this.started) void this.exchange(peer)
    }
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeout)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MEMBERSHIP_MESSAGE_BYTES, maxBufferSize: MAX_MEMBERSHIP_MESSAGE_BYTES + 16 })
      const message = await lp.read({ signal })
      await lp.write(this.ownMessage(), { signal })
      await stream.close({ signal })
      await this.receive(connection.remotePeer, message.subarray())
    } catch (err) {
      this.log('membership exchange from %p failed - %e', connection.remotePeer, err)
      stream.abort(err as Error)
    }
  }

  private ownMessage (): Uint8Array {
    return encodeJson({ certificate: this.init.certificate() ?? null })
  }

  private async receive (peer: PeerId, bytes: Uint8Array): Promise<void> {
    const network = this.init.network
    if (network == null) {
      this.record(peer, { state: 'open' })
      return
    }
    let message
    try {
      message = MembershipMessage.parse(decodeJson(bytes))
    } catch (err) {
      this.record(peer, { state: 'refused', reason: 'malformed', detail: `unreadable membership message: ${(err as Error).message.slice(0, 200)}` })
      return
    }
    if (message.certificate == null) {
      this.record(peer, { state: 'none' })
      return
    }
    const check = await verifyCertificate(message.certificate, {
      network: network.name,
      adminPublicKey: network.adminPublicKey,
      peer: peer.toString(),
      now: this.now()
    })
    if (check.ok && this.connected(peer)) this.certificates.set(peer.toString(), check.certificate)
    this.record(peer, check.ok
      ? { state: 'member', expiresAt: check.certificate.expiresAt }
      : { state: 'refused', reason: check.reason, detail: check.detail })
  }

  private connected (peer: PeerId): boolean {
    return this.components.connectionManager.getConnections(peer).length > 0
  }

  private record (peer: PeerId, membership: PeerMembership): void {
    // a verdict that lands after the peer left would outlive it and block the next exchange
    if (!this.connected(peer)) return
    this.states.set(peer.toString(), membership)
    this.init.onPeerState?.(peer, membership)
  }
}

export function membership (init: MembershipInit): (components: MembershipComponents) => Membership {
  return (components) => new MembershipService(components, init)
}
