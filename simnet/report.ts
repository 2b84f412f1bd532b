import type { SimnetReport } from './index.js'

/** simnet's report as text for a terminal, and as one self-contained HTML page with SVG charts. */

export function textReport (r: SimnetReport): string {
  const lines = [
    `nodes ${r.nodes} (${r.mode === 'modelled' ? 'modelled compute' : 'the shipped model'}), tasks ${r.tasks}, completed ${r.completed}, lost ${r.lost}`,
    `makespan ${(r.makespanMs / 1000).toFixed(2)} s, throughput ${r.throughput} tasks/s` + (r.efficiency != null ? `, scheduling efficiency ${(r.efficiency * 100).toFixed(1)} %` : ''),
    `task latency p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms`,
    `leases granted again ${r.regrants}` + (r.recoveryMs != null ? `, recovery after the crash ${(r.recoveryMs / 1000).toFixed(2)} s` : ''),
    ...r.faults.map(f => `fault at ${(f.atMs / 1000).toFixed(2)} s: ${f.what}`),
    ...(r.certificates != null ? [`certificates ${r.certificates.length} (${r.certificates.filter(c => !c.honest).length} for a wrong answer), no consensus ${r.noConsensus ?? 0}, equivocators detected ${r.equivocators?.length ?? 0}, Byzantine nodes ${r.byzantine?.length ?? 0}`] : []),
    'tasks per node:',
    ...r.perNode.map((n, i) => `  ${String(i).padStart(2)} ${n.peerId.slice(-10)} ${String(n.tasks).padStart(5)}${n.slowdown !== 1 ? `  (${n.slowdown}x slower)` : ''}${n.alive ? '' : '  (down)'}`),
    'invariants:',
    ...r.invariants.map(i => `  ${i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.detail}`)
  ]
  return lines.join('\n')
}

const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

function barChart (values: Array<{ label: string, value: number, note?: string }>, width = 640): string {
  const barH = 18
  const max = Math.max(1, ...values.map(v => v.value))
  const h = values.length * (barH + 4) + 10
  const bars = values.map((v, i) => {
    const y = 5 + i * (barH + 4)
    const w = Math.round((v.value / max) * (width - 220))
    return `<text x="0" y="${y + 13}" font-size="12">${esc(v.label)}</text>` +
      `<rect x="120" y="${y}" width="${w}" height="${barH}" fill="#4a7bb7"/>` +
      `<text x="${126 + w}" y="${y + 13}" font-size="12">${v.value}${v.note != null ? ' ' + esc(v.note) : ''}</text>`
  }).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}">${bars}</svg>`
}

function progressChart (r: SimnetReport, width = 640, height = 240): string {
  const pts = r.timeline
  const tMax = Math.max(1, ...pts.map(p => p.atMs))
  const x = (ms: number): number => 40 + (ms / tMax) * (width - 60)
  const y = (done: number): number => height - 30 - (done / Math.max(1, r.tasks)) * (height - 50)
  const path = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.atMs).toFixed(1)},${y(p.done).toFixed(1)}`).join(' ')
  const faults = r.faults.map(f => `<line x1="${x(f.atMs)}" x2="${x(f.atMs)}" y1="20" y2="${height - 30}" stroke="#c33" stroke-dasharray="4 3"/>` +
    `<text x="${x(f.atMs) + 3}" y="30" font-size="11" fill="#c33">${esc(f.what.slice(0, 40))}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<line x1="40" y1="${height - 30}" x2="${width - 20}" y2="${height - 30}" stroke="#333"/><line x1="40" y1="20" x2="40" y2="${height - 30}" stroke="#333"/>` +
    `<text x="${width / 2}" y="${height - 8}" font-size="12" text-anchor="middle">seconds (0 - ${(tMax / 1000).toFixed(1)})</text>` +
    `<text x="4" y="24" font-size="12">${r.tasks}</text><text x="20" y="${height - 32}" font-size="12">0</text>` +
    `<path d="${path}" fill="none" stroke="#2a7" stroke-width="2"/>${faults}</svg>`
}

export function htmlReport (r: SimnetReport): string {
  const rows = r.invariants.map(i => `<tr><td class="${i.ok ? 'ok' : 'fail'}">${i.ok ? 'ok' : 'FAIL'}</td><td>${esc(i.name)}</td><td>${esc(i.detail)}</td></tr>`).join('')
  const perNode = barChart(r.perNode.map((n, i) => ({
    label: `node ${i} …${n.peerId.slice(-6)}`, value: n.tasks, note: `${n.slowdown !== 1 ? `(${n.slowdown}x slower)` : ''}${n.alive ? '' : ' (down)'}`
  })))
  return `<!doctype html><html><head><meta charset="utf-8"><title>texmesh simnet report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:720px}td{padding:2px 8px}.ok{color:#283}.fail{color:#c22;font-weight:bold}h2{margin-top:1.5em}</style></head><body>
<h1>texmesh simnet</h1>
<p>${r.nodes} nodes (${r.mode === 'modelled' ? 'modelled compute' : 'the shipped model'}), ${r.tasks} tasks, ${r.completed} completed, ${r.lost} lost.
Makespan ${(r.makespanMs / 1000).toFixed(2)} s, throughput ${r.throughput} tasks/s${r.efficiency != null ? `, scheduling efficiency ${(r.efficiency * 100).toFixed(1)} %` : ''}.
Task latency p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms. Leases granted again: ${r.regrants}${r.recoveryMs != null ? `; recovery after the crash ${(r.recoveryMs / 1000).toFixed(2)} s` : ''}.</p>
<h2>Invariants</h2><table>${rows}</table>
<h2>Tasks completed over time</h2>${progressChart(r)}
<h2>Tasks per node</h2>${perNode}
</body></html>
`
}
