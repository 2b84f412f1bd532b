/**
 * The origin's side of work sharing: the tasks this node accepted, their
 * leases and the submitted images, in LevelDB. Every change is written before
 * the call resolves, so after a restart (even kill -9) every unfinished task
 * is still here: queued ones stay queued, and leases run out and are granted
 * again as if the node had never stopped.
 *
 * A task goes queued -> leased -> done; a lease that runs out, or a worker that reports a
 * failure, puts it back in the queue; after MAX_FAILURES reported failures from distinct
 * workers, or a second one from the origin itself, it ends as failed. A worker is not granted
 * a task it failed again (the origin may try its own task twice, for a passing fault), so a
 * task that fails everywhere cannot go round a small network for ever. A result for its image
 * hash, from any node, makes it done (the caller watches the replicated store).
 *
 * What to grant, back up, fail or expire is decided in policy.ts; this file keeps the records
 * (record.ts) and the images in LevelDB.
 */
import { Level } from 'level'
import { SHA256_HEX } from '../../util/sha256.js'
import { SerialQueue } from '../../util/serial.js'
import { DEFAULT_LEASE_MS } from './constants.js'
import { TASK_ID, TaskRecord, newTask } from './record.js'
import { afterFailure, backupsFor, grantedTo, isBackupCandidate, isBackupOf, isWaiting, leaseAllowance } from './policy.js'
import { leaseRanOut, loadCounts, movingAverage, nextExpiry, queuedFor } from './policy.js'

export { TaskRecord, newTaskId, type TaskState } from './record.js'

export interface QueueStats {
  queued: number
  leased: number
  done: number
  failed: number
  /** leases that ran out and were granted again, over all tasks */
  regrants: number
  /** leases given out (backups included), over all tasks */
  grants: number
}

export interface TaskQueueInit {
  /** the peer id of this node: its own leases are returned to the queue at once on restart */
  self: string
  /** @default DEFAULT_LEASE_MS */
  leaseMs?: number
  /** @default Date.now */
  now?: () => number
  /** called after every change (of any task), written or failed: the web interface's event stream listens */
  onChange?: () => void
}

export class TaskQueue {
  private readonly tasks: ReturnType<Level<string, unknown>['sublevel']>
  private readonly blobs: ReturnType<Level<string, Uint8Array>['sublevel']>
  /** unfinished tasks, by id, in submission order */
  private readonly open = new Map<string, TaskRecord>()
  /** image hash -> ids of unfinished tasks */
  private readonly byHash = new Map<string, Set<string>>()
  private counts = { done: 0, failed: 0, regrants: 0, grants: 0 }
  /** Each worker's recent time from grant to result (an EWMA, ms): where a backup helps most. */
  private readonly turnaround = new Map<string, number>()
  /** Each worker's recent recognition time (an EWMA of what its results say they took, ms): how long a task it starts at once takes it. */
  private readonly pace = new Map<string, number>()
  private readonly leaseMs: number
  private readonly now: () => number
  private readonly serial = new SerialQueue()
  private closed = false

  private constructor (private readonly db: Level<string, unknown>, private readonly init: TaskQueueInit) {
    this.tasks = db.sublevel<string, unknown>('task', { valueEncoding: 'json' }) as any
    this.blobs = db.sublevel<string, Uint8Array>('blob', { valueEncoding: 'view' }) as any
    this.leaseMs = init.leaseMs ?? DEFAULT_LEASE_MS
    this.now = init.now ?? Date.now
  }

  static async open (path: string, init: TaskQueueInit): Promise<TaskQueue> {
    const db = new Level<string, unknown>(path, { keyEncoding: 'utf8', valueEncoding: 'json' })
    await db.open()
    const queue = new TaskQueue(db, init)
    try {
      await queue.load()
    } catch (err) {
      await db.close()
      throw err
    }
    return queue
  }

  private async load (): Promise<void> {
    const own: TaskRecord[] = []
    for await (const [, value] of this.tasks.iterator()) {
      const parsed = TaskRecord.safeParse(value)
      if (!parsed.success) continue
      const t = parsed.data
      if (t.state === 'done') this.counts.done++
      else if (t.state === 'failed' || t.state === 'no-consensus') this.counts.failed++
      else {
        // This node's own leases died with the process that held them.
        if (t.state === 'leased' && t.lease?.peer === this.init.self) own.push(t)
        this.track(t)
      }
      this.counts.regrants += t.regrants
      this.counts.grants += t.grants
    }
    for (const t of own) {
      t.state = 'queued'
      delete t.lease
      await this.tasks.put(t.id, t)
    }
  }

  private track (t: TaskRecord): void {
    this.open.set(t.id, t)
    let ids = this.byHash.get(t.hash)
    if (ids == null) this.byHash.set(t.hash, ids = new Set())
    ids.add(t.id)
  }

  private untrack (t: TaskRecord): void {
    this.open.delete(t.id)
    const ids = this.byHash.get(t.hash)
    ids?.delete(t.id)
    if (ids?.size === 0) this.byHash.delete(t.hash)
  }

  /** Changes run one at a time, each written before the next starts. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the task queue is closed'))
    return this.serial.run(job).finally(() => { try { this.init.onChange?.() } catch {} })
  }

  /** Store the image (if new) and a queued task for it; resolves once both are in LevelDB. */
  add (image: Uint8Array, hash: string, meta: { file: string, critical: boolean }): Promise<TaskRecord> {
    return this.enqueue(async () => {
      const t = newTask(hash, meta, 'queued', this.now())
      const batch = this.db.batch()
      if (await this.blobs.get(hash) == null) batch.put(hash, image as any, { sublevel: this.blobs as any })
      batch.put(t.id, t as any, { sublevel: this.tasks as any })
      await batch.write()
      this.track(t)
      return t
    })
  }

  /** Record a task that was answered at once from the replicated store (done from the start). */
  addDone (hash: string, meta: { file: string, critical: boolean, doneBy: string }): Promise<TaskRecord> {
    return this.enqueue(async () => {
      const fresh = newTask(hash, meta, 'done', this.now())
      const t: TaskRecord = { ...fresh, doneBy: meta.doneBy, doneAt: fresh.submittedAt, cached: true }
      await this.tasks.put(t.id, t)
      this.counts.done++
      return t
    })
  }

  async get (id: string): Promise<TaskRecord | undefined> {
    const open = this.open.get(id)
    if (open != null) return structuredClone(open)
    if (!TASK_ID.test(id)) return undefined
    const value = await this.tasks.get(id)
    const parsed = TaskRecord.safeParse(value)
    return parsed.success ? parsed.data : undefined
  }

  /** The newest tasks first, at most `limit`. */
  async list (limit = 100): Promise<TaskRecord[]> {
    const out: TaskRecord[] = []
    for await (const [, value] of this.tasks.iterator({ reverse: true, limit })) {
      const parsed = TaskRecord.safeParse(value)
      if (parsed.success) out.push(this.open.get(parsed.data.id) ?? parsed.data)
    }
    return out.map(t => structuredClone(t))
  }

  /** An unfinished task for this image, if there is one. */
  pendingFor (hash: string): TaskRecord | undefined {
    const id = this.byHash.get(hash)?.values().next().value
    return id != null ? structuredClone(this.open.get(id)) : undefined
  }

  /** Every unfinished task, oldest first. */
  unfinished (): TaskRecord[] {
    return [...this.open.values()].map(t => structuredClone(t))
  }

  async blob (hash: string): Promise<Uint8Array | undefined> {
    if (!SHA256_HEX.test(hash)) return undefined
    return (await this.blobs.get(hash) as Uint8Array | undefined) ?? undefined
  }

  /** Tasks waiting for a worker right now. */
  queued (): number {
    let n = 0
    for (const t of this.open.values()) if (isWaiting(t)) n++
    return n
  }

  /** queued() and backupCandidates() in one pass, for a load message. */
  loadCounts (): { queued: number, backups: number } {
    return loadCounts(this.open.values())
  }

  /** A few queued tasks (id and hash), oldest first, for announcing. */
  peekQueued (max: number): Array<{ id: string, hash: string }> {
    const out: Array<{ id: string, hash: string }> = []
    for (const t of this.open.values()) {
      if (out.length >= max) break
      if (isWaiting(t)) out.push({ id: t.id, hash: t.hash })
    }
    return out
  }

  /** Leased tasks that could still get a backup worker. */
  backupCandidates (): number {
    let n = 0
    for (const t of this.open.values()) if (isBackupCandidate(t)) n++
    return n
  }

  /**
   * Lease up to `want` queued tasks, oldest first, to `peer`. With `backups`,
   * when nothing is queued, also hand out tasks leased to other workers that
   * have no backup yet, the one expected to finish last first (by each
   * worker's recent turnaround): at the end of a batch an idle node then races
   * a slow one instead of waiting for it (a late duplicate result is harmless).
   * The first lease stays in force; a backup never expires anything.
   */
  grant (peer: string, want: number, options: { backups?: boolean } = {}): Promise<TaskRecord[]> {
    return this.enqueue(async () => {
      const now = this.now()
      want = leaseAllowance(this.open.values(), peer, this.init.self, want)
      if (want <= 0) return []
      const granted = queuedFor(this.open.values(), peer, this.init.self, want)
      const backups = granted.length === 0 && options.backups === true
        ? backupsFor(this.open.values(), peer, want, now, { turnaround: this.turnaround, pace: this.pace }, this.leaseMs)
        : []
      if (granted.length === 0 && backups.length === 0) return []
      const updated = [
        ...granted.map(t => ({
          ...t,
          state: 'leased' as const,
          lease: { peer, grantedAt: now, expiresAt: now + this.leaseMs },
          grants: t.grants + 1,
          workers: [...t.workers, peer].slice(-16)
        })),
        ...backups.map(t => ({ ...t, backup: { peer, grantedAt: now }, grants: t.grants + 1, workers: [...t.workers, peer].slice(-16) }))
      ]
      await this.tasks.batch(updated.map(t => ({ type: 'put' as const, key: t.id, value: t })))
      for (const t of updated) this.open.set(t.id, t)
      this.counts.grants += updated.length
      return updated.map(t => structuredClone(t))
    })
  }

  /** Put leases that ran out back in the queue; resolves with how many. */
  expire (): Promise<number> {
    return this.enqueue(async () => {
      const now = this.now()
      const expired: TaskRecord[] = []
      for (const t of this.open.values()) {
        if (leaseRanOut(t, now)) {
          const { lease: _gone, backup: _backup, ...rest } = t
          expired.push({ ...rest, state: 'queued', regrants: t.regrants + 1 })
        }
      }
      if (expired.length === 0) return 0
      await this.tasks.batch(expired.map(t => ({ type: 'put' as const, key: t.id, value: t })))
      for (const t of expired) this.open.set(t.id, t)
      this.counts.regrants += expired.length
      return expired.length
    })
  }

  /** The earliest lease expiry, to time the next `expire`. */
  nextExpiry (): number | undefined {
    return nextExpiry(this.open.values())
  }

  /**
   * A result for `hash` exists (written by `by`): every unfinished task for it
   * is done; critical ones only when the result carries a quorum certificate.
   */
  complete (hash: string, by: string, options: { certified?: boolean, ms?: number } = {}): Promise<TaskRecord[]> {
    return this.enqueue(async () => {
      const ids = this.byHash.get(hash)
      if (ids == null) return []
      const now = this.now()
      const done = [...ids].map(id => this.open.get(id)!).filter(t => !t.critical || options.certified === true).map(t => {
        const { lease: _gone, backup: _backup, ...rest } = t
        return { ...rest, state: 'done' as const, doneBy: by, doneAt: now }
      })
      if (done.length === 0) return []
      for (const id of ids) {
        const t = this.open.get(id)!
        const grantedAt = grantedTo(t, by)
        if (grantedAt != null) this.turnaround.set(by, movingAverage(this.turnaround.get(by), now - grantedAt))
      }
      if (options.ms != null && Number.isFinite(options.ms) && options.ms >= 0) this.pace.set(by, movingAverage(this.pace.get(by), options.ms))
      await this.tasks.batch(done.map(t => ({ type: 'put' as const, key: t.id, value: t })))
      for (const t of done) this.untrack(t)
      this.counts.done += done.length
      return done
    })
  }

  /** Make the unfinished tasks for `hash` critical (a result came back with too low a confidence). */
  makeCritical (hash: string): Promise<TaskRecord[]> {
    return this.enqueue(async () => {
      const changed = [...(this.byHash.get(hash) ?? [])].map(id => this.open.get(id)!).filter(t => !t.critical).map(t => {
        const { lease: _gone, backup: _backup, ...rest } = t
        return { ...rest, critical: true, state: 'queued' as const }
      })
      if (changed.length === 0) return []
      await this.tasks.batch(changed.map(t => ({ type: 'put' as const, key: t.id, value: t })))
      for (const t of changed) this.open.set(t.id, t)
      return changed.map(t => structuredClone(t))
    })
  }

  /** A critical task whose voters did not agree: it ends here, with their votes. */
  noConsensus (id: string, votes: unknown[]): Promise<TaskRecord | undefined> {
    return this.enqueue(async () => {
      const t = this.open.get(id)
      if (t == null) return undefined
      const { lease: _gone, backup: _backup, ...rest } = t
      const next: TaskRecord = { ...rest, state: 'no-consensus', votes: votes.slice(0, 64), doneAt: this.now() }
      await this.tasks.put(next.id, next)
      this.untrack(next)
      this.counts.failed++
      return structuredClone(next)
    })
  }

  /**
   * A worker could not process a task it was leased: back to the queue, or
   * failed for good after MAX_FAILURES reports. Ignored unless `peer` holds the lease; from a backup worker, it frees the task for another backup.
   */
  fail (id: string, peer: string, reason: string): Promise<TaskRecord | undefined> {
    return this.enqueue(async () => {
      const t = this.open.get(id)
      if (t != null && isBackupOf(t, peer)) return await this.dropBackup(t)
      if (t == null || t.state !== 'leased' || t.lease?.peer !== peer) return undefined
      const { lease: _gone, backup: _backup, ...rest } = t
      const { failures, final } = afterFailure(t, peer, this.init.self, reason)
      const next: TaskRecord = { ...rest, failures, state: final ? 'failed' : 'queued' }
      await this.tasks.put(next.id, next)
      if (next.state === 'failed') {
        this.untrack(next)
        this.counts.failed++
      } else {
        this.open.set(next.id, next)
      }
      return structuredClone(next)
    })
  }

  /**
   * A worker gives a task back without having processed it (its image could
   * not be fetched): back to the queue, no failure counted. Ignored unless
   * `peer` holds the lease; from a backup worker, it frees the task for another backup.
   */
  release (id: string, peer: string): Promise<TaskRecord | undefined> {
    return this.enqueue(async () => {
      const t = this.open.get(id)
      if (t != null && isBackupOf(t, peer)) return await this.dropBackup(t)
      if (t == null || t.state !== 'leased' || t.lease?.peer !== peer) return undefined
      const { lease: _gone, backup: _backup, ...rest } = t
      const next: TaskRecord = { ...rest, state: 'queued' }
      await this.tasks.put(next.id, next)
      this.open.set(next.id, next)
      return structuredClone(next)
    })
  }

  /** A backup worker gave up: the lease holder goes on, and another worker may back the task up. */
  private async dropBackup (t: TaskRecord): Promise<TaskRecord> {
    const { backup: _gone, ...next } = t
    await this.tasks.put(next.id, next)
    this.open.set(next.id, next)
    return structuredClone(next)
  }

  stats (): QueueStats {
    let queued = 0
    let leased = 0
    for (const t of this.open.values()) {
      if (t.state === 'queued') queued++
      else leased++
    }
    return { queued, leased, done: this.counts.done, failed: this.counts.failed, regrants: this.counts.regrants, grants: this.counts.grants }
  }

  async close (): Promise<void> {
    if (this.closed) return
    // Refuse new changes first, then let the queued ones finish.
    this.closed = true
    await this.serial.idle()
    await this.db.close()
  }
}
