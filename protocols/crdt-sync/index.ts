/**
 * Replicated-store sync: new envelopes travel on a gossipsub topic; a node
 * that connects (or reconnects after a partition) catches up over a direct
 * stream. The puller says how far it has each log ({"AUTHOR!INCARNATION":
 * last position}) and the other side streams the envelopes it lacks, each as
 * one length-prefixed message, then an empty message. One answer holds at
 * most PAGE_BYTES of envelopes (plus the one that crosses it): libp2p streams
 * have no read-side flow control, so the reader must be able to buffer a whole
 * answer. A puller that got a full page asks for the next at once, saying it
 * has what the last page held (applied or not: an envelope it cannot apply yet,
 * from a member whose certificate has not arrived, say, must not fill every
 * page), for as long as pages move on. Both sides pull when
 * they meet (and once more PULL_AGAIN_MS later), and every ANTI_ENTROPY_MS a
 * node pulls from one random peer, so what gossip dropped is repaired.
 *
 * The store (crdt/replica.ts) does all checking; this module only moves bytes.
 *
 * @example
 * ```ts
 * const sync = crdtSync({ store: replica })({ node, log: log.child({ component: 'protocols:crdt-sync' }) })
 * await sync.start()
 * await sync.pull(peerId) // how many envelopes were applied
 * ```
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import type { ComponentLog } from '../log.js'
import {
  ANTI_ENTROPY_MS, CRDT_SYNC_MAX_STREAMS, CRDT_SYNC_PROTOCOL, CRDT_TOPIC, MAX_ANSWER_BYTES, MAX_ENVELOPE_MESSAGE,
  MAX_HEADS_BYTES, PAGE_BYTES, PULL_AGAIN_MS, PULL_RETRIES, PULL_RETRY_MS, SYNC_TIMEOUT_MS
} from './constants.js'

export * from './constants.js'

export interface SyncStore {
  heads(): Record<string, number>
  missing(theirs: Readonly<Record<string, number>>): AsyncIterable<Uint8Array>
  receive(bytes: Uint8Array): Promise<{ status: string }>
  /** the log of an envelope and its last position (undefined: not an envelope) */
  position(bytes: Uint8Array): { log: string, seq: number } | undefined
  onEnvelope(listener: (bytes: Uint8Array) => void): () => void
}

export interface CrdtSyncInit {
  /** the replicated store whose envelopes this moves (crdt/replica.ts) */
  store: SyncStore
  /** the random source for the anti-entropy peer (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
}

export interface CrdtSyncComponents {
  /** the libp2p node, its gossipsub as `services.pubsub` */
  node: Pick<Libp2p<{ pubsub: GossipSub }>, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers' | 'getConnections' | 'addEventListener' | 'removeEventListener' | 'services'>
  log: ComponentLog
}

export interface CrdtSync {
  /** Start serving and syncing; a second call, or one after stop, does nothing. */
  start(): Promise<void>
  /** Stop; a second call does nothing. */
  stop(): Promise<void>
  /** Ask `peer` for every envelope this node lacks. Resolves with how many were applied. */
  pull(peer: PeerId): Promise<number>
}

const Heads = z.record(z.string().max(256), z.number().int().min(-1))

class CrdtSyncService implements CrdtSync {
  private readonly node: CrdtSyncComponents['node']
  private readonly log: ComponentLog
  private readonly store: SyncStore
  private readonly random: () => number
  private readonly timers = new Set<ReturnType<typeof setInterval>>()
  private readonly pulling = new Set<string>()
  /** peers asked for again while a pull from them was running: pulled once more when it ends */
  private readonly pullAgain = new Set<string>()
  private unsubscribe: () => void = () => {}
  private started = false
  private stopped = false

  constructor (components: CrdtSyncComponents, init: CrdtSyncInit) {
    this.node = components.node
    this.log = components.log
    this.store = init.store
    this.random = init.random ?? Math.random
    this.onMessage = this.onMessage.bind(this)
    this.onIdentify = this.onIdentify.bind(this)
  }

  /** Start serving and syncing; a second call, or one after stop, does nothing. */
  async start (): Promise<void> {
    if (this.started || this.stopped) return
    this.started = true
    await this.node.handle(CRDT_SYNC_PROTOCOL, (stream: Stream, connection: Connection) => { void this.serve(stream, connection) }, { maxInboundStreams: CRDT_SYNC_MAX_STREAMS, maxOutboundStreams: CRDT_SYNC_MAX_STREAMS })
    this.node.services.pubsub.subscribe(CRDT_TOPIC)
    this.node.services.pubsub.addEventListener('message', this.onMessage)
    this.node.addEventListener('peer:identify', this.onIdentify)
    this.unsubscribe = this.store.onEnvelope(bytes => {
      this.node.services.pubsub.publish(CRDT_TOPIC, bytes).catch(err => { this.log.debug({ err }, 'publishing an envelope failed') })
    })
    const timer = setInterval(() => {
      const peers = this.node.getPeers()
      const peer = peers[Math.floor(this.random() * peers.length)]
      if (peer != null) void this.pull(peer)
    }, ANTI_ENTROPY_MS)
    timer.unref()
    this.timers.add(timer)
    // Peers that connected before this started were identified without it listening.
    for (const peer of this.node.getPeers()) void this.pull(peer)
  }

  /** Stop; a second call does nothing. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (!this.started) return
    for (const t of this.timers) clearInterval(t)
    this.unsubscribe()
    this.node.removeEventListener('peer:identify', this.onIdentify)
    this.node.services.pubsub.removeEventListener('message', this.onMessage)
    this.node.services.pubsub.unsubscribe(CRDT_TOPIC)
    await this.node.unhandle(CRDT_SYNC_PROTOCOL)
  }

  private onMessage (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void {
    if (evt.detail.topic !== CRDT_TOPIC) return
    this.store.receive(evt.detail.data).catch(err => { this.log.warn({ err }, 'applying a gossiped envelope failed') })
  }

  private onIdentify (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void {
    if (!evt.detail.protocols.includes(CRDT_SYNC_PROTOCOL)) return
    const peer = evt.detail.peerId
    void this.pull(peer)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.stopped && this.node.getConnections(peer).length > 0) void this.pull(peer)
    }, PULL_AGAIN_MS)
    timer.unref()
    this.timers.add(timer)
  }

  /**
   * Ask `peer` for every envelope this node lacks. Resolves with how many were
   * applied. `after`: positions already received in earlier pages of this catch-up.
   */
  async pull (peer: PeerId, attempt = 0, after: Record<string, number> = {}): Promise<number> {
    const id = peer.toString()
    if (this.stopped) return 0
    if (this.pulling.has(id)) {
      // The running pull may have been served before what this one is for was written.
      this.pullAgain.add(id)
      return 0
    }
    this.pulling.add(id)
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    let stream: Stream | undefined
    let applied = 0
    let next: Record<string, number> | undefined
    try {
      stream = await this.node.dialProtocol(peer, CRDT_SYNC_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_MESSAGE, maxBufferSize: MAX_ANSWER_BYTES })
      const heads = this.store.heads()
      for (const [log, seq] of Object.entries(after)) heads[log] = Math.max(heads[log] ?? -1, seq)
      await lp.write(encodeJson(heads), { signal })
      let bytes = 0
      const reached = { ...after }
      let moved = false
      for (;;) {
        const msg = (await lp.read({ signal })).subarray()
        if (msg.length === 0) break
        bytes += msg.length
        const at = this.store.position(msg)
        // Nodes answer with envelopes only: whatever else comes, the rest of the answer is not read
        // (each frame would be a refusal logged: a line of log for every 2 bytes a hostile peer sends).
        if (at == null) throw new Error('the answer holds something that is not a store envelope')
        if (at.seq > (heads[at.log] ?? -1)) {
          reached[at.log] = Math.max(reached[at.log] ?? -1, at.seq)
          moved = true
        }
        const r = await this.store.receive(msg)
        if (r.status === 'applied') applied++
      }
      await stream.close({ signal })
      if (bytes >= PAGE_BYTES && moved) next = reached
      if (applied > 0) this.log.debug({ peer: id, applied, more: next != null }, 'caught up')
    } catch (err) {
      this.log.debug({ peer: id, err, attempt }, 'catching up failed')
      stream?.abort(err as Error)
      // A catch-up that broke off (a reset stream, a peer busy starting) is tried again soon,
      // rather than waiting for the next anti-entropy round.
      if (attempt < PULL_RETRIES && !this.stopped) {
        const timer = setTimeout(() => {
          this.timers.delete(timer)
          if (!this.stopped && this.node.getConnections(peer).length > 0) void this.pull(peer, attempt + 1)
        }, PULL_RETRY_MS * (attempt + 1))
        timer.unref()
        this.timers.add(timer)
      }
    } finally {
      this.pulling.delete(id)
      // The next page, while pages move on; or again from the start, when asked during this pull.
      const again = this.pullAgain.delete(id)
      if ((again || next != null) && !this.stopped && this.node.getConnections(peer).length > 0) void this.pull(peer, 0, again ? {} : next)
    }
    return applied
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_HEADS_BYTES, maxBufferSize: MAX_HEADS_BYTES + 16 })
      const request = (await lp.read({ signal })).subarray()
      const heads = Heads.parse(decodeJson(request))
      let sent = 0
      for await (const bytes of this.store.missing(heads)) {
        await lp.write(bytes, { signal })
        sent += bytes.length
        if (sent >= PAGE_BYTES) break
      }
      await lp.write(new Uint8Array(0), { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log.debug({ peer: connection.remotePeer.toString(), err }, 'serving a catch-up failed')
      stream.abort(err as Error)
    }
  }
}

export function crdtSync (init: CrdtSyncInit): (components: CrdtSyncComponents) => CrdtSync {
  return (components) => new CrdtSyncService(components, init)
}
