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
import type { TaskView } from '../node/tasks.js'
import { Cluster, SimnetError, stopAllNodes, type SimNode, type SimNodeSpec } from './cluster.js'
import { generatedImages, imagesFromFolder, type WorkItem } from './workload.js'
import type { Attack } from './byzantine.js'
import type { OcrResult } from '../pipeline/ocr.js'

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
  faults: Array<{ atMs: number, what: string }>
  /** for --crash: from the crash until every task the crashed nodes held was done */
  recoveryMs: number | null
  mode: 'model' | 'modelled'
  timeline: Array<{ atMs: number, done: number }>
}

const DEFAULTS = { seed: 1, workers: 1, leaseMs: 5_000, crash: 0, restartAfterMs: -1, partitionMs: 5_000, slow: 0, slowdown: 4, timeoutMs: 300_000 }

export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[idx]!
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Run one simnet: start, load, break, check, report; always stops its processes and removes its temp dirs. */
export async function runSimnet (options: SimnetOptions): Promise<SimnetReport> {
  const o = { ...DEFAULTS, ...options }
  if (o.nodes < 1 || o.nodes > 64) throw new SimnetError('--nodes must be 1-64')
  if (o.crash >= o.nodes) throw new SimnetError('--crash must leave at least the origin running')
  const byzantine = o.byzantine ?? 0
  if (byzantine > 0 && o.attack == null) throw new SimnetError('--byzantine needs --attack')
  if (byzantine > 0 && o.critical !== true) throw new SimnetError('--byzantine needs --critical: Byzantine nodes act only in votes, and only critical tasks are voted on')
  if (byzantine === 0 && o.attack != null) throw new SimnetError('--attack needs --byzantine K')
  if (o.crash === 0 && options.restartAfterMs != null) throw new SimnetError('--restart needs --crash K')
  if (byzantine >= o.nodes) throw new SimnetError('--byzantine must leave node 0 honest')
  if (o.critical === true && o.nodes < 3 * (o.quorumF ?? 1) + 1) throw new SimnetError(`critical tasks need at least 3f+1 = ${3 * (o.quorumF ?? 1) + 1} nodes`)
  const say = o.onProgress ?? (() => {})
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
      ...(i >= o.nodes - byzantine && o.attack != null ? { byzantine: o.attack } : {})
    }))
    say(`starting ${o.nodes} nodes`)
    cluster = await Cluster.start(root, specs)
    if (!await cluster.meshed(60_000)) say('warning: not every node sees every other after 60 s; going on')
    // gossipsub forms its mesh on its heartbeat; give load messages a moment to reach everyone
    await sleep(1500)
    return await drive(cluster, work, o, say)
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await cluster?.stop()
    await rm(root, { recursive: true, force: true, maxRetries: 3 })
    process.removeListener('exit', onExit)
  }
}

interface Submitted { origin: SimNode, id: string, hash: string }

async function drive (cluster: Cluster, work: WorkItem[], o: typeof DEFAULTS & SimnetOptions, say: (line: string) => void): Promise<SimnetReport> {
  const timers: Array<ReturnType<typeof setTimeout>> = []
  try {
    return await driveWith(cluster, work, o, say, timers)
  } finally {
    // A restart or a heal still pending must not outlive the run.
    for (const t of timers) clearTimeout(t)
  }
}

async function driveWith (cluster: Cluster, work: WorkItem[], o: typeof DEFAULTS & SimnetOptions, say: (line: string) => void, timers: Array<ReturnType<typeof setTimeout>>): Promise<SimnetReport> {
  const nodes = cluster.nodes
  const t0 = Date.now()
  const faults: SimnetReport['faults'] = []
  const origins = o.spread === true ? nodes : [nodes[0]!]
  const submitted: Submitted[] = []
  // The origins hold their queues until every task is in: the scheduler is measured from the
  // moment all the work is there, not limited by how fast one process can take submissions.
  await Promise.all(origins.map(async n => { await n.client!.post('/v1/simnet/pause', { paused: true }) }))
  // Submissions go out 8 at a time; each is checked and stored by its origin.
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = next++; i < work.length; i = next++) {
      const origin = origins[i % origins.length]!
      const t = await origin.client!.postBytes<TaskView>(`/v1/tasks?name=${encodeURIComponent(work[i]!.name)}${o.critical === true ? '&critical=true' : ''}`, work[i]!.bytes)
      submitted[i] = { origin, id: t.id, hash: t.hash }
    }
  }))
  say(`submitted ${submitted.length} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const released = Date.now()
  await Promise.all(origins.map(async n => { await n.client!.post('/v1/simnet/pause', { paused: false }) }))

  const views = new Map<string, TaskView>()
  const unreachable = new Set<string>()
  const refresh = async (): Promise<void> => {
    for (const origin of origins) {
      if (!origin.alive) continue
      try {
        const list = await origin.client!.get<TaskView[]>(`/v1/tasks?limit=${work.length + 10}`)
        for (const v of list) views.set(v.id, v)
        unreachable.delete(origin.peerId)
      } catch {
        unreachable.add(origin.peerId)
      }
    }
  }
  const doneCount = (): number => submitted.filter(s => { const st = views.get(s.id)?.state; return st === 'done' || st === 'no-consensus' }).length

  const victims = o.crash > 0 ? pickVictims(nodes, o.crash, o.seed) : []
  let crashAt: number | undefined
  let heldByVictims: string[] = []
  let partitioned = false
  let healed = false
  const timeline: SimnetReport['timeline'] = []
  const deadline = t0 + o.timeoutMs
  let lastSaid = 0
  for (;;) {
    await refresh()
    const done = doneCount()
    timeline.push({ atMs: Date.now() - t0, done })
    if (done === submitted.length) break
    if (Date.now() > deadline) {
      say(`timed out after ${o.timeoutMs / 1000} s with ${done} of ${submitted.length} done`)
      break
    }
    if (o.partition === true && !partitioned && done >= submitted.length / 5) {
      partitioned = true
      const half = Math.ceil(nodes.length / 2)
      const sides = [nodes.slice(0, half), nodes.slice(half)]
      await Promise.all(nodes.map(async (n, i) => {
        const other = i < half ? sides[1]! : sides[0]!
        await n.client!.post('/v1/simnet/partition', { deny: other.map(x => x.peerId) }).catch(() => {})
      }))
      faults.push({ atMs: Date.now() - t0, what: `partition: nodes 0-${half - 1} | ${half}-${nodes.length - 1}` })
      say(`partitioned at ${done} done`)
      timers.push(setTimeout(() => {
        void (async () => {
          await heal(cluster)
          healed = true
          faults.push({ atMs: Date.now() - t0, what: 'partition healed' })
          say('partition healed')
        })()
      }, o.partitionMs))
    }
    if (victims.length > 0 && crashAt == null && done >= submitted.length / 3) {
      heldByVictims = [...views.values()].filter(v => v.state === 'leased' && victims.some(x => x.peerId === v.workers[v.workers.length - 1])).map(v => v.id)
      crashAt = Date.now()
      await Promise.all(victims.map(async v => { await v.kill() }))
      faults.push({ atMs: crashAt - t0, what: `SIGKILL node${victims.length > 1 ? 's' : ''} ${victims.map(v => v.index).join(', ')} holding ${heldByVictims.length} leases` })
      say(`killed node${victims.length > 1 ? 's' : ''} ${victims.map(v => v.index).join(', ')} at ${done} done (${heldByVictims.length} leases held)`)
      if (o.restartAfterMs >= 0) {
        timers.push(setTimeout(() => {
          void Promise.all(victims.map(async v => {
            await v.start(cluster.seeds()).then(() => {
              faults.push({ atMs: Date.now() - t0, what: `node ${v.index} restarted` })
            }, err => { say(`restarting node ${v.index} failed: ${(err as Error).message}`) })
          }))
        }, o.restartAfterMs))
      }
    }
    if (Date.now() - lastSaid > 2000) {
      lastSaid = Date.now()
      say(`${done}/${submitted.length} done`)
    }
    // Each poll lists every task with its result: often enough for the fault triggers, not so often that the origin is busy answering.
    await sleep(500)
  }
  const makespanEnd = Math.max(...[...views.values()].filter(v => v.doneAt != null).map(v => Date.parse(v.doneAt!)), t0)
  if (partitioned && !healed) {
    // The run is over: heal now (the timer would outlive --timeout by up to --partition-ms).
    await heal(cluster)
    faults.push({ atMs: Date.now() - t0, what: 'partition healed (end of run)' })
  }
  // Faults asked for that the run ended before making: said, so a pass is not mistaken for one under fault.
  const notMade: string[] = []
  if (o.partition === true && !partitioned) notMade.push('the partition')
  if (victims.length > 0 && crashAt == null) notMade.push('the crash')
  for (const what of notMade) say(`warning: ${what} was not made: the work ended first (give more --tasks)`)
  // The final state, read fresh from every origin that still answers.
  await refresh()

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
      const r = await nodes[0]!.client!.postBytes<OcrResult>(`/v1/ocr?name=${encodeURIComponent(work[i]!.name)}`, work[i]!.bytes)
      honest.set(s.id, r.latex)
    }
  }
  const equivocators = o.critical === true
    ? (await nodes[0]!.client!.get<Array<{ id: string, equivocated?: boolean }>>('/v1/peers').catch(() => [])).filter(p => p.equivocated === true).map(p => p.id)
    : undefined

  return summarise(cluster, submitted, views, {
    honest, equivocators, quorumF: o.quorumF ?? 1, byzantine: o.byzantine ?? 0,
    t0, released, makespanEnd, faults, missing, unreachable, crashAt, heldByVictims, timeline, modelled: o.modelled != null, slowdownOf: (i: number) => nodes[i]!.spec.slowdown, notMade
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

interface Observed {
  honest: Map<string, string> | undefined
  equivocators: string[] | undefined
  quorumF: number
  byzantine: number
  t0: number
  /** when the origins let go of their queues: the makespan starts here */
  released: number
  makespanEnd: number
  faults: SimnetReport['faults']
  missing: string[]
  unreachable: Set<string>
  crashAt: number | undefined
  heldByVictims: string[]
  timeline: SimnetReport['timeline']
  modelled: boolean
  slowdownOf: (index: number) => number
  /** faults asked for that did not happen */
  notMade: string[]
}

function summarise (cluster: Cluster, submitted: Submitted[], views: Map<string, TaskView>, ob: Observed): SimnetReport {
  const nodes = cluster.nodes
  const done = submitted.map(s => views.get(s.id)).filter((v): v is TaskView => v?.state === 'done')
  // Latency counts from the release of the queues (tasks waited for the whole batch to be submitted before that).
  const latencies = done.map(v => Date.parse(v.doneAt!) - Math.max(ob.released, Date.parse(v.submittedAt))).sort((a, b) => a - b)
  const makespanMs = Math.max(1, ob.makespanEnd - ob.released)
  const perNodeCount = new Map<string, number>()
  for (const v of done) if (v.result?.by != null) perNodeCount.set(v.result.by, (perNodeCount.get(v.result.by) ?? 0) + 1)
  // Ideal makespan: the work done, at base speed, spread over every node's capacity.
  let efficiency: number | null = null
  // Only for a run whose work all finished: the makespan of part of it says nothing.
  if (ob.modelled && ob.honest == null && done.length === submitted.length) {
    const index = new Map(nodes.map(n => [n.peerId, n.index]))
    let baseWork = 0
    for (const v of done) {
      const i = index.get(v.result?.by ?? '')
      if (v.result?.ms != null && i != null) baseWork += v.result.ms / ob.slowdownOf(i)
    }
    const capacity = nodes.reduce((s, n) => s + n.spec.workers / n.spec.slowdown, 0)
    efficiency = capacity > 0 ? Math.min(1, (baseWork / capacity) / makespanMs) : null
  }
  const lost = submitted.filter(s => { const v = views.get(s.id); return v == null || v.state === 'failed' }).length
  // Tasks whose origin is down or did not answer the last look: whether they are kept cannot be checked.
  const unverified = submitted.filter(s => !s.origin.alive || ob.unreachable.has(s.origin.peerId)).length
  const noConsensus = submitted.filter(s => views.get(s.id)?.state === 'no-consensus')
  const unfinished = submitted.filter(s => { const st = views.get(s.id)?.state; return st !== 'done' && !(st === 'no-consensus' && ob.byzantine > ob.quorumF) })
  const held = ob.heldByVictims.map(id => views.get(id)).filter((v): v is TaskView => v != null)
  const recoveryMs = ob.crashAt != null && held.length > 0 && held.every(v => v.doneAt != null)
    ? Math.max(...held.map(v => Date.parse(v.doneAt!))) - ob.crashAt
    : null
  const invariants: Invariant[] = [
    { name: 'every task has a result', ok: unfinished.length === 0, detail: unfinished.length === 0 ? `${done.length} of ${submitted.length}${noConsensus.length > 0 ? ` (${noConsensus.length} ended without consensus, as expected with more than f Byzantine voters)` : ''}` : `${unfinished.length} without a result: ${unfinished.slice(0, 5).map(s => `${s.id} (${views.get(s.id)?.state ?? 'unknown'})`).join(', ')}` },
    { name: 'no task lost', ok: lost === 0 && unverified === 0, detail: lost > 0 ? `${lost} tasks failed or unknown to their origin` : unverified > 0 ? `${unverified} tasks on origins that are down or do not answer: not checked` : 'every submitted task is still known to its origin' },
    { name: 'every result is in every live replica', ok: ob.missing.length === 0, detail: ob.missing.length === 0 ? `${new Set(done.map(v => v.hash)).size} results on ${cluster.live().length} live nodes` : `${ob.missing.length} missing, e.g. ${ob.missing.slice(0, 3).join('; ')}` }
  ]
  let certificates: SimnetReport['certificates']
  if (ob.honest != null) {
    certificates = done.filter(v => v.result?.certificate != null).map(v => ({
      task: v.id, latex: v.result!.certificate!.latex, voters: v.result!.certificate!.votes.map(x => x.voter), honest: v.result!.certificate!.latex === ob.honest!.get(v.id)
    }))
    const wrong = certificates.filter(c => !c.honest)
    invariants.push({ name: 'no certificate for a wrong answer', ok: wrong.length === 0, detail: wrong.length === 0 ? `${certificates.length} certificates, all for the honest answer` : `${wrong.length} certificates for a wrong answer, e.g. ${wrong[0]!.task}: ${wrong[0]!.latex}` })
    if (ob.byzantine <= ob.quorumF) {
      const uncertified = submitted.filter(s => views.get(s.id)?.result?.certificate == null)
      invariants.push({ name: 'every critical task certified (at most f Byzantine voters)', ok: uncertified.length === 0, detail: uncertified.length === 0 ? `${submitted.length} certified` : `${uncertified.length} without a certificate` })
    }
  }
  if (ob.crashAt != null) {
    const finished = held.filter(v => v.state === 'done')
    invariants.push({ name: 'tasks leased to crashed nodes finished elsewhere', ok: finished.length === held.length, detail: `${held.length} leased to crashed nodes; ${finished.length} finished by others (${finished.filter(v => v.regrants > 0).length} granted again when the lease ran out, the rest by a backup worker)` })
  }
  if (ob.notMade.length > 0) {
    invariants.push({ name: 'every fault asked for was made', ok: false, detail: `${ob.notMade.join(' and ')} did not happen: the work ended first (give more --tasks)` })
  }
  return {
    nodes: nodes.length,
    tasks: submitted.length,
    completed: done.length,
    lost,
    throughput: Math.round((done.length / (makespanMs / 1000)) * 100) / 100,
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
    perNode: nodes.map(n => ({ peerId: n.peerId, tasks: perNodeCount.get(n.peerId) ?? 0, slowdown: n.spec.slowdown, alive: n.alive })),
    invariants,
    makespanMs,
    efficiency: efficiency == null ? null : Math.round(efficiency * 1000) / 1000,
    regrants: [...views.values()].reduce((s, v) => s + v.regrants, 0),
    ...(certificates != null ? { certificates, noConsensus: noConsensus.length, equivocators: ob.equivocators ?? [], byzantine: nodes.filter(n => n.spec.byzantine != null).map(n => n.peerId) } : {}),
    faults: ob.faults,
    recoveryMs,
    mode: ob.modelled ? 'modelled' : 'model',
    timeline: ob.timeline
  }
}
