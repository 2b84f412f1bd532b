/**
 * What a simnet run reports (SimnetReport) and its parts: the invariants, the
 * run's parameters, the faults made, the quorum's timings; and the tasks as
 * they were submitted.
 */
import type { QuorumTimings } from '../protocols/votes/index.js'
import type { SimNode } from './cluster.js'
import type { HostInfo, HostSample } from './host.js'

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

/** A task as it was submitted: to which origin, its id and image hash, and whether it is critical. */
export interface Submitted { origin: SimNode, id: string, hash: string, critical: boolean }
