import type { PeerId } from '@libp2p/interface'
import { adminPublicKeyOf, DataDir, processIdentity } from '../datadir/datadir.js'
import { buildLibp2p, describeListenError, type TexmeshLibp2p } from './libp2p.js'
import { PeerKeeper } from './peer-keeper.js'
import { membershipView, startApiServer, type ApiPeer, type ApiServer, type ApiStatus } from './api.js'
import type { NodeConfig } from '../datadir/config.js'
import type { Log } from '../log.js'
import type { NetworkDescriptor } from '../datadir/invite.js'
import type { MembershipCertificate, PeerMembership } from '../../protocols/membership/index.js'
import type { ExchangedPeer } from '../../protocols/peer-exchange/index.js'
import { VERSION } from '../version.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import { pipelineCompute, shippedModelVersion, type Compute } from './compute.js'
import { NodeTasks, type TaskView, type TasksStats } from './work.js'
import type { ResultView } from './task-view.js'
import type { ReviewOutcome } from '../../review/served.js'
import type { QuorumTimings } from '../../protocols/votes/index.js'
import type { Replica } from '../../crdt/replica.js'
import { CRDT_SYNC_PROTOCOL, crdtSync, type CrdtSync } from '../../protocols/crdt-sync/index.js'
import type { NodeHooks } from './hooks.js'
import { Trust } from './trust.js'
import { Reviews } from './reviews.js'
import { releaseFreedMemory } from '../../util/release-memory.js'
import { FormulaMemory, type FormulaHit, type MemoryStart } from './memory.js'
import { ImageMemory, searchByImage } from './image-memory.js'
import { NodeDocuments } from './documents.js'
import { mayRemember, rememberedAnswer, reuseFromMemory } from './reuse.js'
import { calibrationView, NetworkCalibration } from './calibration.js'
import { openPeerStore, openReplica } from './storage.js'
import { faultHandlers } from './faults.js'
import { peersView, trackLatency } from './views.js'
import { NodeMetrics } from './metrics.js'
import { withExpiry } from '../../protocols/membership/index.js'
import { checkCertificate } from '../cli/verify.js'

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
  /** Formulas like `latex` among everything the store holds (node/daemon/memory.ts). */
  search(latex: string, k?: number): FormulaHit[]
  /** search by image (POST /v1/search/image): the formulas of the most similar images read before */
  searchImage(image: Buffer, k: number): Promise<{ images: number, hits: FormulaHit[] }>
  /** how the formula memory started (from its saved copy, repaired from the store, or built), once it holds the whole store */
  readonly memoryStarted: Promise<MemoryStart>
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

/** Logs each peer's membership once per change of state (both ends of a connection exchange certificates). */
function peerStateLogger (peerLog: Log): (peer: PeerId, membership: PeerMembership) => void {
  /** the membership state last logged per peer (bounded) */
  const peerStates = new Map<string, string>()
  return (peer, membership) => {
    const said = `${membership.state}:${membership.state === 'refused' ? membership.reason : ''}`
    if (peerStates.get(peer.toString()) === said) return
    peerStates.delete(peer.toString())
    peerStates.set(peer.toString(), said)
    for (const old of peerStates.keys()) { if (peerStates.size <= 4096) break; peerStates.delete(old) }
    if (membership.state === 'refused') peerLog.warn({ peer: peer.toString(), reason: membership.reason, detail: membership.detail }, 'membership certificate refused')
    else peerLog.info({ peer: peer.toString(), state: membership.state }, 'peer membership')
  }
}

export async function startNode (options: NodeOptions): Promise<RunningNode> {
  const { config, log } = options
  // The model first: a node with a model folder it cannot use refuses to start before it holds
  // anything. One onnxruntime session per process, loaded when the first image arrives.
  const hooks = options.hooks ?? {}
  const compute: Compute = hooks.compute ?? pipelineCompute(await shippedModelVersion(), config.workers)
  const dataDir = new DataDir(options.dataDir)
  await dataDir.ensure()
  const datastore = await openPeerStore(dataDir)
  const startedAt = Date.now()
  let libp2p: TexmeshLibp2p | undefined
  let api: ApiServer | undefined
  let keeper: PeerKeeper | undefined
  let stopping: Promise<void> | undefined
  let tasks: NodeTasks | undefined
  let replica: Replica | undefined
  let sync: CrdtSync | undefined
  let calibration: NetworkCalibration | undefined
  let reviewsOf: Reviews | undefined
  let memory: FormulaMemory | undefined
  let imageMemory: ImageMemory | undefined
  let documents: NodeDocuments | undefined

  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      keeper?.stop()
      await api?.close().catch(err => log.warn({ err }, 'closing the API failed'))
      // A document being prepared stops where it is (its record says interrupted).
      await documents?.stop()
      // Running tasks finish and write their results before the store closes.
      await tasks?.stop().catch(err => log.warn({ err }, 'stopping task sharing failed'))
      await calibration?.stop()
      reviewsOf?.stop()
      memory?.stop()
      imageMemory?.stop()
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
    const trust = new Trust(peerId, network, await dataDir.certificate(), dataDir, log)
    const token = await dataDir.apiToken()
    const bootstrap = [...new Set([...config.bootstrap, ...(network?.bootstrap ?? [])])]
      .filter(addr => !addr.endsWith(`/p2p/${peerId.toString()}`))

    const storeLog = log.child({ component: 'crdt' })
    replica = await openReplica(dataDir, key, trust, storeLog)
    // What the start set aside (stored data never stops a start): said once here, and in status.
    const quarantined = await replica.quarantined()
    for (const q of quarantined) storeLog.warn({ author: q.author, reason: q.reason, key: q.key }, 'a stored store update was set aside (quarantined)')
    await trust.publishCertificate()
    // Formula memory: every formula the store holds, searchable by similarity (memory/); and the
    // image memory (every result's image embedding). Made here, following the store from now on.
    const memoryLog = log.child({ component: 'node:memory' })
    const formulas = memory = new FormulaMemory(replica, (hash, author) => tasks?.certifiedHolds(hash, author) ?? false, memoryLog, trust.reviewers, dataDir.paths.memory)
    // Built in slices once the node serves (begin() below): search answers 503 until it is done.
    formulas.ready.then(started => { memoryLog.info({ ...started }, started.from === 'saved' ? 'formula memory loaded' : 'formula memory built') },
      (err: unknown) => { if (!stopping) memoryLog.error({ err }, 'building the formula memory failed: search is not available') })
    const images = imageMemory = new ImageMemory(replica)

    let onMember: (peer: PeerId) => void = () => {}
    let offerPeers: (peers: ExchangedPeer[]) => void = () => {}
    const logPeerState = peerStateLogger(log.child({ component: 'protocols:membership' }))
    const denied = new Set<string>()
    const node = await buildLibp2p({
      privateKey: key,
      listen: config.listen,
      bootstrap,
      model: compute.model,
      mdns: config.mdns,
      onLanPeer: (peer) => { keeper?.discovered(peer) },
      network,
      datastore,
      membership: {
        network: trust.admin,
        certificate: () => trust.certificate,
        onPeerState: (peer, membership) => {
          logPeerState(peer, membership)
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
    const pinged = trackLatency(node)

    await trust.attachMembership(peer => node.services.membership.stateOf(peer))
    sync = crdtSync({ store: replica, ...(hooks.random != null ? { random: hooks.random } : {}) })({ node, log: log.child({ component: 'protocols:crdt-sync' }) })
    await sync.start()
    // A peer just shown to be a member: fetch what it has (its envelopes were refused before).
    onMember = (peer) => { void sync?.pull(peer) }

    const store = replica
    const metrics = new NodeMetrics({
      version: VERSION,
      model: compute.model,
      tasks: () => tasks!.stats(),
      quorum: () => tasks!.quorumTimings(),
      equivocators: () => tasks?.equivocators().size ?? 0,
      peers: () => node.getPeers().map(p => withExpiry(node.services.membership.stateOf(p), Date.now()).state),
      store: { size: map => store.size(map), heldEnvelopes: () => store.heldEnvelopes(), heldSince: () => store.heldSince(), unstoredChanges: () => store.unstoredChanges() }
    })
    replica.subscribe(change => { metrics.noteStoreChange(change) })
    const timed = metrics.timed(compute)

    // People's reviews: served in place of (or beside) the answers they review (review/served.ts),
    // and the confidence curve the network fits on them (review/calibration.ts).
    const netCalibration = calibration = new NetworkCalibration(replica, log.child({ component: 'node:calibration' }), trust.reviewers)
    const reviews: Reviews = reviewsOf = new Reviews({
      replica,
      reviewers: trust.reviewers,
      refusal: () => trust.selfVotes() ? undefined : `this node is not a member of network ${network?.name ?? '?'} (texmesh network install-cert): the others would refuse its reviews`,
      answer: async (target: string): Promise<{ hash: string, result: ResultView } | undefined> => await nodeTasks.answer(target)
    })
    // Changes to tasks and to what their views are made of, for the web interface's event stream.
    const taskChanges = new Set<() => void>()
    const taskChanged = (): void => { for (const l of taskChanges) l() }
    replica.subscribe(taskChanged)
    // Near-duplicate reuse (reuse.ts): images nearly identical to one whose answer the network stands by.
    const served = async (hash: string): Promise<ResultView | undefined> => (await nodeTasks.answer(hash))?.result
    const reuseInit = {
      images,
      mayRemember: (hash: string) => mayRemember(store, hash),
      remembered: async (hash: string) => rememberedAnswer(await served(hash), by => nodeTasks.certifiedHolds(hash, by)),
      compute: timed,
      log: log.child({ component: 'node:memory' })
    }
    const nodeTasks: NodeTasks = tasks = await NodeTasks.open({
      onChange: taskChanged,
      reuse: async (image, file, read) => await reuseFromMemory(reuseInit, image, file, read),
      node,
      replica,
      compute: timed,
      path: dataDir.paths.tasks,
      votesPath: dataDir.paths.votes,
      workers: config.workers,
      leaseMs: config.leaseMs,
      admits: peer => trust.isMember(peer),
      reviewOf: (hash, answer): ReviewOutcome | undefined => reviews.outcome(hash, answer),
      calibrate: (model, confidence) => netCalibration.calibrate(model, confidence),
      known: () => reviews.knownFormulas(),
      autoThreshold: model => netCalibration.autoThreshold(model),
      ...(hooks.random != null ? { random: hooks.random } : {}),
      log: log.child({ component: 'node:tasks' }),
      rootLog: log,
      quorum: {
        key,
        f: config.quorumF,
        criticalBelow: config.criticalBelow,
        ...(trust.admin != null ? { network: trust.admin } : {}),
        // Voters: this node when it is a member, and every connected member.
        eligible: () => [
          ...(trust.selfVotes() ? [peerId.toString()] : []),
          ...node.getPeers().map(String).filter(p => trust.isMember(p))
        ],
        isMember: peer => peer === peerId.toString() || trust.isMember(peer),
        revokedAt: peer => trust.revokedAt(peer),
        // Not connected any more: the certificate it published in the replicated store.
        certificateOf: peer => trust.certificateOf(peer, p => node.services.membership.certificateOf(p)),
        ...(hooks.tamper != null ? { tamper: hooks.tamper(key) } : {})
      }
    })

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
        ? { name: network.name, private: true, admin: network.admin, membership: membershipView(trust.ownMembership() ?? { state: 'none' }) }
        : { name: null, private: false },
      peers: node.getPeers().length,
      version: VERSION,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      dataDir: dataDir.paths.root,
      model: compute.model,
      tasks: nodeTasks.stats(),
      quorum: nodeTasks.quorumTimings(),
      store: { results: store.size('results'), corrections: store.size('corrections') },
      memory: { formulas: formulas.size, loading: formulas.loading || images.loading, behind: formulas.behind, ...(formulas.failed != null ? { failed: formulas.failed } : {}) },
      quarantined: quarantined.map(q => ({ author: q.author, reason: q.reason, time: new Date(q.time).toISOString(), bytes: q.bytes }))
    })
    const peers = async (): Promise<ApiPeer[]> => await peersView(node, pinged, nodeTasks.equivocators(), nodeTasks.peerLoads())
    const installCertificate = async (text: string): Promise<MembershipCertificate> => {
      const installed = await trust.installCertificate(text)
      void node.services.membership.reannounce()
      return installed
    }
    const ocr = async (image: Buffer, options: { beam?: number, file: string }): Promise<OcrResult> => {
      // The embedding is formula memory's (results carry it); a reading here answers without it.
      const { embedding: _, ...result } = await timed.recognize(image, options.file, options.beam != null ? { beam: options.beam } : {})
      log.debug({ file: options.file, ms: result.ms, regions: result.regions.length }, 'recognised an image')
      return result
    }
    // Search by image (image-memory.ts): each image's answer as this node serves it.
    const searchImage = async (image: Buffer, k: number): Promise<{ images: number, hits: FormulaHit[] }> => await searchByImage({
      images,
      compute: timed,
      answerOf: async hash => {
        const answer = await served(hash)
        if (answer == null) return undefined
        const state = answer.review?.state
        return { latex: answer.latex, kind: state === 'corrected' ? 'correction' : state === 'confirmed' ? 'confirmation' : 'result', certified: answer.certificate != null && nodeTasks.certifiedHolds(hash, answer.by) }
      }
    }, image, k)
    const docs = documents = new NodeDocuments(dataDir.paths.documents, nodeTasks, log.child({ component: 'node:documents' }))
    const submit = async (image: Buffer, options: { file: string, critical: boolean }): Promise<TaskView> => await nodeTasks.submit(image, options)
    const task = async (id: string): Promise<TaskView | undefined> => await nodeTasks.get(id)
    const taskList = async (limit: number): Promise<TaskView[]> => await nodeTasks.list(limit)
    const taskStats = (): TasksStats => nodeTasks.stats()
    const faults = hooks.faults === true ? faultHandlers(node, nodeTasks, denied, log) : undefined

    api = await startApiServer({
      port: config.apiPort,
      token,
      log: log.child({ component: 'node:api' }),
      handlers: {
        status,
        peers,
        members: async () => await trust.members(new Set(node.getPeers().map(String)), nodeTasks.equivocators()),
        revocations: async () => await trust.revocations(),
        installRevocation: async (text) => await trust.installRevocation(text),
        installCertificate,
        ocr,
        submit,
        task,
        tasks: taskList,
        results: hash => store.results(hash),
        verify: async (id) => {
          const t = await nodeTasks.get(id)
          if (t == null) return undefined
          if (t.result?.certificate == null) return { ok: false, reason: 'no-certificate', detail: `task ${id} has no quorum certificate (state ${t.state}${t.critical ? '' : ', not critical'})` }
          const known = [...await dataDir.revocations(), ...(await trust.revocations()).map(r => r.revocation)]
          const admin = network != null ? { name: network.name, adminPublicKey: adminPublicKeyOf(network) } : undefined
          return await checkCertificate(t.result.certificate, { latex: t.result.latex, hash: t.hash, model: t.result.model }, { network: admin, known })
        },
        metrics: async () => ({ contentType: metrics.contentType, text: await metrics.text() }),
        memory: { search: (latex, k) => formulas.search(latex, k), size: () => formulas.size, searchImage },
        documents: docs,
        changes: listener => { taskChanges.add(listener); return () => { taskChanges.delete(listener) } },
        reviews: {
          review: async (target, request) => await reviews.review(target, request),
          reviews: hash => reviews.list(hash),
          stats: () => reviews.stats().map(s => ({ ...s, calibration: calibrationView(netCalibration.curve(s.model)) })),
          reviewed: () => reviews.reviewed(),
          image: async hash => await nodeTasks.image(hash)
        },
        ...(faults != null ? { faults } : {})
      }
    })
    const identity = processIdentity(process.pid)
    await dataDir.writeRuntime({ pid: process.pid, ...(identity != null ? { process: identity } : {}), peerId: peerId.toString(), apiPort: api.port, startedAt: new Date(startedAt).toISOString(), config: { ...config }, ...(options.sources != null ? { sources: options.sources } : {}) })

    const apiPort = api.port
    // The node serves: its memories are built from the store now, in slices beside its work.
    formulas.begin()
    images.begin()
    // Building them freed far more than they keep: given back once both are done (util/release-memory.ts).
    Promise.all([formulas.ready, images.ready]).then(() => {
      if (stopping) return
      const r = releaseFreedMemory()
      memoryLog.info({ ms: Math.round(r.ms), rssMiB: Math.round(r.rssAfter / 2 ** 20), givenBackMiB: Math.round((r.rssBefore - r.rssAfter) / 2 ** 20) }, 'memory freed while the memories were built given back')
    }).catch((err: unknown) => { if (!stopping) memoryLog.debug({ err }, 'the memories failed, or giving back memory did') })
    return { peerId, libp2p: node, apiPort, network, replica, status, peers, installCertificate, search: (latex, k) => formulas.search(latex, k), searchImage, memoryStarted: formulas.ready, ocr, submit, task, tasks: taskList, taskStats, certificateFormationMs: () => nodeTasks.certificateFormationMs(), quorumTimings: () => nodeTasks.quorumTimings(), stop }
  } catch (err) {
    await stop()
    throw err
  }
}
