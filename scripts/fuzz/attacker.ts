/**
 * The attacker's identities and what its campaigns share: the libp2p nodes M and S (and more stream
 * attackers), their keys and certificates, the node's address, the seeded random source, the counts,
 * and what one campaign learns for another (leases the node granted, images M serves, store keys).
 * The campaigns themselves are in campaign-*.ts and answers.ts; worker.ts runs them.
 */
import { parentPort } from 'node:worker_threads'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { membership, decodeCertificateText, MembershipCertificate } from '../../protocols/membership/index.js'
import { CRDT_TOPIC } from '../../protocols/crdt-sync/index.js'
import { TASKS_TOPIC } from '../../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../../protocols/votes/index.js'
import { swarmKeyFromPsk } from '../../node/datadir/invite.js'
import { boundedPreSharedKey } from '../../node/daemon/pnet.js'
import { safeYamux } from '../../node/daemon/muxer.js'
import type { AttackerInit, AttackerMessage } from './messages.js'
import { sleep } from './pace.js'
import { Rng } from './rng.js'
import { keyed, type Keyed } from './signed.js'
import { Stats } from './stats.js'

export interface Served { bytes?: Uint8Array, hostile: boolean }

export class Attacker {
  readonly stats = new Stats()
  readonly notes: string[] = []
  readonly rng: Rng
  readonly nodePeer: PeerId
  readonly nodeAddr
  readonly network?: { name: string, adminPublicKey: Uint8Array, psk: Uint8Array }
  m!: Libp2p<{ pubsub: GossipSub }>
  s!: Libp2p<{ pubsub: GossipSub, membership: ReturnType<ReturnType<typeof membership>> }>
  who!: { m: Keyed, s: Keyed, p: Keyed }
  /** more stream attackers (members too): the node's stream limits are per connection */
  extra: Array<Libp2p<{ membership: unknown }>> = []
  certS?: MembershipCertificate
  certM?: MembershipCertificate
  /** images M serves when the node fetches them (by hash), and whether to answer hostilely */
  readonly served = new Map<string, Served>()
  /** task ids the node leased to S */
  readonly stolen: string[] = []
  /** hashes of blobs the node holds (leases it granted) */
  readonly knownHashes: string[] = []
  private readonly stop: Array<() => Promise<void>> = []
  private stopping = false
  /** keys of store entries written by attacks the node must refuse / may accept, to check the store at the end */
  readonly keys: string[] = []
  /** catch-up pages of junk M has answered with (answers.ts bounds them) */
  crdtPages = 0
  /** S's gossipsub RPC streams so far (campaign-streams.ts reconnects S every 8th) */
  gossipChecks = 0

  constructor (readonly init: AttackerInit) {
    this.rng = new Rng(init.seed)
    this.nodePeer = peerIdFromString(init.node.peerId)
    this.nodeAddr = multiaddr(init.node.addrs.find(a => a.includes('/tcp/')) ?? init.node.addrs[0]!)
    if (init.network != null) {
      this.network = { name: init.network.name, adminPublicKey: Buffer.from(init.network.adminPublicKey, 'base64url'), psk: swarmKeyFromPsk(init.network.psk) }
    }
  }

  get deadline (): number { return this.init.deadline }
  get closing (): boolean { return this.stopping }
  timeLeft (): boolean { return Date.now() < this.deadline && !this.stopping }

  /** The libp2p options every attacker node shares: TCP on 127.0.0.1, the node's muxer and, in a private network, its key. */
  transport (): Record<string, unknown> {
    return {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [safeYamux()],
      ...(this.network != null ? { connectionProtector: boundedPreSharedKey({ psk: this.network.psk }) } : {}),
      connectionManager: { dialTimeout: 10_000, inboundConnectionThreshold: 1000 }
    }
  }

  member (cert: MembershipCertificate | undefined): ReturnType<typeof membership> {
    return membership({ network: this.network != null ? { name: this.network.name, adminPublicKey: this.network.adminPublicKey } : undefined, certificate: () => cert })
  }

  cert (text: string | undefined): MembershipCertificate | undefined {
    if (text == null) return undefined
    return MembershipCertificate.parse(decodeCertificateText(text))
  }

  /** A libp2p node with identify, ping and membership (and whatever more `services` adds) under `key`. */
  async peer (key: Ed25519PrivateKey, cert: MembershipCertificate | undefined, services: Record<string, unknown> = {}): Promise<any> {
    return await createLibp2p({ ...this.transport(), privateKey: key, services: { identify: identify(), ping: ping(), ...services, membership: this.member(cert) } } as any)
  }

  /** M, S and the extra stream attackers, not yet connected (M's answers are set up between start and connect). */
  async start (): Promise<void> {
    const key = (hex: string): Ed25519PrivateKey => privateKeyFromProtobuf(Buffer.from(hex, 'hex')) as Ed25519PrivateKey
    this.who = { m: await keyed(key(this.init.identities.m.key)), s: await keyed(key(this.init.identities.s.key)), p: await keyed(key(this.init.identities.p.key)) }
    this.certM = this.cert(this.init.identities.m.cert)
    this.certS = this.cert(this.init.identities.s.cert)
    const gossip = (): ReturnType<typeof gossipsub> => gossipsub({ allowPublishToZeroTopicPeers: true, scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1']) }, emitSelf: false })
    this.m = await this.peer(this.who.m.key, this.certM, { pubsub: gossip() })
    this.s = await this.peer(this.who.s.key, this.certS, { pubsub: gossip() })
    this.stop.push(async () => { await this.m.stop() }, async () => { await this.s.stop() })
    for (const e of this.init.identities.extra) {
      const n = await this.peer(key(e.key), this.cert(e.cert))
      this.extra.push(n)
      this.stop.push(async () => { await n.stop() })
    }
    // libp2p caps a node's outbound streams per protocol by its own handlers' limits (ping: 1): lifted,
    // so the stream attackers can open more streams than the node takes.
    for (const n of [this.s, ...this.extra] as Libp2p[]) {
      const registrar = (n as unknown as { components: { registrar: { getHandler: (p: string) => { handler: any, options: object } } } }).components.registrar
      for (const protocol of n.getProtocols()) {
        const h = registrar.getHandler(protocol)
        await n.handle(protocol, h.handler, { ...h.options, maxOutboundStreams: 1024, force: true })
      }
    }
  }

  /** M, S and the extra stream attackers dial the node; M waits until the node is subscribed to its topics and (private network) holds M for a member. */
  async connect (): Promise<void> {
    for (const n of [this.m, this.s, ...this.extra] as Libp2p[]) await n.dial(this.nodeAddr, { signal: AbortSignal.timeout(15_000) })
    // Subscribed, so the node's messages reach M and M is in its mesh.
    for (const t of [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]) this.m.services.pubsub.subscribe(t)
    await this.until('the node to subscribe to its topics (seen by M)', () => [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC].every(t => this.m.services.pubsub.getSubscribers(t).some(p => p.equals(this.nodePeer))), 20_000)
    // In a private network, M's ballots, votes, loads and envelopes count only once the node holds M for a member:
    // the certificate exchange that tells M the node is one tells the node the same of M.
    if (this.network != null) {
      const ms = (this.m as unknown as { services: { membership: { stateOf: (p: PeerId) => { state: string } } } }).services.membership
      await this.until('the certificate exchange between M and the node', () => ms.stateOf(this.nodePeer).state === 'member', 20_000)
      await sleep(500)
    }
  }

  private async until (what: string, check: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await sleep(50)
    }
  }

  async close (): Promise<void> {
    this.stopping = true
    for (const f of this.stop.reverse()) await f().catch(() => {})
  }

  /** The counts so far, to the run on the main thread. */
  report (): void {
    parentPort?.postMessage({ type: 'progress', stats: this.stats.list() } satisfies AttackerMessage)
  }
}
