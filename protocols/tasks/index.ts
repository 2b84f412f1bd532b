/**
 * Work sharing. Every node is an origin (it queues the images submitted to
 * it, in a TaskQueue) and a worker (it runs `capacity` slots that take work).
 *
 * - Origins gossip their load on TASKS_TOPIC: how many tasks wait, and the ids
 *   and hashes of a few of them, never image bytes; their busy and total slots.
 *   An idle node says so every LOAD_HEARTBEAT_MS, and soon after a peer joins
 *   the topic, so every node knows its peers' workers (peerLoads()).
 * - A slot takes from its own node's queue first; otherwise it steals from the
 *   busiest origin it has heard of: a direct stream to TASKS_PROTOCOL asking for
 *   `want` tasks, answered with that many leases (or fewer). It then fetches
 *   the image over the blob protocol and hands it to `process`, which writes
 *   the result into the replicated store. The origin sees the result there and
 *   marks the task done; a lease that runs out is granted again.
 * - With `prefetch`, a slot leases and fetches its next task while the current
 *   one runs, so network round trips hide behind recognition.
 *
 * Wire format on TASKS_PROTOCOL (one length-prefixed JSON request, one reply):
 *   {"kind": "steal", "want": N}               -> {"leases": [{id, hash, file, critical, expiresAt}], "queued": Q, "backups": B}
 *   {"kind": "failed", "id": ID, "reason": T}  -> {"ok": true}   (counts towards MAX_FAILURES)
 *   {"kind": "release", "id": ID}              -> {"ok": true}   (the image could not be fetched: no blame)
 *
 * The folder, one concern a file:
 * - index.ts: this service's public face (init, components, interface) and its lifecycle
 * - origin.ts: the origin's side (gossiping the load, serving requests, expiring leases)
 * - worker.ts: the worker's side (slots: taking, stealing, backing up, fetching, processing)
 * - wire.ts: the messages' schemas; constants.ts: limits and timings
 * - policy.ts: the scheduling decisions as pure functions
 * - queue.ts, record.ts: the origin's tasks and images in LevelDB
 *
 * @example
 * ```ts
 * const queue = await TaskQueue.open(path, { self: node.peerId.toString() })
 * const tasks = taskService({ queue, blobs, process: async (work, image) => { ... } })({ node, log })
 * await tasks.start()
 * tasks.submitted() // after queue.add(...)
 * ```
 */
import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { BlobService } from '../blob/index.js'
import type { ComponentLog } from '../log.js'
import {
  TASKS_PROTOCOL, TASKS_TOPIC, TASKS_MAX_INBOUND_STREAMS, TASKS_MAX_OUTBOUND_STREAMS,
  DEFAULT_ANNOUNCE_MS, DEFAULT_CAPACITY, DEFAULT_PREFETCH
} from './constants.js'
import { TaskOrigin } from './origin.js'
import type { TaskQueue } from './queue.js'
import type { PeerLoad, WorkItem } from './wire.js'
import { TaskWorker } from './worker.js'

export * from './constants.js'
export { TaskQueue, TaskRecord, newTaskId, type TaskState, type QueueStats, type TaskQueueInit } from './queue.js'
export type { PeerLoad, WorkItem } from './wire.js'

export interface TaskServiceInit {
  /** this node's own tasks, which the origin's side shares out */
  queue: TaskQueue
  /** fetches the images of tasks stolen from other origins */
  blobs: BlobService
  /** Recognise one image and write its result to the replicated store; reject if it cannot be processed. */
  process: (work: WorkItem, image: Uint8Array) => Promise<void>
  /** May this peer be leased tasks? (members only in a private network) @default everyone */
  admits?: (peer: string) => boolean
  /** concurrent tasks on this node @default DEFAULT_CAPACITY */
  capacity?: number
  /** tasks a slot leases and fetches ahead while one runs (0 or 1) @default DEFAULT_PREFETCH */
  prefetch?: number
  /** how often (ms) the load is gossiped while tasks wait @default DEFAULT_ANNOUNCE_MS */
  announceMs?: number
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
}

/** What the service needs of the node. */
export interface TaskServiceComponents {
  node: Pick<Libp2p<{ pubsub: GossipSub }>, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'services'>
  log: ComponentLog
}

export interface TaskServiceStats {
  running: number
  capacity: number
  /** tasks this node has finished, its own and stolen */
  processed: number
  stolen: number
  failed: number
  /** origins with waiting work, as last heard */
  origins: Array<{ peer: string, queued: number, ageMs: number }>
}

export interface TaskService {
  /** Serve TASKS_PROTOCOL, join TASKS_TOPIC and start the slots; a second call does nothing. */
  start(): Promise<void>
  /** Stop taking work; resolves when running tasks have finished. Does nothing unless started, or once stopped. */
  stop(): Promise<void>
  /**
   * Hold this node's queue (simnet: fill it before the clock starts): no work
   * is taken from it or granted, and it is announced as empty.
   */
  pause(paused: boolean): void
  /** A task was added to this node's queue: wake the slots and tell the network. */
  submitted(): void
  stats(): TaskServiceStats
  /** what each connected peer last said of its load: queued tasks, busy and total worker slots */
  peerLoads(): Map<string, PeerLoad>
}

class TasksService implements TaskService {
  /** read by both sides; pause() and stop() set it */
  private readonly state = { paused: false, stopped: false }
  private readonly origin: TaskOrigin
  private readonly worker: TaskWorker
  private started = false
  /** may this peer be leased tasks and hear this node's load (undefined: everyone) */
  private readonly admits: ((peer: string) => boolean) | undefined

  constructor (private readonly components: TaskServiceComponents, init: TaskServiceInit) {
    const { node, log } = components
    this.admits = init.admits
    const capacity = init.capacity ?? DEFAULT_CAPACITY
    this.worker = new TaskWorker({
      node,
      log,
      self: node.peerId.toString(),
      queue: init.queue,
      blobs: init.blobs,
      process: async (work, image) => { await init.process(work, image) },
      admits: init.admits,
      random: init.random ?? Math.random,
      capacity,
      prefetch: Math.min(1, Math.max(0, init.prefetch ?? DEFAULT_PREFETCH)),
      state: this.state,
      grantedLocally: () => {
        this.origin.scheduleExpiry()
        this.origin.announceIfDrained()
      }
    })
    this.origin = new TaskOrigin({
      node,
      log,
      queue: init.queue,
      admits: init.admits,
      announceMs: init.announceMs ?? DEFAULT_ANNOUNCE_MS,
      capacity,
      state: this.state,
      running: () => this.worker.runningTasks(),
      wake: () => { this.worker.wake() }
    })
  }

  readonly [Symbol.toStringTag] = 'texmesh:tasks'

  /** A peer that joins TASKS_TOPIC is told this node's load (its workers) without waiting for the heartbeat. */
  private readonly onSubscription = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (this.admits?.(evt.detail.peerId.toString()) === false) return
    if (evt.detail.subscriptions.some(s => s.topic === TASKS_TOPIC && s.subscribe)) this.origin.greet()
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { node } = this.components
    await node.handle(TASKS_PROTOCOL, (stream: Stream, connection: Connection) => { void this.origin.serve(stream, connection) }, {
      maxInboundStreams: TASKS_MAX_INBOUND_STREAMS, maxOutboundStreams: TASKS_MAX_OUTBOUND_STREAMS
    })
    node.services.pubsub.subscribe(TASKS_TOPIC)
    node.services.pubsub.addEventListener('message', this.worker.onMessage)
    node.services.pubsub.addEventListener('subscription-change', this.onSubscription)
    this.origin.start()
    this.worker.start()
  }

  async stop (): Promise<void> {
    if (!this.started || this.state.stopped) return
    this.state.stopped = true
    const { node } = this.components
    this.origin.stop()
    this.worker.interrupt()
    node.services.pubsub.removeEventListener('message', this.worker.onMessage)
    node.services.pubsub.removeEventListener('subscription-change', this.onSubscription)
    node.services.pubsub.unsubscribe(TASKS_TOPIC)
    await node.unhandle(TASKS_PROTOCOL)
    await this.worker.drained()
  }

  pause (paused: boolean): void {
    this.state.paused = paused
    if (!paused) this.worker.wake()
    this.origin.announce()
  }

  submitted (): void {
    this.worker.wake()
    this.origin.announce()
    this.origin.scheduleExpiry()
  }

  stats (): TaskServiceStats {
    return this.worker.stats()
  }

  peerLoads (): Map<string, PeerLoad> {
    return this.worker.peerLoads()
  }
}

/**
 * Work sharing for one node: `init` holds what is this node's (its queue, blob service, how it
 * processes an image), `components` what the service needs of the libp2p node.
 */
export function taskService (init: TaskServiceInit): (components: TaskServiceComponents) => TaskService {
  return (components) => new TasksService(components, init)
}
