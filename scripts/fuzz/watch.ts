/**
 * What the run watches in the node's process (the node runs in this process): its heap after garbage
 * collection and at its peak, its open file descriptors, gaps of its event loop, what it logs,
 * uncaught exceptions and unhandled rejections, and the built-in prototypes.
 */
import { readdir } from 'node:fs/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { FuzzReport } from './report.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

export function heapAfterGc (): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

/** The heap's peak before GC, sampled every second from `start` on. */
export function watchHeapPeak (start: number): { peak: () => number, stop: () => void } {
  let heapPeak = start
  const heapTimer = setInterval(() => { heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed) }, 1000)
  return { peak: () => heapPeak, stop: () => { clearInterval(heapTimer) } }
}

export async function openFds (): Promise<number> {
  try { return (await readdir('/proc/self/fd')).length } catch { return -1 }
}

/** CPU time of this thread (the node's), in ms; the process's where Node cannot tell threads apart. */
function threadCpuMs (): number {
  const usage = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Keeps the five longest event-loop gaps in `stalls` until stopped. */
export function watchEventLoop (stalls: FuzzReport['stalls']): () => void {
  // Event-loop gaps: a 100 ms timer that fires late, with the main thread's CPU time over the gap.
  let lastTick = performance.now()
  let lastCpu = threadCpuMs()
  const stallTimer = setInterval(() => {
    const now = performance.now()
    const cpu = threadCpuMs()
    const gap = now - lastTick - 100
    if (gap > 500) {
      stalls.push({ at: new Date().toISOString(), gapMs: Math.round(gap), cpuMs: Math.round(cpu - lastCpu) })
      stalls.sort((a, b) => b.gapMs - a.gapMs)
      stalls.splice(5)
    }
    lastTick = now
    lastCpu = cpu
  }, 100)
  return () => { clearInterval(stallTimer) }
}

/** Uncaught exceptions and unhandled rejections in this process, collected into `uncaught` until released. */
export function catchUncaught (): { uncaught: string[], release: () => void } {
  const uncaught: string[] = []
  const onUncaught = (err: unknown): void => { uncaught.push(`uncaught exception: ${(err as Error)?.stack ?? String(err)}`.slice(0, 2000)) }
  const onRejection = (err: unknown): void => { uncaught.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`.slice(0, 2000)) }
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onRejection)
  return {
    uncaught,
    release: () => {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onRejection)
    }
  }
}

/** What the node logs, counted: error-level lines, warnings, store refusals by reason, topic refusals by message. */
export class LogSink {
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
export function prototypeSnapshot (): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const [name, proto] of [['Object', Object.prototype], ['Array', Array.prototype], ['Function', Function.prototype], ['String', String.prototype]] as const) {
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)
      out.set(`${name}.${String(key)}`, d?.value ?? d?.get)
    }
  }
  return out
}

export function prototypeChanges (before: Map<string, unknown>): string[] {
  const after = prototypeSnapshot()
  const changes: string[] = []
  for (const [k, v] of after) if (!before.has(k)) changes.push(`added ${k}`); else if (before.get(k) !== v) changes.push(`replaced ${k}`)
  for (const k of before.keys()) if (!after.has(k)) changes.push(`removed ${k}`)
  const probe: Record<string, unknown> = {}
  for (const k of ['polluted', 'admin', 'isAdmin']) if (probe[k] !== undefined) changes.push(`({}).${k} is ${String(probe[k])}`)
  return changes
}
