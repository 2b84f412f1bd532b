/**
 * simnet: many real texmesh nodes on this machine, a workload, faults, and a
 * report with the invariants that must hold (every task has a result, every
 * result is in every live replica, no task lost).
 *
 * @example
 * ```ts
 * const report = await runSimnet({ nodes: 4, tasks: 100, modelled: [200, 400], crash: 1 })
 * if (report.invariants.some(i => !i.ok)) process.exitCode = 1
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TaskView } from '../node/daemon/work.js'
import type { ApiStatus } from '../node/daemon/api.js'
import { VERSION } from '../node/version.js'
import { Cluster, SimnetError, stopAllNodes, type SimNode, type SimNodeSpec } from './cluster.js'
import { generatedImages, imagesFromFolder, type WorkItem } from './workload.js'
import { ATTACKS, type Attack } from './byzantine.js'
import type { OcrResult } from '../pipeline/ocr.js'
import type { QuorumTimings } from '../protocols/votes/index.js'
import { HostSampler, hostInfo, type HostInfo, type HostSample } from './host.js'
import { summarise } from './summary.js'

export interface SimnetOptions {
  nodes: number
  tasks: number
  /** a folder of images; otherwise formulas are generated from `seed` */
  images?: string
  seed?: number
  /** [p50, p95] ms: recognition replaced by a sleep; undefined runs the real model */
  modelled?: [number, number]
  workers?: number
  leaseMs?: number
  /** SIGKILL this many nodes (never the origin) once a third of the tasks are done */
  crash?: number
  /** restart crashed nodes this many ms after the crash */
  restartAfterMs?: number
  /** split the network in two halves at a fifth of the tasks, for partitionMs */
  partition?: boolean
  partitionMs?: number
  /** this many nodes (the last ones) are `slowdown` times slower */
  slow?: number
  slowdown?: number
  /** explicit slowdown per node (overrides slow/slowdown) */
  slowdowns?: number[]
  /** submit everything to node 0 (default), or spread over all nodes */
  spread?: boolean
  /** every task is critical: it goes to a quorum vote */
  critical?: boolean
  /** this share of the tasks (0-1, spread evenly) is critical, the rest ordinary (mixed load); overrides `critical` */
  criticalShare?: number
  /** f of the quorum (3f+1 voters) */
  quorumF?: number
  /** this many nodes (the last ones, never node 0) vote as Byzantine nodes with `attack` */
  byzantine?: number
  attack?: Attack
  /** give up after this long (the run always stops and cleans up) */
  timeoutMs?: number
  /** progress lines */
  onProgress?: (line: string) => void
}

export interface Invariant { name: string, ok: boolean, detail: string }

/** What a run was asked to do, and where and with what it ran. */
export interface RunParameters {
  /** when the run began (ISO 8601) */
  startedAt: string
  /** texmesh's version */
  version: string
  /** the model version the nodes report, or "modelled" (recognition replaced by a sleep) */
  model: string
  seed: number
  /** every option of the run, as given or defaulted (milliseconds where the name says Ms) */
  options: Record<string, string | number | boolean | number[]>
  /** the command line's arguments */
  argv: string[]
  host: HostInfo
}

export interface Fault {
  /** ms since the run's start */
  atMs: number
  what: string
  /** tasks done when it fired, of `of` */
  done?: number
  of?: number
}

export interface SimnetReport {
  nodes: number
  tasks: number
  completed: number
  lost: number
  throughput: number
  latencyMs: { p50: number, p95: number, p99: number }
  perNode: Array<{ peerId: string, tasks: number, slowdown: number, alive: boolean }>
  invariants: Invariant[]
  makespanMs: number
  /** ideal makespan (all work spread perfectly over the nodes' speeds) / measured makespan; modelled compute only */
  efficiency: number | null
  regrants: number
  /** critical runs: the certificates issued, and whether each is for the honest answer */
  certificates?: Array<{ task: string, latex: string, voters: string[], honest: boolean }>
  /** critical runs: tasks that ended without agreement */
  noConsensus?: number
  /** critical runs: voters caught equivocating (as node 0 saw them) */
  equivocators?: string[]
  /** the Byzantine nodes' peer ids */
  byzantine?: string[]
  /** critical runs: how many tasks were critical, readings per critical task (2f+1 at best), latency of each kind, and where ballots' time went */
  quorum?: QuorumReport
  faults: Fault[]
  /** for --crash: from the crash until every task the crashed nodes held was done */
  recoveryMs: number | null
  mode: 'model' | 'modelled'
  /** tasks done over time (ms since the run's start), one point at each change */
  timeline: Array<{ atMs: number, done: number }>
  parameters: RunParameters
  /** when the origins released their queues (ms since the run's start): latency and makespan count from here */
  releasedAtMs: number
  /** task latencies (from the release), in bins of equal width */
  latencyHistogram: Array<{ fromMs: number, toMs: number, count: number }>
  /**
   * When each node worked on tasks (ms since the run's start): a result is its
   * recognition time, ending when the origin had it; a lease without a result
   * of the node's own runs from when simnet first saw it to when the task was
   * done elsewhere or the node was killed (seen every 500 ms).
   */
  work: Array<{ node: number, task: string, startMs: number, endMs: number, result: boolean }>
  /** when nodes were down (killed; toMs: restarted, or null) */
  downtime: Array<{ node: number, fromMs: number, toMs: number | null }>
  /** the host's CPU and load, sampled every second while the run went on */
  host: HostSample[]
}

/** Where ballots' time went in a critical run (see QuorumTimings): the origins', and the voters' summed over nodes. */
export interface QuorumReport {
  critical: number
  ordinary: number
  /** votes read by all nodes, per critical task (2f+1 when every ballot agreed at once) */
  readingsPerTask: number
  latencyMs: { critical: { p50: number, p95: number }, ordinary: { p50: number, p95: number } }
  origins: Array<QuorumTimings['origin'] & { node: number }>
  voters: Array<QuorumTimings['voter'] & { node: number }>
}

const DEFAULTS = { seed: 1, workers: 1, leaseMs: 5_000, crash: 0, restartAfterMs: -1, partitionMs: 5_000, slow: 0, slowdown: 4, timeoutMs: 300_000 }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Run one simnet: start, load, break, check, report; always stops its processes and removes its temp dirs. */
export async function runSimnet (options: SimnetOptions): Promise<SimnetReport> {
  const o = { ...DEFAULTS, ...options }
  if (o.criticalShare != null) {
    if (!(o.criticalShare > 0 && o.criticalShare <= 1)) throw new SimnetError('--critical-share must be more than 0 and at most 1')
    o.critical = true
  }
  if (o.nodes < 1 || o.nodes > 64) throw new SimnetError('--nodes must be 1-64')
  if (o.crash >= o.nodes) throw new SimnetError('--crash must leave node 0 (the origin) running: at most --nodes minus 1')
  if (!Number.isFinite(o.slowdown) || o.slowdown < 1) throw new SimnetError('--slowdown must be a number of at least 1')
  if (o.slow > o.nodes) throw new SimnetError('--slow cannot exceed --nodes')
  const byzantine = o.byzantine ?? 0
  if (byzantine > 0 && o.attack == null) throw new SimnetError(`--byzantine needs --attack ${ATTACKS.join('|')}`)
  if (byzantine > 0 && o.critical !== true) throw new SimnetError('--byzantine needs --critical: Byzantine nodes act only in votes, and only critical tasks are voted on')
  if (byzantine === 0 && o.attack != null) throw new SimnetError('--attack needs --byzantine K')
  if (o.crash === 0 && options.restartAfterMs != null) throw new SimnetError('--restart needs --crash K')
  if (byzantine >= o.nodes) throw new SimnetError('--byzantine must leave node 0 honest: at most --nodes minus 1')
  if (o.critical === true && o.nodes < 3 * (o.quorumF ?? 1) + 1) throw new SimnetError(`--critical needs at least 3f+1 = ${3 * (o.quorumF ?? 1) + 1} nodes`)
  const say = o.onProgress ?? (() => {})
  const started: Started = { at: new Date(), host: hostInfo() }
  const root = await mkdtemp(join(tmpdir(), 'texmesh-simnet-'))
  let cluster: Cluster | undefined
  // Ctrl-C at any point, while images are made or nodes start too: stop every node, remove the temp dir.
  const onSignal = (signal: NodeJS.Signals): void => {
    void stopAllNodes().finally(() => rm(root, { recursive: true, force: true }).finally(() => process.exit(signal === 'SIGTERM' ? 143 : 130)))
  }
  // If simnet dies some other way, its nodes are killed as it exits (cluster.ts); the temp dir goes too.
  const onExit = (): void => { rmSync(root, { recursive: true, force: true }) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', onExit)
  try {
    say(`making ${o.tasks} images`)
    const work: WorkItem[] = o.images != null ? await imagesFromFolder(o.images, o.tasks) : await generatedImages(o.tasks, o.seed)
    const slowdowns = o.slowdowns ?? Array.from({ length: o.nodes }, (_, i) => i >= o.nodes - o.slow ? o.slowdown : 1)
    const specs: SimNodeSpec[] = slowdowns.map((s, i) => ({
      slowdown: s,
      workers: o.workers,
      leaseMs: o.leaseMs,
      ...(o.modelled != null ? { modelled: o.modelled } : {}),
      ...(o.quorumF != null ? { quorumF: o.quorumF } : {}),
      // Each node's random source from the run's seed, so that its protocol choices replay.
      seed: o.seed * 1000 + i,
      ...(i >= o.nodes - byzantine && o.attack != null ? { byzantine: o.attack } : {})
    }))
    say(`starting ${o.nodes} nodes`)
    cluster = await Cluster.start(root, specs)
    if (!await cluster.meshed(60_000)) say('warning: not every node sees every other after 60 s; going on')
    // gossipsub forms its mesh on its heartbeat; give load messages a moment to reach everyone
    await sleep(1500)
    return await drive(cluster, work, o, say, started)
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await cluster?.stop()
    await rm(root, { recursive: true, force: true, maxRetries: 3 })
    process.removeListener('exit', onExit)
  }
}

export interface Submitted { origin: SimNode, id: string, hash: string, critical: boolean }

/** Is task i critical, for a share of critical tasks spread evenly over the run (1 in 5 for 0.2)? */
export function isCriticalAt (i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share)
}

/** When the run began, and the host as it was then. */
interface Started { at: Date, host: HostInfo }

async function drive (cluster: Cluster, work: WorkItem[], o: typeof DEFAULTS & SimnetOptions, say: (line: string) => void, started: Started): Promise<SimnetReport> {
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

/** A task with its answer: a result, or (critical tasks) no consensus. */
const ended = (state: string | undefined): boolean => state === 'done' || state === 'no-consensus'

async function driveWith (cluster: Cluster, work: WorkItem[], o: typeof DEFAULTS & SimnetOptions, say: (line: string) => void, timers: Array<ReturnType<typeof setTimeout>>, started: Started): Promise<SimnetReport> {
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

async function driveSampled (cluster: Cluster, work: WorkItem[], o: typeof DEFAULTS & SimnetOptions, say: (line: string) => void, timers: Array<ReturnType<typeof setTimeout>>, started: Started, t0: number, sampler: HostSampler): Promise<SimnetReport> {
  const nodes = cluster.nodes
  const faults: Fault[] = []
  const origins = o.spread === true ? nodes : [nodes[0]!]
  const submitted: Submitted[] = []
  const status0 = await nodes[0]!.client!.get<ApiStatus>('/v1/status').catch(() => undefined)
  const model = status0?.model ?? (o.modelled != null ? 'modelled' : 'unknown')
  // The origins hold their queues until every task is in: the scheduler is measured from the
  // moment all the work is there, not limited by how fast one process can take submissions.
  await Promise.all(origins.map(async n => { await n.client!.post('/v1/simnet/pause', { paused: true }) }))
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
  await Promise.all(origins.map(async n => { await n.client!.post('/v1/simnet/pause', { paused: false }) }))
  const total = submitted.length

  const views = new Map<string, TaskView>()
  const unreachable = new Set<string>()
  // Every (task, worker) simnet saw holding a lease: when first and last seen, for the per-node timelines.
  const leasesSeen = new Map<string, { task: string, worker: string, first: number, last: number }>()
  /** when a task list was last read */
  let lastListed = Date.now()
  const refresh = async (): Promise<void> => {
    for (const origin of origins) {
      if (!origin.alive) continue
      try {
        const list = await origin.client!.get<TaskView[]>(`/v1/tasks?limit=${work.length + 10}`)
        const now = Date.now()
        lastListed = now
        for (const v of list) {
          views.set(v.id, v)
          if (ended(v.state)) continue
          for (const worker of v.workers) {
            const key = `${v.id} ${worker}`
            const seen = leasesSeen.get(key)
            if (seen == null) leasesSeen.set(key, { task: v.id, worker, first: now, last: now })
            else seen.last = now
          }
        }
        unreachable.delete(origin.peerId)
      } catch {
        unreachable.add(origin.peerId)
      }
    }
  }
  const doneCount = (): number => submitted.filter(s => ended(views.get(s.id)?.state)).length
  // The done count as the origins keep it (their status: one small answer however many tasks), read
  // every POLL_MS; the task lists, which carry every result, are read every REFRESH_MS beside it.
  // An origin that is down or does not answer counts what its last list said.
  const countDone = async (): Promise<number> => {
    const counts = await Promise.all(origins.map(async origin => {
      if (origin.alive) {
        const s = await origin.client!.get<ApiStatus>('/v1/status').catch(() => undefined)
        // A queue counts a task that ended without consensus as failed; only critical tasks can.
        if (s?.tasks != null) return s.tasks.done + (o.critical === true ? s.tasks.failedTasks : 0)
      }
      return submitted.filter(x => x.origin === origin && ended(views.get(x.id)?.state)).length
    }))
    return Math.min(total, counts.reduce((a, b) => a + b, 0))
  }

  const victims = o.crash > 0 ? pickVictims(nodes, o.crash, o.seed) : []
  // The points the faults fire at, as their help says: a partition at a fifth of the tasks done, the crash at a third.
  const partitionPoint = o.partition === true ? total / 5 : undefined
  const crashPoint = victims.length > 0 ? total / 3 : undefined
  let crashAt: number | undefined
  let heldByVictims: string[] = []
  let partitioned = false
  let healed = false
  const downtime: SimnetReport['downtime'] = []
  const timeline: SimnetReport['timeline'] = []
  const deadline = t0 + o.timeoutMs
  let lastSaid = 0
  let lastSaidDone = -1
  let done = 0
  let lastRefresh = 0
  let refreshing: Promise<void> | undefined
  // Faults being made (see below); the run waits for them before it sums up.
  const actions: Array<Promise<void>> = []
  // The last second of counts, for the pace the work goes at.
  const recent: Array<{ at: number, done: number }> = []
  const nodeList = (list: SimNode[]): string => `node${list.length > 1 ? 's' : ''} ${list.map(v => v.index).join(', ')}`
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
      refreshing = refresh().finally(() => { refreshing = undefined })
    }
    done = Math.max(await countDone(), doneCount())
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
    if (partitionPoint != null && !partitioned && due(partitionPoint)) {
      partitioned = true
      const firedAt = done
      const at = Date.now()
      actions.push((async () => {
        const half = Math.ceil(nodes.length / 2)
        const sides = [nodes.slice(0, half), nodes.slice(half)]
        await Promise.all(nodes.map(async (n, i) => {
          const other = i < half ? sides[1]! : sides[0]!
          await n.client!.post('/v1/simnet/partition', { deny: other.map(x => x.peerId) }).catch(() => {})
        }))
        faults.push({ atMs: at - t0, what: `partition: nodes 0-${half - 1} | ${half}-${nodes.length - 1}`, done: firedAt, of: total })
        say(`partitioned at ${firedAt} of ${total} done`)
        timers.push(setTimeout(() => {
          void (async () => {
            if (healed) return
            healed = true
            await heal(cluster)
            faults.push({ atMs: Date.now() - t0, what: 'partition healed', done, of: total })
            say('partition healed')
          })()
        }, o.partitionMs))
      })())
    }
    if (crashPoint != null && crashAt == null && due(crashPoint)) {
      const at = Date.now()
      crashAt = at
      const firedAt = done
      const listedBefore = lastListed
      // SIGKILL goes out now; kill() then waits for the processes to be gone.
      const killed = Promise.all(victims.map(async v => { await v.kill() }))
      for (const v of victims) downtime.push({ node: v.index, fromMs: at - t0, toMs: null })
      actions.push((async () => {
        await killed
        // What the victims held, read just after the kill: their leases stay theirs at the origin until they run out.
        await refresh()
        const held = [...views.values()].filter(v => v.state === 'leased' && victims.some(x => x.peerId === v.workers[v.workers.length - 1]))
        heldByVictims = held.map(v => v.id)
        // A lease first seen after the kill was taken after the list before it: it began between the two.
        for (const v of held) {
          const seen = leasesSeen.get(`${v.id} ${v.workers[v.workers.length - 1]!}`)
          if (seen != null && seen.first > at) seen.first = Math.min(at, listedBefore)
        }
        faults.push({ atMs: at - t0, what: `SIGKILL ${nodeList(victims)} holding ${heldByVictims.length} leases`, done: firedAt, of: total })
        say(`killed ${nodeList(victims)} at ${firedAt} of ${total} done (${heldByVictims.length} leases held)`)
        if (o.restartAfterMs >= 0) {
          timers.push(setTimeout(() => {
            void Promise.all(victims.map(async v => {
              await v.start(cluster.seeds()).then(() => {
                const back = Date.now() - t0
                const down = downtime.find(d => d.node === v.index && d.toMs == null)
                if (down != null) down.toMs = back
                faults.push({ atMs: back, what: `node ${v.index} restarted`, done, of: total })
              }, err => { say(`restarting node ${v.index} failed: ${(err as Error).message}`) })
            }))
          }, Math.max(0, o.restartAfterMs - (Date.now() - at))))
        }
      })())
    }
    const saidAt = Date.now()
    if ((done !== lastSaidDone && saidAt - lastSaid >= SAY_MIN_MS) || saidAt - lastSaid >= SAY_MAX_MS) {
      lastSaid = saidAt
      lastSaidDone = done
      say(`${done}/${total} done`)
    }
    // A fault due within about a second of work (at the pace of the last second), or a few tasks:
    // read the counts often, so it fires within a task or two of its point however fast tasks end.
    near = [partitioned ? undefined : partitionPoint, crashAt != null ? undefined : crashPoint]
      .some(point => point != null && point - done <= Math.max(3, pace * 1000))
    await sleep(near ? POLL_NEAR_MS : POLL_MS)
  }
  if (done !== lastSaidDone) say(`${done}/${total} done`)
  await Promise.all(actions)
  if (partitioned && !healed) {
    // The run is over: heal now (the timer would outlive --timeout by up to --partition-ms).
    healed = true
    await heal(cluster)
    faults.push({ atMs: Date.now() - t0, what: 'partition healed (end of run)', done, of: total })
  }
  // Faults asked for that the run ended before making: said, so a pass is not mistaken for one under fault.
  const notMade: string[] = []
  if (partitionPoint != null && !partitioned) notMade.push('the partition')
  if (crashPoint != null && crashAt == null) notMade.push('the crash')
  for (const what of notMade) say(`warning: ${what} was not made: the work ended first (give more --tasks)`)
  // The final state, read fresh from every origin that still answers.
  await refreshing
  await refresh()
  const makespanEnd = Math.max(...[...views.values()].filter(v => v.doneAt != null).map(v => Date.parse(v.doneAt!)), t0)

  // Every result in every live replica: give gossip and catch-up time to deliver.
  const hashes = [...new Set(submitted.filter(s => views.get(s.id)?.state === 'done').map(s => s.hash))]
  let missing: string[] = []
  const replDeadline = Date.now() + 30_000
  do {
    missing = []
    for (const n of cluster.live()) {
      for (const h of hashes) {
        const r = await n.client!.get<Record<string, unknown>>(`/v1/results/${h}`).catch(() => ({}))
        if (Object.keys(r).length === 0) missing.push(`node ${n.index} lacks ${h.slice(0, 12)}`)
      }
    }
    if (missing.length > 0) await sleep(500)
  } while (missing.length > 0 && Date.now() < replDeadline)

  // Critical runs: what an honest node reads in each image, to judge the certificates.
  let honest: Map<string, string> | undefined
  if (o.critical === true) {
    honest = new Map()
    for (const [i, s] of submitted.entries()) {
      if (!s.critical) continue
      const r = await nodes[0]!.client!.postBytes<OcrResult>(`/v1/ocr?name=${encodeURIComponent(work[i]!.name)}`, work[i]!.bytes)
      honest.set(s.id, r.latex)
    }
  }
  // Critical runs: where ballots' time went, as each live node measured it.
  const timings: Array<{ node: number, quorum: QuorumTimings }> = []
  if (o.critical === true) {
    for (const n of cluster.live()) {
      const st = await n.client!.get<ApiStatus>('/v1/status').catch(() => undefined)
      if (st?.quorum != null) timings.push({ node: n.index, quorum: st.quorum })
    }
  }
  const equivocators = o.critical === true
    ? (await nodes[0]!.client!.get<Array<{ id: string, equivocated?: boolean }>>('/v1/peers').catch(() => [])).filter(p => p.equivocated === true).map(p => p.id)
    : undefined

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
    faults,
    missing,
    unreachable,
    crashAt,
    heldByVictims,
    timeline,
    modelled: o.modelled != null,
    slowdownOf: (i: number) => nodes[i]!.spec.slowdown,
    notMade,
    parameters,
    leasesSeen: [...leasesSeen.values()],
    downtime,
    host: sampler.samples
  })
}

/** End a partition: every live node accepts every other again and dials them. */
async function heal (cluster: Cluster): Promise<void> {
  await Promise.all(cluster.live().map(async n => { await n.client!.post('/v1/simnet/partition', { deny: [] }).catch(() => {}) }))
  await Promise.all(cluster.live().map(async n => { await n.client!.post('/v1/simnet/dial', { addrs: cluster.live().filter(x => x !== n).map(x => x.addr) }).catch(() => {}) }))
}

function pickVictims (nodes: SimNode[], k: number, seed: number): SimNode[] {
  // Never the origin (node 0): its queue is what the run measures. Seeded, so a run can be replayed.
  const pool = nodes.slice(1)
  let s = seed >>> 0
  const rand = (): number => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, k)
}

/** The options of a run as plain values (the progress callback left out), keys in order. */
function optionsOf (o: typeof DEFAULTS & SimnetOptions): RunParameters['options'] {
  const out: RunParameters['options'] = {}
  for (const [k, v] of Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v
    else if (Array.isArray(v) && v.every(x => typeof x === 'number')) out[k] = [...v]
  }
  return out
}
