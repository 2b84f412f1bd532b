/**
 * npm run bench:crdt -- [--results N] [--catchup N] [--startup N] [--join N] [--json]
 *
 * The replicated store's speed and size, with results as the pipeline writes them (entry()):
 * - local write rate (sign + LevelDB), writes issued together (they share envelopes) and one by
 *   one; remote apply rate (verify + check + LevelDB + Yjs) in results a second, from batched
 *   envelopes and from envelopes of one result, also with 300 envelopes held back (they must not
 *   be retried on every apply);
 * - the size of the own log after 300 overwrites of a 2 KB entry and a compaction;
 * - two real nodes on loopback: one writes N results (default 100,000) while
 *   the other is down; the time from their meeting until both hold the same;
 * - a new node (a real `texmesh node` process) joining a node that holds J results (default
 *   100,000; 1,000,000 for the million-result figure): how soon it serves, how it serves while it
 *   catches up, and when it holds everything (bench-crdt-join.ts);
 * - start-up time of a replica whose LevelDB holds M results (default 100,000; 1,000,000 for
 *   the million-result figures), from the snapshot taken at close and with the log replayed;
 * - bytes on disk per result, and memory per result held: the RSS and V8 heap growth of a fresh
 *   process that opens the store (bench-crdt-hold.ts), after full garbage collections.
 */
import { Command } from 'commander'
import { positiveInt, until } from './script-options.js'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Replica } from '../crdt/replica.js'
import { EnvelopeLog } from '../crdt/log.js'
import { type ResultEntry } from '../crdt/schemas.js'
import { benchImageHash, benchResult as entry } from './bench-result.js'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG } from '../node/datadir/config.js'
import { createLog } from '../node/log.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { measureJoin, type JoinFigures } from './bench-crdt-join.js'
import { measureNodeStart, type NodeStartFigures } from './bench-crdt-node-start.js'
import { stopAllNodes } from '../simnet/cluster.js'
import { tmpdir } from 'node:os'
import { NODE_V8_FLAGS } from '../node/v8-flags.js'
import { chooseCommands } from '../bin/which-commands.js'

/**
 * Write `n` results from `from`, `window` at a time (each window's writes share envelopes), result
 * i under the image hash `name(i)`; the ms the writes took. Each window's results are made before
 * its writes begin, so that the time is the store's, not the making of the results.
 */
async function writeMany (put: (hash: string, e: ResultEntry) => Promise<void>, n: number, { window = 1000, from = 0, name = (i: number) => `img${i}` } = {}): Promise<number> {
  let ms = 0
  for (let i = 0; i < n; i += window) {
    const made = Array.from({ length: Math.min(window, n - i) }, (_, k) => entry(from + i + k))
    const t = performance.now()
    await Promise.all(made.map(async (e, k) => { await put(name(from + i + k), e) }))
    ms += performance.now() - t
  }
  return ms
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

async function main (): Promise<void> {
  const cmd = new Command('bench:crdt')
    .description('write, apply, catch-up and start-up speed of the replicated store, and what holding it costs')
    .option('--results <n>', 'results written for the rates', positiveInt, 20_000)
    .option('--catchup <n>', 'results written while a node is away, for the catch-up run', positiveInt, 100_000)
    .option('--join <n>', 'results held by the network a new node joins (1000000 for the million-result figure)', positiveInt, 100_000)
    .option('--startup <n>', 'results in the store whose start-up and memory are measured (1000000 for the million-result figures)', positiveInt, 100_000)
    .option('--node-start <n>', 'results in the store of a whole node (a texmesh node process, with its memories) whose start and RSS are measured', positiveInt, 100_000)
    .option('--json', 'print the results as JSON')
    .parse()
  const o = cmd.opts<{ results: number, catchup: number, startup: number, join: number, nodeStart: number, json?: boolean }>()
  const tmp = await mkdtemp(join(tmpdir(), 'texmesh-bench-crdt-'))
  const out: Record<string, number> = {}
  let joined: JoinFigures | undefined
  let nodeStart: NodeStartFigures | undefined
  const nodes: RunningNode[] = []
  try {
    // Rates: writes issued together (a burst, as a PDF's formulas or a busy node make) share
    // envelopes; writes awaited one by one each make their own.
    const writer = await Replica.open({ path: join(tmp, 'w'), key: await generateKeyPair('Ed25519') })
    const wire: Uint8Array[] = []
    writer.onEnvelope(b => wire.push(b))
    out.writesPerS = o.results / (await writeMany(async (h, e) => { await writer.putResult(h, e) }, o.results) / 1000)
    out.resultsPerEnvelope = o.results / wire.length
    const batched = wire.splice(0)
    const serial = Math.min(o.results, 2000)
    const ones = Array.from({ length: serial }, (_, i) => entry(i))
    let t = performance.now()
    for (const [i, e] of ones.entries()) await writer.putResult(`one${i}`, e)
    out.serialWritesPerS = serial / ((performance.now() - t) / 1000)
    const single = wire.splice(0)
    // Applied in log order: an envelope whose predecessors are missing waits in Yjs, which is not what is timed here.
    const reader = await Replica.open({ path: join(tmp, 'r'), key: await generateKeyPair('Ed25519') })
    t = performance.now()
    for (const b of batched) await reader.receive(b)
    out.appliesPerS = o.results / ((performance.now() - t) / 1000)
    t = performance.now()
    for (const b of single) await reader.receive(b)
    out.singleAppliesPerS = single.length / ((performance.now() - t) / 1000)
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
    for (const b of batched) await busy.receive(b)
    out.appliesPerSWith300Held = o.results / ((performance.now() - t) / 1000)
    for (const r of [old, reborn, busy]) await r.close()

    // Compaction of overwrites: one entry with 2 KB of LaTeX written 300 times.
    const over = await Replica.open({ path: join(tmp, 'over'), key: await generateKeyPair('Ed25519'), compactEvery: 0 })
    for (let i = 0; i < 300; i++) await over.putResult('img', { ...entry(i), latex: `${'x'.repeat(2000)}${i}` })
    await over.compact()
    out.overwrittenLogBytes = 0
    for await (const b of over.missing({})) out.overwrittenLogBytes += b.length
    await over.close()
    await writer.close()

    // Catch-up: two real nodes; one writes while the other is down, then they meet.
    const config = { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent' as const }
    const log = createLog('silent')
    const a = await startNode({ dataDir: join(tmp, 'a'), config, log })
    nodes.push(a)
    // Results under SHA-256 image hashes, so the nodes' memories take them as they would any result.
    await writeMany(async (h, e) => { await a.replica.putResult(h, e) }, o.catchup, { name: benchImageHash })
    // The writer's memory first takes what it wrote: in one process, it would slow the catch-up.
    await until('the writer\'s memory to take its results', async () => (await a.status()).memory?.behind === 0, 1_800_000)
    const b = await startNode({ dataDir: join(tmp, 'b'), config, log })
    nodes.push(b)
    t = performance.now()
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]!)
    await until('the nodes to converge', () => b.replica.size('results') === o.catchup, 600_000)
    out.convergeMs = performance.now() - t
    await until('the formula memory to take them', async () => (await b.status()).memory?.behind === 0, 1_800_000)
    out.convergeMemoryMs = performance.now() - t
    for (const n of nodes.splice(0)) await n.stop()

    // A new node joins a network that holds many results.
    const holder = await startNode({ dataDir: join(tmp, 'holder'), config, log })
    nodes.push(holder)
    await writeMany(async (h, e) => { await holder.replica.putResult(h, e) }, o.join, { name: benchImageHash })
    await until('the holder\'s memory to take its results', async () => (await holder.status()).memory?.behind === 0, 3_600_000)
    joined = await measureJoin(holder, o.join, tmp)
    for (const n of nodes.splice(0)) await n.stop()

    // Start-up from a large store (its snapshot, taken at close), and without a snapshot (the log replayed).
    const key = await generateKeyPair('Ed25519')
    const bigPath = join(tmp, 'big')
    const big = await Replica.open({ path: bigPath, key })
    await writeMany(async (h, e) => { await big.putResult(h, e) }, o.startup)
    await big.compact()
    await big.close()
    // Start-up and what holding the store costs, in a fresh process that only opens it (as a node starts).
    const hold = async (): Promise<{ results: number, openMs: number, replayed: number, rss: number, heap: number }> => {
      const child = await execFileAsync(process.execPath, [...NODE_V8_FLAGS, '--expose-gc', fileURLToPath(new URL('bench-crdt-hold.js', import.meta.url)), bigPath],
        { env: { ...process.env, TEXMESH_BENCH_KEY: Buffer.from(privateKeyToProtobuf(key)).toString('hex') }, maxBuffer: 1 << 20 })
      const held = JSON.parse(child.stdout) as { results: number, openMs: number, replayed: number, rss: number, heap: number }
      if (held.results !== o.startup) throw new Error(`the child process held ${held.results} results`)
      return held
    }
    const fromSnapshot = await hold()
    if (fromSnapshot.replayed !== 0) throw new Error(`${fromSnapshot.replayed} envelopes replayed after a clean close`)
    out.startupMs = fromSnapshot.openMs
    // Once reopened, LevelDB has moved its write-ahead log into compressed tables.
    out.bytesPerResult = await du(bigPath) / o.startup
    out.rssBytesPerResult = fromSnapshot.rss / o.startup
    out.heapBytesPerResult = fromSnapshot.heap / o.startup
    // Without a snapshot: the log replayed whole (that start takes a snapshot again, at close).
    const raw = await EnvelopeLog.open(bigPath)
    await raw.putSnapshot([])
    await raw.close()
    out.replayStartupMs = (await hold()).openMs

    // A whole node (replica, formula memory, image memory, network) starting on a large store.
    nodeStart = await measureNodeStart(o.nodeStart, join(tmp, 'node-start'), async (replica, hash, n) => {
      await writeMany(async (h, e) => { await replica.putResult(h, e) }, n, { name: hash })
    })
  } finally {
    for (const n of nodes) await n.stop().catch(() => {})
    await stopAllNodes()
    await rm(tmp, { recursive: true, force: true })
  }
  // The join and node start runs start `texmesh node` as a user does: from its bundle or its modules.
  const commands = chooseCommands(new URL('../bin/', import.meta.url))
  if (o.json === true) {
    console.log(JSON.stringify({ results: o.results, catchupResults: o.catchup, startupResults: o.startup, ...out, join: joined, nodeStart, commands: commands.why }))
    return
  }
  const ratio = (v: number, target: number): string => `${(v / target).toFixed(2)} of the target ${target.toLocaleString('en')}`
  const startupTarget = o.startup <= 100_000 ? 1000 : 5000 * o.startup / 1_000_000
  const rssTarget = 1.5 * 2 ** 30 / 1e6
  console.log(`local writes, issued together            ${out.writesPerS!.toFixed(0)} /s (${out.resultsPerEnvelope!.toFixed(0)} results an envelope): ${ratio(out.writesPerS!, 20_000)}`)
  console.log(`local writes, one at a time              ${out.serialWritesPerS!.toFixed(0)} /s (an envelope each)`)
  console.log(`remote applies, results in batches       ${out.appliesPerS!.toFixed(0)} /s (verify + check + store + apply): ${ratio(out.appliesPerS!, 20_000)}`)
  console.log(`remote applies, one result an envelope   ${out.singleAppliesPerS!.toFixed(0)} /s; in batches with 300 envelopes held ${out.appliesPerSWith300Held!.toFixed(0)} /s`)
  console.log(`300 overwrites of a 2 KB entry, compacted ${out.overwrittenLogBytes!.toFixed(0)} bytes of log`)
  console.log(`catch-up on ${o.catchup} results written while away  ${(out.convergeMs! / 1000).toFixed(2)} s after the nodes meet: ${(out.convergeMs! / 10_000).toFixed(2)} of the 10 s target; its formula memory took them by ${(out.convergeMemoryMs! / 1000).toFixed(1)} s`)
  const j = joined!
  console.log(`the nodes below run the texmesh command as a user starts it, from ${commands.bundle ? 'its bundle' : `its modules (${commands.why})`}`)
  console.log(`a new node joins a network of ${j.results} results: its API up at ${(j.apiUpMs / 1000).toFixed(1)} s, its first image read at ${(j.firstReadMs / 1000).toFixed(1)} s (holding ${j.heldAtFirstRead}): ${(j.firstReadMs / 60_000).toFixed(2)} of the 60 s target`)
  console.log(`  while it catches up                     status answered in p50 ${j.statusP50Ms.toFixed(0)} / p99 ${j.statusP99Ms.toFixed(0)} / max ${j.statusMaxMs.toFixed(0)} ms; ${j.reads} images read, p50 ${j.readP50Ms.toFixed(0)} / max ${j.readMaxMs.toFixed(0)} ms`)
  console.log(`  everything held at                      ${(j.heldMs / 1000).toFixed(1)} s, in its formula memory at ${(j.memoryMs / 1000).toFixed(1)} s; its peak RSS ${(j.peakRssBytes / 2 ** 20).toFixed(0)} MiB`)
  console.log(`start-up with ${o.startup} results, from its snapshot  ${(out.startupMs! / 1000).toFixed(2)} s: ${(out.startupMs! / startupTarget).toFixed(2)} of the ${(startupTarget / 1000).toFixed(0)} s target; the log replayed without one ${(out.replayStartupMs! / 1000).toFixed(2)} s`)
  console.log(`bytes on disk per result                 ${out.bytesPerResult!.toFixed(0)} (log, snapshot, and the results' texts file)`)
  console.log(`replica memory per result (RSS / V8 heap) ${out.rssBytesPerResult!.toFixed(0)} / ${out.heapBytesPerResult!.toFixed(0)} bytes (at ${o.startup}; the replica alone, in a process that only opens it)`)
  const n = nodeStart!
  const nodeStartTarget = n.results <= 100_000 ? 1000 : 5000 * n.results / 1_000_000
  console.log(`a whole node with ${n.results} results (a texmesh node process, its memories saved by an earlier start):`)
  console.log(`  its API up at                           ${(n.apiUpMs / 1000).toFixed(2)} s: ${(n.apiUpMs / nodeStartTarget).toFixed(2)} of the ${(nodeStartTarget / 1000).toFixed(0)} s target`)
  console.log(`  its memories hold the store at          ${(n.memoryReadyMs / 1000).toFixed(2)} s (${n.formulas} formulas; search answers 503 until then; built from nothing on the first start: ${(n.firstBuildMs / 1000).toFixed(1)} s)`)
  console.log(`  status meanwhile answered in            p50 ${n.statusP50Ms.toFixed(0)} / p99 ${n.statusP99Ms.toFixed(0)} / max ${n.statusMaxMs.toFixed(0)} ms`)
  console.log(`  RSS 10 s later / peak                   ${(n.rssBytes / 2 ** 20).toFixed(0)} / ${(n.peakRssBytes / 2 ** 20).toFixed(0)} MiB = ${(n.rssBytes / n.results).toFixed(0)} bytes a result: ratio ${(n.rssBytes / n.results / rssTarget).toFixed(2)} to the target of 1.5 GiB at 1,000,000`)
  console.log(`    of which its own / mapped files       ${(n.anonBytes / 2 ** 20).toFixed(0)} / ${(n.fileBytes / 2 ** 20).toFixed(0)} MiB (mapped: the formula index read from its files, and the program; the kernel drops such pages when it needs the memory)`)
}

main().catch((err: unknown) => {
  console.error(`bench:crdt: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
