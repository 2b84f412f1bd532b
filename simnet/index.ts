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
 *
 * The run's parts: its options and their checks (options.ts), the node
 * processes (cluster.ts), the workload (workload.ts) and its submission
 * (submit.ts), the loop that watches the work and fires the faults (drive.ts,
 * observer.ts, faults.ts), what is read at the end (collect.ts), and the
 * report (types.ts, summary.ts, report.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, stopAllNodes, type SimNodeSpec } from './cluster.js'
import { drive, type Started } from './drive.js'
import { hostInfo } from './host.js'
import { resolveOptions, type SimnetOptions } from './options.js'
import type { SimnetReport } from './types.js'
import { generatedImages, imagesFromFolder, type WorkItem } from './workload.js'

export type { SimnetOptions } from './options.js'
export type { Fault, Invariant, QuorumReport, RunParameters, SimnetReport, Submitted } from './types.js'
export { isCriticalAt } from './submit.js'

/** Run one simnet: start, load, break, check, report; always stops its processes and removes its temp dirs. */
export async function runSimnet (options: SimnetOptions): Promise<SimnetReport> {
  const o = resolveOptions(options)
  const byzantine = o.byzantine ?? 0
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
