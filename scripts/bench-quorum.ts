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
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { startNode, type RunningNode } from '../node/daemon.js'
import { DEFAULT_CONFIG } from '../node/config.js'
import { createLog } from '../node/log.js'
import { generatedImages } from '../simnet/workload.js'
import { percentile } from '../simnet/index.js'

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
        config: { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent', modelledCompute: modelled, quorumF: f, workers: 1, bootstrap },
        log: createLog('silent')
      }))
    }
    await until('a full mesh', () => nodes.every(x => x.libp2p.getPeers().length === n - 1) ? true : undefined, 60_000, 100)
    await until('the topic meshes', () => nodes.every(x => x.libp2p.services.pubsub.getSubscribers('texmesh/votes/1').length === n - 1 &&
      x.libp2p.services.pubsub.getSubscribers('texmesh/tasks/1').length === n - 1) ? true : undefined, 60_000, 100)
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

async function main (): Promise<void> {
  const o = new Command('bench-quorum')
    .option('--tasks <n>', 'tasks per node count (half critical, half ordinary)', Number, 40)
    .option('--p50 <ms>', 'median modelled recognition time', Number, 20)
    .option('--p95 <ms>', '95th percentile of modelled recognition time', Number, 30)
    .option('--json', 'print one JSON object')
    .parse()
    .opts<{ tasks: number, p50: number, p95: number, json?: boolean }>()
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
  if (o.json === true) {
    process.stdout.write(JSON.stringify({ modelledMs: [o.p50, o.p95], runs: out }) + '\n')
    return
  }
  const lines = [`modelled recognition ${o.p50}/${o.p95} ms (p50/p95); latencies are submission to done, one task at a time`]
  for (const r of out) {
    lines.push(`n = ${r.n} (f = ${(r.n - 1) / 3}): critical p50 ${r.critical.p50} ms, p95 ${r.critical.p95} ms; ordinary p50 ${r.ordinary.p50} ms, p95 ${r.ordinary.p95} ms; ` +
      `quorum adds ${(r.critical.p50 - r.ordinary.p50).toFixed(1)} ms at p50`)
    lines.push(`  certificate formed after the deciding vote arrived: p50 ${r.formation.p50} ms, p95 ${r.formation.p95} ms, max ${r.formation.max} ms over ${r.certificates} certificates ` +
      `(target <= 10 ms; ratio to target at p95 ${(r.formation.p95 / 10).toFixed(2)})`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:quorum: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
