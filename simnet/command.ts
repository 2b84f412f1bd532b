/**
 * `texmesh simnet`: the command, added to node's program by the entry point
 * (bin/texmesh.ts). Its options are checked by runSimnet, before any node starts.
 */
import { writeFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { TexmeshError } from '../node/errors.js'
import { parseCount, parsePositive, parseProbability, withJson } from '../node/cli/options.js'
import { ATTACKS, type Attack } from './byzantine.js'
import { latencyOption } from './compute.js'
import { runSimnet } from './index.js'
import { htmlReport, textReport } from './report.js'

export function addSimnetCommand (program: Command): void {
  withJson(program.command('simnet'))
    .description('start many real nodes on this machine, drive a workload, inject faults, check invariants')
    .option('--nodes <n>', 'how many nodes', parsePositive('--nodes', 64), 4)
    .option('--tasks <n>', 'how many images', parsePositive('--tasks', 100_000), 100)
    .option('--images <dir>', 'a folder of images (cycled to --tasks); default: formulas generated on the fly')
    .option('--seed <n>', 'seed for generated formulas, the choice of crashed nodes and every node\'s random source (its protocols\' choices, modelled latencies)', parseCount('--seed', 2 ** 31), 1)
    .option('--modelled <p50[,p95]>', 'replace recognition by a sleep with this median and 95th percentile in ms (for 32+ nodes)', latencyOption('--modelled'))
    .option('--crash <k>', 'SIGKILL k nodes (never node 0, the origin) once a third of the tasks are done', parseCount('--crash', 63), 0)
    .option('--restart <ms>', 'with --crash, restart the killed nodes this long after', parseCount('--restart', 600_000))
    .option('--partition', 'split the network in two halves at a fifth of the tasks, then heal it')
    .option('--partition-ms <ms>', 'how long the partition lasts', parsePositive('--partition-ms', 600_000), 5000)
    .option('--slow <k>', 'make k nodes artificially slow', parseCount('--slow', 64), 0)
    .option('--slowdown <x>', 'how much slower --slow nodes are', Number, 4)
    .option('--workers <n>', 'images each node recognises at once', parsePositive('--workers', 64), 1)
    .option('--lease-ms <ms>', 'lease length', parsePositive('--lease-ms', 3_600_000), 5000)
    .option('--spread', 'submit to every node in turn instead of all to node 0')
    .option('--critical', 'make every task critical: a quorum must agree (2f+1 matching votes)')
    .option('--critical-share <p>', 'make this share of the tasks critical (0-1, spread evenly; e.g. 0.2), the rest ordinary', parseProbability('--critical-share'))
    .option('--quorum-f <f>', 'f of the quorum (default 1)', parsePositive('--quorum-f', 10))
    .option('--byzantine <k>', 'k nodes (the last ones, never node 0) vote as Byzantine nodes', parseCount('--byzantine', 63), 0)
    .addOption(new Option('--attack <attack>', 'what the Byzantine nodes do').choices(ATTACKS))
    .option('--timeout <seconds>', 'stop the run after this long', parsePositive('--timeout', 86_400), 300)
    .option('--report <file>', 'also write an HTML report with charts')
    .addHelpText('after', `
With --json, one JSON object: {"nodes", "tasks", "completed", "lost", "throughput",
"latencyMs": {"p50", "p95", "p99"}, "perNode": [{"peerId", "tasks", ...}],
"invariants": [{"name", "ok", "detail"}], "makespanMs", "efficiency", "regrants",
"faults": [{"atMs", "done", "of", "what"}], "recoveryMs", "parameters" (date, version, model, seed,
options, host), "latencyHistogram", "work", "downtime", "host", ...}. The exit code is 1 when an invariant fails.
Every run stops by itself and removes its processes and temp dirs.`)
    .action(async (opts: { json?: boolean, nodes: number, tasks: number, images?: string, seed: number, modelled?: [number, number], crash: number, restart?: number, partition?: boolean, partitionMs: number, slow: number, slowdown: number, workers: number, leaseMs: number, spread?: boolean, critical?: boolean, criticalShare?: number, quorumF?: number, byzantine: number, attack?: Attack, timeout: number, report?: string }) => {
      const report = await runSimnet({
        nodes: opts.nodes,
        tasks: opts.tasks,
        ...(opts.images != null ? { images: opts.images } : {}),
        seed: opts.seed,
        ...(opts.modelled != null ? { modelled: opts.modelled } : {}),
        crash: opts.crash,
        ...(opts.restart != null ? { restartAfterMs: opts.restart } : {}),
        partition: opts.partition === true,
        partitionMs: opts.partitionMs,
        slow: opts.slow,
        slowdown: opts.slowdown,
        workers: opts.workers,
        leaseMs: opts.leaseMs,
        spread: opts.spread === true,
        critical: opts.critical === true,
        ...(opts.criticalShare != null ? { criticalShare: opts.criticalShare } : {}),
        ...(opts.quorumF != null ? { quorumF: opts.quorumF } : {}),
        byzantine: opts.byzantine,
        ...(opts.attack != null ? { attack: opts.attack } : {}),
        timeoutMs: opts.timeout * 1000,
        onProgress: line => { if (opts.json !== true || process.stderr.isTTY === true) process.stderr.write(`simnet: ${line}\n`) }
      })
      process.stdout.write((opts.json === true ? JSON.stringify(report) : textReport(report)) + '\n')
      if (report.invariants.some(i => !i.ok)) process.exitCode = 1
      if (opts.report != null) {
        try {
          await writeFile(opts.report, htmlReport(report))
        } catch (err) {
          throw new TexmeshError(`cannot write the report to ${opts.report}: ${(err as Error).message}`)
        }
      }
    })
}
