/**
 * simnet's workload submitted: every image to the origins in turn, critical
 * or not, while the origins hold their queues; then the queues released at
 * once, so the run measures the scheduler with all the work there.
 */
import type { TaskView } from '../node/daemon/work.js'
import type { SimNode } from './cluster.js'
import type { RunOptions } from './options.js'
import type { Submitted } from './types.js'
import type { WorkItem } from './workload.js'

/** Is task i critical, for a share of critical tasks spread evenly over the run (1 in 5 for 0.2)? */
export function isCriticalAt (i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share)
}

/** Hold or release the origins' queues. */
async function setPaused (origins: SimNode[], paused: boolean): Promise<void> {
  await Promise.all(origins.map(async n => { await n.client!.post('/v1/simnet/pause', { paused }) }))
}

/** Submit the work to the origins, held, then release them; the tasks in the work's order, and when they were released. */
export async function submitWork (origins: SimNode[], work: WorkItem[], o: RunOptions, say: (line: string) => void, t0: number): Promise<{ submitted: Submitted[], released: number }> {
  const submitted: Submitted[] = []
  // The origins hold their queues until every task is in: the scheduler is measured from the
  // moment all the work is there, not limited by how fast one process can take submissions.
  await setPaused(origins, true)
  // Submissions go out 8 at a time; each is checked and stored by its origin.
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = next++; i < work.length; i = next++) {
      const origin = origins[i % origins.length]!
      const critical = o.critical === true && isCriticalAt(i, o.criticalShare ?? 1)
      const t = await origin.client!.postBytes<TaskView>(`/v1/tasks?name=${encodeURIComponent(work[i]!.name)}${critical ? '&critical=true' : ''}`, work[i]!.bytes)
      submitted[i] = { origin, id: t.id, hash: t.hash, critical }
    }
  }))
  say(`submitted ${submitted.length} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const released = Date.now()
  await setPaused(origins, false)
  return { submitted, released }
}
