/**
 * What a simnet run is asked to do: its options, their defaults, the checks
 * they must pass before any node starts, and the options as plain values for
 * the report's parameters.
 */
import { ATTACKS, type Attack } from './byzantine.js'
import { SimnetError } from './cluster.js'
import type { RunParameters } from './types.js'

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

const DEFAULTS = { seed: 1, workers: 1, leaseMs: 5_000, crash: 0, restartAfterMs: -1, partitionMs: 5_000, slow: 0, slowdown: 4, timeoutMs: 300_000 }

/** The options with their defaults filled in. */
export type RunOptions = typeof DEFAULTS & SimnetOptions

/** The options with their defaults, checked: a SimnetError says what is wrong with them. */
export function resolveOptions (options: SimnetOptions): RunOptions {
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
  return o
}

/** The options of a run as plain values (the progress callback left out), keys in order. */
export function optionsOf (o: RunOptions): RunParameters['options'] {
  const out: RunParameters['options'] = {}
  for (const [k, v] of Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v
    else if (Array.isArray(v) && v.every(x => typeof x === 'number')) out[k] = [...v]
  }
  return out
}
