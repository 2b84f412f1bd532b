/**
 * A run's report from what simnet observed: throughput, latencies, the work
 * per node, the invariants (every task has a result, none lost, every result
 * in every replica, certificates only for honest answers, ordinary tasks not
 * starved, ...) and the quorum's timings.
 */
import type { TaskView } from '../node/daemon/work.js'
import type { QuorumTimings } from '../protocols/votes/index.js'
import type { Cluster, SimNode } from './cluster.js'
import type { HostSample } from './host.js'
import type { Invariant, QuorumReport, RunParameters, SimnetReport, Submitted } from './types.js'

export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[idx]!
}

/** Ordinary tasks are starved when, with some waiting, none finishes for longer than this share of the run (or STALL_MIN_MS). */
const STALL_SHARE = 0.1
const STALL_MIN_MS = 3_000

export interface Observed {
  honest: Map<string, string> | undefined
  timings: Array<{ node: number, quorum: QuorumTimings }>
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
  parameters: RunParameters
  leasesSeen: Array<{ task: string, worker: string, first: number, last: number }>
  downtime: SimnetReport['downtime']
  host: HostSample[]
}

/** A step of 1, 2 or 5 times a power of ten, near `span / parts`. */
export function niceStep (span: number, parts: number): number {
  const raw = Math.max(span, 1e-9) / Math.max(1, parts)
  const p = 10 ** Math.floor(Math.log10(raw))
  const f = raw / p
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p
}

/** Latencies in about 20 bins of a round width, from 0 to the largest. */
function histogram (sorted: readonly number[]): SimnetReport['latencyHistogram'] {
  if (sorted.length === 0) return []
  const max = sorted[sorted.length - 1]!
  const width = Math.max(1, niceStep(max, 20))
  const bins = Math.max(1, Math.floor(max / width) + 1)
  const out = Array.from({ length: bins }, (_, i) => ({ fromMs: i * width, toMs: (i + 1) * width, count: 0 }))
  for (const ms of sorted) out[Math.min(bins - 1, Math.max(0, Math.floor(ms / width)))]!.count++
  return out
}

/**
 * When each node worked: its results (the recognition time it reported, ending
 * when the origin had the result), and the leases it was seen to hold that did
 * not end in a result of its own (until the task was done elsewhere, or the
 * node was killed).
 */
function workIntervals (nodes: SimNode[], views: Map<string, TaskView>, ob: Observed): SimnetReport['work'] {
  const index = new Map(nodes.map(n => [n.peerId, n.index]))
  const out: SimnetReport['work'] = []
  for (const v of views.values()) {
    const i = index.get(v.result?.by ?? '')
    if (v.state !== 'done' || v.doneAt == null || i == null) continue
    const end = Date.parse(v.doneAt) - ob.t0
    out.push({ node: i, task: v.id, startMs: Math.max(0, Math.round(end - (v.result?.ms ?? 0))), endMs: end, result: true })
  }
  for (const l of ob.leasesSeen) {
    const i = index.get(l.worker)
    const v = views.get(l.task)
    if (i == null || (v?.state === 'done' && v.result?.by === l.worker)) continue
    // Until the task was done (by another node), else as long as it was seen; cut short where the node was killed.
    const died = ob.downtime.filter(d => d.node === i && d.fromMs + ob.t0 >= l.first).map(d => d.fromMs + ob.t0)
    const end = Math.min(v?.doneAt != null ? Date.parse(v.doneAt) : l.last, ...died)
    out.push({ node: i, task: l.task, startMs: l.first - ob.t0, endMs: Math.max(l.first, end) - ob.t0, result: false })
  }
  return out.sort((a, b) => a.node - b.node || a.startMs - b.startMs)
}

export function summarise (cluster: Cluster, submitted: Submitted[], views: Map<string, TaskView>, ob: Observed): SimnetReport {
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
  let quorum: QuorumReport | undefined
  if (ob.honest != null) {
    certificates = done.filter(v => v.result?.certificate != null).map(v => ({
      task: v.id, latex: v.result!.certificate!.latex, voters: v.result!.certificate!.votes.map(x => x.voter), honest: v.result!.certificate!.latex === ob.honest!.get(v.id)
    }))
    const wrong = certificates.filter(c => !c.honest)
    invariants.push({ name: 'no certificate for a wrong answer', ok: wrong.length === 0, detail: wrong.length === 0 ? `${certificates.length} certificates, all for the honest answer` : `${wrong.length} certificates for a wrong answer, e.g. ${wrong[0]!.task}: ${wrong[0]!.latex}` })
    const critical = submitted.filter(s => s.critical)
    if (ob.byzantine <= ob.quorumF) {
      const uncertified = critical.filter(s => views.get(s.id)?.result?.certificate == null)
      invariants.push({ name: 'every critical task certified (at most f Byzantine voters)', ok: uncertified.length === 0, detail: uncertified.length === 0 ? `${critical.length} certified` : `${uncertified.length} of ${critical.length} without a certificate` })
    }
    const ordinary = submitted.filter(s => !s.critical)
    if (ordinary.length > 0) {
      const undone = ordinary.filter(s => views.get(s.id)?.state !== 'done')
      invariants.push({ name: 'ordinary tasks beside critical ones all done', ok: undone.length === 0, detail: undone.length === 0 ? `${ordinary.length} done` : `${undone.length} of ${ordinary.length} not done` })
      if (critical.length > 0 && undone.length === 0) {
        const stall = longestStall(ob.released, ordinary.map(s => Date.parse(views.get(s.id)!.doneAt ?? '')))
        const bound = Math.max(STALL_MIN_MS, STALL_SHARE * makespanMs)
        invariants.push({ name: 'ordinary tasks kept finishing while critical ones ran (not starved)', ok: stall <= bound, detail: `longest stretch with ordinary tasks waiting and none finishing ${(stall / 1000).toFixed(2)} s (bound ${(bound / 1000).toFixed(2)} s: the longer of ${STALL_MIN_MS / 1000} s and ${STALL_SHARE * 100} % of the run)` })
      }
    }
    const latencyOf = (xs: Submitted[]): { p50: number, p95: number } => {
      const l = xs.map(x => views.get(x.id)).filter((v): v is TaskView => v?.state === 'done' && v.doneAt != null)
        .map(v => Date.parse(v.doneAt!) - Math.max(ob.released, Date.parse(v.submittedAt))).sort((a, b) => a - b)
      return { p50: percentile(l, 0.5), p95: percentile(l, 0.95) }
    }
    const readings = ob.timings.reduce((n, t) => n + t.quorum.voter.readings, 0)
    quorum = {
      critical: critical.length,
      ordinary: ordinary.length,
      readingsPerTask: critical.length > 0 ? Math.round(readings / critical.length * 100) / 100 : 0,
      latencyMs: { critical: latencyOf(critical), ordinary: latencyOf(ordinary) },
      origins: ob.timings.filter(t => t.quorum.origin.certified + t.quorum.origin.noConsensus > 0).map(t => ({ node: t.node, ...t.quorum.origin })),
      voters: ob.timings.map(t => ({ node: t.node, ...t.quorum.voter }))
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
    ...(quorum != null ? { quorum } : {}),
    // In time order (a fault's entry is written once it is made); a copy, as a restart may still be on its way.
    faults: [...ob.faults].sort((a, b) => a.atMs - b.atMs),
    recoveryMs,
    mode: ob.modelled ? 'modelled' : 'model',
    timeline: ob.timeline,
    parameters: ob.parameters,
    releasedAtMs: ob.released - ob.t0,
    latencyHistogram: histogram(latencies),
    work: workIntervals(nodes, views, ob),
    downtime: ob.downtime,
    host: ob.host
  }
}

/** The longest time, from start, in which none of these tasks finished while some were still waiting. */
export function longestStall (start: number, doneAt: number[]): number {
  let last = start
  let longest = 0
  for (const t of [...doneAt].sort((a, b) => a - b)) {
    longest = Math.max(longest, t - last)
    last = Math.max(last, t)
  }
  return longest
}
