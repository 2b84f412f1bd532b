import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../node/cli/client.js'
import { DataDir } from '../node/datadir/datadir.js'
import { TexmeshError } from '../node/errors.js'
import { NODE_V8_FLAGS } from '../node/v8-flags.js'

/** A simnet run that cannot go on (a node that will not start, bad options, no images): one line for the user. */
export class SimnetError extends TexmeshError {
  static override readonly defaultName = 'SimnetError'
}

/**
 * Real texmesh nodes as child processes on 127.0.0.1, each with its own data
 * dir and fixed ports (so a node killed and restarted comes back at the same
 * address). Every node bootstraps from the first two, and runs simnet's node
 * process (node-main.ts: `texmesh node` with simnet's hooks, faults on), unless
 * a bench asks for the plain command (SimNodeSpec.asUser).
 */

const NODE_MAIN = fileURLToPath(new URL('./node-main.js', import.meta.url))
/** The package's own command, as a user runs it (bin/texmesh.ts). */
const TEXMESH_COMMAND = fileURLToPath(new URL('../bin/texmesh.js', import.meta.url))
/** A node starts in about a second; on a loaded 2-core machine with dozens starting, much longer. */
const START_TIMEOUT_MS = 90_000

export interface SimNodeSpec {
  /** how many times slower than normal (1 = normal) */
  slowdown: number
  workers: number
  leaseMs: number
  /** [p50, p95] ms of modelled recognition; undefined runs the real model */
  modelled?: [number, number]
  /** a Byzantine voter with this attack */
  byzantine?: string
  /** f of critical images' quorums */
  quorumF?: number
  /** the seed of the node's random source (its protocols' choices, modelled latencies) */
  seed?: number
  /**
   * Run the package's `texmesh node` as a user starts it (bin/texmesh.js), not simnet's node
   * process: the real model at normal speed, no hooks, no fault routes. Benches that time a
   * node's start use it.
   */
  asUser?: boolean
}

/** Bind `port` on 127.0.0.1 (0: any free one) and let it go: the port bound, or undefined when it is taken. */
async function probe (port: number): Promise<number | undefined> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(undefined) })
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const bound = typeof address === 'object' && address != null ? address.port : undefined
      server.close(() => { resolve(bound) })
    })
  })
}

/** The kernel's range for the local ports of outgoing connections (Linux), else the IANA one. */
function ephemeralRange (): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (lo != null && hi != null && lo > 1024 && hi >= lo) return [lo, hi]
  } catch {}
  return [49152, 65535]
}
const EPHEMERAL = ephemeralRange()

const handedOut = new Set<number>()

/**
 * A TCP port free right now on 127.0.0.1, for a child process to bind a moment
 * later. It comes from below the ephemeral range: a port the kernel picks for
 * `listen(0)` can be taken by an outgoing connection's local end before the
 * child binds it, which dozens of busy nodes on one machine make likely.
 */
export async function freePort (): Promise<number> {
  const [lo] = EPHEMERAL
  const base = Math.max(10_000, lo - 12_000)
  const tries = lo - base >= 1000 ? 50 : 0
  for (let i = 0; i < tries; i++) {
    const port = base + Math.floor(Math.random() * (lo - base))
    if (handedOut.has(port) || (await probe(port)) == null) continue
    handedOut.add(port)
    return port
  }
  const any = await probe(0)
  if (any == null) throw new Error('no free TCP port on 127.0.0.1')
  return any
}

/**
 * Every node process simnet started that has not exited. They run in process
 * groups of their own, so a Ctrl-C at the terminal reaches simnet alone, which
 * stops them in order; should simnet itself die (an error, a closed pipe),
 * they are killed as it exits rather than left running.
 */
const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })

/** Stop every node process still running (SIGTERM, then SIGKILL after 10 s). */
export async function stopAllNodes (): Promise<void> {
  await Promise.all([...children].map(async child => { await stopChild(child) }))
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await gone
  clearTimeout(timer)
}

export class SimNode {
  child: ChildProcess | undefined
  peerId = ''
  client: ApiClient | undefined
  alive = false
  private stderr = ''

  constructor (
    readonly index: number,
    readonly spec: SimNodeSpec,
    readonly dataDir: string,
    readonly port: number,
    readonly apiPort: number
  ) {}

  get addr (): string { return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${this.peerId}` }

  /** Start (or restart) the node process; resolves once its API answers. */
  async start (bootstrap: string[]): Promise<void> {
    const spec = this.spec
    if (spec.asUser === true && (spec.slowdown !== 1 || spec.modelled != null || spec.byzantine != null || spec.seed != null)) {
      throw new SimnetError('a node run as a user has no slowdown, modelled recognition, Byzantine voter or seed')
    }
    const args = [spec.asUser === true ? TEXMESH_COMMAND : NODE_MAIN, 'node', '--data-dir', this.dataDir, '--listen', `/ip4/127.0.0.1/tcp/${this.port}`,
      '--api-port', String(this.apiPort), '--no-mdns', '--log-level', 'warn', '--workers', String(spec.workers), '--lease-ms', String(spec.leaseMs)]
    if (spec.asUser !== true) args.push('--faults', '--slowdown', String(spec.slowdown))
    if (spec.modelled != null) args.push('--modelled-compute', spec.modelled.join(','))
    if (spec.byzantine != null) args.push('--byzantine', spec.byzantine)
    if (spec.quorumF != null) args.push('--quorum-f', String(spec.quorumF))
    if (spec.seed != null) args.push('--seed', String(spec.seed))
    for (const b of bootstrap) if (this.peerId === '' || !b.endsWith(this.peerId)) args.push('--bootstrap', b)
    this.stderr = ''
    const child = spawn(process.execPath, [...NODE_V8_FLAGS, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    children.add(child)
    child.once('exit', () => { children.delete(child) })
    this.child = child
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20_000) })
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (child.exitCode != null) throw new SimnetError(`node ${this.index} exited with ${child.exitCode}: ${this.stderr.slice(-2000).trim()}`)
      const m = /texmesh node (\S+) running/.exec(this.stderr)
      if (m != null) {
        this.peerId = m[1]!
        break
      }
      if (Date.now() > deadline) throw new SimnetError(`node ${this.index} did not start within ${START_TIMEOUT_MS / 1000} s`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    this.client = await ApiClient.forDataDir(new DataDir(this.dataDir))
    this.alive = true
    child.once('exit', () => { this.alive = false })
  }

  /** SIGKILL: no clean shutdown, as when a machine loses power. */
  async kill (): Promise<void> {
    const child = this.child
    this.alive = false
    if (child == null || child.exitCode != null || child.signalCode != null) return
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
    // The runtime file a killed node leaves behind would point the CLI at a dead port.
    await new DataDir(this.dataDir).removeRuntime()
  }

  /** SIGTERM, then SIGKILL if it does not stop in time. */
  async stop (): Promise<void> {
    this.alive = false
    if (this.child != null) await stopChild(this.child)
  }

  logTail (): string { return this.stderr.slice(-2000) }
}

export class Cluster {
  private constructor (readonly nodes: SimNode[]) {}

  /** Start every node; the first two are everyone's bootstrap peers. */
  static async start (root: string, specs: SimNodeSpec[]): Promise<Cluster> {
    const nodes: SimNode[] = []
    for (const [i, spec] of specs.entries()) {
      const dir = join(root, `node-${String(i).padStart(2, '0')}`)
      await mkdir(dir, { recursive: true })
      nodes.push(new SimNode(i, spec, dir, await freePort(), await freePort()))
    }
    const cluster = new Cluster(nodes)
    try {
      await nodes[0]!.start([])
      if (nodes.length > 1) await nodes[1]!.start([nodes[0]!.addr])
      // The rest start a few at a time: dozens of processes starting at once starve a small machine.
      const rest = nodes.slice(2)
      for (let i = 0; i < rest.length; i += 4) await Promise.all(rest.slice(i, i + 4).map(async n => { await n.start(cluster.seeds()) }))
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  seeds (): string[] { return this.nodes.slice(0, 2).filter(n => n.peerId !== '').map(n => n.addr) }

  live (): SimNode[] { return this.nodes.filter(n => n.alive) }

  /** Wait until every live node sees every other live node (or the deadline passes). */
  async meshed (timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const live = this.live()
      const counts = await Promise.all(live.map(async n => await n.client!.get<{ peers: number }>('/v1/status').then(s => s.peers, () => 0)))
      if (counts.every(c => c >= live.length - 1)) return true
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    return false
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async n => { await n.stop() }))
  }
}
