/**
 * The origin's side of work sharing: the tasks this node accepted, their
 * leases and the submitted images, in LevelDB. Every change is written before
 * the call resolves, so after a restart (even kill -9) every unfinished task
 * is still here: queued ones stay queued, and leases run out and are granted
 * again as if the node had never stopped.
 *
 * A task goes queued -> leased -> done; a lease that runs out, or a worker
 * that reports a failure, puts it back in the queue; after MAX_FAILURES
 * reported failures from distinct workers, or a second one from the origin
 * itself, it ends as failed. A worker is not granted a task it failed again
 * (the origin may try its own task twice, for a passing fault), so a task that
 * fails everywhere cannot go round a small network for ever. A result for its image hash, from any
 * node, makes it done (the caller watches the replicated store).
 */
import { randomBytes } from 'node:crypto'
import { Level } from 'level'
import { z } from 'zod'
import { SHA256_HEX } from '../../util/sha256.js'
import { SerialQueue } from '../../util/serial.js'

/** A worker that cannot process an image says so; after this many reports the task fails for good. */
export const MAX_FAILURES = 3
/** A worker holds at most this many leases of one origin at once (a member cannot hoard the queue). */
export const MAX_LEASES_PER_PEER = 8
/** How long a worker may hold a task before it is granted to another; an image takes well under a second. */
export const DEFAULT_LEASE_MS = 30_000

export type TaskState = 'queued' | 'leased' | 'done' | 'failed' | 'no-consensus'

export const TaskRecord = z.object({
  id: z.string(),
  hash: z.string().regex(SHA256_HEX),
  file: z.string().max(1024),
  critical: z.boolean(),
  submittedAt: z.number(),
  state: z.enum(['queued', 'leased', 'done', 'failed', 'no-consensus']),
  lease: z.object({ peer: z.string(), grantedAt: z.number(), expiresAt: z.number() }).optional(),
  /** a second worker given the task when nothing else waited (a straggler's backup; first result wins) */
  backup: z.object({ peer: z.string(), grantedAt: z.number() }).optional(),
  /** times a lease was given out */
  grants: z.number().int().nonnegative(),
  /** leases that ran out and were granted again */
  regrants: z.number().int().nonnegative(),
  failures: z.array(z.object({ peer: z.string(), reason: z.string().max(512) })).max(MAX_FAILURES),
  /** who wrote the result that finished it, and when the origin saw it */
  doneBy: z.string().optional(),
  doneAt: z.number().optional(),
  /** which nodes have been given it, in order (bounded) */
  workers: z.array(z.string()).max(16),
  /** a critical task that ended without agreement keeps the votes it got */
  votes: z.array(z.unknown()).max(64).optional(),
  /** answered at submission from a result already in the replicated store */
  cached: z.boolean().optional()
})
export type TaskRecord = z.infer<typeof TaskRecord>

export interface QueueStats {
  queued: number
  leased: number
  done: number
  failed: number
  /** leases that ran out and were granted again, over all tasks */
  regrants: number
}

export interface TaskQueueInit {
  /** the peer id of this node: its own leases are returned to the queue at once on restart */
  self: string
  /** @default DEFAULT_LEASE_MS */
  leaseMs?: number
  /** @default Date.now */
  now?: () => number
}

const ID = /^[0-9a-z]{13}-[0-9a-f]{6}$/
let lastMs = 0
let seqInMs = 0

/** Task ids sort by submission order (base36 milliseconds, then a counter) and are unique (random tail). */
export function newTaskId (now: number): string {
  if (now > lastMs) {
    lastMs = now
    seqInMs = 0
  } else {
    seqInMs++
  }
  return lastMs.toString(36).padStart(9, '0') + seqInMs.toString(36).padStart(4, '0') + '-' + randomBytes(3).toString('hex')
}

export class TaskQueue {
  private readonly tasks: ReturnType<Level<string, unknown>['sublevel']>
  private readonly blobs: ReturnType<Level<string, Uint8Array>['sublevel']>
  /** unfinished tasks, by id, in submission order */
  private readonly open = new Map<string, TaskRecord>()
  /** image hash -> ids of unfinished tasks */
  private readonly byHash = new Map<string, Set<string>>()
  private counts = { done: 0, failed: 0, regrants: 0 }
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
    return this.serial.run(job)
  }

  /** A task submitted now, never granted. */
  private newTask (hash: string, meta: { file: string, critical: boolean }, state: TaskRecord['state']): TaskRecord {
    const now = this.now()
    return { id: newTaskId(now), hash, file: meta.file, critical: meta.critical, submittedAt: now, state, grants: 0, regrants: 0, failures: [], workers: [] }
  }

  /** Store the image (if new) and a queued task for it; resolves once both are in LevelDB. */
  add (image: Uint8Array, hash: string, meta: { file: string, critical: boolean }): Promise<TaskRecord> {
    return this.enqueue(async () => {
      const t = this.newTask(hash, meta, 'queued')
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
      const fresh = this.newTask(hash, meta, 'done')
      const t: TaskRecord = { ...fresh, doneBy: meta.doneBy, doneAt: fresh.submittedAt, cached: true }
      await this.tasks.put(t.id, t)
      this.counts.done++
      return t
    })
  }

  async get (id: string): Promise<TaskRecord | undefined> {
    const open = this.open.get(id)
    if (open != null) return structuredClone(open)
    if (!ID.test(id)) return undefined
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
    for (const t of this.open.values()) if (t.state === 'queued' && !t.critical) n++
    return n
  }

  /** queued() and backupCandidates() in one pass, for a load message. */
  loadCounts (): { queued: number, backups: number } {
    let queued = 0
    let backups = 0
    for (const t of this.open.values()) {
      if (t.critical) continue
      if (t.state === 'queued') queued++
      else if (t.state === 'leased' && t.backup == null) backups++
    }
    return { queued, backups }
  }

  /** A few queued tasks (id and hash), oldest first, for announcing. */
  peekQueued (max: number): Array<{ id: string, hash: string }> {
    const out: Array<{ id: string, hash: string }> = []
    for (const t of this.open.values()) {
      if (out.length >= max) break
      if (t.state === 'queued' && !t.critical) out.push({ id: t.id, hash: t.hash })
    }
    return out
  }

  /** Leased tasks that could still get a backup worker. */
  backupCandidates (): number {
    let n = 0
    for (const t of this.open.values()) if (t.state === 'leased' && t.backup == null && !t.critical) n++
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
      const granted: TaskRecord[] = []
      let held = 0
      for (const t of this.open.values()) if (t.state === 'leased' && (t.lease?.peer === peer || t.backup?.peer === peer)) held++
      if (peer !== this.init.self) want = Math.min(want, MAX_LEASES_PER_PEER - held)
      if (want <= 0) return []
      for (const t of this.open.values()) {
        if (granted.length >= want) break
        // Critical tasks go to a quorum of voters, never to a single worker.
        if (t.state !== 'queued' || t.critical || (peer !== this.init.self && failedBy(t, peer))) continue
        granted.push(t)
      }
      const backups: TaskRecord[] = []
      if (granted.length === 0 && options.backups === true) {
        // Overdue tasks first (the holder is stuck, or never got the lease), most overdue first;
        // then the task expected to finish last (its holder is slow, or has it queued behind
        // another), unless the asker would not finish it sooner itself. A holder without figures
        // yet is expected to take what the others take on average.
        const mine = this.pace.get(peer)
        const known = [...this.turnaround.values()]
        const typical = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : this.leaseMs
        const leased = [...this.open.values()]
          .filter(t => t.state === 'leased' && t.backup == null && !t.critical && t.lease != null && t.lease.peer !== peer && !failedBy(t, peer))
          .map(t => ({ t, due: t.lease!.grantedAt + (this.turnaround.get(t.lease!.peer) ?? typical) }))
          .filter(({ due }) => mine == null || due < now || now + mine < due)
          .map(({ t, due }) => ({ t, urgency: due < now ? 1e12 + (now - due) : due - now }))
          .sort((a, b) => b.urgency - a.urgency)
        backups.push(...leased.slice(0, want).map(({ t }) => t))
      }
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
      return updated.map(t => structuredClone(t))
    })
  }

  /** Put leases that ran out back in the queue; resolves with how many. */
  expire (): Promise<number> {
    return this.enqueue(async () => {
      const now = this.now()
      const expired: TaskRecord[] = []
      for (const t of this.open.values()) {
        if (t.state === 'leased' && t.lease != null && t.lease.expiresAt <= now) {
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
    let next: number | undefined
    for (const t of this.open.values()) {
      if (t.state === 'leased' && t.lease != null && (next == null || t.lease.expiresAt < next)) next = t.lease.expiresAt
    }
    return next
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
        const grantedAt = t.lease?.peer === by ? t.lease.grantedAt : t.backup?.peer === by ? t.backup.grantedAt : undefined
        if (grantedAt != null) average(this.turnaround, by, now - grantedAt)
      }
      if (options.ms != null && Number.isFinite(options.ms) && options.ms >= 0) average(this.pace, by, options.ms)
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
      // Only reports from distinct workers count: one member cannot fail a task on its own.
      // The origin trusts itself: its own second failure is final.
      const again = failedBy(t, peer)
      const failures = again ? t.failures : [...t.failures, { peer, reason: reason.slice(0, 512) }]
      const final = failures.length >= MAX_FAILURES || (again && peer === this.init.self)
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
    return { queued, leased, done: this.counts.done, failed: this.counts.failed, regrants: this.counts.regrants }
  }

  async close (): Promise<void> {
    if (this.closed) return
    // Refuse new changes first, then let the queued ones finish.
    this.closed = true
    await this.serial.idle()
    await this.db.close()
  }
}

/** Fold a new sample into a per-worker moving average (recent samples weigh most). */
function average (into: Map<string, number>, worker: string, sample: number): void {
  const before = into.get(worker)
  into.set(worker, before == null ? sample : 0.7 * before + 0.3 * sample)
}

/** Whether `peer` holds a task only as its backup worker. */
function isBackupOf (t: TaskRecord, peer: string): boolean {
  return t.state === 'leased' && t.backup?.peer === peer && t.lease?.peer !== peer
}

/** Whether `peer` has reported a failure on this task. */
function failedBy (t: TaskRecord, peer: string): boolean {
  return t.failures.some(f => f.peer === peer)
}
