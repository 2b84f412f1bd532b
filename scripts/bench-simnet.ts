/**
 * `npm run bench:simnet`: the scheduler's targets, measured with real node
 * processes on this machine and modelled compute.
 *
 * 1. Scheduling efficiency (ideal makespan / measured makespan) with 16
 *    modelled nodes of mixed speeds, every task submitted to one node.
 *    Target >= 95 %. All 16 nodes share this machine, so the modelled tasks
 *    must be long enough for the machine not to be the limit: by default 1 s
 *    at the median (a page crop of about a dozen formulas at the ~80 ms each
 *    that bench:ocr measures), 60 per node. The host's CPU use during the run
 *    is printed with it; near 100 % the figure measures the host, not the
 *    scheduler.
 * 2. The same with short tasks (250 ms at the median): how much the host
 *    limits it (skip with --no-stress).
 * 3. SIGKILL of 1 node of 4 mid-run: tasks lost (target 0) and how long
 *    recovery took (the leases it held run out and are granted again).
 *
 * Options: --tasks N (default 960), --nodes N (default 16), --p50 MS and --p95 MS
 * of the modelled recognition (default 1000 and 1600), --no-stress, --json.
 */
import { cpus } from 'node:os'
import { Command } from 'commander'
import { runSimnet, type SimnetOptions, type SimnetReport } from '../simnet/index.js'

/** Busy share of all cores since `from` (niced processes, such as a training run, count as idle). */
function cpuMeter (): () => number {
  const read = (): { busy: number, total: number } => cpus().reduce((s, c) => {
    const t = c.times
    return { busy: s.busy + t.user + t.sys + t.irq, total: s.total + t.user + t.nice + t.sys + t.idle + t.irq }
  }, { busy: 0, total: 0 })
  const from = read()
  return () => {
    const to = read()
    return to.total > from.total ? (to.busy - from.busy) / (to.total - from.total) : 0
  }
}

interface Measured { report: SimnetReport, hostCpu: number | null }

/** A simnet run; the host's CPU use is measured while tasks complete (after start-up and submission). */
async function measured (options: SimnetOptions, say: (line: string) => void): Promise<Measured> {
  let meter: (() => number) | undefined
  let hostCpu: number | null = null
  const report = await runSimnet({
    ...options,
    onProgress: line => {
      say(line)
      if (/^\d+\/\d+ done$/.test(line)) {
        if (meter == null) meter = cpuMeter()
        else hostCpu = meter()
      }
    }
  })
  return { report, hostCpu }
}

async function main (): Promise<void> {
  const o = new Command('bench-simnet')
    .option('--tasks <n>', 'tasks in the efficiency run', Number, 960)
    .option('--nodes <n>', 'nodes in the efficiency run', Number, 16)
    .option('--p50 <ms>', 'median modelled recognition time', Number, 1000)
    .option('--p95 <ms>', '95th percentile of modelled recognition time', Number, 1600)
    .option('--no-stress', 'skip the run with short tasks')
    .option('--json', 'print one JSON object')
    .parse()
    .opts<{ tasks: number, nodes: number, p50: number, p95: number, stress: boolean, json?: boolean }>()
  const say = (line: string): void => { process.stderr.write(`bench:simnet: ${line}\n`) }

  // Mixed speeds: a quarter of the nodes at normal speed, a quarter 1.5x, 2x and 3x slower.
  const speeds = [1, 1.5, 2, 3]
  const slowdowns = Array.from({ length: o.nodes }, (_, i) => speeds[i % speeds.length]!)
  say(`efficiency: ${o.nodes} nodes (slowdowns ${slowdowns.join(' ')}), ${o.tasks} tasks of ${o.p50}/${o.p95} ms`)
  const efficiency = await measured({ nodes: o.nodes, tasks: o.tasks, modelled: [o.p50, o.p95], slowdowns, leaseMs: 10_000, timeoutMs: 900_000 }, say)

  let stress: Measured | undefined
  if (o.stress) {
    say(`stress: the same nodes, ${Math.round(o.tasks / 2)} tasks of 250/400 ms`)
    stress = await measured({ nodes: o.nodes, tasks: Math.round(o.tasks / 2), modelled: [250, 400], slowdowns, leaseMs: 10_000, timeoutMs: 600_000 }, say)
  }

  say('crash: 4 nodes, 1 killed with SIGKILL a third of the way through')
  const crash = await runSimnet({ nodes: 4, tasks: 120, modelled: [250, 400], crash: 1, leaseMs: 3_000, timeoutMs: 300_000, onProgress: say })

  const summary = (m: Measured): Record<string, unknown> => {
    const r = m.report
    return {
      nodes: r.nodes,
      tasks: r.tasks,
      completed: r.completed,
      lost: r.lost,
      makespanMs: r.makespanMs,
      throughput: r.throughput,
      efficiency: r.efficiency,
      hostCpu: m.hostCpu == null ? null : Math.round(m.hostCpu * 1000) / 1000,
      latencyMs: r.latencyMs,
      regrants: r.regrants,
      recoveryMs: r.recoveryMs,
      invariantsOk: r.invariants.every(i => i.ok),
      perNode: r.perNode.map(n => n.tasks)
    }
  }
  const all = [efficiency.report, ...(stress != null ? [stress.report] : []), crash]
  if (o.json === true) {
    process.stdout.write(JSON.stringify({ efficiency: summary(efficiency), ...(stress != null ? { stress: summary(stress) } : {}), crash: summary({ report: crash, hostCpu: null }) }) + '\n')
  } else {
    const pct = (x: number | null): string => x == null ? '-' : `${(x * 100).toFixed(1)} %`
    const host = (m: Measured): string => `host CPU ${pct(m.hostCpu)} of ${cpus().length} cores`
    const e = efficiency.report
    const lines = [
      `scheduling efficiency, ${e.nodes} nodes of mixed speeds, ${e.tasks} tasks of ${o.p50}/${o.p95} ms: ${pct(e.efficiency)} (target >= 95 %; ratio to target ${((e.efficiency ?? 0) / 0.95).toFixed(2)}), ${host(efficiency)}`,
      `  makespan ${(e.makespanMs / 1000).toFixed(2)} s, throughput ${e.throughput} tasks/s, task latency p50/p95/p99 ${e.latencyMs.p50}/${e.latencyMs.p95}/${e.latencyMs.p99} ms, ${e.regrants} leases granted again`,
      `  tasks per node (slowdowns ${slowdowns.join(' ')}): ${e.perNode.map(n => n.tasks).join(' ')}`
    ]
    if (stress != null) {
      const s = stress.report
      lines.push(`short tasks (250/400 ms), ${s.tasks} tasks: ${pct(s.efficiency)}, ${host(stress)}, throughput ${s.throughput} tasks/s`)
    }
    lines.push(
      `SIGKILL 1 of 4 mid-run: ${crash.lost} tasks lost (target 0), ${crash.completed}/${crash.tasks} completed, ${crash.regrants} leases granted again, recovery ${crash.recoveryMs == null ? '-' : `${(crash.recoveryMs / 1000).toFixed(2)} s`} (lease 3 s)`,
      `  invariants: ${crash.invariants.map(i => `${i.ok ? 'ok' : 'FAIL'} ${i.name}`).join('; ')}`
    )
    process.stdout.write(lines.join('\n') + '\n')
  }
  if (!all.every(r => r.invariants.every(i => i.ok))) process.exitCode = 1
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:simnet: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
