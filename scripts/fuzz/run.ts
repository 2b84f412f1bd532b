/**
 * One fuzz run (issue 19: "one hostile member must never stop the network"): a real node in this
 * process on a temp data dir, the attacker (worker.ts) on a worker thread against it, /v1/status asked
 * every 250 ms meanwhile; then the node must still answer, still read an image, hold only bounded and
 * schema-valid values in its store, have grown its heap and file descriptors within bounds, and start
 * again on its data dir; an honest member must still be served. The report says which checks passed.
 */
import { Worker } from 'node:worker_threads'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { startNode, type RunningNode } from '../../node/daemon/start.js'
import { DEFAULT_CONFIG, type NodeConfig } from '../../node/datadir/config.js'
import { DataDir } from '../../node/datadir/datadir.js'
import { api, StatusPoller } from './api.js'
import type { AttackerInit, AttackerMessage, TargetStats } from './messages.js'
import { sleep } from './pace.js'
import { mib, percentile, round, type Check, type FuzzReport } from './report.js'
import { checkStore } from './store-check.js'
import { TOPICS, attackerIdentities, protocolsOf, targetRows, watchGossip } from './target-node.js'
import { LogSink, catchUncaught, heapAfterGc, openFds, prototypeChanges, prototypeSnapshot, watchEventLoop, watchHeapPeak } from './watch.js'

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/ocr/sum.png', import.meta.url))
const ATTACKER = new URL('./worker.js', import.meta.url)

export interface FuzzOptions {
  /** inputs per protocol and topic */
  count: number
  /** the whole run, setup and checks included, is bounded by this (the attack gets what the checks leave) */
  seconds: number
  seed: number
  network: 'private' | 'open'
  /** the heap after GC may grow by this much (MiB) */
  heapBoundMiB?: number
  /** open file descriptors may grow by this many */
  fdBound?: number
  /** a status request without an answer within this long counts as the node not answering */
  statusTimeoutMs?: number
  /** progress lines (stderr in the CLI) */
  progress?: (line: string) => void
}

export const DEFAULT_HEAP_BOUND_MIB = 64
export const DEFAULT_FD_BOUND = 32

/** The attacker on its worker thread: its last word, its latest counts, and a way to stop it. */
function startAttacker (init: AttackerInit, deadline: number): { outcome: Promise<AttackerMessage>, latest: () => TargetStats[], terminate: () => Promise<void> } {
  let worker: Worker | undefined
  let latest: TargetStats[] = []
  const outcome = new Promise<AttackerMessage>(resolve => {
    worker = new Worker(ATTACKER, { workerData: init })
    const hard = setTimeout(() => {
      resolve({ type: 'failed', error: 'the attacker overran its deadline by 150 s and was stopped', stats: latest })
      void worker?.terminate()
    }, Math.max(0, deadline - Date.now()) + 150_000)
    worker.on('message', (m: AttackerMessage) => {
      latest = m.stats
      if (m.type !== 'progress') { clearTimeout(hard); resolve(m) }
    })
    worker.on('error', err => { clearTimeout(hard); resolve({ type: 'failed', error: `the attacker crashed: ${err.stack ?? err.message}`, stats: latest }) })
    worker.on('exit', code => { clearTimeout(hard); resolve({ type: 'failed', error: `the attacker exited (${code}) without a report`, stats: latest }) })
  })
  return {
    outcome,
    latest: () => latest,
    terminate: async () => { await worker?.terminate().catch(() => {}); worker = undefined }
  }
}

export async function runFuzz (options: FuzzOptions): Promise<FuzzReport> {
  const t0 = Date.now()
  const progress = options.progress ?? (() => {})
  const heapBoundMiB = options.heapBoundMiB ?? DEFAULT_HEAP_BOUND_MIB
  const fdBound = options.fdBound ?? DEFAULT_FD_BOUND
  const statusTimeoutMs = options.statusTimeoutMs ?? 10_000
  const { uncaught, release } = catchUncaught()
  const prototypes = prototypeSnapshot()
  const tmp = await mkdtemp(join(tmpdir(), 'texmesh-fuzz-'))
  const dir = join(tmp, 'node')
  const sink = new LogSink()
  const log = pino({ level: 'debug', base: { pid: process.pid } }, { write: (s: string) => { sink.write(s) } })
  const config: NodeConfig = { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'debug', workers: 1, bootstrap: [] }
  const checks: Check[] = []
  const notes: string[] = []
  let node: RunningNode | undefined
  let attacker: ReturnType<typeof startAttacker> | undefined
  let poller: StatusPoller | undefined
  const report: FuzzReport = {
    ok: false,
    seed: options.seed,
    count: options.count,
    network: options.network,
    durationS: 0,
    attackS: 0,
    protocols: [],
    targets: [],
    status: { requests: 0, failures: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
    heap: { startMiB: 0, endMiB: 0, growthMiB: 0, boundMiB: heapBoundMiB, peakMiB: 0 },
    fds: { start: 0, end: 0, growth: 0, bound: fdBound, beforeNode: 0, afterStop: 0 },
    logs: { error: 0, warn: 0, errorSamples: [], storeRefusals: {}, top: [] },
    store: { entries: 0, acceptedFuzzKeys: 0 },
    uncaught,
    stalls: [],
    probe: null,
    checks,
    notes
  }
  try {
    report.fds.beforeNode = await openFds()
    const dataDir = new DataDir(dir)
    await dataDir.ensure()
    const { attackerIds, identities, network } = await attackerIdentities(dataDir, options.network)
    node = await startNode({ dataDir: dir, config, log })
    const token = await dataDir.apiToken()
    const running = node
    const addrs = running.libp2p.getMultiaddrs().map(String)
    const tcpPort = Number(/\/tcp\/(\d+)/.exec(addrs[0] ?? '')?.[1])
    const protocols = protocolsOf(running)
    report.protocols = protocols.map(p => p.protocol)

    // A first image: loads the model (its files and worker thread are not a leak), and the answer to compare with at the end.
    const fixture = await readFile(FIXTURE)
    const first = await api<{ latex?: string }>(running.apiPort, token, '/v1/ocr?name=sum.png', { method: 'POST', body: fixture, timeoutMs: 120_000 })
    if (first.status !== 200 || typeof first.body.latex !== 'string') throw new Error(`the node could not read ${FIXTURE} before the attack (HTTP ${first.status})`)
    const expectedLatex = first.body.latex
    await sleep(1000)
    report.fds.start = await openFds()
    const heapStart = heapAfterGc()
    report.heap.startMiB = mib(heapStart)

    const seen = watchGossip(running, attackerIds)

    poller = new StatusPoller(() => node?.apiPort ?? 0, token, statusTimeoutMs)
    poller.start()
    const reserve = Math.min(45, options.seconds / 3)
    const attackStart = Date.now()
    const deadline = t0 + Math.max(10, options.seconds - reserve) * 1000
    const init: AttackerInit & { fuzzAttacker: true } = {
      fuzzAttacker: true,
      node: { peerId: running.peerId.toString(), addrs, tcpPort },
      protocols,
      count: options.count,
      deadline,
      seed: options.seed,
      ...(network != null ? { network } : {}),
      identities,
      fixture: new Uint8Array(fixture),
      longStalls: options.count >= 100
    }
    progress(`fuzz: node ${running.peerId.toString()} (${options.network} network) on 127.0.0.1:${tcpPort}, API ${running.apiPort}; ${protocols.length} protocols, ${TOPICS.length} topics, ${options.count} inputs each, attack until ${new Date(deadline).toISOString()}, seed ${options.seed}`)
    const heapPeak = watchHeapPeak(heapStart)
    const stopEventLoopWatch = watchEventLoop(report.stalls)
    const progressTimer = setInterval(() => {
      const sent = (attacker?.latest() ?? []).reduce((n, s) => n + s.sent, 0)
      const lat = [...(poller?.latencies ?? [])].slice(-40).sort((a, b) => a - b)
      progress(`fuzz: ${Math.round((Date.now() - attackStart) / 1000)} s, ${sent} inputs sent, status p50 ${percentile(lat, 0.5).toFixed(0)} ms (last 10 s), heap ${mib(process.memoryUsage().heapUsed)} MiB, ${running.libp2p.getConnections().length} connections`)
    }, 15_000)
    attacker = startAttacker(init, deadline)
    const outcome = await attacker.outcome
    clearInterval(progressTimer)
    heapPeak.stop()
    stopEventLoopWatch()
    await attacker.terminate()
    attacker = undefined
    report.attackS = Math.round((Date.now() - attackStart) / 100) / 10
    if (outcome.type === 'failed') notes.push(`attacker: ${outcome.error}`)
    if (outcome.type === 'done') {
      report.probe = outcome.probe
      notes.push(...outcome.notes)
    }
    checks.push({ name: 'the attack ran to its end', ok: outcome.type === 'done', detail: outcome.type === 'done' ? `${report.attackS} s` : (outcome as { error: string }).error.slice(0, 500) })

    // Settle: the attacker's connections close, and the node's timers for them run out.
    const settleEnd = Date.now() + 20_000
    while (running.libp2p.getConnections().length > 0 && Date.now() < settleEnd) await sleep(200)
    await sleep(3000)
    await poller.stop()
    const heapEnd = heapAfterGc()
    report.heap.endMiB = mib(heapEnd)
    report.heap.growthMiB = mib(heapEnd - heapStart)
    report.heap.peakMiB = mib(heapPeak.peak())
    report.fds.end = await openFds()
    report.fds.growth = report.fds.end - report.fds.start

    report.targets = targetRows(outcome.stats, seen, sink)
    if (seen.crdtOutcomes.error != null) notes.push(`${seen.crdtOutcomes.error} gossiped envelopes made the store's receive() reject (throw) instead of answer`)
    notes.push(`store verdicts on gossiped envelopes: ${JSON.stringify(seen.crdtOutcomes)}`)

    const lat = [...poller.latencies].sort((a, b) => a - b)
    report.status = { requests: lat.length + poller.failures, failures: poller.failures, p50Ms: round(percentile(lat, 0.5)), p99Ms: round(percentile(lat, 0.99)), maxMs: round(lat[lat.length - 1] ?? 0) }
    checks.push({ name: 'the API answered /v1/status throughout', ok: poller.failures === 0 && lat.length > 0, detail: `${lat.length} answers, ${poller.failures} without an answer within ${statusTimeoutMs} ms${poller.failureSamples.length > 0 ? ` (${poller.failureSamples.join('; ')})` : ''}; p50 ${report.status.p50Ms} ms, p99 ${report.status.p99Ms} ms, max ${report.status.maxMs} ms` })
    checks.push({ name: `the heap after GC grew by at most ${heapBoundMiB} MiB`, ok: heapEnd - heapStart <= heapBoundMiB * 2 ** 20, detail: `${report.heap.startMiB} -> ${report.heap.endMiB} MiB (${report.heap.growthMiB >= 0 ? '+' : ''}${report.heap.growthMiB}), peak ${report.heap.peakMiB} MiB before GC` })
    checks.push({ name: `open file descriptors grew by at most ${fdBound}`, ok: report.fds.growth <= fdBound, detail: `${report.fds.start} -> ${report.fds.end}` })
    const store = checkStore(running)
    report.store = { entries: store.entries, acceptedFuzzKeys: store.acceptedFuzzKeys }
    checks.push({ name: 'the store holds only bounded, plain, schema-valid values and nothing it had to refuse', ok: store.problems.length === 0, detail: store.problems.length === 0 ? `${store.entries} entries, ${store.acceptedFuzzKeys} of them written by accepted attacker envelopes` : store.problems.slice(0, 8).join('; ') })
    checks.push({ name: 'an honest member is still served (ping, catch-up, blob, steal)', ok: report.probe?.ok === true, detail: report.probe?.detail ?? 'no probe' })

    // Still reads an image.
    const again = await api<{ latex?: string }>(running.apiPort, token, '/v1/ocr?name=sum.png', { method: 'POST', body: fixture, timeoutMs: 60_000 }).catch((err: unknown) => ({ status: 0, body: { latex: (err as Error).message } }))
    checks.push({ name: 'the node still reads an image', ok: again.status === 200 && again.body.latex === expectedLatex, detail: `HTTP ${again.status}: ${String(again.body.latex).slice(0, 120)} (before the attack: ${expectedLatex})` })

    // Restarts on its data dir.
    const peerId = running.peerId.toString()
    await running.stop()
    node = undefined
    const restartT0 = Date.now()
    try {
      node = await startNode({ dataDir: dir, config, log })
      const status = await api<{ peerId?: string, quarantined?: unknown[] }>(node.apiPort, token, '/v1/status')
      const ok = status.status === 200 && status.body.peerId === peerId
      checks.push({ name: 'the node starts again on its data dir', ok, detail: `status answered in ${Date.now() - restartT0} ms as ${status.body.peerId ?? '?'}; ${status.body.quarantined?.length ?? 0} store updates quarantined` })
      const restore = checkStore(node)
      if (restore.problems.length > 0) checks.push({ name: 'the store rebuilt from LevelDB holds only valid values', ok: false, detail: restore.problems.slice(0, 5).join('; ') })
    } catch (err) {
      checks.push({ name: 'the node starts again on its data dir', ok: false, detail: (err as Error).message })
    }
    await node?.stop()
    node = undefined
    report.fds.afterStop = await openFds()

    report.logs = { error: sink.error, warn: sink.warn, errorSamples: sink.errorSamples, storeRefusals: sink.storeRefusals, top: [...sink.byMsg].sort((a, b) => b[1] - a[1]).slice(0, 30) }
    checks.push({ name: 'no error-level log lines', ok: sink.error === 0, detail: sink.error === 0 ? `${sink.warn} warnings` : sink.errorSamples.slice(0, 3).join(' | ') })
    checks.push({ name: 'no uncaught exception or unhandled rejection', ok: uncaught.length === 0, detail: uncaught.length === 0 ? 'none' : uncaught.slice(0, 3).join(' | ') })
    const polluted = prototypeChanges(prototypes)
    checks.push({ name: 'Object.prototype and the other built-in prototypes untouched', ok: polluted.length === 0, detail: polluted.length === 0 ? 'untouched' : polluted.slice(0, 10).join(', ') })
    const missing = [...protocols.map(p => p.protocol), ...TOPICS.map(t => `topic:${t}`)].filter(t => (report.targets.find(s => s.target === t)?.sent ?? 0) === 0)
    checks.push({ name: 'every protocol and topic was exercised', ok: missing.length === 0, detail: missing.length === 0 ? `${protocols.length} protocols, ${TOPICS.length} topics, ${report.targets.filter(t => t.kind === 'answer').length} kinds of answer` : `not exercised: ${missing.join(', ')}` })
    const answered = report.targets.filter(t => t.errors > 0)
    checks.push({ name: 'no input got an answer it must not get, and no connection was lost', ok: answered.length === 0, detail: answered.length === 0 ? 'none' : answered.map(t => `${t.target}: ${t.errors} (${t.samples.slice(0, 2).join('; ')})`).join(' | ').slice(0, 1500) })
  } catch (err) {
    checks.push({ name: 'the run completed', ok: false, detail: (err as Error).stack ?? String(err) })
  } finally {
    await poller?.stop().catch(() => {})
    await attacker?.terminate()
    await node?.stop().catch(() => {})
    await rm(tmp, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
    release()
  }
  report.durationS = Math.round((Date.now() - t0) / 100) / 10
  report.ok = checks.length > 0 && checks.every(c => c.ok)
  return report
}
