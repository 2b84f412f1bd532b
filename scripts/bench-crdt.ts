/**
 * npm run bench:crdt -- [--results N] [--startup N] [--json]
 *
 * The replicated store's speed and size:
 * - local write rate (sign + LevelDB) and remote apply rate (verify + check + LevelDB + Yjs),
 *   also with 300 envelopes held back (they must not be retried on every apply);
 * - the size of the own log after 300 overwrites of a 2 KB entry and a compaction;
 * - two real nodes on loopback: one writes N results (default 10,000) while
 *   the other is down; the time from their meeting until both hold the same;
 * - start-up time of a replica whose LevelDB holds M results (default 100,000),
 *   compacted as it runs by default;
 * - bytes on disk per result, and memory per result held: the RSS and V8 heap growth of a fresh
 *   process that opens the store (bench-crdt-hold.ts), after full garbage collections.
 */
import { Command, InvalidArgumentError } from 'commander'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Replica } from '../crdt/replica.js'
import { type ResultEntry } from '../crdt/schemas.js'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG } from '../node/datadir/config.js'
import { createLog } from '../node/log.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'

function entry (i: number): ResultEntry {
  return {
    latex: `\\frac{x^{${i % 97}}+${i}}{y_{${i % 13}}}`,
    confidence: 0.9,
    alternatives: [{ latex: `\\frac{x^{${i % 97}}+${i}}{y}`, score: -3.2 }, { latex: `x^{${i}}`, score: -5.1 }],
    model: 'texmesh-v1+0000000000000000',
    time: 1_790_000_000_000 + i
  }
}

const execFileAsync = promisify(execFile)

async function du (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? await du(p) : (await stat(p)).size
  }
  return total
}

async function until (what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function main (): Promise<void> {
  const positiveInt = (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
    return n
  }
  const cmd = new Command('bench:crdt')
    .description('write, apply, convergence and start-up speed of the replicated store')
    .option('--results <n>', 'results written for the rates and the convergence run', positiveInt, 10_000)
    .option('--startup <n>', 'results in the store whose start-up is timed', positiveInt, 100_000)
    .option('--json', 'print the results as JSON')
    .parse()
  const o = cmd.opts<{ results: number, startup: number, json?: boolean }>()
  const tmp = await mkdtemp(join(tmpdir(), 'texmesh-bench-crdt-'))
  const out: Record<string, number> = {}
  const nodes: RunningNode[] = []
  try {
    // Rates.
    const writer = await Replica.open({ path: join(tmp, 'w'), key: await generateKeyPair('Ed25519') })
    const wire: Uint8Array[] = []
    writer.onEnvelope(b => wire.push(b))
    let t = performance.now()
    for (let i = 0; i < o.results; i++) await writer.putResult(`img${i}`, entry(i))
    out.writesPerS = o.results / ((performance.now() - t) / 1000)
    const reader = await Replica.open({ path: join(tmp, 'r'), key: await generateKeyPair('Ed25519') })
    t = performance.now()
    for (const b of wire) await reader.receive(b)
    out.appliesPerS = wire.length / ((performance.now() - t) / 1000)
    await reader.close()

    // Applies while envelopes are held: a reborn writer overwrites 300 entries of an
    // incarnation the reader has not seen, then the reader applies the honest stream again.
    const writerKey = await generateKeyPair('Ed25519')
    const old = await Replica.open({ path: join(tmp, 'old'), key: writerKey, compactEvery: 0 })
    const oldWire: Uint8Array[] = []
    old.onEnvelope(b => oldWire.push(b))
    for (let i = 0; i < 300; i++) await old.putResult(`held${i}`, entry(i))
    const reborn = await Replica.open({ path: join(tmp, 'reborn'), key: writerKey, compactEvery: 0 })
    for (const b of oldWire) await reborn.receive(b)
    const heldWire: Uint8Array[] = []
    reborn.onEnvelope(b => heldWire.push(b))
    for (let i = 0; i < 300; i++) await reborn.putResult(`held${i}`, entry(i + 1))
    const busy = await Replica.open({ path: join(tmp, 'busy'), key: await generateKeyPair('Ed25519') })
    for (const b of heldWire) await busy.receive(b)
    t = performance.now()
    for (const b of wire) await busy.receive(b)
    out.appliesPerSWith300Held = wire.length / ((performance.now() - t) / 1000)
    for (const r of [old, reborn, busy]) await r.close()

    // Compaction of overwrites: one entry with 2 KB of LaTeX written 300 times.
    const over = await Replica.open({ path: join(tmp, 'over'), key: await generateKeyPair('Ed25519'), compactEvery: 0 })
    for (let i = 0; i < 300; i++) await over.putResult('img', { ...entry(i), latex: `${'x'.repeat(2000)}${i}` })
    await over.compact()
    out.overwrittenLogBytes = 0
    for await (const b of over.missing({})) out.overwrittenLogBytes += b.length
    await over.close()
    await writer.close()

    // Two real nodes converge after a partition.
    const config = { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent' as const }
    const log = createLog('silent')
    const a = await startNode({ dataDir: join(tmp, 'a'), config, log })
    nodes.push(a)
    for (let i = 0; i < o.results; i++) await a.replica.putResult(`img${i}`, entry(i))
    const b = await startNode({ dataDir: join(tmp, 'b'), config, log })
    nodes.push(b)
    t = performance.now()
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]!)
    await until('the nodes to converge', () => b.replica.size('results') === o.results, 300_000)
    out.convergeMs = performance.now() - t
    for (const n of nodes.splice(0)) await n.stop()

    // Start-up from a large store, and its size.
    const key = await generateKeyPair('Ed25519')
    const big = await Replica.open({ path: join(tmp, 'big'), key })
    for (let i = 0; i < o.startup; i++) await big.putResult(`img${i}`, entry(i))
    await big.compact()
    await big.close()
    t = performance.now()
    const reopened = await Replica.open({ path: join(tmp, 'big'), key })
    out.startupMs = performance.now() - t
    if (reopened.size('results') !== o.startup) throw new Error(`reopened with ${reopened.size('results')} results`)
    await reopened.close()
    out.bytesPerResult = await du(join(tmp, 'big')) / o.startup
    // What holding the store costs, in a fresh process that only opens it.
    const child = await execFileAsync(process.execPath, ['--expose-gc', fileURLToPath(new URL('bench-crdt-hold.js', import.meta.url)), join(tmp, 'big')],
      { env: { ...process.env, TEXMESH_BENCH_KEY: Buffer.from(privateKeyToProtobuf(key)).toString('hex') }, maxBuffer: 1 << 20 })
    const hold = JSON.parse(child.stdout) as { results: number, rss: number, heap: number }
    if (hold.results !== o.startup) throw new Error(`the child process held ${hold.results} results`)
    out.rssBytesPerResult = hold.rss / o.startup
    out.heapBytesPerResult = hold.heap / o.startup
  } finally {
    for (const n of nodes) await n.stop().catch(() => {})
    await rm(tmp, { recursive: true, force: true })
  }
  if (o.json === true) {
    console.log(JSON.stringify({ results: o.results, startupResults: o.startup, ...out }))
    return
  }
  console.log(`local writes (sign + LevelDB)            ${out.writesPerS!.toFixed(0)} /s`)
  console.log(`remote applies (verify + check + store)  ${out.appliesPerS!.toFixed(0)} /s`)
  console.log(`remote applies, 300 envelopes held      ${out.appliesPerSWith300Held!.toFixed(0)} /s`)
  console.log(`300 overwrites of a 2 KB entry, compacted ${out.overwrittenLogBytes!.toFixed(0)} bytes of log`)
  console.log(`two nodes converge on ${o.results} results   ${(out.convergeMs! / 1000).toFixed(2)} s after they meet`)
  console.log(`start-up with ${o.startup} results          ${(out.startupMs! / 1000).toFixed(2)} s`)
  console.log(`bytes on disk per result                 ${out.bytesPerResult!.toFixed(0)}`)
  const target = 1.5 * 2 ** 30 / 1e6
  console.log(`memory per result held (RSS / V8 heap)   ${out.rssBytesPerResult!.toFixed(0)} / ${out.heapBytesPerResult!.toFixed(0)} bytes (at ${o.startup}; target: 1.5 GiB of RSS at 1,000,000 = ${target.toFixed(0)} a result: ratio ${(out.rssBytesPerResult! / target).toFixed(2)})`)
}

main().catch((err: unknown) => {
  console.error(`bench:crdt: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
