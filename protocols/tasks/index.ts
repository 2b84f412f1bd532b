/**
 * Work sharing. Every node is an origin (it queues the images submitted to
 * it, in a TaskQueue) and a worker (it runs `capacity` slots that take work).
 *
 * - Origins gossip their load on TASKS_TOPIC: how many tasks wait, and the ids
 *   and hashes of a few of them, never image bytes.
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
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import { BlobError, type BlobService } from '../blob/index.js'
import { SHA256_HEX } from '../../util/sha256.js'
import type { TaskQueue, TaskRecord } from './queue.js'
import { TASKS_PROTOCOL, TASKS_TOPIC, MAX_REQUEST_BYTES, MAX_REPLY_BYTES, MAX_GRANT, MAX_ANNOUNCED, MAX_LOAD_MESSAGE_BYTES, STEAL_TIMEOUT_MS, DEFAULT_ANNOUNCE_MS, IDLE_POLL_MS, ANNOUNCE_MIN_MS, MAX_ORIGINS, FETCH_BACKOFF_MS } from './constants.js'
import { fetchBackoffMs, originsWithWork, weightedChoice } from './policy.js'
import type { ComponentLog } from '../log.js'

export * from './constants.js'

export interface WorkItem {
  /** the origin's peer id (this node's own for local tasks) */
  origin: string
  id: string
  hash: string
  file: string
  critical: boolean
  expiresAt: number
}

export interface TaskServiceInit {
  queue: TaskQueue
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
  blobs: BlobService
  /** Recognise one image and write its result to the replicated store; reject if it cannot be processed. */
  process: (work: WorkItem, image: Uint8Array) => Promise<void>
  /** May this peer be leased tasks? (members only in a private network) @default everyone */
  admits?: (peer: string) => boolean
  /** concurrent tasks on this node @default 1 */
  capacity?: number
  /** tasks a slot leases and fetches ahead while one runs (0 or 1) @default 1 */
  prefetch?: number
  /** @default DEFAULT_ANNOUNCE_MS */
  announceMs?: number
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

const Lease = z.object({
  id: z.string().max(64),
  hash: z.string().regex(SHA256_HEX),
  file: z.string().max(1024),
  critical: z.boolean(),
  expiresAt: z.number()
}).strict()
const Request = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('steal'), want: z.number().int().min(1).max(MAX_GRANT), backups: z.boolean().optional() }).strict(),
  z.object({ kind: z.literal('failed'), id: z.string().max(64), reason: z.string().max(512) }).strict(),
  z.object({ kind: z.literal('release'), id: z.string().max(64) }).strict()
])
const StealReply = z.object({
  leases: z.array(Lease).max(MAX_GRANT),
  /** the origin's load after this grant, so a thief knows whether to come back without waiting for gossip */
  queued: z.number().int().nonnegative().optional(),
  backups: z.number().int().nonnegative().optional()
}).strict()
const LoadMessage = z.object({
  v: z.literal(1),
  queued: z.number().int().nonnegative(),
  running: z.number().int().nonnegative(),
  capacity: z.number().int().nonnegative(),
  /** leased tasks that could take a backup worker */
  backups: z.number().int().nonnegative(),
  tasks: z.array(z.object({ id: z.string().max(64), hash: z.string().regex(SHA256_HEX) }).strict()).max(MAX_ANNOUNCED)
}).strict()

type TasksNode = Libp2p<{ pubsub: GossipSub }>

export class TaskService {
  private readonly self: string
  private readonly capacity: number
  private readonly prefetch: number
  private readonly announceMs: number
  private readonly load = new Map<string, { queued: number, backups: number, at: number }>()
  private paused = false
  private readonly slots: Array<Promise<void>> = []
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private wakers: Array<() => void> = []
  /** slots pausing after a failure, ended early only by stop() */
  private readonly stopWaiters = new Set<() => void>()
  private expiryTimer: ReturnType<typeof setTimeout> | undefined
  private announceQueued = false
  private lastAnnounced = -1
  private lastAnnounceAt = 0
  private running = 0
  private processed = 0
  private stolen = 0
  private failed = 0
  private started = false
  private stopped = false

  constructor (private readonly node: TasksNode, private readonly init: TaskServiceInit) {
    this.self = node.peerId.toString()
    this.capacity = init.capacity ?? 1
    this.prefetch = Math.min(1, Math.max(0, init.prefetch ?? 1))
    this.announceMs = init.announceMs ?? DEFAULT_ANNOUNCE_MS
    this.onMessage = this.onMessage.bind(this)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.node.handle(TASKS_PROTOCOL, (stream: Stream, connection: Connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 32, maxOutboundStreams: 32
    })
    this.node.services.pubsub.subscribe(TASKS_TOPIC)
    this.node.services.pubsub.addEventListener('message', this.onMessage)
    const heartbeat = setInterval(() => {
      if (this.init.queue.queued() > 0 || this.init.queue.backupCandidates() > 0 || this.lastAnnounced !== 0) this.announce()
    }, this.announceMs)
    heartbeat.unref()
    this.timers.add(heartbeat)
    this.scheduleExpiry()
    for (let i = 0; i < this.capacity; i++) this.slots.push(this.slot(i))
  }

  /** Stop taking work; resolves when running tasks have finished. */
  async stop (): Promise<void> {
    if (!this.started || this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
    this.wake()
    for (const done of this.stopWaiters) done()
    this.stopWaiters.clear()
    this.node.services.pubsub.removeEventListener('message', this.onMessage)
    this.node.services.pubsub.unsubscribe(TASKS_TOPIC)
    await this.node.unhandle(TASKS_PROTOCOL)
    await Promise.all(this.slots)
  }

  /**
   * Hold this node's queue (simnet: fill it before the clock starts): no work
   * is taken from it or granted, and it is announced as empty.
   */
  pause (paused: boolean): void {
    this.paused = paused
    if (!paused) this.wake()
    this.announce()
  }

  /** A task was added to this node's queue: wake the slots and tell the network. */
  submitted (): void {
    this.wake()
    this.announce()
    this.scheduleExpiry()
  }

  stats (): TaskServiceStats {
    const now = Date.now()
    return {
      running: this.running,
      capacity: this.capacity,
      processed: this.processed,
      stolen: this.stolen,
      failed: this.failed,
      origins: [...this.load].filter(([, l]) => l.queued > 0).map(([peer, l]) => ({ peer, queued: l.queued, ageMs: now - l.at }))
    }
  }

  private wake (): void {
    const wakers = this.wakers
    this.wakers = []
    for (const w of wakers) w()
  }

  private async idle (ms = IDLE_POLL_MS): Promise<void> {
    await new Promise<void>(resolve => {
      const waker = (): void => { clearTimeout(timer); resolve() }
      const timer = setTimeout(() => {
        this.wakers = this.wakers.filter(w => w !== waker)
        resolve()
      }, ms)
      this.wakers.push(waker)
    })
  }

  /**
   * After a grant. Every node hears every load message (and forwards it to its
   * mesh), so a message per grant would cost the whole network more than the
   * grant itself. Thieves learn the remaining count from their steal replies
   * and everyone else from the heartbeat; only a queue that just ran dry is
   * news worth gossiping at once, so that idle slots stop asking.
   */
  private announceIfDrained (): void {
    if (this.lastAnnounced > 0 && this.init.queue.queued() === 0) this.announce()
  }

  /** Gossip this node's load, at most once per ANNOUNCE_MIN_MS. */
  private announce (): void {
    if (this.announceQueued || this.stopped) return
    this.announceQueued = true
    // Load changes with every grant: at most one message per ANNOUNCE_MIN_MS, the latest counts.
    const wait = Math.max(0, this.lastAnnounceAt + ANNOUNCE_MIN_MS - Date.now())
    const send = (): void => {
      this.announceQueued = false
      this.lastAnnounceAt = Date.now()
      if (this.stopped) return
      const { queued, backups } = this.paused ? { queued: 0, backups: 0 } : this.init.queue.loadCounts()
      this.lastAnnounced = queued
      const msg = {
        v: 1,
        queued,
        running: this.running,
        capacity: this.capacity,
        backups,
        tasks: this.paused ? [] : this.init.queue.peekQueued(MAX_ANNOUNCED)
      }
      this.node.services.pubsub.publish(TASKS_TOPIC, encodeJson(msg)).catch(err => {
        this.init.log.debug({ err: (err as Error).message }, 'publishing load failed')
      })
    }
    if (wait === 0) queueMicrotask(send)
    else setTimeout(send, wait).unref()
  }

  private onMessage (evt: CustomEvent<Message>): void {
    const msg = evt.detail
    if (msg.topic !== TASKS_TOPIC) return
    if (msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === this.self) return
    // Only origins this node would work for: members (anyone, in an open network).
    if (this.init.admits?.(from) === false) return
    if (!this.load.has(from) && this.load.size >= MAX_ORIGINS) return
    if (msg.data.length > MAX_LOAD_MESSAGE_BYTES) {
      this.init.log.debug({ peer: from, bytes: msg.data.length }, 'refused an oversized load message')
      return
    }
    let load
    try {
      load = LoadMessage.parse(decodeJson(msg.data))
    } catch (err) {
      this.init.log.debug({ peer: from, err: (err as Error).message.slice(0, 200) }, 'refused a malformed load message')
      return
    }
    this.load.set(from, { queued: load.queued, backups: load.backups, at: Date.now() })
    if (load.queued > 0 || load.backups > 0) this.wake()
  }

  /** Leases of this node's own expire on its own clock; requeued tasks are announced. */
  private scheduleExpiry (): void {
    if (this.stopped) return
    const next = this.init.queue.nextExpiry()
    if (next == null) return
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined
      this.init.queue.expire().then(n => {
        if (n > 0) {
          this.init.log.info({ tasks: n }, 'leases ran out; granting the tasks again')
          this.wake()
          this.announce()
        }
        this.scheduleExpiry()
      }, err => {
        this.init.log.warn({ err }, 'expiring leases failed; trying again')
        if (this.stopped) return
        if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
        this.expiryTimer = setTimeout(() => { this.scheduleExpiry() }, FETCH_BACKOFF_MS)
        this.expiryTimer.unref()
      })
    }, Math.max(0, next - Date.now()) + 5)
    this.expiryTimer.unref()
  }

  private async slot (index: number): Promise<void> {
    let busy = false
    const ahead = (): boolean => busy
    let next: Promise<Ready | undefined> = this.acquire(ahead)
    for (;;) {
      const current = await next
      if (current == null) return
      // Lease and fetch the next task while this one runs.
      busy = true
      next = this.prefetch > 0 ? this.acquire(ahead) : Promise.resolve(undefined)
      await this.run(current, index)
      busy = false
      // A prefetch still looking for work may now take a backup: let it look again at once.
      if (this.prefetch > 0) this.wake()
      else next = this.acquire(ahead)
    }
  }

  private async run (ready: Ready, slot: number): Promise<void> {
    const { work, image } = ready
    this.running++
    try {
      await this.init.process(work, image)
      this.processed++
      if (work.origin !== this.self) this.stolen++
      this.init.log.debug({ task: work.id, origin: work.origin, slot }, 'processed a task')
    } catch (err) {
      this.failed++
      const reason = (err as Error).message ?? String(err)
      this.init.log.warn({ task: work.id, origin: work.origin, reason }, 'processing a task failed')
      await this.reportFailure(work, reason)
    } finally {
      this.running--
    }
  }

  /** The next task with its image, or undefined once stopped. `ahead()`: another task of the slot still runs. */
  private async acquire (ahead: () => boolean): Promise<Ready | undefined> {
    // Consecutive failures of this slot to take or fetch a task: the pause after each doubles.
    let failures = 0
    for (;;) {
      if (this.stopped) return undefined
      let work: WorkItem | undefined
      try {
        work = await this.lease(ahead())
      } catch (err) {
        // The local store failed (a disk error, say): keep the slot alive and try again later.
        this.init.log.warn({ err: (err as Error).message }, 'taking a task failed')
        await this.backoff(failures++)
        continue
      }
      if (work == null) {
        await this.idle()
        continue
      }
      try {
        const image = work.origin === this.self
          ? await this.init.queue.blob(work.hash)
          : await this.init.blobs.fetch(peerIdFromString(work.origin), work.hash)
        if (image == null) throw new Error(`image ${work.hash} is missing from the local store`)
        return { work, image }
      } catch (err) {
        // The origin went away or the transfer broke: not the image's fault. Give the task back
        // (if the origin is unreachable, its lease runs out there instead).
        this.init.log.warn({ task: work.id, origin: work.origin, err: (err as Error).message }, 'fetching a task image failed')
        // ...unless the origin itself cannot give the right bytes: that counts against the task.
        if (err instanceof BlobError && (err.reason === 'missing' || err.reason === 'too-large' || err.reason === 'hash-mismatch')) {
          await this.reportFailure(work, `fetch failed: ${err.message}`)
        } else {
          await this.release(work)
        }
        await this.backoff(failures++)
      }
    }
  }

  /**
   * After a failure: FETCH_BACKOFF_MS, doubling with each failure in a row up
   * to MAX_FETCH_BACKOFF_MS. Not cut short by wake(): load messages come
   * every few tens of ms, and a failure that persists would otherwise become a
   * loop of lease, transfer and release.
   */
  private async backoff (failures: number): Promise<void> {
    if (this.stopped) return
    const ms = fetchBackoffMs(failures)
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => { this.stopWaiters.delete(done); resolve() }, ms)
      timer.unref()
      const done = (): void => { clearTimeout(timer); resolve() }
      this.stopWaiters.add(done)
    })
  }

  /**
   * Take one task: from this node's queue, else stolen from the busiest origin
   * heard of; when no task waits anywhere, a backup of a task another worker
   * holds (so the last tasks of a batch do not wait on the slowest node).
   * Never a backup `ahead` of time: a backup only helps if it starts at once.
   */
  private async lease (ahead: boolean): Promise<WorkItem | undefined> {
    if (this.paused) return undefined
    if (this.init.queue.queued() > 0) {
      const [t] = await this.init.queue.grant(this.self, 1)
      this.scheduleExpiry()
      this.announceIfDrained()
      if (t != null) return workOf(this.self, t)
    }
    for (let tries = 0; tries < 3 && !this.stopped; tries++) {
      const origin = this.pickOrigin('queued')
      if (origin == null) break
      const asked = Date.now()
      const leases = await this.steal(origin, 1, false)
      if (leases.length > 0) return { origin, ...leases[0]! }
      // Nothing there after all: unless the reply said what is left, forget its load until it announces again.
      this.forgetLoad(origin, asked, this.load.get(origin)?.backups ?? 0)
    }
    if (ahead) return undefined
    if (this.init.queue.backupCandidates() > 0) {
      const [t] = await this.init.queue.grant(this.self, 1, { backups: true })
      if (t != null) return workOf(this.self, t)
    }
    const origin = this.pickOrigin('backups')
    if (origin == null) return undefined
    const asked = Date.now()
    const leases = await this.steal(origin, 1, true)
    if (leases.length > 0) return { origin, ...leases[0]! }
    // Refused (this node would not finish any of them sooner) or none left: the reply's counts
    // say so, and the slot asks again when a load message says backups wait.
    this.forgetLoad(origin, asked, 0)
    return undefined
  }

  /** An origin gave nothing: count it empty until it announces again, unless its reply (after `asked`) said what is left. */
  private forgetLoad (origin: string, asked: number, backups: number): void {
    if ((this.load.get(origin)?.at ?? 0) < asked) this.load.set(origin, { queued: 0, backups, at: Date.now() })
  }

  /** An origin with waiting tasks (or backup candidates), chosen at random weighted by how many (busiest most often). */
  private pickOrigin (what: 'queued' | 'backups'): string | undefined {
    const candidates = originsWithWork(this.load, what, Date.now(), peer => this.init.admits?.(peer) !== false && this.node.getConnections(peerIdFromString(peer)).length > 0)
    return weightedChoice(candidates, this.init.random ?? Math.random)
  }

  private async request (peer: string, body: unknown, maxReply: number): Promise<unknown> {
    const signal = AbortSignal.timeout(STEAL_TIMEOUT_MS)
    let stream: Stream | undefined
    try {
      stream = await this.node.dialProtocol(peerIdFromString(peer), TASKS_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: maxReply, maxBufferSize: maxReply + 16 })
      await lp.write(encodeJson(body), { signal })
      const reply = decodeJson((await lp.read({ signal })).subarray())
      // The answer is in: a close that fails must not lose it (the leases in it would sit unused until they expire).
      stream.close({ signal }).catch(() => { stream?.abort(new Error('close failed')) })
      return reply
    } catch (err) {
      stream?.abort(err as Error)
      throw err
    }
  }

  private async steal (origin: string, want: number, backups: boolean): Promise<Array<z.infer<typeof Lease>>> {
    try {
      const reply = StealReply.parse(await this.request(origin, { kind: 'steal', want, ...(backups ? { backups } : {}) }, MAX_REPLY_BYTES))
      if (reply.queued != null && reply.backups != null) {
        this.load.set(origin, { queued: reply.queued, backups: reply.backups, at: Date.now() })
        // Work left there: the other idle slots need not wait for their next look.
        if (reply.queued > 0) this.wake()
      }
      return reply.leases.slice(0, want)
    } catch (err) {
      this.init.log.debug({ origin, err: (err as Error).message }, 'stealing failed')
      return []
    }
  }

  private async release (work: WorkItem): Promise<void> {
    if (work.origin === this.self) {
      await this.init.queue.release(work.id, this.self).then(() => { this.wake() }, () => {})
      return
    }
    await this.request(work.origin, { kind: 'release', id: work.id }, MAX_REQUEST_BYTES)
      .catch(err => { this.init.log.debug({ origin: work.origin, err: (err as Error).message }, 'giving a task back failed') })
  }

  private async reportFailure (work: WorkItem, reason: string): Promise<void> {
    if (work.origin === this.self) {
      await this.init.queue.fail(work.id, this.self, reason).then(() => { this.wake() }, () => {})
      return
    }
    await this.request(work.origin, { kind: 'failed', id: work.id, reason: reason.slice(0, 512) }, MAX_REQUEST_BYTES)
      .catch(err => { this.init.log.debug({ origin: work.origin, err: (err as Error).message }, 'reporting a failure failed') })
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(STEAL_TIMEOUT_MS)
    const peer = connection.remotePeer.toString()
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES, maxBufferSize: MAX_REQUEST_BYTES + 16 })
      let request: z.infer<typeof Request>
      try {
        request = Request.parse(decodeJson((await lp.read({ signal })).subarray()))
      } catch (err) {
        this.init.log.debug({ peer, err: (err as Error).message.slice(0, 200) }, 'refused a malformed task request')
        stream.abort(new Error('malformed task request'))
        return
      }
      if (request.kind === 'steal') {
        const admitted = !this.stopped && !this.paused && (this.init.admits?.(peer) ?? true)
        const granted = admitted ? await this.init.queue.grant(peer, request.want, { backups: request.backups === true }) : []
        // What is left for this thief. Nothing when it was refused (not admitted, at its cap of
        // leases while tasks wait, or no backup it would finish sooner), so that it stops asking
        // until the next load message.
        const { queued, backups } = this.init.queue.loadCounts()
        const refused = !admitted || (granted.length === 0 && (request.backups === true || queued > 0))
        await lp.write(encodeJson({
          leases: granted.map(t => ({ id: t.id, hash: t.hash, file: t.file, critical: t.critical, expiresAt: t.lease?.expiresAt ?? 0 })),
          queued: refused ? 0 : queued,
          backups: refused ? 0 : backups
        }), { signal })
        if (granted.length > 0) {
          this.init.log.debug({ peer, tasks: granted.length }, 'granted leases')
          this.scheduleExpiry()
          this.announceIfDrained()
        }
      } else if (request.kind === 'release') {
        const t = await this.init.queue.release(request.id, peer)
        await lp.write(encodeJson({ ok: true }), { signal })
        if (t != null) {
          this.wake()
          this.announce()
        }
      } else {
        const t = await this.init.queue.fail(request.id, peer, request.reason)
        await lp.write(encodeJson({ ok: true }), { signal })
        if (t != null) {
          this.init.log.warn({ peer, task: t.id, reason: request.reason, state: t.state }, 'a worker could not process a task')
          this.wake()
          this.announce()
        }
      }
      await stream.close({ signal })
    } catch (err) {
      this.init.log.debug({ peer, err: (err as Error).message }, 'serving a task request failed')
      stream.abort(err as Error)
    }
  }
}

interface Ready { work: WorkItem, image: Uint8Array }

function workOf (origin: string, t: TaskRecord): WorkItem {
  return { origin, id: t.id, hash: t.hash, file: t.file, critical: t.critical, expiresAt: t.lease?.expiresAt ?? 0 }
}
