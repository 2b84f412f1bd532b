/**
 * npm run fuzz -- [--count N] [--seconds S] [--seed N] [--network private|open] [--json]
 *
 * One hostile peer against one real node (issue 19: "one hostile member must
 * never stop the network"). The node runs in this process (so its heap after
 * garbage collection, its open file descriptors, its error logs, uncaught
 * exceptions and Object.prototype can be watched); the attacker
 * (scripts/fuzz-attacker.ts) runs on a worker thread with real libp2p nodes
 * and raw sockets on 127.0.0.1. For every stream protocol the node speaks and
 * every gossipsub topic it subscribes to, the attacker sends N inputs: random
 * bytes, framing attacks, hostile values, validly signed hostile store updates
 * and votes, floods, slowloris and stalled streams, bursts of concurrent
 * streams, and it answers the node's own requests (catch-up, blobs, steals,
 * membership, peer exchange, identify, ping) with hostile data.
 *
 * While it runs, the node's API is asked for /v1/status every 250 ms. At the
 * end the node must still answer, still read an image, hold only bounded and
 * schema-valid values in its store, have grown its heap and file descriptors
 * within bounds, and start again on its data dir; an honest member must still
 * be served. The exit code is 1 if any check fails.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { Worker } from 'node:worker_threads'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { randomInt } from 'node:crypto'
import { pino } from 'pino'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG, type NodeConfig } from '../node/datadir/config.js'
import { DataDir, adminPublicKeyOf } from '../node/datadir/datadir.js'
import { admit, initNetwork } from '../node/datadir/network-admin.js'
import { encodeCertificateText } from '../protocols/membership/index.js'
import { CRDT_TOPIC } from '../protocols/crdt-sync/index.js'
import { TASKS_TOPIC } from '../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../protocols/votes/index.js'
import { type ReceiveOutcome } from '../crdt/replica.js'
import { CalibrationEntry, CorrectionEntry, EvidenceEntry, MemberEntry, ResultEntry } from '../crdt/schemas.js'
import { MAPS } from '../crdt/authorship.js'
import { checkValue } from '../crdt/values.js'
import type { AttackerInit, AttackerMessage, ProbeResult, TargetStats } from './fuzz-attacker.js'
import { ACCEPTED_PREFIX, REFUSED_PREFIX } from './fuzz-attacker.js'

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
const ATTACKER = new URL('./fuzz-attacker.js', import.meta.url)
const TOPICS = [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]

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

export interface Check { name: string, ok: boolean, detail: string }

export interface TargetRow extends TargetStats {
  /** topics: what the node itself saw and did with the messages */
  node?: { delivered: number, accepted: number, refused: number }
}

export interface FuzzReport {
  ok: boolean
  seed: number
  count: number
  network: 'private' | 'open'
  durationS: number
  attackS: number
  protocols: string[]
  targets: TargetRow[]
  status: { requests: number, failures: number, p50Ms: number, p99Ms: number, maxMs: number }
  heap: { startMiB: number, endMiB: number, growthMiB: number, boundMiB: number, peakMiB: number }
  fds: { start: number, end: number, growth: number, bound: number, beforeNode: number, afterStop: number }
  logs: { error: number, warn: number, errorSamples: string[], storeRefusals: Record<string, number>, top: Array<[string, number]> }
  store: { entries: number, acceptedFuzzKeys: number }
  uncaught: string[]
  /** the longest gaps of the node's event loop, and the CPU its thread used meanwhile (little: the machine, not the node) */
  stalls: Array<{ at: string, gapMs: number, cpuMs: number }>
  probe: ProbeResult | null
  checks: Check[]
  notes: string[]
}

export const DEFAULT_HEAP_BOUND_MIB = 64
export const DEFAULT_FD_BOUND = 32

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc (): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

async function openFds (): Promise<number> {
  try { return (await readdir('/proc/self/fd')).length } catch { return -1 }
}

const mib = (b: number): number => Math.round(b / 2 ** 20 * 10) / 10
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** What the node logs, counted: error-level lines, warnings, store refusals by reason, topic refusals by message. */
class LogSink {
  error = 0
  warn = 0
  readonly errorSamples: string[] = []
  readonly byMsg = new Map<string, number>()
  readonly storeRefusals: Record<string, number> = {}
  write (line: string): void {
    let entry: { level?: number, msg?: string, reason?: string }
    try { entry = JSON.parse(line) } catch { return }
    const level = entry.level ?? 0
    if (level >= 50) {
      this.error++
      if (this.errorSamples.length < 10) this.errorSamples.push(line.slice(0, 600))
    } else if (level >= 40) {
      this.warn++
    }
    if (entry.msg != null) this.byMsg.set(entry.msg, (this.byMsg.get(entry.msg) ?? 0) + 1)
    if (entry.msg === 'refused a store update' && entry.reason != null) this.storeRefusals[entry.reason] = (this.storeRefusals[entry.reason] ?? 0) + 1
  }

  count (...msgs: string[]): number { return msgs.reduce((n, m) => n + (this.byMsg.get(m) ?? 0), 0) }
}

/** The names and values of the built-in prototypes, to see that nothing was added or replaced. */
function prototypeSnapshot (): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const [name, proto] of [['Object', Object.prototype], ['Array', Array.prototype], ['Function', Function.prototype], ['String', String.prototype]] as const) {
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)
      out.set(`${name}.${String(key)}`, d?.value ?? d?.get)
    }
  }
  return out
}

function prototypeChanges (before: Map<string, unknown>): string[] {
  const after = prototypeSnapshot()
  const changes: string[] = []
  for (const [k, v] of after) if (!before.has(k)) changes.push(`added ${k}`); else if (before.get(k) !== v) changes.push(`replaced ${k}`)
  for (const k of before.keys()) if (!after.has(k)) changes.push(`removed ${k}`)
  const probe: Record<string, unknown> = {}
  for (const k of ['polluted', 'admin', 'isAdmin']) if (probe[k] !== undefined) changes.push(`({}).${k} is ${String(probe[k])}`)
  return changes
}

/** The shapes of the maps this harness knows (a map added since is checked for bounds only). */
const SCHEMAS: Record<string, { safeParse: (v: unknown) => { success: boolean } } | undefined> = { results: ResultEntry, calibration: CalibrationEntry, corrections: CorrectionEntry, members: MemberEntry, evidence: EvidenceEntry }

/** Every value in the store bounded, plain and of its map's shape; no key an attack meant to be refused. */
function checkStore (node: RunningNode): { problems: string[], entries: number, acceptedFuzzKeys: number } {
  const snap = node.replica.snapshot() as Record<string, Record<string, unknown>>
  const problems: string[] = []
  let entries = 0
  let acceptedFuzzKeys = 0
  for (const map of MAPS) {
    for (const [key, value] of Object.entries(snap[map] ?? {})) {
      entries++
      if (key.startsWith(REFUSED_PREFIX)) problems.push(`${map}: ${key.slice(0, 80)} was written by an update the node had to refuse (${JSON.stringify(value)?.slice(0, 200)}, prototype keys ${JSON.stringify(Object.keys(Object.getPrototypeOf(value ?? {}) ?? {}))})`)
      if (key.startsWith(ACCEPTED_PREFIX)) acceptedFuzzKeys++
      const bounded = checkValue(value)
      if (bounded != null) problems.push(`${map}: ${key.slice(0, 80)}: ${bounded.detail}`)
      if (SCHEMAS[map]?.safeParse(value).success === false) problems.push(`${map}: ${key.slice(0, 80)}: not of the map's shape`)
      // A plain value: no object in it has another prototype than Object's (a decoded "__proto__" key sets one).
      const stack: unknown[] = [value]
      while (stack.length > 0) {
        const v = stack.pop()
        if (v == null || typeof v !== 'object') continue
        if (Array.isArray(v)) { stack.push(...v); continue }
        if (Object.getPrototypeOf(v) !== Object.prototype) { problems.push(`${map}: ${key.slice(0, 80)}: an object with a foreign prototype`); break }
        stack.push(...Object.values(v))
      }
      if (problems.length > 20) return { problems, entries, acceptedFuzzKeys }
    }
  }
  return { problems, entries, acceptedFuzzKeys }
}

async function api<T> (port: number, token: string, path: string, init: { method?: string, body?: Uint8Array, timeoutMs?: number } = {}): Promise<{ status: number, body: T }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body != null ? { 'content-type': 'image/png' } : {}) },
    ...(init.body != null ? { body: init.body as Uint8Array<ArrayBuffer> } : {}),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000)
  })
  return { status: response.status, body: await response.json() as T }
}

/** Ask /v1/status over and over, one request at a time, and keep every latency. */
class StatusPoller {
  readonly latencies: number[] = []
  failures = 0
  readonly failureSamples: string[] = []
  private running = true
  private done: Promise<void> = Promise.resolve()
  constructor (private readonly port: () => number, private readonly token: string, private readonly timeoutMs: number) {}
  start (): void {
    this.done = (async () => {
      while (this.running) {
        const t0 = performance.now()
        try {
          const r = await api<{ peerId?: string }>(this.port(), this.token, '/v1/status', { timeoutMs: this.timeoutMs })
          if (r.status !== 200 || typeof r.body.peerId !== 'string') throw new Error(`HTTP ${r.status}`)
          this.latencies.push(performance.now() - t0)
        } catch (err) {
          this.failures++
          if (this.failureSamples.length < 5) this.failureSamples.push(`${new Date().toISOString()} ${(err as Error).message}`)
        }
        await sleep(250)
      }
    })()
  }

  async stop (): Promise<void> {
    this.running = false
    await this.done
  }
}

export async function runFuzz (options: FuzzOptions): Promise<FuzzReport> {
  const t0 = Date.now()
  const progress = options.progress ?? (() => {})
  const heapBoundMiB = options.heapBoundMiB ?? DEFAULT_HEAP_BOUND_MIB
  const fdBound = options.fdBound ?? DEFAULT_FD_BOUND
  const statusTimeoutMs = options.statusTimeoutMs ?? 10_000
  const uncaught: string[] = []
  const onUncaught = (err: unknown): void => { uncaught.push(`uncaught exception: ${(err as Error)?.stack ?? String(err)}`.slice(0, 2000)) }
  const onRejection = (err: unknown): void => { uncaught.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`.slice(0, 2000)) }
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onRejection)
  const prototypes = prototypeSnapshot()
  const tmp = await mkdtemp(join(tmpdir(), 'texmesh-fuzz-'))
  const dir = join(tmp, 'node')
  const sink = new LogSink()
  const log = pino({ level: 'debug', base: { pid: process.pid } }, { write: (s: string) => { sink.write(s) } })
  const config: NodeConfig = { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'debug', workers: 1, bootstrap: [] }
  const checks: Check[] = []
  const notes: string[] = []
  let node: RunningNode | undefined
  let worker: Worker | undefined
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
    const keys = { m: await generateKeyPair('Ed25519'), s: await generateKeyPair('Ed25519'), p: await generateKeyPair('Ed25519'), extra: [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')] }
    const identity = async (k: typeof keys.m): Promise<{ key: string, cert?: string }> => ({
      key: Buffer.from(privateKeyToProtobuf(k)).toString('hex'),
      ...(options.network === 'private' ? { cert: encodeCertificateText(await admit(dataDir, peerIdFromPrivateKey(k).toString())) } : {})
    })
    let network: AttackerInit['network']
    if (options.network === 'private') {
      const made = await initNetwork(dataDir, 'fuzz', [])
      network = { name: made.network.name, psk: made.network.psk, adminPublicKey: Buffer.from(adminPublicKeyOf(made.network)).toString('base64url') }
    }
    const identities = { m: await identity(keys.m), s: await identity(keys.s), p: await identity(keys.p), extra: await Promise.all(keys.extra.map(identity)) }
    node = await startNode({ dataDir: dir, config, log })
    const token = await dataDir.apiToken()
    const running = node
    const addrs = running.libp2p.getMultiaddrs().map(String)
    const tcpPort = Number(/\/tcp\/(\d+)/.exec(addrs[0] ?? '')?.[1])
    // Every protocol the node handles, with its inbound stream limit per connection; gossipsub's first.
    const registrar = (running.libp2p as unknown as { components?: { registrar?: { getHandler: (p: string) => { options: { maxInboundStreams?: number } } } } }).components?.registrar
    const protocols = running.libp2p.getProtocols().map(protocol => {
      let maxInbound = 32
      try { maxInbound = registrar?.getHandler(protocol).options.maxInboundStreams ?? 32 } catch {}
      return { protocol, maxInbound }
    }).sort((a, b) => Number(/sub\//.test(b.protocol)) - Number(/sub\//.test(a.protocol)))
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
    let heapPeak = heapStart

    // What the node does with the gossip it gets: delivered per topic, and the store's verdict on each envelope.
    const delivered: Record<string, number> = Object.fromEntries(TOPICS.map(t => [t, 0]))
    const crdtOutcomes: Record<string, number> = {}
    const attackerIds = new Set([keys.m, keys.s].map(k => peerIdFromPrivateKey(k).toString()))
    const outcomes = new WeakMap<Uint8Array, Promise<ReceiveOutcome>>()
    const replica = running.replica
    const receive = replica.receive.bind(replica)
    replica.receive = (bytes: Uint8Array) => {
      const out = receive(bytes)
      outcomes.set(bytes, out)
      return out
    }
    running.libp2p.services.pubsub.addEventListener('message', evt => {
      const msg = evt.detail
      if (!TOPICS.includes(msg.topic) || msg.type !== 'signed' || !attackerIds.has(msg.from.toString())) return
      delivered[msg.topic] = (delivered[msg.topic] ?? 0) + 1
      if (msg.topic === CRDT_TOPIC) {
        void outcomes.get(msg.data)?.then(o => { crdtOutcomes[o.status] = (crdtOutcomes[o.status] ?? 0) + 1 }, () => { crdtOutcomes.error = (crdtOutcomes.error ?? 0) + 1 })
      }
    })

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
    let latest: TargetStats[] = []
    const heapTimer = setInterval(() => { heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed) }, 1000)
    // Event-loop gaps: a 100 ms timer that fires late, with the main thread's CPU time over the gap.
    let lastTick = performance.now()
    let lastCpu = threadCpuMs()
    const stallTimer = setInterval(() => {
      const now = performance.now()
      const cpu = threadCpuMs()
      const gap = now - lastTick - 100
      if (gap > 500) {
        report.stalls.push({ at: new Date().toISOString(), gapMs: Math.round(gap), cpuMs: Math.round(cpu - lastCpu) })
        report.stalls.sort((a, b) => b.gapMs - a.gapMs)
        report.stalls.splice(5)
      }
      lastTick = now
      lastCpu = cpu
    }, 100)
    const progressTimer = setInterval(() => {
      const sent = latest.reduce((n, s) => n + s.sent, 0)
      const lat = [...(poller?.latencies ?? [])].slice(-40).sort((a, b) => a - b)
      progress(`fuzz: ${Math.round((Date.now() - attackStart) / 1000)} s, ${sent} inputs sent, status p50 ${percentile(lat, 0.5).toFixed(0)} ms (last 10 s), heap ${mib(process.memoryUsage().heapUsed)} MiB, ${running.libp2p.getConnections().length} connections`)
    }, 15_000)
    const outcome = await new Promise<AttackerMessage>(resolve => {
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
    clearInterval(progressTimer)
    clearInterval(heapTimer)
    clearInterval(stallTimer)
    await worker?.terminate().catch(() => {})
    worker = undefined
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
    report.heap.peakMiB = mib(heapPeak)
    report.fds.end = await openFds()
    report.fds.growth = report.fds.end - report.fds.start

    // The table: the attacker's counts, with what the node saw of the topics.
    const topicRefusals: Record<string, number> = {
      [TASKS_TOPIC]: sink.count('refused an oversized load message', 'refused a malformed load message'),
      [VOTES_TOPIC]: sink.count('refused an oversized vote message', 'refused an unreadable vote message', 'refused a malformed vote message', 'refused a vote', 'ignored a vote from a non-member')
    }
    report.targets = outcome.stats.map(s => {
      if (s.kind !== 'topic') return s
      const topic = s.target.slice('topic:'.length)
      const got = delivered[topic] ?? 0
      if (topic === CRDT_TOPIC) {
        const accepted = crdtOutcomes.applied ?? 0
        return { ...s, node: { delivered: got, accepted, refused: (crdtOutcomes.rejected ?? 0) + (crdtOutcomes.pending ?? 0) + (crdtOutcomes.duplicate ?? 0) } }
      }
      const refused = Math.min(got, topicRefusals[topic] ?? 0)
      return { ...s, node: { delivered: got, accepted: got - refused, refused } }
    })
    if (crdtOutcomes.error != null) notes.push(`${crdtOutcomes.error} gossiped envelopes made the store's receive() reject (throw) instead of answer`)
    notes.push(`store verdicts on gossiped envelopes: ${JSON.stringify(crdtOutcomes)}`)

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
    await worker?.terminate().catch(() => {})
    await node?.stop().catch(() => {})
    await rm(tmp, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onRejection)
  }
  report.durationS = Math.round((Date.now() - t0) / 100) / 10
  report.ok = checks.length > 0 && checks.every(c => c.ok)
  return report
}

function round (x: number): number { return Math.round(x * 10) / 10 }

/** CPU time of this thread (the node's), in ms; the process's where Node cannot tell threads apart. */
function threadCpuMs (): number {
  const usage = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** The summary as text: one row per protocol and topic, then the health figures and checks. */
export function formatReport (r: FuzzReport): string {
  const lines: string[] = []
  const head = ['target', 'kind', 'sent', 'answered', 'refused', 'stalled', 'errors', 'node: delivered/accepted/refused']
  const rows = r.targets.map(t => [t.target, t.kind, t.sent, t.answered, t.refused, t.stalled, t.errors, t.node != null ? `${t.node.delivered}/${t.node.accepted}/${t.node.refused}` : ''].map(String))
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(row => row[i]!.length)))
  const fmt = (row: string[]): string => row.map((c, i) => i < 2 || i === 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  ').trimEnd()
  lines.push(`fuzz: ${r.network} network, ${r.count} inputs per protocol/topic, seed ${r.seed}, ${r.durationS} s (attack ${r.attackS} s)`)
  lines.push(fmt(head))
  for (const row of rows) lines.push(fmt(row))
  lines.push('')
  lines.push(`status latency: p50 ${r.status.p50Ms} ms, p99 ${r.status.p99Ms} ms, max ${r.status.maxMs} ms (${r.status.requests} requests, ${r.status.failures} unanswered)`)
  lines.push(`heap after GC: ${r.heap.startMiB} -> ${r.heap.endMiB} MiB (bound +${r.heap.boundMiB}); peak ${r.heap.peakMiB} MiB`)
  lines.push(`open fds: ${r.fds.start} -> ${r.fds.end} (bound +${r.fds.bound}); ${r.fds.beforeNode} before the node, ${r.fds.afterStop} after it stopped`)
  if (r.stalls.length > 0) lines.push(`longest event-loop gaps: ${r.stalls.map(s => `${s.gapMs} ms (node thread CPU ${s.cpuMs} ms)`).join(', ')}`)
  lines.push(`node logs: ${r.logs.error} error, ${r.logs.warn} warn; store refusals ${JSON.stringify(r.logs.storeRefusals)}`)
  lines.push(`node log messages, most frequent: ${r.logs.top.slice(0, 20).map(([m, n]) => `${n}× ${m}`).join('; ')}`)
  lines.push(`store: ${r.store.entries} entries (${r.store.acceptedFuzzKeys} written by accepted attacker envelopes)`)
  for (const n of r.notes) lines.push(`note: ${n}`)
  lines.push('')
  for (const c of r.checks) lines.push(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`)
  lines.push(r.ok ? 'fuzz: all checks passed' : 'fuzz: CHECKS FAILED')
  return lines.join('\n')
}

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
