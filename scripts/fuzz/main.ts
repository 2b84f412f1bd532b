/**
 * npm run fuzz -- [--count N] [--seconds S] [--seed N] [--network private|open] [--json]
 *
 * One hostile peer against one real node (issue 19: "one hostile member must
 * never stop the network"). The node runs in this process (so its heap after
 * garbage collection, its open file descriptors, its error logs, uncaught
 * exceptions and Object.prototype can be watched: watch.ts); the attacker
 * (worker.ts and the campaign-*.ts it runs) runs on a worker thread with real
 * libp2p nodes and raw sockets on 127.0.0.1. For every stream protocol the node
 * speaks and every gossipsub topic it subscribes to, the attacker sends N
 * inputs: random bytes, framing attacks, hostile values, validly signed hostile
 * store updates and votes, floods, slowloris and stalled streams, bursts of
 * concurrent streams, and it answers the node's own requests (catch-up, blobs,
 * steals, membership, peer exchange, identify, ping) with hostile data.
 *
 * While it runs, the node's API is asked for /v1/status every 250 ms. At the
 * end the node must still answer, still read an image, hold only bounded and
 * schema-valid values in its store, have grown its heap and file descriptors
 * within bounds, and start again on its data dir; an honest member must still
 * be served (run.ts). The exit code is 1 if any check fails.
 *
 * This module is the command line; the summary it prints is report.ts's.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { pathToFileURL } from 'node:url'
import { randomInt } from 'node:crypto'
import { formatReport } from './report.js'
import { DEFAULT_FD_BOUND, DEFAULT_HEAP_BOUND_MIB, runFuzz } from './run.js'

async function main (): Promise<void> {
  const positiveInt = (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
    return n
  }
  const cmd = new Command('fuzz')
    .description('one hostile peer against one real node: every protocol and topic, then health checks')
    .option('--count <n>', 'inputs per protocol and topic', positiveInt, 2000)
    .option('--seconds <s>', 'bound on the whole run, checks included', positiveInt, 900)
    .option('--seed <n>', 'seed of the attacker\'s choices (default: random)', positiveInt)
    .addOption(new Option('--network <kind>', 'the node\'s network: private (the attacker a member) or open').choices(['private', 'open']).default('private'))
    .option('--heap-bound <mib>', 'allowed heap growth after GC (MiB)', positiveInt, DEFAULT_HEAP_BOUND_MIB)
    .option('--fd-bound <n>', 'allowed growth of open file descriptors', positiveInt, DEFAULT_FD_BOUND)
    .option('--json', 'print the report as JSON')
    .parse()
  const o = cmd.opts<{ count: number, seconds: number, seed?: number, network: 'private' | 'open', heapBound: number, fdBound: number, json?: boolean }>()
  const seed = o.seed ?? randomInt(1, 2 ** 31)
  const report = await runFuzz({
    count: o.count,
    seconds: o.seconds,
    seed,
    network: o.network,
    heapBoundMiB: o.heapBound,
    fdBound: o.fdBound,
    progress: line => { process.stderr.write(line + '\n') }
  })
  console.log(o.json === true ? JSON.stringify(report, null, 2) : formatReport(report))
  process.exitCode = report.ok ? 0 : 1
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => {
    // Worker threads of the model and libp2p's timers are gone; leave in any case.
    setTimeout(() => process.exit(), 1000).unref()
  }, (err: unknown) => {
    console.error(`fuzz: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
