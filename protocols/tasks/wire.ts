/**
 * What work sharing puts on the wire (protocols/tasks/index.ts describes the
 * exchange): the schemas every message is checked against on receipt, and
 * the conversions between a stored task and a lease.
 */
import { z } from 'zod'
import { SHA256_HEX } from '../../util/sha256.js'
import { MAX_ANNOUNCED, MAX_GRANT } from './constants.js'
import type { TaskRecord } from './record.js'

/** A task a worker was given: a lease (see Lease) and the origin it came from. */
export interface WorkItem {
  /** the origin's peer id (this node's own for local tasks) */
  origin: string
  id: string
  hash: string
  file: string
  critical: boolean
  expiresAt: number
}

export const Lease = z.object({
  id: z.string().max(64),
  hash: z.string().regex(SHA256_HEX),
  file: z.string().max(1024),
  critical: z.boolean(),
  expiresAt: z.number()
}).strict()
export type Lease = z.infer<typeof Lease>

/** A request on TASKS_PROTOCOL. */
export const TaskRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('steal'), want: z.number().int().min(1).max(MAX_GRANT), backups: z.boolean().optional() }).strict(),
  z.object({ kind: z.literal('failed'), id: z.string().max(64), reason: z.string().max(512) }).strict(),
  z.object({ kind: z.literal('release'), id: z.string().max(64) }).strict()
])
export type TaskRequest = z.infer<typeof TaskRequest>

export const StealReply = z.object({
  leases: z.array(Lease).max(MAX_GRANT),
  /** the origin's load after this grant, so a thief knows whether to come back without waiting for gossip */
  queued: z.number().int().nonnegative().optional(),
  backups: z.number().int().nonnegative().optional()
}).strict()
export type StealReply = z.infer<typeof StealReply>

/** What an origin gossips on TASKS_TOPIC. */
export const LoadMessage = z.object({
  v: z.literal(1),
  queued: z.number().int().nonnegative(),
  running: z.number().int().nonnegative(),
  capacity: z.number().int().nonnegative(),
  /** leased tasks that could take a backup worker */
  backups: z.number().int().nonnegative(),
  tasks: z.array(z.object({ id: z.string().max(64), hash: z.string().regex(SHA256_HEX) }).strict()).max(MAX_ANNOUNCED)
}).strict()
export type LoadMessage = z.infer<typeof LoadMessage>

/** What a peer said of itself in its last load message, and when (ms) it was heard. */
export interface PeerLoad { queued: number, running: number, capacity: number, at: number }

/** The lease a steal reply carries for a task just granted. */
export function leaseOf (t: TaskRecord): Lease {
  return { id: t.id, hash: t.hash, file: t.file, critical: t.critical, expiresAt: t.lease?.expiresAt ?? 0 }
}

/** A task of `origin`'s queue as a slot works on it. */
export function workOf (origin: string, t: TaskRecord): WorkItem {
  return { origin, id: t.id, hash: t.hash, file: t.file, critical: t.critical, expiresAt: t.lease?.expiresAt ?? 0 }
}
