/**
 * One task as the origin stores it in LevelDB (under the `task` sublevel, by
 * id): its image hash, its state, who holds its lease and who backs it up,
 * and what happened to it so far. protocols/tasks/queue.ts keeps these
 * records; protocols/tasks/policy.ts decides on them.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { SHA256_HEX } from '../../util/sha256.js'
import { MAX_FAILURES } from './constants.js'

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

/** What newTaskId makes: anything else is not looked up in LevelDB. */
export const TASK_ID = /^[0-9a-z]{13}-[0-9a-f]{6}$/
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

/** A task submitted at `now`, never granted. */
export function newTask (hash: string, meta: { file: string, critical: boolean }, state: TaskRecord['state'], now: number): TaskRecord {
  return { id: newTaskId(now), hash, file: meta.file, critical: meta.critical, submittedAt: now, state, grants: 0, regrants: 0, failures: [], workers: [] }
}
