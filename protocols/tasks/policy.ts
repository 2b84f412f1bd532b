/**
 * Work sharing's policy as pure functions, testable without a network or a
 * disk. The worker's side: which origin a slot steals from, how long it waits
 * after a failure, which failed fetch counts against a task. The origin's
 * side: what a thief is told is left, which tasks a worker is granted (and
 * which get a backup worker), when a failure is final, and which leases ran
 * out. protocols/tasks/queue.ts stores what these decide.
 */
import { BlobError } from '../blob/index.js'
import { ANNOUNCE_MIN_MS, FETCH_BACKOFF_MS, LOAD_STALE_MS, MAX_FAILURES, MAX_FETCH_BACKOFF_MS, MAX_LEASES_PER_PEER } from './constants.js'
import type { TaskRecord } from './record.js'

// ---- the worker's side ----

/** What an origin last said it holds: tasks waiting, backup candidates, and when it said so (ms). */
export interface OriginLoad { queued: number, backups: number, at: number }

/** Origins with tasks (or backup candidates) waiting, said recently, that `usable` accepts (a member, connected): each with how many. */
export function originsWithWork (load: ReadonlyMap<string, OriginLoad>, what: 'queued' | 'backups', now: number, usable: (peer: string) => boolean): Array<[string, number]> {
  const out: Array<[string, number]> = []
  for (const [peer, l] of load) {
    if (l[what] <= 0 || now - l.at > LOAD_STALE_MS || !usable(peer)) continue
    out.push([peer, l[what]])
  }
  return out
}

/** One of the candidates at random, each as likely as its weight; undefined when there is none. */
export function weightedChoice<T> (candidates: ReadonlyArray<readonly [T, number]>, random: () => number): T | undefined {
  const total = candidates.reduce((s, [, w]) => s + w, 0)
  let r = random() * total
  for (const [item, w] of candidates) {
    r -= w
    if (r < 0) return item
  }
  return candidates[candidates.length - 1]?.[0]
}

/**
 * After `failures` failures in a row, a slot waits FETCH_BACKOFF_MS, doubling with each, up to
 * MAX_FETCH_BACKOFF_MS.
 */
export function fetchBackoffMs (failures: number): number {
  return Math.min(MAX_FETCH_BACKOFF_MS, FETCH_BACKOFF_MS * 2 ** failures)
}

/**
 * Whether a failed image fetch counts against the task. The origin went away or the transfer
 * broke: not the image's fault, the task is given back. Only when the origin itself cannot give
 * the right bytes does it count against the task.
 */
export function fetchFailureBlamesTask (err: unknown): err is BlobError {
  return err instanceof BlobError && (err.reason === 'missing' || err.reason === 'too-large' || err.reason === 'hash-mismatch')
}

// ---- the origin's side ----

/** How long to wait before the next load message: at most one per ANNOUNCE_MIN_MS, the latest counts. */
export function announceDelay (lastAnnounceAt: number, now: number): number {
  return Math.max(0, lastAnnounceAt + ANNOUNCE_MIN_MS - now)
}

/**
 * What is left for this thief, as a steal reply says. Nothing when it was refused (not admitted,
 * at its cap of leases while tasks wait, or no backup it would finish sooner), so that it stops
 * asking until the next load message.
 */
export function loadForThief (admitted: boolean, granted: number, askedBackups: boolean, left: { queued: number, backups: number }): { queued: number, backups: number } {
  const refused = !admitted || (granted === 0 && (askedBackups || left.queued > 0))
  return { queued: refused ? 0 : left.queued, backups: refused ? 0 : left.backups }
}

/** A task a worker can be granted now (critical tasks go to a quorum of voters instead). */
export function isWaiting (t: TaskRecord): boolean {
  return t.state === 'queued' && !t.critical
}

/** A leased task that could still get a backup worker. */
export function isBackupCandidate (t: TaskRecord): boolean {
  return t.state === 'leased' && t.backup == null && !t.critical
}

/** Tasks waiting and backup candidates, in one pass, for a load message. */
export function loadCounts (open: Iterable<TaskRecord>): { queued: number, backups: number } {
  let queued = 0
  let backups = 0
  for (const t of open) {
    if (t.critical) continue
    if (t.state === 'queued') queued++
    else if (t.state === 'leased' && t.backup == null) backups++
  }
  return { queued, backups }
}

/** Whether `peer` has reported a failure on this task. */
export function failedBy (t: TaskRecord, peer: string): boolean {
  return t.failures.some(f => f.peer === peer)
}

/** Whether `peer` holds a task only as its backup worker. */
export function isBackupOf (t: TaskRecord, peer: string): boolean {
  return t.state === 'leased' && t.backup?.peer === peer && t.lease?.peer !== peer
}

/**
 * How many of the `want` tasks `peer` asks for it may be granted: the origin itself (`self`) is
 * not capped; any other worker holds at most MAX_LEASES_PER_PEER leases and backups of it at once.
 */
export function leaseAllowance (open: Iterable<TaskRecord>, peer: string, self: string, want: number): number {
  let held = 0
  for (const t of open) if (t.state === 'leased' && (t.lease?.peer === peer || t.backup?.peer === peer)) held++
  return peer !== self ? Math.min(want, MAX_LEASES_PER_PEER - held) : want
}

/**
 * Up to `want` queued tasks for `peer`, oldest first (`open` is in submission order). Never one
 * it reported a failure on (the origin may try its own task twice, for a passing fault).
 */
export function queuedFor (open: Iterable<TaskRecord>, peer: string, self: string, want: number): TaskRecord[] {
  const granted: TaskRecord[] = []
  for (const t of open) {
    if (granted.length >= want) break
    // Critical tasks go to a quorum of voters, never to a single worker.
    if (t.state !== 'queued' || t.critical || (peer !== self && failedBy(t, peer))) continue
    granted.push(t)
  }
  return granted
}

/** What an origin has seen of its workers (EWMAs, ms, by peer). */
export interface WorkerFigures {
  /** each worker's recent time from grant to result */
  turnaround: ReadonlyMap<string, number>
  /** each worker's recent recognition time (what its results say they took) */
  pace: ReadonlyMap<string, number>
}

/**
 * Up to `want` tasks leased to other workers, with no backup yet, for `peer` to back up, the
 * most urgent first. `leaseMs` stands in for the typical turnaround until there are figures.
 */
export function backupsFor (open: Iterable<TaskRecord>, peer: string, want: number, now: number, figures: WorkerFigures, leaseMs: number): TaskRecord[] {
  // Overdue tasks first (the holder is stuck, or never got the lease), most overdue first;
  // then the task expected to finish last (its holder is slow, or has it queued behind
  // another), unless the asker would not finish it sooner itself. A holder without figures
  // yet is expected to take what the others take on average.
  const mine = figures.pace.get(peer)
  const known = [...figures.turnaround.values()]
  const typical = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : leaseMs
  const leased = [...open]
    .filter(t => t.state === 'leased' && t.backup == null && !t.critical && t.lease != null && t.lease.peer !== peer && !failedBy(t, peer))
    .map(t => ({ t, due: t.lease!.grantedAt + (figures.turnaround.get(t.lease!.peer) ?? typical) }))
    .filter(({ due }) => mine == null || due < now || now + mine < due)
    .map(({ t, due }) => ({ t, urgency: due < now ? 1e12 + (now - due) : due - now }))
    .sort((a, b) => b.urgency - a.urgency)
  return leased.slice(0, want).map(({ t }) => t)
}

/** When `by` was given this task (as its lease holder or its backup), if it was. */
export function grantedTo (t: TaskRecord, by: string): number | undefined {
  return t.lease?.peer === by ? t.lease.grantedAt : t.backup?.peer === by ? t.backup.grantedAt : undefined
}

/** Fold a new sample into a per-worker moving average (recent samples weigh most). */
export function movingAverage (before: number | undefined, sample: number): number {
  return before == null ? sample : 0.7 * before + 0.3 * sample
}

/**
 * The lease holder `peer` reported a failure: the task's failures after it, and whether the task
 * now fails for good.
 */
export function afterFailure (t: TaskRecord, peer: string, self: string, reason: string): { failures: TaskRecord['failures'], final: boolean } {
  // Only reports from distinct workers count: one member cannot fail a task on its own.
  // The origin trusts itself: its own second failure is final.
  const again = failedBy(t, peer)
  const failures = again ? t.failures : [...t.failures, { peer, reason: reason.slice(0, 512) }]
  const final = failures.length >= MAX_FAILURES || (again && peer === self)
  return { failures, final }
}

/** Whether this task's lease has run out at `now` (it goes back to the queue). */
export function leaseRanOut (t: TaskRecord, now: number): boolean {
  return t.state === 'leased' && t.lease != null && t.lease.expiresAt <= now
}

/** The earliest lease expiry, to time the next expiry check. */
export function nextExpiry (open: Iterable<TaskRecord>): number | undefined {
  let next: number | undefined
  for (const t of open) {
    if (t.state === 'leased' && t.lease != null && (next == null || t.lease.expiresAt < next)) next = t.lease.expiresAt
  }
  return next
}
