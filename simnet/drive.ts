/**
 * A simnet run's loop, once its nodes are up: the work submitted, the done
 * count read until every task has its answer (or the run times out), progress
 * lines, each fault fired at its point, the host sampled all along; then the
 * final state read from the nodes and summed up into the report.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { VERSION } from '../node/version.js'
import type { Cluster, SimNode } from './cluster.js'
import { equivocatorsSeenBy, honestReadings, missingReplicas, quorumTimings } from './collect.js'
import { FaultInjector } from './faults.js'
import { HostSampler, type HostInfo } from './host.js'
import { statusOf, TaskObserver } from './observer.js'
import { optionsOf, type RunOptions } from './options.js'
import { submitWork } from './submit.js'
import { summarise } from './summary.js'
import type { RunParameters, SimnetReport } from './types.js'
import type { WorkItem } from './workload.js'

/** When the run began, and the host as it was then. */
export interface Started { at: Date, host: HostInfo }

export async function drive (cluster: Cluster, work: WorkItem[], o: RunOptions, say: (line: string) => void, started: Started): Promise<SimnetReport> {
  const timers: Array<ReturnType<typeof setTimeout>> = []
  try {
    return await driveWith(cluster, work, o, say, timers, started)
  } finally {
    // A restart or a heal still pending must not outlive the run.
    for (const t of timers) clearTimeout(t)
  }
}

/** How often the origins' counts are read: often enough to print each change, cheap for the origin (its status, not its task list). */
const POLL_MS = 100
/** ... and while a fault is due within about a second of work, or a few tasks: so it fires within a task or two of its point. */
const POLL_NEAR_MS = 20
/** The full task lists (states, workers, results) are read this often. */
const REFRESH_MS = 500
/** Progress lines: at most one each this often (a change of the done count), and one at least this often. */
const SAY_MIN_MS = 200
const SAY_MAX_MS = 2000

async function driveWith (cluster: Cluster, work: WorkItem[], o: RunOptions, say: (line: string) => void, timers: Array<ReturnType<typeof setTimeout>>, started: Started): Promise<SimnetReport> {
  const nodes = cluster.nodes
  const t0 = Date.now()
  // Every node process running, a restarted one from its spawn on (its start-up is CPU time too).
  const running = (n: SimNode): boolean => n.child?.pid != null && n.child.exitCode == null && n.child.signalCode == null
  const sampler = new HostSampler(t0, () => nodes.filter(running).map(n => n.child!.pid!))
  sampler.start()
  try {
    return await driveSampled(cluster, work, o, say, timers, started, t0, sampler)
  } finally {
    sampler.stop()
  }
}

async function driveSampled (cluster: Cluster, work: WorkItem[], o: RunOptions, say: (line: string) => void, timers: Array<ReturnType<typeof setTimeout>>, started: Started, t0: number, sampler: HostSampler): Promise<SimnetReport> {
  const nodes = cluster.nodes
  const origins = o.spread === true ? nodes : [nodes[0]!]
  const status0 = await statusOf(nodes[0]!)
  const model = status0?.model ?? (o.modelled != null ? 'modelled' : 'unknown')
  const { submitted, released } = await submitWork(origins, work, o, say, t0)
  const total = submitted.length

  const tasks = new TaskObserver(origins, submitted, work.length + 10, o.critical === true)
  let done = 0
  const faults = new FaultInjector(cluster, o, { t0, total, say, timers, done: () => done, tasks })
  const timeline: SimnetReport['timeline'] = []
  const deadline = t0 + o.timeoutMs
  let lastSaid = 0
  let lastSaidDone = -1
  let lastRefresh = 0
  let refreshing: Promise<void> | undefined
  // The last second of counts, for the pace the work goes at.
  const recent: Array<{ at: number, done: number }> = []
  // How long one round of the loop takes (a read of the counts and the pause after it), averaged.
  let roundMs = POLL_MS
  let lastRead = 0
  let near = false
  // Tasks done per ms over the last second.
  let pace = 0
  /**
   * Whether a fault due at `point` tasks done fires now: once the count reaches
   * it; or, where tasks end faster than the counts can be read, up to 2 tasks
   * short of it when at the pace of the last second the next read would land
   * more than a task past it, and further past than this one is short (the
   * nearer of the two).
   */
  const due = (point: number): boolean => {
    if (done >= point) return true
    if (point - done > 2) return false
    const over = done + pace * roundMs - point
    return over > 1 && over > point - done
  }
  for (;;) {
    // The task lists wait (up to a few seconds) while a fault is near: the origins answer the counts sooner.
    if (refreshing == null && Date.now() - lastRefresh >= (near ? 4 * REFRESH_MS : REFRESH_MS)) {
      lastRefresh = Date.now()
      refreshing = tasks.refresh().finally(() => { refreshing = undefined })
    }
    done = Math.max(await tasks.countDone(), tasks.doneCount())
    const now = Date.now()
    if (lastRead > 0) roundMs = 0.7 * roundMs + 0.3 * (now - lastRead)
    lastRead = now
    if (timeline.length === 0 || timeline[timeline.length - 1]!.done !== done) timeline.push({ atMs: now - t0, done })
    recent.push({ at: now, done })
    while (recent.length > 2 && now - recent[0]!.at > 1000) recent.shift()
    const first = recent[0]!
    pace = now > first.at ? (done - first.done) / (now - first.at) : 0
    if (done === total) break
    if (now > deadline) {
      say(`timed out after ${o.timeoutMs / 1000} s with ${done} of ${total} done`)
      break
    }
    // A fault's action runs beside the loop (its calls to the nodes take a while on a busy
    // machine), so the counts and the progress lines go on while it is made.
    const partitionPoint = faults.partitionDue()
    if (partitionPoint != null && due(partitionPoint)) faults.partition(done)
    const crashPoint = faults.crashDue()
    if (crashPoint != null && due(crashPoint)) faults.crash(done)
    const saidAt = Date.now()
    if ((done !== lastSaidDone && saidAt - lastSaid >= SAY_MIN_MS) || saidAt - lastSaid >= SAY_MAX_MS) {
      lastSaid = saidAt
      lastSaidDone = done
      say(`${done}/${total} done`)
    }
    // A fault due within about a second of work (at the pace of the last second), or a few tasks:
    // read the counts often, so it fires within a task or two of its point however fast tasks end.
    near = [faults.partitionDue(), faults.crashDue()]
      .some(point => point != null && point - done <= Math.max(3, pace * 1000))
    await sleep(near ? POLL_NEAR_MS : POLL_MS)
  }
  if (done !== lastSaidDone) say(`${done}/${total} done`)
  const notMade = await faults.finish()
  for (const what of notMade) say(`warning: ${what} was not made: the work ended first (give more --tasks)`)
  // The final state, read fresh from every origin that still answers.
  await refreshing
  await tasks.refresh()
  const views = tasks.views
  const makespanEnd = Math.max(...[...views.values()].filter(v => v.doneAt != null).map(v => Date.parse(v.doneAt!)), t0)

  // Every result in every live replica: give gossip and catch-up time to deliver.
  const hashes = [...new Set(submitted.filter(s => views.get(s.id)?.state === 'done').map(s => s.hash))]
  const missing = await missingReplicas(cluster, hashes)
  // Critical runs: what an honest node reads in each image, to judge the certificates; where
  // ballots' time went; who equivocated, as node 0 saw it.
  const honest = o.critical === true ? await honestReadings(nodes[0]!, submitted, work) : undefined
  const timings = o.critical === true ? await quorumTimings(cluster) : []
  const equivocators = o.critical === true ? await equivocatorsSeenBy(nodes[0]!) : undefined

  sampler.stop()
  const parameters: RunParameters = { startedAt: started.at.toISOString(), version: VERSION, model, seed: o.seed, options: optionsOf(o), argv: process.argv.slice(2), host: started.host }
  return summarise(cluster, submitted, views, {
    honest,
    equivocators,
    timings,
    quorumF: o.quorumF ?? 1,
    byzantine: o.byzantine ?? 0,
    t0,
    released,
    makespanEnd,
    faults: faults.made,
    missing,
    unreachable: tasks.unreachable,
    crashAt: faults.crashAt,
    heldByVictims: faults.heldByVictims,
    timeline,
    modelled: o.modelled != null,
    slowdownOf: (i: number) => nodes[i]!.spec.slowdown,
    notMade,
    parameters,
    leasesSeen: tasks.leasesSeen(),
    downtime: faults.downtime,
    host: sampler.samples
  })
}
