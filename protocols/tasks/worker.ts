/**
 * The worker's side of work sharing: `capacity` slots, each taking one task
 * at a time. A slot takes from this node's queue first; otherwise it steals
 * from an origin whose load it heard on TASKS_TOPIC; when no task waits
 * anywhere, it backs up a task another worker holds. It fetches the image,
 * hands it to `process`, and tells the origin when it could not.
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { decodeJson, encodeJson } from '../json.js'
import type { BlobService } from '../blob/index.js'
import type { ComponentLog } from '../log.js'
import { TASKS_PROTOCOL, TASKS_TOPIC, MAX_REQUEST_BYTES, MAX_REPLY_BYTES, MAX_LOAD_MESSAGE_BYTES, STEAL_TIMEOUT_MS, IDLE_POLL_MS, MAX_ORIGINS, STEAL_ATTEMPTS } from './constants.js'
import { fetchBackoffMs, fetchFailureBlamesTask, originsWithWork, weightedChoice, type OriginLoad } from './policy.js'
import type { TaskQueue } from './queue.js'
import { LoadMessage, StealReply, workOf, type Lease, type PeerLoad, type WorkItem } from './wire.js'

export interface WorkerInit {
  node: Pick<Libp2p, 'getConnections' | 'dialProtocol'>
  log: ComponentLog
  /** this node's peer id */
  self: string
  queue: TaskQueue
  blobs: Pick<BlobService, 'fetch'>
  process: (work: WorkItem, image: Uint8Array) => Promise<void>
  /** May this peer be leased tasks, and its load heard? (undefined: everyone) */
  admits: ((peer: string) => boolean) | undefined
  random: () => number
  capacity: number
  prefetch: number
  /** the service's state: pause() and stop() set it */
  state: { readonly paused: boolean, readonly stopped: boolean }
  /** a slot was granted a task of this node's own queue: time its lease's expiry, gossip if the queue ran dry */
  grantedLocally: () => void
}

interface Ready { work: WorkItem, image: Uint8Array }

export class TaskWorker {
  /** what each origin last said it holds (from its load messages and steal replies) */
  private readonly load = new Map<string, OriginLoad>()
  /** what each peer said in its last load message (bounded like `load`: only peers whose load is tracked) */
  private readonly said = new Map<string, PeerLoad>()
  private readonly slots: Array<Promise<void>> = []
  private wakers: Array<() => void> = []
  /** slots pausing after a failure, ended early only by stop() */
  private readonly stopWaiters = new Set<() => void>()
  private running = 0
  private processed = 0
  private stolen = 0
  private failed = 0

  constructor (private readonly init: WorkerInit) {
    this.onMessage = this.onMessage.bind(this)
  }

  start (): void {
    for (let i = 0; i < this.init.capacity; i++) this.slots.push(this.slot(i))
  }

  /** Stopping: every waiting slot looks again now (and finds the service stopped). */
  interrupt (): void {
    this.wake()
    for (const done of this.stopWaiters) done()
    this.stopWaiters.clear()
  }

  /** Tasks the slots run now. */
  runningTasks (): number {
    return this.running
  }

  /** Resolves when every slot has ended (its running task finished). */
  async drained (): Promise<void> {
    await Promise.all(this.slots)
  }

  stats (): { running: number, capacity: number, processed: number, stolen: number, failed: number, origins: Array<{ peer: string, queued: number, ageMs: number }> } {
    const now = Date.now()
    return {
      running: this.running,
      capacity: this.init.capacity,
      processed: this.processed,
      stolen: this.stolen,
      failed: this.failed,
      origins: [...this.load].filter(([, l]) => l.queued > 0).map(([peer, l]) => ({ peer, queued: l.queued, ageMs: now - l.at }))
    }
  }

  /** What each connected peer last said of its load (the Network page shows it). */
  peerLoads (): Map<string, PeerLoad> {
    const out = new Map<string, PeerLoad>()
    for (const [peer, l] of this.said) {
      if (this.init.node.getConnections(peerIdFromString(peer)).length > 0) out.set(peer, l)
      else this.said.delete(peer)
    }
    return out
  }

  /** Work may wait now: the idle slots look again. */
  wake (): void {
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

  /** A load message on TASKS_TOPIC (listened to by the service). */
  onMessage (evt: CustomEvent<Message>): void {
    const msg = evt.detail
    if (msg.topic !== TASKS_TOPIC) return
    if (msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === this.init.self) return
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
    this.said.set(from, { queued: load.queued, running: load.running, capacity: load.capacity, at: Date.now() })
    if (load.queued > 0 || load.backups > 0) this.wake()
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
      next = this.init.prefetch > 0 ? this.acquire(ahead) : Promise.resolve(undefined)
      await this.run(current, index)
      busy = false
      // A prefetch still looking for work may now take a backup: let it look again at once.
      if (this.init.prefetch > 0) this.wake()
      else next = this.acquire(ahead)
    }
  }

  private async run (ready: Ready, slot: number): Promise<void> {
    const { work, image } = ready
    this.running++
    try {
      await this.init.process(work, image)
      this.processed++
      if (work.origin !== this.init.self) this.stolen++
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
      if (this.init.state.stopped) return undefined
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
        const image = work.origin === this.init.self
          ? await this.init.queue.blob(work.hash)
          : await this.init.blobs.fetch(peerIdFromString(work.origin), work.hash)
        if (image == null) throw new Error(`image ${work.hash} is missing from the local store`)
        return { work, image }
      } catch (err) {
        // The origin went away or the transfer broke: not the image's fault. Give the task back
        // (if the origin is unreachable, its lease runs out there instead).
        this.init.log.warn({ task: work.id, origin: work.origin, err: (err as Error).message }, 'fetching a task image failed')
        // ...unless the origin itself cannot give the right bytes: that counts against the task.
        if (fetchFailureBlamesTask(err)) {
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
    if (this.init.state.stopped) return
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
    if (this.init.state.paused) return undefined
    if (this.init.queue.queued() > 0) {
      const [t] = await this.init.queue.grant(this.init.self, 1)
      this.init.grantedLocally()
      if (t != null) return workOf(this.init.self, t)
    }
    for (let tries = 0; tries < STEAL_ATTEMPTS && !this.init.state.stopped; tries++) {
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
      const [t] = await this.init.queue.grant(this.init.self, 1, { backups: true })
      if (t != null) return workOf(this.init.self, t)
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
    const candidates = originsWithWork(this.load, what, Date.now(), peer => this.init.admits?.(peer) !== false && this.init.node.getConnections(peerIdFromString(peer)).length > 0)
    return weightedChoice(candidates, this.init.random)
  }

  private async request (peer: string, body: unknown, maxReply: number): Promise<unknown> {
    const signal = AbortSignal.timeout(STEAL_TIMEOUT_MS)
    let stream: Stream | undefined
    try {
      stream = await this.init.node.dialProtocol(peerIdFromString(peer), TASKS_PROTOCOL, { signal })
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

  private async steal (origin: string, want: number, backups: boolean): Promise<Lease[]> {
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
    if (work.origin === this.init.self) {
      await this.init.queue.release(work.id, this.init.self).then(() => { this.wake() }, () => {})
      return
    }
    await this.request(work.origin, { kind: 'release', id: work.id }, MAX_REQUEST_BYTES)
      .catch(err => { this.init.log.debug({ origin: work.origin, err: (err as Error).message }, 'giving a task back failed') })
  }

  private async reportFailure (work: WorkItem, reason: string): Promise<void> {
    if (work.origin === this.init.self) {
      await this.init.queue.fail(work.id, this.init.self, reason).then(() => { this.wake() }, () => {})
      return
    }
    await this.request(work.origin, { kind: 'failed', id: work.id, reason: reason.slice(0, 512) }, MAX_REQUEST_BYTES)
      .catch(err => { this.init.log.debug({ origin: work.origin, err: (err as Error).message }, 'reporting a failure failed') })
  }
}
