import { readFileSync } from 'node:fs'
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os'

/**
 * The host simnet runs on, and how busy it is over a run: every node shares
 * this machine, so a report's figures mean little without it.
 */

export interface HostInfo {
  /** e.g. "Intel(R) Xeon(R) CPU @ 2.20GHz" (the first CPU's model) */
  cpuModel: string
  /** logical CPUs on the host */
  cores: number
  /** CPUs this process may run on (fewer under taskset or a container limit) */
  availableCores: number
  /** the 1, 5 and 15 minute load averages when the run began (0 0 0 on Windows) */
  loadavg: [number, number, number]
  platform: string
  arch: string
  memoryGiB: number
  node: string
}

export function hostInfo (): HostInfo {
  const list = cpus()
  const [l1, l5, l15] = loadavg()
  const gib = (b: number): number => Math.round((b / 2 ** 30) * 10) / 10
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    availableCores: availableParallelism(),
    loadavg: [round2(l1 ?? 0), round2(l5 ?? 0), round2(l15 ?? 0)],
    platform: `${platform()} ${release()}`,
    arch: arch(),
    memoryGiB: gib(totalmem()),
    node: process.version
  }
}

export interface HostSample {
  /** ms since the run's start */
  atMs: number
  /** the 1-minute load average */
  load1: number
  /** busy share of all the host's CPUs since the previous sample, 0-1 */
  hostCpu: number
  /** the simnet node processes' CPU time since the previous sample, as a share of all the host's CPUs (null where it cannot be read: not Linux) */
  nodesCpu: number | null
  /** simnet's own process, as a share of all the host's CPUs */
  simnetCpu: number
}

const round2 = (x: number): number => Math.round(x * 100) / 100
const round3 = (x: number): number => Math.round(x * 1000) / 1000

function cpuTimes (): { busy: number, total: number } {
  let busy = 0
  let total = 0
  for (const c of cpus()) {
    const t = c.times
    const all = t.user + t.nice + t.sys + t.idle + t.irq
    total += all
    busy += all - t.idle
  }
  return { busy, total }
}

/** ns a process has spent on a CPU (Linux: /proc/PID/schedstat), or undefined when it cannot be read. */
function processCpuNs (pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]
    const ns = Number(first)
    return Number.isFinite(ns) ? ns : undefined
  } catch {
    return undefined
  }
}

/**
 * Samples the host's CPU and load every `everyMs` while a run goes on: the
 * whole machine (os.cpus), the node processes (by pid, from /proc on Linux)
 * and simnet itself (process.cpuUsage).
 */
export class HostSampler {
  readonly samples: HostSample[] = []
  private timer: ReturnType<typeof setInterval> | undefined
  private last: { at: number, host: { busy: number, total: number }, simnet: NodeJS.CpuUsage, nodes: Map<number, number> } | undefined
  private readonly linux = platform() === 'linux'

  constructor (private readonly t0: number, private readonly pids: () => number[], private readonly everyMs = 1000) {}

  start (): void {
    this.last = { at: performance.now(), host: cpuTimes(), simnet: process.cpuUsage(), nodes: this.readNodes() }
    this.timer = setInterval(() => { this.sample() }, this.everyMs)
    this.timer.unref()
  }

  /** Take a last sample and stop. */
  stop (): void {
    if (this.timer == null) return
    clearInterval(this.timer)
    this.timer = undefined
    this.sample()
  }

  private readNodes (): Map<number, number> {
    const out = new Map<number, number>()
    if (!this.linux) return out
    for (const pid of this.pids()) {
      const ns = processCpuNs(pid)
      if (ns != null) out.set(pid, ns)
    }
    return out
  }

  private sample (): void {
    const prev = this.last
    if (prev == null) return
    const at = performance.now()
    const host = cpuTimes()
    const simnet = process.cpuUsage()
    const nodes = this.readNodes()
    const wallMs = at - prev.at
    if (wallMs < 50) return
    const cores = Math.max(1, cpus().length)
    let nodesNs = 0
    // A pid not seen before is a node (re)started since: all its time is new.
    for (const [pid, ns] of nodes) nodesNs += ns - (prev.nodes.get(pid) ?? 0)
    const hostTotal = host.total - prev.host.total
    this.samples.push({
      atMs: Date.now() - this.t0,
      load1: round2(loadavg()[0] ?? 0),
      hostCpu: hostTotal > 0 ? round3((host.busy - prev.host.busy) / hostTotal) : 0,
      nodesCpu: this.linux && nodes.size > 0 ? round3(Math.min(1, nodesNs / 1e6 / (wallMs * cores))) : null,
      simnetCpu: round3(Math.min(1, ((simnet.user - prev.simnet.user) + (simnet.system - prev.simnet.system)) / 1000 / (wallMs * cores)))
    })
    this.last = { at, host, simnet, nodes }
  }
}
