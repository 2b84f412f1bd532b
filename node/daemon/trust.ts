import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  decodeCertificateText, decodeRevocationText, encodeCertificateText, MembershipCertificate,
  verifyCertificate, verifyRevocation, withExpiry, type PeerMembership
} from '../../protocols/membership/index.js'
import type { Replica } from '../../crdt/replica.js'
import { adminPublicKeyOf, type DataDir } from '../datadir/datadir.js'
import type { NetworkDescriptor } from '../datadir/invite.js'
import { DataDirStateError } from '../errors.js'
import type { Log } from '../log.js'
import type { ApiMember } from './api.js'
import type { Reviewers } from './reviews.js'

/**
 * Who counts, on one node: its network and certificate, the members the
 * replicated store knows, and the admin's revocations. The daemon hands these
 * rules to the store (whose envelopes to admit), the quorum (who may vote) and
 * the API (members, revocations). In an open network (no admin key) everyone
 * counts and there is nobody to revoke.
 */
export class Trust {
  readonly self: string
  /** the network's name and admin key; undefined for an open network */
  readonly admin: { name: string, adminPublicKey: Uint8Array } | undefined
  /** this node's certificate (a newly installed one replaces it at once) */
  certificate: MembershipCertificate | undefined
  /** members the admin revoked (peer -> time): from then on they are no members, whatever certificate they hold */
  private readonly revoked = new Map<string, number>()
  private readonly revocationListeners = new Set<() => void>()
  private stateOf: ((peer: PeerId) => PeerMembership) | undefined
  private replica: Replica | undefined

  constructor (self: PeerId, readonly network: NetworkDescriptor | undefined, certificate: MembershipCertificate | undefined, private readonly dataDir: DataDir, private readonly log: Log) {
    this.self = self.toString()
    this.admin = network != null ? { name: network.name, adminPublicKey: adminPublicKeyOf(network) } : undefined
    this.certificate = certificate
  }

  /** The store whose members and revocations count (set once it is open). */
  attachReplica (replica: Replica): void { this.replica = replica }

  revokedAt (peer: string): number | undefined { return this.revoked.get(peer) }

  revokedNow (peer: string): boolean { return (this.revoked.get(peer) ?? Infinity) <= Date.now() }

  /**
   * Whether an author's reviews count (node/daemon/reviews.ts): not once the admin revoked it, none
   * of them, those written before the revocation included. An admin revokes a member it no longer
   * trusts; what that member said of answers goes with it (its reviews stay in the store, listed).
   */
  readonly reviewers: Reviewers = {
    counts: author => !this.revoked.has(author),
    onChange: listener => {
      this.revocationListeners.add(listener)
      return () => { this.revocationListeners.delete(listener) }
    }
  }

  /**
   * Whether a peer counts as a member now: in an open network everyone does; in a private one, a
   * connected peer whose certificate checked out and has not run out or been revoked (nobody, until
   * libp2p runs and `attachMembership` is called).
   */
  isMember (peer: string): boolean {
    if (this.admin == null) return true
    if (this.stateOf == null || this.revokedNow(peer)) return false
    try {
      return withExpiry(this.stateOf(peerIdFromString(peer)), Date.now()).state === 'member'
    } catch {
      return false
    }
  }

  /** Remote envelopes count only from members (in an open network, from anyone). */
  admits (author: string): boolean {
    return author === this.self || (this.isMember(author) && !this.revokedNow(author))
  }

  /** An author offline or known only through a relay counts until this time, if its certificate verifies. */
  async certifiedUntil (author: string, text: string): Promise<number | undefined> {
    if (this.admin == null) return undefined
    try {
      const check = await verifyCertificate(decodeCertificateText(text), { network: this.admin.name, adminPublicKey: this.admin.adminPublicKey, peer: author })
      return check.ok ? Math.min(check.certificate.expiresAt, this.revoked.get(author) ?? Infinity) : undefined
    } catch {
      return undefined
    }
  }

  /** This node's own membership: undefined in an open network. */
  ownMembership (): PeerMembership | undefined {
    if (this.admin == null) return undefined
    if (this.certificate == null) return { state: 'none' }
    return withExpiry({ state: 'member', expiresAt: this.certificate.expiresAt }, Date.now())
  }

  /** Voters may be this node when it is a member (or the network is open). */
  selfVotes (): boolean { return this.admin == null || this.ownMembership()?.state === 'member' }

  /** The certificate a peer holds: ours, the one a connected peer presented, or the one it published in the store. */
  certificateOf (peer: string, presented: (peer: PeerId) => MembershipCertificate | undefined): string | undefined {
    if (peer === this.self) return this.certificate != null ? encodeCertificateText(this.certificate) : undefined
    const cert = presented(peerIdFromString(peer))
    return cert != null ? encodeCertificateText(cert) : this.replica?.members().get(peer)?.certificate
  }

  /** Note a revocation if the admin signed it; answers whom it revokes and when, or undefined. */
  async noteRevocation (text: string): Promise<{ peer: string, revokedAt: number } | undefined> {
    if (this.admin == null) return undefined
    try {
      const check = await verifyRevocation(decodeRevocationText(text), { network: this.admin.name, adminPublicKey: this.admin.adminPublicKey })
      if (!check.ok) return undefined
      const { peer, revokedAt } = check.revocation
      if (revokedAt < (this.revoked.get(peer) ?? Infinity)) {
        this.revoked.set(peer, revokedAt)
        this.replica?.forgetCertificates(peer)
        for (const l of this.revocationListeners) l()
      }
      return { peer, revokedAt }
    } catch {
      return undefined
    }
  }

  /**
   * From now on membership is read from libp2p's exchange. Revocations are taken from the store,
   * from this data dir (the admin's, published to the store if not yet), and from each new one
   * that arrives.
   */
  async attachMembership (stateOf: (peer: PeerId) => PeerMembership): Promise<void> {
    const replica = this.replica
    if (this.admin == null || replica == null) return
    this.stateOf = stateOf
    for (const r of replica.revocations()) await this.noteRevocation(r.entry.revocation)
    for (const text of await this.dataDir.revocations()) {
      const noted = await this.noteRevocation(text)
      if (noted != null) await this.publishRevocation(noted.peer, text)
    }
    replica.subscribe(change => {
      if (change.map !== 'revocations') return
      const entry = replica.revocations().find(r => `${r.peer}/${r.author}` === change.key)
      if (entry != null) void this.noteRevocation(entry.entry.revocation).then(noted => { if (noted != null) this.log.warn({ peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }, 'a member was revoked') })
    })
  }

  /** This node's certificate goes into the members map, so peers can admit its envelopes when it is not connected to them. */
  async publishCertificate (): Promise<void> {
    if (this.certificate == null || this.replica == null) return
    const text = encodeCertificateText(this.certificate)
    if (this.replica.members().get(this.self)?.certificate !== text) await this.replica.putMember({ certificate: text, time: Date.now() })
  }

  /** Every member the store knows of: its own certificate, checked against the admin key. */
  async members (connected: Set<string>, equivocated: ReadonlySet<string>): Promise<ApiMember[]> {
    if (this.admin == null || this.replica == null) return []
    const out: ApiMember[] = []
    for (const [peer, entry] of this.replica.members()) {
      try {
        const raw = MembershipCertificate.safeParse(decodeCertificateText(entry.certificate))
        if (!raw.success) continue
        const cert = raw.data
        // Checked as of its own issue time (signature, network, peer), then dated against now.
        const check = await verifyCertificate(cert, { network: this.admin.name, adminPublicKey: this.admin.adminPublicKey, peer, now: cert.issuedAt })
        if (!check.ok) continue
        const revokedAt = this.revoked.get(peer)
        const valid = cert.expiresAt > Date.now() && !this.revokedNow(peer)
        out.push({ peer, issuedAt: new Date(cert.issuedAt).toISOString(), expiresAt: new Date(cert.expiresAt).toISOString(), valid, ...(revokedAt != null ? { revokedAt: new Date(revokedAt).toISOString() } : {}), connected: connected.has(peer) || peer === this.self, equivocated: equivocated.has(peer) })
      } catch {
        // an entry whose certificate does not even decode names nobody
      }
    }
    return out.sort((a, b) => a.peer.localeCompare(b.peer))
  }

  /** The revocations in the store that the admin signed, one per revoked peer. */
  async revocations (): Promise<Array<{ peer: string, revokedAt: string, revocation: string }>> {
    const out = new Map<string, { peer: string, revokedAt: string, revocation: string }>()
    for (const r of this.replica?.revocations() ?? []) {
      const noted = await this.noteRevocation(r.entry.revocation)
      if (noted != null && !out.has(noted.peer)) out.set(noted.peer, { peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString(), revocation: r.entry.revocation })
    }
    return [...out.values()].sort((a, b) => a.peer.localeCompare(b.peer))
  }

  /** The admin's revocation, kept in this data dir and published to the store. */
  async installRevocation (text: string): Promise<{ peer: string, revokedAt: string }> {
    if (this.admin == null) throw new DataDirStateError('this node is in an open network: there is nobody to revoke')
    const noted = await this.noteRevocation(text)
    if (noted == null) throw new DataDirStateError(`not a revocation signed by the admin of network "${this.admin.name}"`)
    await this.dataDir.addRevocation(text)
    await this.publishRevocation(noted.peer, text)
    this.log.warn({ peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }, 'a member was revoked')
    return { peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }
  }

  /** A certificate for the network this node started in: kept, used at once, and published to the store. */
  async installCertificate (text: string): Promise<MembershipCertificate> {
    const network = this.network
    const onDisk = await this.dataDir.network()
    if (network == null || onDisk == null || onDisk.psk !== network.psk || onDisk.name !== network.name) {
      throw new DataDirStateError(`this node started ${network == null ? 'in an open network' : `in network "${network.name}"`}; restart it to use the network in ${this.dataDir.paths.network}, then install the certificate`)
    }
    const installed = await this.dataDir.installCertificate(text)
    this.certificate = installed
    await this.publishCertificate()
    this.log.info({ expiresAt: new Date(installed.expiresAt).toISOString() }, 'installed membership certificate')
    return installed
  }

  private async publishRevocation (peer: string, text: string): Promise<void> {
    const replica = this.replica
    if (replica == null) return
    if (!replica.revocations().some(r => r.peer === peer && r.author === this.self)) {
      await replica.putRevocation(peer, { revocation: text.trim(), time: Date.now() })
    }
  }
}
