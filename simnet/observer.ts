/**
 * What simnet sees of the origins' tasks while a run goes on: their task lists
 * (states, workers, results), the origins that did not answer, every lease it
 * saw and when, and how many tasks are done.
 */
import type { ApiStatus } from '../node/daemon/api.js'
import type { TaskView } from '../node/daemon/work.js'
import type { SimNode } from './cluster.js'
import type { Submitted } from './types.js'

/** A task with its answer: a result, or (critical tasks) no consensus. */
export const ended = (state: string | undefined): boolean => state === 'done' || state === 'no-consensus'

/** The worker that holds a task's latest lease. */
export const holder = (v: TaskView): string | undefined => v.workers[v.workers.length - 1]

/** A node's status, or undefined when it does not answer. */
export async function statusOf (n: SimNode): Promise<ApiStatus | undefined> {
  return await n.client!.get<ApiStatus>('/v1/status').catch(() => undefined)
}

/** A worker simnet saw holding a lease on a task, and when it first and last saw it. */
export interface LeaseSeen { task: string, worker: string, first: number, last: number }

const leaseKey = (task: string, worker: string): string => `${task} ${worker}`

export class TaskObserver {
  /** every task as its origin's list last showed it */
  readonly views = new Map<string, TaskView>()
  /** origins whose list could not be read the last time */
  readonly unreachable = new Set<string>()
  // Every (task, worker) simnet saw holding a lease: when first and last seen, for the per-node timelines.
  private readonly leases = new Map<string, LeaseSeen>()
  /** when a task list was last read */
  lastListed = Date.now()

  constructor (
    private readonly origins: SimNode[],
    private readonly submitted: Submitted[],
    /** the most tasks one list is asked for */
    private readonly listLimit: number,
    private readonly critical: boolean
  ) {}

  /** The lease of `worker` on `task`, as seen. */
  leaseSeen (task: string, worker: string): LeaseSeen | undefined {
    return this.leases.get(leaseKey(task, worker))
  }

  /** Every lease seen. */
  leasesSeen (): LeaseSeen[] {
    return [...this.leases.values()]
  }

  /** Read every live origin's task list. */
  async refresh (): Promise<void> {
    for (const origin of this.origins) {
      if (!origin.alive) continue
      try {
        const list = await origin.client!.get<TaskView[]>(`/v1/tasks?limit=${this.listLimit}`)
        const now = Date.now()
        this.lastListed = now
        for (const v of list) {
          this.views.set(v.id, v)
          if (ended(v.state)) continue
          for (const worker of v.workers) {
            const key = leaseKey(v.id, worker)
            const seen = this.leases.get(key)
            if (seen == null) this.leases.set(key, { task: v.id, worker, first: now, last: now })
            else seen.last = now
          }
        }
        this.unreachable.delete(origin.peerId)
      } catch {
        this.unreachable.add(origin.peerId)
      }
    }
  }

  /** The tasks done as the last lists said. */
  doneCount (): number {
    return this.submitted.filter(s => ended(this.views.get(s.id)?.state)).length
  }

  // The done count as the origins keep it (their status: one small answer however many tasks), read
  // every POLL_MS (drive.ts); the task lists, which carry every result, are read every REFRESH_MS beside it.
  // An origin that is down or does not answer counts what its last list said.
  async countDone (): Promise<number> {
    const counts = await Promise.all(this.origins.map(async origin => {
      if (origin.alive) {
        const s = await statusOf(origin)
        // A queue counts a task that ended without consensus as failed; only critical tasks can.
        if (s?.tasks != null) return s.tasks.done + (this.critical ? s.tasks.failedTasks : 0)
      }
      return this.submitted.filter(x => x.origin === origin && ended(this.views.get(x.id)?.state)).length
    }))
    return Math.min(this.submitted.length, counts.reduce((a, b) => a + b, 0))
  }
}
