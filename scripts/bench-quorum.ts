/**
 * `npm run bench:quorum`: the Byzantine quorum's cost on loopback.
 *
 * For n = 4 (f = 1) and n = 7 (f = 2) real nodes in one process (modelled
 * recognition of --p50/--p95 ms, so the network and the protocol are what is
 * measured), critical tasks are submitted one at a time and followed to their
 * certificate; then the same number of ordinary tasks. Prints end-to-end
 * latency percentiles of both, their difference, and how long the origin took
 * from the arrival of the vote that completed a quorum to the certificate
 * (target <= 10 ms).
 *
 * Then the load run (issue 20): simnet clusters of 4 (f = 1) and 7 (f = 2)
 * node processes, modelled recognition of --load-modelled, read --load-tasks
 * ordinary tasks submitted at once (the cluster's reading rate, R tasks/s),
 * then as many critical ones. A critical task costs at least 2f+1 readings, so
 * the ideal is R / (2f+1) critical tasks/s; target >= 80 % of it. Also printed:
 * the readings per critical task, latency percentiles, and the ideal from the
 * modelled capacity alone (workers / mean recognition time, no overhead).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG } from '../node/datadir/config.js'
import { createLog } from '../node/log.js'
import { generatedImages } from '../simnet/workload.js'
import { modelledCompute } from '../simnet/compute.js'
import { runSimnet, type SimnetReport } from '../simnet/index.js'
import { percentile } from '../simnet/summary.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function until<T> (what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 2): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v != null) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

interface Run { n: number, critical: number[], plain: number[], formation: number[] }

async function measure (n: number, f: number, images: Buffer[], modelled: [number, number], say: (s: string) => void): Promise<Run> {
  const root = await mkdtemp(join(tmpdir(), 'texmesh-bench-quorum-'))
  const nodes: RunningNode[] = []
  try {
    for (let i = 0; i < n; i++) {
      const bootstrap = nodes.length > 0 ? [nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()] : []
      nodes.push(await startNode({
        dataDir: join(root, `n${i}`),
        config: { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent', quorumF: f, workers: 1, bootstrap },
        log: createLog('silent'),
        hooks: { compute: modelledCompute(modelled) }
      }))
    }
    await until('a full mesh', () => nodes.every(x => x.libp2p.getPeers().length === n - 1) ? true : undefined, 60_000, 100)
    await until('the topic meshes', () => nodes.every(x => x.libp2p.services.pubsub.getSubscribers('texmesh/votes/1').length === n - 1 &&
      x.libp2p.services.pubsub.getSubscribers('texmesh/tasks/1').length === n - 1)
      ? true
      : undefined, 60_000, 100)
    await sleep(1500)
    const half = Math.floor(images.length / 2)
    const run = async (critical: boolean, batch: Buffer[]): Promise<number[]> => {
      const out: number[] = []
      for (const [i, img] of batch.entries()) {
        const t0 = performance.now()
        const t = await nodes[0]!.submit(img, { file: `${critical ? 'c' : 'p'}${i}.png`, critical })
        await until(`task ${t.id}`, async () => (await nodes[0]!.task(t.id))?.state === 'done' ? true : undefined)
        out.push(performance.now() - t0)
      }
      return out
    }
    say(`n = ${n}: ${half} critical tasks`)
    const critical = await run(true, images.slice(0, half))
    say(`n = ${n}: ${images.length - half} ordinary tasks`)
    const plain = await run(false, images.slice(half))
    return { n, critical, plain, formation: [...nodes[0]!.certificateFormationMs()] }
  } finally {
    for (const node of nodes) await node.stop().catch(() => {})
    await rm(root, { recursive: true, force: true, maxRetries: 3 })
  }
}

interface LoadRun {
  n: number
  f: number
  ordinaryPerS: number
  criticalPerS: number
  idealPerS: number
  ratio: number
  modelledIdealPerS: number
  readingsPerTask: number
  latencyMs: { p50: number, p95: number, p99: number }
  invariantsOk: boolean
  failed: string[]
}

/** Mean of a log-normal with this median and 95th percentile. */
function lognormalMean ([p50, p95]: [number, number]): number {
  const sigma = Math.log(p95 / p50) / 1.6448536269514722
  return p50 * Math.exp(sigma * sigma / 2)
}

async function loadRun (n: number, f: number, tasks: number, modelled: [number, number], say: (s: string) => void): Promise<LoadRun> {
  const run = async (critical: boolean): Promise<SimnetReport> => await runSimnet({
    nodes: n,
    tasks,
    modelled,
    quorumF: f,
    critical,
    seed: 11,
    timeoutMs: 600_000,
    onProgress: line => { if (/^(starting|submitted)/.test(line)) say(`n = ${n} ${critical ? 'critical' : 'ordinary'}: ${line}`) }
  })
  const ordinary = await run(false)
  const critical = await run(true)
  const idealPerS = ordinary.throughput / (2 * f + 1)
  const failed = [...ordinary.invariants, ...critical.invariants].filter(i => !i.ok).map(i => `${i.name}: ${i.detail}`)
  return {
    n,
    f,
    ordinaryPerS: ordinary.throughput,
    criticalPerS: critical.throughput,
    idealPerS: Math.round(idealPerS * 100) / 100,
    ratio: Math.round(critical.throughput / idealPerS * 1000) / 1000,
    modelledIdealPerS: Math.round(n / (lognormalMean(modelled) / 1000) / (2 * f + 1) * 100) / 100,
    readingsPerTask: critical.quorum?.readingsPerTask ?? 0,
    latencyMs: critical.latencyMs,
    invariantsOk: failed.length === 0,
    failed
  }
}

async function main (): Promise<void> {
  const o = new Command('bench-quorum')
    .option('--tasks <n>', 'tasks per node count (half critical, half ordinary)', Number, 40)
    .option('--p50 <ms>', 'median modelled recognition time', Number, 20)
    .option('--p95 <ms>', '95th percentile of modelled recognition time', Number, 30)
    .option('--load-tasks <n>', 'tasks of each kind in the load run (0: no load run)', Number, 400)
    .option('--load-p50 <ms>', 'median modelled recognition time in the load run', Number, 40)
    .option('--load-p95 <ms>', '95th percentile of it', Number, 80)
    .option('--json', 'print one JSON object')
    .parse()
    .opts<{ tasks: number, p50: number, p95: number, loadTasks: number, loadP50: number, loadP95: number, json?: boolean }>()
  const say = (line: string): void => { process.stderr.write(`bench:quorum: ${line}\n`) }
  say(`making ${o.tasks * 2} images`)
  const all = (await generatedImages(o.tasks * 2, 7)).map(w => w.bytes)
  const runs = [
    await measure(4, 1, all.slice(0, o.tasks), [o.p50, o.p95], say),
    await measure(7, 2, all.slice(o.tasks), [o.p50, o.p95], say)
  ]
  const stats = (xs: number[]): { p50: number, p95: number, max: number } => {
    const s = [...xs].sort((a, b) => a - b)
    const r = (x: number): number => Math.round(x * 100) / 100
    return { p50: r(percentile(s, 0.5)), p95: r(percentile(s, 0.95)), max: r(s[s.length - 1] ?? 0) }
  }
  const out = runs.map(r => ({ n: r.n, critical: stats(r.critical), ordinary: stats(r.plain), formation: stats(r.formation), certificates: r.formation.length }))
  const load: LoadRun[] = []
  if (o.loadTasks > 0) {
    for (const [n, f] of [[4, 1], [7, 2]] as const) load.push(await loadRun(n, f, o.loadTasks, [o.loadP50, o.loadP95], say))
  }
  if (o.json === true) {
    process.stdout.write(JSON.stringify({ modelledMs: [o.p50, o.p95], runs: out, load: { modelledMs: [o.loadP50, o.loadP95], tasks: o.loadTasks, target: 0.8, runs: load } }) + '\n')
    if (load.some(r => !r.invariantsOk)) process.exitCode = 1
    return
  }
  const lines = [`modelled recognition ${o.p50}/${o.p95} ms (p50/p95); latencies are submission to done, one task at a time`]
  for (const r of out) {
    lines.push(`n = ${r.n} (f = ${(r.n - 1) / 3}): critical p50 ${r.critical.p50} ms, p95 ${r.critical.p95} ms; ordinary p50 ${r.ordinary.p50} ms, p95 ${r.ordinary.p95} ms; ` +
      `quorum adds ${(r.critical.p50 - r.ordinary.p50).toFixed(1)} ms at p50`)
    lines.push(`  certificate formed after the deciding vote arrived: p50 ${r.formation.p50} ms, p95 ${r.formation.p95} ms, max ${r.formation.max} ms over ${r.certificates} certificates ` +
      `(target <= 10 ms; ratio to target at p95 ${(r.formation.p95 / 10).toFixed(2)})`)
  }
  if (load.length > 0) {
    lines.push(`load run: ${o.loadTasks} ordinary then ${o.loadTasks} critical tasks submitted at once to node 0 of a simnet cluster (node processes), modelled recognition ${o.loadP50}/${o.loadP95} ms, 1 worker a node`)
    for (const r of load) {
      lines.push(`n = ${r.n} (f = ${r.f}): reading rate ${r.ordinaryPerS} tasks/s (ordinary); critical ${r.criticalPerS} tasks/s against the ideal ${r.idealPerS} (reading rate / ${2 * r.f + 1}): ` +
        `ratio ${r.ratio.toFixed(3)} (target >= 0.8: ${r.ratio >= 0.8 ? 'met' : 'NOT met'}); ${r.readingsPerTask} readings per critical task; latency p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms ` +
        `(from the release of the queue, all submitted at once); ideal from the modelled capacity alone ${r.modelledIdealPerS} tasks/s`)
      if (!r.invariantsOk) lines.push(`  invariants FAILED: ${r.failed.join('; ')}`)
    }
    if (load.some(r => !r.invariantsOk)) process.exitCode = 1
  }
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:quorum: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
