/** The fuzz run's report: its shape (one row per target, the node's health figures, the checks) and its summary as text. */
import type { ProbeResult, TargetStats } from './messages.js'

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

export const mib = (b: number): number => Math.round(b / 2 ** 20 * 10) / 10

export function round (x: number): number { return Math.round(x * 10) / 10 }

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
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
