/**
 * `npm run bench:simnet`: the scheduler's targets, measured with real node
 * processes on this machine and modelled compute.
 *
 * 1. Scheduling efficiency (ideal makespan / measured makespan) with 16
 *    modelled nodes of mixed speeds, every task submitted to one node.
 *    Target >= 95 %.
 * 2. SIGKILL of 1 node of 4 mid-run: tasks lost (target 0) and how long
 *    recovery took (the leases it held run out and are granted again).
 *
 * Options: --tasks N (default 480), --nodes N (default 16), --p50 MS and --p95 MS
 * of the modelled recognition (default 250 and 400), --json.
 */
import { Command } from 'commander'
import { runSimnet, type SimnetReport } from '../simnet/index.js'

async function main (): Promise<void> {
  const o = new Command('bench-simnet')
    .option('--tasks <n>', 'tasks in the efficiency run', Number, 480)
    .option('--nodes <n>', 'nodes in the efficiency run', Number, 16)
    .option('--p50 <ms>', 'median modelled recognition time', Number, 250)
    .option('--p95 <ms>', '95th percentile of modelled recognition time', Number, 400)
    .option('--json', 'print one JSON object')
    .parse()
    .opts<{ tasks: number, nodes: number, p50: number, p95: number, json?: boolean }>()
  const say = (line: string): void => { process.stderr.write(`bench:simnet: ${line}\n`) }
  const modelled: [number, number] = [o.p50, o.p95]

  // Mixed speeds: a quarter of the nodes at normal speed, a quarter 1.5x, 2x and 3x slower.
  const speeds = [1, 1.5, 2, 3]
  const slowdowns = Array.from({ length: o.nodes }, (_, i) => speeds[i % speeds.length]!)
  say(`efficiency: ${o.nodes} nodes (slowdowns ${slowdowns.join(' ')}), ${o.tasks} tasks of ${o.p50}/${o.p95} ms`)
  const efficiency = await runSimnet({ nodes: o.nodes, tasks: o.tasks, modelled, slowdowns, leaseMs: 10_000, timeoutMs: 600_000, onProgress: say })

  say('crash: 4 nodes, 1 killed with SIGKILL a third of the way through')
  const crash = await runSimnet({ nodes: 4, tasks: 120, modelled, crash: 1, leaseMs: 3_000, timeoutMs: 300_000, onProgress: say })

  const summary = (r: SimnetReport): Record<string, unknown> => ({
    nodes: r.nodes, tasks: r.tasks, completed: r.completed, lost: r.lost, makespanMs: r.makespanMs, throughput: r.throughput,
    efficiency: r.efficiency, latencyMs: r.latencyMs, regrants: r.regrants, recoveryMs: r.recoveryMs,
    invariantsOk: r.invariants.every(i => i.ok), perNode: r.perNode.map(n => n.tasks)
  })
  if (o.json === true) {
    process.stdout.write(JSON.stringify({ efficiency: summary(efficiency), crash: summary(crash) }) + '\n')
  } else {
    const pct = (x: number | null): string => x == null ? '-' : `${(x * 100).toFixed(1)} %`
    process.stdout.write([
      `scheduling efficiency, ${efficiency.nodes} nodes of mixed speeds, ${efficiency.tasks} tasks: ${pct(efficiency.efficiency)} (target >= 95 %; ratio to target ${((efficiency.efficiency ?? 0) / 0.95).toFixed(2)})`,
      `  makespan ${(efficiency.makespanMs / 1000).toFixed(2)} s, throughput ${efficiency.throughput} tasks/s, task latency p50/p95/p99 ${efficiency.latencyMs.p50}/${efficiency.latencyMs.p95}/${efficiency.latencyMs.p99} ms`,
      `  tasks per node: ${efficiency.perNode.map(n => n.tasks).join(' ')}`,
      `SIGKILL 1 of 4 mid-run: ${crash.lost} tasks lost (target 0), ${crash.completed}/${crash.tasks} completed, ${crash.regrants} leases granted again, recovery ${crash.recoveryMs == null ? '-' : `${(crash.recoveryMs / 1000).toFixed(2)} s`} (lease ${3} s)`,
      `  invariants: ${crash.invariants.map(i => `${i.ok ? 'ok' : 'FAIL'} ${i.name}`).join('; ')}`
    ].join('\n') + '\n')
  }
  if (![...efficiency.invariants, ...crash.invariants].every(i => i.ok)) process.exitCode = 1
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:simnet: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
