import { CachedLevelDatastore } from './peer-store-cache.js'
import { Level } from 'level'
import type { PeerId } from '@libp2p/interface'
import { DataDir, adminPublicKeyOf, isLockError, processIdentity } from '../datadir/datadir.js'
import { buildLibp2p, type TexmeshLibp2p } from './libp2p.js'
import { PeerKeeper } from './peer-keeper.js'
import { membershipView, startApiServer, type ApiMember, type ApiPeer, type ApiServer, type ApiStatus } from './api.js'
import { DataDirInUseError, DataDirStateError, ListenError, PortInUseError } from '../errors.js'
import type { NodeConfig } from '../datadir/config.js'
import type { Log } from '../log.js'
import type { NetworkDescriptor } from '../datadir/invite.js'
import { withExpiry, type PeerMembership } from '../../protocols/membership/index.js'
import { decodeCertificateText, decodeRevocationText, MembershipCertificate, verifyCertificate, verifyRevocation } from '../../protocols/membership/index.js'
import type { ExchangedPeer } from '../../protocols/peer-exchange/index.js'
import { VERSION } from '../version.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import { pipelineCompute, shippedModelVersion, type Compute } from './compute.js'
import { NodeTasks, type TaskView, type TasksStats } from './work.js'
import type { QuorumTimings } from '../../protocols/votes/index.js'
import { Replica } from '../../crdt/replica.js'
import { CRDT_SYNC_PROTOCOL, crdtSync, type CrdtSync } from '../../protocols/crdt-sync/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeCertificateText } from '../../protocols/membership/index.js'
import type { NodeHooks } from './hooks.js'

/**
 * The daemon: the one place where storage, libp2p, protocols and the local
 * API are wired together. `startNode` brings everything up in order and
 * `stop` takes it down in reverse: network input first, storage last.
 */
/** At most this many peers of earlier runs are dialled at start (the peer store may hold many more). */
const REDIAL_KNOWN_PEERS = 64

export interface NodeOptions {
  dataDir: string
  config: NodeConfig
  log: Log
  /** where each config value came from (default, file, env, flag), for `texmesh config show` */
  sources?: Record<string, string>
  /** what a harness (simnet, tests) changes in the node; none on a real node */
  hooks?: NodeHooks
}

export interface RunningNode {
  readonly peerId: PeerId
  readonly libp2p: TexmeshLibp2p
  readonly apiPort: number
  readonly network: NetworkDescriptor | undefined
  /** the replicated store (results, calibration, corrections, members) */
  readonly replica: Replica
  status(): Promise<ApiStatus>
  peers(): Promise<ApiPeer[]>
  installCertificate(text: string): Promise<MembershipCertificate>
  /** Recognise an image on this node (the model loads on first use). */
  ocr(image: Buffer, options: { beam?: number, file: string }): Promise<OcrResult>
  /** Hand an image to the network: answered from the store, or queued as a task that any node may take. */
  submit(image: Buffer, options: { file: string, critical: boolean }): Promise<TaskView>
  task(id: string): Promise<TaskView | undefined>
  tasks(limit: number): Promise<TaskView[]>
  taskStats(): TasksStats
  /** ms from the vote that completed each quorum of this node's critical tasks to its certificate */
  certificateFormationMs(): readonly number[]
  /** where ballots' time goes on this node */
  quorumTimings(): QuorumTimings
  stop(): Promise<void>
}

async function openPeerStore (dataDir: DataDir): Promise<CachedLevelDatastore> {
  // Opened here rather than by LevelDatastore, whose open() drops the error's cause.
  const db = new Level<string, Uint8Array>(dataDir.paths.peerStore, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    if (isLockError(err)) {
      const runtime = await dataDir.runtime()
      const who = runtime != null ? ` (pid ${runtime.pid}, API port ${runtime.apiPort})` : ''
      throw new DataDirInUseError(`data dir ${dataDir.paths.root} is in use by another running texmesh node${who}; stop it or choose another with --data-dir`)
    }
    throw err
  }
  const datastore = new CachedLevelDatastore(db)
  await datastore.open()
  return datastore
}

function describeListenError (err: unknown, listen: string[]): Error {
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

export async function startNode (options: NodeOptions): Promise<RunningNode> {
  const { config, log } = options
  // The model first: a node with a model folder it cannot use refuses to start before it holds
  // anything. One onnxruntime session per process, loaded when the first image arrives.
  const hooks = options.hooks ?? {}
  const compute: Compute = hooks.compute ?? pipelineCompute(await shippedModelVersion(), config.workers)
  const dataDir = new DataDir(options.dataDir)
  await dataDir.ensure()
  // The LevelDB lock is the data dir lock: the OS drops it when the holder dies, even by kill -9.
  const datastore = await openPeerStore(dataDir)
  const startedAt = Date.now()
  let libp2p: TexmeshLibp2p | undefined
  let api: ApiServer | undefined
  let keeper: PeerKeeper | undefined
  let stopping: Promise<void> | undefined
  let tasks: NodeTasks | undefined
  let replica: Replica | undefined
  let sync: CrdtSync | undefined

  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      keeper?.stop()
      await api?.close().catch(err => log.warn({ err }, 'closing the API failed'))
      // Running tasks finish and write their results before the store closes.
      await tasks?.stop().catch(err => log.warn({ err }, 'stopping task sharing failed'))
      await sync?.stop().catch(err => log.warn({ err }, 'stopping store sync failed'))
      await Promise.resolve(libp2p?.stop()).catch((err: unknown) => log.warn({ err }, 'stopping libp2p failed'))
      await replica?.close().catch(err => log.warn({ err }, 'closing the replicated store failed'))
      const lost = replica?.unstoredChanges() ?? 0
      if (lost > 0) log.warn({ changes: lost, dir: dataDir.paths.root }, 'own changes LevelDB would not store (is the disk full?) are lost with this stop')
      await compute.release().catch(err => log.warn({ err }, 'releasing the model failed'))
      await Promise.resolve(datastore.close()).catch((err: unknown) => log.warn({ err }, 'closing the peer store failed'))
      await dataDir.removeRuntime()
      log.info('node stopped')
    })()
    await stopping
  }

  try {
    const { key, peerId, created } = await dataDir.identity()
    log.info({ peerId: peerId.toString(), created }, created ? 'made a new node identity' : 'loaded node identity')
    const network = await dataDir.network()
    let certificate = await dataDir.certificate()
    const token = await dataDir.apiToken()
    const bootstrap = [...new Set([...config.bootstrap, ...(network?.bootstrap ?? [])])]
      .filter(addr => !addr.endsWith(`/p2p/${peerId.toString()}`))
    const peerLog = log.child({ component: 'protocols:membership' })
    /** the membership state last logged per peer (bounded) */
    const peerStates = new Map<string, string>()

    // Remote envelopes count only from members (in an open network, from anyone).
    let isMember: (author: string) => boolean = () => network == null
    // Members the admin revoked (peer -> time), from the replicated store and this data dir: from
    // then on they are no members, whatever certificate they hold.
    const revoked = new Map<string, number>()
    const revokedNow = (peer: string): boolean => (revoked.get(peer) ?? Infinity) <= Date.now()
    const noteRevocation = async (text: string): Promise<{ peer: string, revokedAt: number } | undefined> => {
      if (network == null) return undefined
      try {
        const check = await verifyRevocation(decodeRevocationText(text), { network: network.name, adminPublicKey: adminPublicKeyOf(network) })
        if (!check.ok) return undefined
        const { peer, revokedAt } = check.revocation
        if (revokedAt < (revoked.get(peer) ?? Infinity)) {
          revoked.set(peer, revokedAt)
          replica?.forgetCertificates(peer)
        }
        return { peer, revokedAt }
      } catch {
        return undefined
      }
    }
    const storeLog = log.child({ component: 'crdt' })
    replica = await Replica.open({
      path: dataDir.paths.replica,
      key,
      admits: author => author === peerId.toString() || (isMember(author) && !revokedNow(author)),
      // An author offline or known only through a relay counts if its certificate (in the members map, or in the envelope) verifies.
      ...(network != null
        ? {
            certifiedUntil: async (author: string, text: string) => {
              try {
                const check = await verifyCertificate(decodeCertificateText(text), { network: network.name, adminPublicKey: adminPublicKeyOf(network), peer: author })
                return check.ok ? Math.min(check.certificate.expiresAt, revoked.get(author) ?? Infinity) : undefined
              } catch {
                return undefined
              }
            }
          }
        : {}),
      onReject: (reason, detail, author, held) => {
        // Held updates are the normal case while a member's certificate spreads: not worth a warning.
        if (held) storeLog.debug({ reason, detail, author }, 'holding a store update until its author is known as a member')
        else storeLog.warn({ reason, detail, author }, 'refused a store update')
      }
    })
    // What the start set aside (stored data never stops a start): said once here, and in status.
    const quarantined = await replica.quarantined()
    for (const q of quarantined) storeLog.warn({ author: q.author, reason: q.reason, key: q.key }, 'a stored store update was set aside (quarantined)')
    // This node's certificate goes into the members map, so peers can admit its envelopes when it is not connected to them.
    const publishCertificate = async (cert: MembershipCertificate): Promise<void> => {
      const text = encodeCertificateText(cert)
      if (replica!.members().get(peerId.toString())?.certificate !== text) await replica!.putMember({ certificate: text, time: Date.now() })
    }
    if (certificate != null) await publishCertificate(certificate)
    let onMember: (peer: PeerId) => void = () => {}

    let offerPeers: (peers: ExchangedPeer[]) => void = () => {}
    const denied = new Set<string>()
    const node = await buildLibp2p({
      privateKey: key,
      listen: config.listen,
      bootstrap,
      mdns: config.mdns,
      onLanPeer: (peer) => { keeper?.discovered(peer) },
      network,
      datastore,
      membership: {
        network: network != null ? { name: network.name, adminPublicKey: adminPublicKeyOf(network) } : undefined,
        certificate: () => certificate,
        onPeerState: (peer, membership) => {
          // Said once per change of state (both ends of a connection exchange certificates).
          const said = `${membership.state}:${membership.state === 'refused' ? membership.reason : ''}`
          if (peerStates.get(peer.toString()) !== said) {
            peerStates.delete(peer.toString())
            peerStates.set(peer.toString(), said)
            for (const old of peerStates.keys()) { if (peerStates.size <= 4096) break; peerStates.delete(old) }
            if (membership.state === 'refused') peerLog.warn({ peer: peer.toString(), reason: membership.reason, detail: membership.detail }, 'membership certificate refused')
            else peerLog.info({ peer: peer.toString(), state: membership.state }, 'peer membership')
          }
          if (membership.state === 'member') onMember(peer)
        }
      },
      peerExchange: { onPeers: (peers) => { offerPeers(peers) }, ...(hooks.random != null ? { random: hooks.random } : {}) },
      ...(hooks.faults === true ? { denied: (peer: string) => denied.has(peer) } : {})
    })
    libp2p = node
    // Made before libp2p starts, so no mDNS answer that comes while the rest of the node starts is lost.
    keeper = new PeerKeeper(node, { bootstrap, ...(hooks.random != null ? { random: hooks.random } : {}) }, log.child({ component: 'node:peers' }))
    offerPeers = (peers) => { keeper?.offer(peers) }
    try {
      await node.start()
    } catch (err) {
      throw describeListenError(err, config.listen)
    }
    log.info({ addresses: node.getMultiaddrs().map(String) }, 'libp2p listening')

    // The connection monitor records rtt every 10 s; one ping right after identify fills the gap before that.
    const pinged = new Map<string, number>()
    node.addEventListener('peer:identify', (evt) => {
      const peer = evt.detail.peerId
      node.services.ping.ping(peer, { signal: AbortSignal.timeout(5000) })
        .then(rtt => { if (node.getConnections(peer).length > 0) pinged.set(peer.toString(), rtt) }, () => {})
    })
    node.addEventListener('peer:disconnect', (evt) => { pinged.delete(evt.detail.toString()) })

    if (network != null) {
      isMember = author => {
        if (revokedNow(author)) return false
        try {
          return withExpiry(node.services.membership.stateOf(peerIdFromString(author)), Date.now()).state === 'member'
        } catch {
          return false
        }
      }
      // Revocations: those in the store, those kept here (the admin's), and each new one that arrives.
      for (const r of replica.revocations()) await noteRevocation(r.entry.revocation)
      for (const text of await dataDir.revocations()) {
        const noted = await noteRevocation(text)
        if (noted != null && !replica.revocations().some(r => r.peer === noted.peer && r.author === peerId.toString())) {
          await replica.putRevocation(noted.peer, { revocation: text.trim(), time: Date.now() })
        }
      }
      replica.subscribe(change => {
        if (change.map !== 'revocations') return
        const entry = replica?.revocations().find(r => `${r.peer}/${r.author}` === change.key)
        if (entry != null) void noteRevocation(entry.entry.revocation).then(noted => { if (noted != null) log.warn({ peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }, 'a member was revoked') })
      })
    }
    sync = crdtSync({ store: replica, random: hooks.random })({ node, log: log.child({ component: 'protocols:crdt-sync' }) })
    await sync.start()
    // A peer just shown to be a member: fetch what it has (its envelopes were refused before).
    onMember = (peer) => { void sync?.pull(peer) }

    const ownMembership = (): PeerMembership | undefined => {
      if (network == null) return undefined
      if (certificate == null) return { state: 'none' }
      return withExpiry({ state: 'member', expiresAt: certificate.expiresAt }, Date.now())
    }

    tasks = await NodeTasks.open({
      node,
      replica,
      compute,
      path: dataDir.paths.tasks,
      votesPath: dataDir.paths.votes,
      workers: config.workers,
      leaseMs: config.leaseMs,
      admits: peer => isMember(peer),
      ...(hooks.random != null ? { random: hooks.random } : {}),
      log: log.child({ component: 'node:tasks' }),
      rootLog: log,
      quorum: {
        key,
        f: config.quorumF,
        criticalBelow: config.criticalBelow,
        ...(network != null ? { network: { name: network.name, adminPublicKey: adminPublicKeyOf(network) } } : {}),
        // Voters: this node when it is a member, and every connected member.
        eligible: () => [
          ...(network == null || ownMembership()?.state === 'member' ? [peerId.toString()] : []),
          ...node.getPeers().map(String).filter(p => network == null || isMember(p))
        ],
        isMember: peer => network == null || peer === peerId.toString() || isMember(peer),
        revokedAt: peer => revoked.get(peer),
        certificateOf: peer => {
          if (peer === peerId.toString()) return certificate != null ? encodeCertificateText(certificate) : undefined
          const cert = node.services.membership.certificateOf(peerIdFromString(peer))
          // Not connected any more: the certificate it published in the replicated store.
          return cert != null ? encodeCertificateText(cert) : replica?.members().get(peer)?.certificate
        },
        ...(hooks.tamper != null ? { tamper: hooks.tamper(key) } : {})
      }
    })
    const nodeTasks = tasks

    // Texmesh peers met in earlier runs: libp2p redials none of them by itself, and without
    // mDNS or a reachable bootstrap node they would be out of reach after a restart.
    keeper.offer((await node.peerStore.all())
      .filter(p => p.protocols.includes(CRDT_SYNC_PROTOCOL) && p.addresses.length > 0)
      .slice(0, REDIAL_KNOWN_PEERS)
      .map(p => ({ id: p.id, addrs: p.addresses.map(a => a.multiaddr) })))
    keeper.start()

    const status = async (): Promise<ApiStatus> => ({
      peerId: peerId.toString(),
      addresses: node.getMultiaddrs().map(String),
      network: network != null
        ? { name: network.name, private: true, admin: network.admin, membership: membershipView(ownMembership() ?? { state: 'none' }) }
        : { name: null, private: false },
      peers: node.getPeers().length,
      version: VERSION,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      dataDir: dataDir.paths.root,
      model: compute.model,
      tasks: nodeTasks.stats(),
      quorum: nodeTasks.quorumTimings(),
      quarantined: quarantined.map(q => ({ author: q.author, reason: q.reason, time: new Date(q.time).toISOString(), bytes: q.bytes }))
    })

    const peers = async (): Promise<ApiPeer[]> => {
      const byPeer = new Map<string, ApiPeer>()
      for (const conn of node.getConnections()) {
        const id = conn.remotePeer.toString()
        const entry = byPeer.get(id) ?? { id, addresses: [], latencyMs: pinged.get(id) ?? null, direction: conn.direction, membership: membershipView(withExpiry(node.services.membership.stateOf(conn.remotePeer), Date.now())), equivocated: nodeTasks.equivocators().has(id) }
        entry.addresses.push(conn.remoteAddr.toString())
        if (conn.rtt != null) entry.latencyMs = conn.rtt
        byPeer.set(id, entry)
      }
      return [...byPeer.values()].sort((a, b) => a.id.localeCompare(b.id))
    }

    // Every member the store knows of: its own certificate, checked against the admin key.
    const members = async (): Promise<ApiMember[]> => {
      if (network == null) return []
      const connected = new Set(node.getPeers().map(String))
      const out: ApiMember[] = []
      for (const [peer, entry] of replica!.members()) {
        try {
          const raw = MembershipCertificate.safeParse(decodeCertificateText(entry.certificate))
          if (!raw.success) continue
          const cert = raw.data
          // Checked as of its own issue time (signature, network, peer), then dated against now.
          const check = await verifyCertificate(cert, { network: network.name, adminPublicKey: adminPublicKeyOf(network), peer, now: cert.issuedAt })
          if (!check.ok) continue
          const revokedAt = revoked.get(peer)
          const valid = cert.expiresAt > Date.now() && !revokedNow(peer)
          out.push({ peer, issuedAt: new Date(cert.issuedAt).toISOString(), expiresAt: new Date(cert.expiresAt).toISOString(), valid, ...(revokedAt != null ? { revokedAt: new Date(revokedAt).toISOString() } : {}), connected: connected.has(peer) || peer === peerId.toString(), equivocated: nodeTasks.equivocators().has(peer) })
        } catch {
          // an entry whose certificate does not even decode names nobody
        }
      }
      return out.sort((a, b) => a.peer.localeCompare(b.peer))
    }

    const revocations = async (): Promise<Array<{ peer: string, revokedAt: string, revocation: string }>> => {
      const out = new Map<string, { peer: string, revokedAt: string, revocation: string }>()
      for (const r of replica!.revocations()) {
        const noted = await noteRevocation(r.entry.revocation)
        if (noted != null && !out.has(noted.peer)) out.set(noted.peer, { peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString(), revocation: r.entry.revocation })
      }
      return [...out.values()].sort((a, b) => a.peer.localeCompare(b.peer))
    }

    const installRevocation = async (text: string): Promise<{ peer: string, revokedAt: string }> => {
      if (network == null) throw new DataDirStateError('this node is in an open network: there is nobody to revoke')
      const noted = await noteRevocation(text)
      if (noted == null) throw new DataDirStateError(`not a revocation signed by the admin of network "${network.name}"`)
      await dataDir.addRevocation(text)
      if (!replica!.revocations().some(r => r.peer === noted.peer && r.author === peerId.toString())) {
        await replica!.putRevocation(noted.peer, { revocation: text.trim(), time: Date.now() })
      }
      log.warn({ peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }, 'a member was revoked')
      return { peer: noted.peer, revokedAt: new Date(noted.revokedAt).toISOString() }
    }

    const installCertificate = async (text: string): Promise<MembershipCertificate> => {
      const onDisk = await dataDir.network()
      if (network == null || onDisk == null || onDisk.psk !== network.psk || onDisk.name !== network.name) {
        throw new DataDirStateError(`this node started ${network == null ? 'in an open network' : `in network "${network.name}"`}; restart it to use the network in ${dataDir.paths.network}, then install the certificate`)
      }
      const installed = await dataDir.installCertificate(text)
      certificate = installed
      await publishCertificate(installed)
      log.info({ expiresAt: new Date(installed.expiresAt).toISOString() }, 'installed membership certificate')
      void node.services.membership.reannounce()
      return installed
    }

    const ocr = async (image: Buffer, options: { beam?: number, file: string }): Promise<OcrResult> => {
      const result = await compute.recognize(image, options.file, options.beam != null ? { beam: options.beam } : {})
      log.debug({ file: options.file, ms: result.ms, regions: result.regions.length }, 'recognised an image')
      return result
    }
    const submit = async (image: Buffer, options: { file: string, critical: boolean }): Promise<TaskView> => await nodeTasks.submit(image, options)
    const task = async (id: string): Promise<TaskView | undefined> => await nodeTasks.get(id)
    const taskList = async (limit: number): Promise<TaskView[]> => await nodeTasks.list(limit)
    const taskStats = (): TasksStats => nodeTasks.stats()

    const faults = hooks.faults === true
      ? {
          partition: async (deny: string[]): Promise<void> => {
            denied.clear()
            for (const p of deny) denied.add(p)
            await Promise.all(node.getConnections().filter(c => denied.has(c.remotePeer.toString())).map(async c => { await c.close().catch(() => c.abort(new Error('partitioned'))) }))
            log.info({ denied: deny.length }, 'partition set (fault hook)')
          },
          pause: async (paused: boolean): Promise<void> => { nodeTasks.pause(paused) },
          dial: async (addrs: string[]): Promise<void> => {
            await Promise.all(addrs.map(async a => { await node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }).catch(() => {}) }))
          }
        }
      : undefined

    api = await startApiServer({
      port: config.apiPort,
      token,
      log: log.child({ component: 'node:api' }),
      handlers: { status, peers, members, revocations, installRevocation, installCertificate, ocr, submit, task, tasks: taskList, results: hash => replica!.results(hash), ...(faults != null ? { faults } : {}) }
    })
    const identity = processIdentity(process.pid)
    await dataDir.writeRuntime({ pid: process.pid, ...(identity != null ? { process: identity } : {}), peerId: peerId.toString(), apiPort: api.port, startedAt: new Date(startedAt).toISOString(), config: { ...config }, ...(options.sources != null ? { sources: options.sources } : {}) })

    const apiPort = api.port
    return { peerId, libp2p: node, apiPort, network, replica, status, peers, installCertificate, ocr, submit, task, tasks: taskList, taskStats, certificateFormationMs: () => nodeTasks.certificateFormationMs(), quorumTimings: () => nodeTasks.quorumTimings(), stop }
  } catch (err) {
    await stop()
    throw err
  }
}
