/**
 * The origin's side of work sharing: this node's queue as the network sees it.
 * It gossips the queue's load on TASKS_TOPIC, answers the steal, failed and
 * release requests of other workers on TASKS_PROTOCOL, and puts leases that
 * ran out back in the queue on its own clock.
 */
import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { lpStream } from '@libp2p/utils'
import { decodeJson, encodeJson } from '../json.js'
import type { ComponentLog } from '../log.js'
import { TASKS_TOPIC, MAX_REQUEST_BYTES, MAX_ANNOUNCED, STEAL_TIMEOUT_MS, FETCH_BACKOFF_MS, LOAD_HEARTBEAT_MS, GREET_MS } from './constants.js'
import { announceDelay, loadForThief } from './policy.js'
import type { TaskQueue } from './queue.js'
import { TaskRequest, leaseOf } from './wire.js'

export interface OriginInit {
  node: Pick<Libp2p<{ pubsub: GossipSub }>, 'services'>
  log: ComponentLog
  queue: TaskQueue
  /** May this peer be leased tasks? (undefined: everyone) */
  admits: ((peer: string) => boolean) | undefined
  announceMs: number
  capacity: number
  /** the service's state: pause() and stop() set it */
  state: { readonly paused: boolean, readonly stopped: boolean }
  /** tasks this node's slots run now, for the load message */
  running: () => number
  /** tasks came back to this node's queue: the idle slots look again */
  wake: () => void
}

export class TaskOrigin {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private expiryTimer: ReturnType<typeof setTimeout> | undefined
  private announceQueued = false
  private lastAnnounced = -1
  private lastAnnounceAt = 0
  private greeting: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly init: OriginInit) {}

  /**
   * Gossip the load every announceMs while tasks wait (and once more when none do), every
   * LOAD_HEARTBEAT_MS when idle, and expire leases.
   */
  start (): void {
    const heartbeat = setInterval(() => {
      const waiting = this.init.queue.queued() > 0 || this.init.queue.backupCandidates() > 0 || this.lastAnnounced !== 0
      if (waiting || Date.now() - this.lastAnnounceAt >= LOAD_HEARTBEAT_MS) this.announce()
    }, this.init.announceMs)
    heartbeat.unref()
    this.timers.add(heartbeat)
    this.scheduleExpiry()
  }

  /** A peer joined TASKS_TOPIC: it hears this node's load soon (one message for every join within GREET_MS). */
  greet (): void {
    if (this.greeting != null || this.init.state.stopped) return
    this.greeting = setTimeout(() => {
      this.greeting = undefined
      this.announce()
    }, GREET_MS)
    this.greeting.unref()
  }

  stop (): void {
    if (this.greeting != null) clearTimeout(this.greeting)
    for (const t of this.timers) clearInterval(t)
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
  }

  /**
   * After a grant. Every node hears every load message (and forwards it to its
   * mesh), so a message per grant would cost the whole network more than the
   * grant itself. Thieves learn the remaining count from their steal replies
   * and everyone else from the heartbeat; only a queue that just ran dry is
   * news worth gossiping at once, so that idle slots stop asking.
   */
  announceIfDrained (): void {
    if (this.lastAnnounced > 0 && this.init.queue.queued() === 0) this.announce()
  }

  /** Gossip this node's load, at most once per ANNOUNCE_MIN_MS. */
  announce (): void {
    if (this.announceQueued || this.init.state.stopped) return
    this.announceQueued = true
    // Load changes with every grant: at most one message per ANNOUNCE_MIN_MS, the latest counts.
    const wait = announceDelay(this.lastAnnounceAt, Date.now())
    const send = (): void => {
      this.announceQueued = false
      this.lastAnnounceAt = Date.now()
      if (this.init.state.stopped) return
      const paused = this.init.state.paused
      const { queued, backups } = paused ? { queued: 0, backups: 0 } : this.init.queue.loadCounts()
      this.lastAnnounced = queued
      const msg = {
        v: 1,
        queued,
        running: this.init.running(),
        capacity: this.init.capacity,
        backups,
        tasks: paused ? [] : this.init.queue.peekQueued(MAX_ANNOUNCED)
      }
      this.init.node.services.pubsub.publish(TASKS_TOPIC, encodeJson(msg)).catch(err => {
        this.init.log.debug({ err: (err as Error).message }, 'publishing load failed')
      })
    }
    if (wait === 0) queueMicrotask(send)
    else setTimeout(send, wait).unref()
  }

  /** Leases of this node's own expire on its own clock; requeued tasks are announced. */
  scheduleExpiry (): void {
    if (this.init.state.stopped) return
    const next = this.init.queue.nextExpiry()
    if (next == null) return
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined
      this.init.queue.expire().then(n => {
        if (n > 0) {
          this.init.log.info({ tasks: n }, 'leases ran out; granting the tasks again')
          this.init.wake()
          this.announce()
        }
        this.scheduleExpiry()
      }, err => {
        this.init.log.warn({ err }, 'expiring leases failed; trying again')
        if (this.init.state.stopped) return
        if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
        this.expiryTimer = setTimeout(() => { this.scheduleExpiry() }, FETCH_BACKOFF_MS)
        this.expiryTimer.unref()
      })
    }, Math.max(0, next - Date.now()) + 5)
    this.expiryTimer.unref()
  }

  /** Answer one request on TASKS_PROTOCOL (a steal, a failure report or a task given back). */
  async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(STEAL_TIMEOUT_MS)
    const peer = connection.remotePeer.toString()
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES, maxBufferSize: MAX_REQUEST_BYTES + 16 })
      let request: TaskRequest
      try {
        request = TaskRequest.parse(decodeJson((await lp.read({ signal })).subarray()))
      } catch (err) {
        this.init.log.debug({ peer, err: (err as Error).message.slice(0, 200) }, 'refused a malformed task request')
        stream.abort(new Error('malformed task request'))
        return
      }
      if (request.kind === 'steal') {
        const admitted = !this.init.state.stopped && !this.init.state.paused && (this.init.admits?.(peer) ?? true)
        const granted = admitted ? await this.init.queue.grant(peer, request.want, { backups: request.backups === true }) : []
        // What is left for this thief (nothing when it was refused: see loadForThief).
        const { queued, backups } = loadForThief(admitted, granted.length, request.backups === true, this.init.queue.loadCounts())
        await lp.write(encodeJson({
          leases: granted.map(leaseOf),
          queued,
          backups
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
          this.init.wake()
          this.announce()
        }
      } else {
        const t = await this.init.queue.fail(request.id, peer, request.reason)
        await lp.write(encodeJson({ ok: true }), { signal })
        if (t != null) {
          this.init.log.warn({ peer, task: t.id, reason: request.reason, state: t.state }, 'a worker could not process a task')
          this.init.wake()
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
