import type { Fault, SimnetReport } from './types.js'
import { niceStep } from './summary.js'

/**
 * simnet's report as text for a terminal, and as one self-contained HTML page:
 * the run's parameters, its figures and invariants, and inline SVG charts
 * (tasks done over time, a latency histogram, per-node timelines, tasks per
 * node, host CPU and load), each with labelled axes. No external assets; every
 * string is escaped. The report itself is embedded as JSON for tools.
 */

const faultPoint = (f: Fault): string => f.done != null && f.of != null ? `at ${f.done} of ${f.of} done` : ''

/** texmesh's arguments as one could type them again (words with spaces or quotes single-quoted). */
export function commandLine (argv: readonly string[]): string {
  return ['texmesh', ...argv.map(a => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)].join(' ')
}

export function textReport (r: SimnetReport): string {
  const p = r.parameters
  const lines = [
    `texmesh ${p.version}, model ${p.model}, seed ${p.seed}, started ${p.startedAt}; host ${p.host.cpuModel} x ${p.host.cores} (${p.host.availableCores} available), load ${p.host.loadavg.join(' ')}`,
    `nodes ${r.nodes} (${r.mode === 'modelled' ? 'modelled compute' : 'the shipped model'}), tasks ${r.tasks}, completed ${r.completed}, lost ${r.lost}`,
    `makespan ${(r.makespanMs / 1000).toFixed(2)} s, throughput ${r.throughput} tasks/s` + (r.efficiency != null ? `, scheduling efficiency ${(r.efficiency * 100).toFixed(1)} %` : ''),
    `task latency p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms`,
    `leases granted again ${r.regrants}` + (r.recoveryMs != null ? `, recovery after the crash ${(r.recoveryMs / 1000).toFixed(2)} s` : ''),
    ...r.faults.map(f => `fault at ${(f.atMs / 1000).toFixed(2)} s${f.done != null ? ` (${faultPoint(f)})` : ''}: ${f.what}`),
    ...(r.certificates != null ? [`certificates ${r.certificates.length} (${r.certificates.filter(c => !c.honest).length} for a wrong answer), no consensus ${r.noConsensus ?? 0}, equivocators detected ${r.equivocators?.length ?? 0}, Byzantine nodes ${r.byzantine?.length ?? 0}`] : []),
    ...(r.quorum != null ? quorumLines(r.quorum) : []),
    'tasks per node:',
    ...r.perNode.map((n, i) => `  ${String(i).padStart(2)} ${n.peerId.slice(-10)} ${String(n.tasks).padStart(5)}${n.slowdown !== 1 ? `  (${n.slowdown}x slower)` : ''}${n.alive ? '' : '  (down)'}`),
    'invariants:',
    ...r.invariants.map(i => `  ${i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.detail}`)
  ]
  return lines.join('\n')
}

/** Where ballots' time went: the origins' side and the voters', summed up from every node. */
function quorumLines (q: NonNullable<SimnetReport['quorum']>): string[] {
  const pq = (t: { p50: number, p95: number }): string => `p50 ${t.p50} ms, p95 ${t.p95} ms`
  const lines = [
    `critical ${q.critical}${q.ordinary > 0 ? `, ordinary ${q.ordinary}` : ''}; readings per critical task ${q.readingsPerTask}; latency critical ${pq(q.latencyMs.critical)}${q.ordinary > 0 ? `, ordinary ${pq(q.latencyMs.ordinary)}` : ''}`,
    'where ballots\' time went:'
  ]
  for (const o of q.origins) {
    lines.push(`  origin node ${o.node}: queued for voters with room ${pq(o.queuedMs)}; first ballot to certificate ${pq(o.ballotToCertificateMs)}; ballot to each vote ${pq(o.ballotToVoteMs)}; ` +
      `certified ${o.certified}, no consensus ${o.noConsensus}, voters suspected ${o.suspected}, ballots grown ${o.grown}`)
  }
  const sum = (f: (v: typeof q.voters[number]) => number): number => q.voters.reduce((n, v) => n + f(v), 0)
  const worst = (f: (v: typeof q.voters[number]) => { p50: number, p95: number }): string => {
    const xs = q.voters.filter(v => v.readings > 0).map(f)
    return xs.length === 0 ? '-' : `p50 ${Math.max(...xs.map(x => x.p50))} ms, p95 ${Math.max(...xs.map(x => x.p95))} ms`
  }
  lines.push(`  voters (${q.voters.length} nodes, ${sum(v => v.readings)} readings, ${sum(v => v.busy)} ballots refused as busy; the slowest node's percentiles): ` +
    `waiting in the queue ${worst(v => v.waitMs)}; image fetch ${worst(v => v.fetchMs)}; reading ${worst(v => v.readMs)}; signing and publishing ${worst(v => v.publishMs)}`)
  return lines
}

const esc = (s: string): string => s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** A number with as many decimals as a tick step needs. */
function tickText (v: number, step: number): string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)))
  return v.toFixed(decimals)
}

const COLORS = { line: '#2a7', bar: '#4a7bb7', fault: '#c33', lease: '#e0a030', down: '#f3d0d0', grid: '#e4e4e4', axis: '#333', host: '#4a7bb7', nodes: '#2a7', simnet: '#a5a', load: '#555' }

/** Rows of labels above a chart for its marks; more marks than this share rows. */
const MARK_ROWS = 6

interface Frame {
  width: number
  height: number
  left: number
  right: number
  top: number
  bottom: number
  x: (v: number) => number
  y: (v: number) => number
  /** axes, ticks, tick labels, grid and axis titles */
  axes: string
}

/**
 * A chart's plot area and its axes: ticks at round values along both, each
 * labelled, light grid lines, and a title on each axis. `yCategories` puts one
 * labelled band per entry on the y axis instead of numeric ticks.
 */
function frame (o: { width?: number, height?: number, left?: number, marks?: number, xMax: number, yMax: number, xLabel: string, yLabel: string, yCategories?: string[] }): Frame {
  const width = o.width ?? 680
  const left = o.left ?? 60
  const right = width - 16
  // Room above the plot for the labels of `marks` dashed lines (faults, percentiles): a row each, up to MARK_ROWS.
  const top = 14 + 12 * Math.min(MARK_ROWS, o.marks ?? 0)
  const height = (o.height ?? 260) + top - 14
  const bottom = height - 44
  // Both axes end at a tick, so the last value is labelled too.
  const xStep = niceStep(o.xMax > 0 ? o.xMax : 1, Math.max(2, Math.floor((right - left) / 70)))
  const xMax = Math.ceil((o.xMax > 0 ? o.xMax : 1) / xStep - 1e-9) * xStep
  const yStep = niceStep(o.yMax > 0 ? o.yMax : 1, 5)
  const yMax = o.yCategories != null ? 1 : Math.ceil((o.yMax > 0 ? o.yMax : 1) / yStep - 1e-9) * yStep
  const x = (v: number): number => left + (v / xMax) * (right - left)
  const y = (v: number): number => bottom - (v / yMax) * (bottom - top)
  const parts: string[] = []
  for (let v = 0; v <= xMax + xStep * 1e-6; v += xStep) {
    const px = x(v).toFixed(1)
    parts.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" stroke="${COLORS.grid}"/>`,
      `<line x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 5}" stroke="${COLORS.axis}"/>`,
      `<text x="${px}" y="${bottom + 17}" font-size="11" text-anchor="middle">${esc(tickText(v, xStep))}</text>`)
  }
  if (o.yCategories != null) {
    const band = (bottom - top) / Math.max(1, o.yCategories.length)
    o.yCategories.forEach((label, i) => {
      const py = top + band * (i + 0.5)
      parts.push(`<line x1="${left - 5}" x2="${left}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="${COLORS.axis}"/>`,
        `<text x="${left - 8}" y="${(py + 4).toFixed(1)}" font-size="11" text-anchor="end">${esc(label)}</text>`)
    })
  } else {
    for (let v = 0; v <= yMax + yStep * 1e-6; v += yStep) {
      const py = y(v).toFixed(1)
      parts.push(`<line x1="${left}" x2="${right}" y1="${py}" y2="${py}" stroke="${COLORS.grid}"/>`,
        `<line x1="${left - 5}" x2="${left}" y1="${py}" y2="${py}" stroke="${COLORS.axis}"/>`,
        `<text x="${left - 8}" y="${(Number(py) + 4).toFixed(1)}" font-size="11" text-anchor="end">${esc(tickText(v, yStep))}</text>`)
    }
  }
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="${COLORS.axis}"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="${COLORS.axis}"/>`,
    `<text x="${((left + right) / 2).toFixed(1)}" y="${height - 8}" font-size="12" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(14 ${((top + bottom) / 2).toFixed(1)}) rotate(-90)" font-size="12" text-anchor="middle">${esc(o.yLabel)}</text>`)
  return { width, height, left, right, top, bottom, x, y, axes: parts.join('') }
}

const svg = (f: Frame, body: string, label: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(label)}">${f.axes}${body}</svg>`

/** A legend line under a chart. */
const legend = (items: Array<{ color: string, label: string, dashed?: boolean }>): string =>
  `<p class="legend">${items.map(i => `<span><svg width="18" height="10"><line x1="0" y1="5" x2="18" y2="5" stroke="${i.color}" stroke-width="4"${i.dashed === true ? ' stroke-dasharray="4 3"' : ''}/></svg> ${esc(i.label)}</span>`).join(' ')}</p>`

/** Dashed vertical lines at `value`s, each labelled in the room above the plot (see frame's `marks`). */
function marks (f: Frame, list: Array<{ value: number, label: string }>): string {
  const rows = Math.min(MARK_ROWS, list.length)
  return list.map((m, i) => {
    const px = f.x(m.value)
    const rowTop = f.top - 12 * (rows - (i % rows))
    // Labels read rightwards from their line, or leftwards near the right edge.
    const anchor = px > f.right - 220 ? `x="${(px - 3).toFixed(1)}" text-anchor="end"` : `x="${(px + 3).toFixed(1)}"`
    return `<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${rowTop + 2}" y2="${f.bottom}" stroke="${COLORS.fault}" stroke-dasharray="4 3"/>` +
      `<text ${anchor} y="${rowTop + 10}" font-size="10" fill="${COLORS.fault}">${esc(m.label)}</text>`
  }).join('')
}

/** The faults as marks: what happened, and at how many tasks done. */
const faultMarks = (f: Frame, faults: readonly Fault[]): string =>
  marks(f, faults.map(fault => ({ value: fault.atMs / 1000, label: `${fault.what.slice(0, 40)}${fault.done != null ? ` (${faultPoint(fault)})` : ''}` })))

/** The run's time axis: from the start to the last thing that happened, in seconds. */
function runSeconds (r: SimnetReport): number {
  const ends = [...r.timeline.map(p => p.atMs), ...r.work.map(w => w.endMs), ...r.faults.map(f => f.atMs), ...r.host.map(h => h.atMs)]
  return Math.max(1, ...ends) / 1000
}

function progressChart (r: SimnetReport, tMax: number): string {
  const f = frame({ xMax: tMax, yMax: Math.max(1, r.tasks), marks: r.faults.length, xLabel: 'seconds since the start', yLabel: 'tasks done' })
  const pts = r.timeline
  // A step line: the count holds until it changes.
  const path = pts.map((p, i) => i === 0
    ? `M${f.x(p.atMs / 1000).toFixed(1)},${f.y(p.done).toFixed(1)}`
    : `H${f.x(p.atMs / 1000).toFixed(1)} V${f.y(p.done).toFixed(1)}`).join(' ')
  const rel = f.x(r.releasedAtMs / 1000).toFixed(1)
  const release = `<line x1="${rel}" x2="${rel}" y1="${f.top}" y2="${f.bottom}" stroke="#888" stroke-dasharray="2 3"/>`
  return svg(f, release + `<path d="${path}" fill="none" stroke="${COLORS.line}" stroke-width="2"/>` + faultMarks(f, r.faults), 'tasks done over time') +
    legend([{ color: COLORS.line, label: 'tasks done (as the origins count them)' }, { color: '#888', label: 'queues released', dashed: true }, { color: COLORS.fault, label: 'faults', dashed: true }])
}

function latencyChart (r: SimnetReport): string {
  const h = r.latencyHistogram
  if (h.length === 0) return '<p>No task finished.</p>'
  const xMax = h[h.length - 1]!.toMs
  const f = frame({ xMax, yMax: Math.max(1, ...h.map(b => b.count)), marks: 3, xLabel: 'latency, ms (from the release of the queues to the result at the origin)', yLabel: 'tasks' })
  const bars = h.map(b => {
    const x0 = f.x(b.fromMs)
    const w = Math.max(1, f.x(b.toMs) - x0 - 1)
    const y0 = f.y(b.count)
    return `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${(f.bottom - y0).toFixed(1)}" fill="${COLORS.bar}"><title>${esc(`${b.fromMs}-${b.toMs} ms: ${b.count}`)}</title></rect>`
  }).join('')
  const quantiles = marks(f, (['p50', 'p95', 'p99'] as const).map(q => ({ value: r.latencyMs[q], label: `${q} ${r.latencyMs[q]} ms` })))
  return svg(f, bars + quantiles, 'task latency histogram')
}

/** Intervals closer than `gap` joined, so a long run draws a few hundred bars, not one per task. */
function merged (list: Array<{ startMs: number, endMs: number }>, gap: number): Array<{ startMs: number, endMs: number, n: number }> {
  const out: Array<{ startMs: number, endMs: number, n: number }> = []
  for (const w of [...list].sort((a, b) => a.startMs - b.startMs)) {
    const last = out[out.length - 1]
    if (last != null && w.startMs - last.endMs <= gap) {
      last.endMs = Math.max(last.endMs, w.endMs)
      last.n++
    } else {
      out.push({ startMs: w.startMs, endMs: w.endMs, n: 1 })
    }
  }
  return out
}

function nodeTimelines (r: SimnetReport, tMax: number): string {
  const labels = r.perNode.map((n, i) => `node ${i}${n.slowdown !== 1 ? ` (${n.slowdown}x)` : ''}`)
  const height = Math.max(120, 60 + r.nodes * 22)
  const f = frame({ height, left: 92, marks: r.faults.length, xMax: tMax, yMax: 1, xLabel: 'seconds since the start', yLabel: 'node', yCategories: labels })
  const band = (f.bottom - f.top) / Math.max(1, r.nodes)
  const msPerPx = (tMax * 1000) / Math.max(1, f.right - f.left)
  const parts: string[] = []
  for (const d of r.downtime) {
    const y0 = f.top + band * d.node
    const x0 = f.x(d.fromMs / 1000)
    const x1 = f.x((d.toMs ?? tMax * 1000) / 1000)
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${band.toFixed(1)}" fill="${COLORS.down}"><title>${esc(`node ${d.node} down`)}</title></rect>`)
  }
  for (let node = 0; node < r.nodes; node++) {
    for (const [result, color, inset] of [[true, COLORS.bar, 0.18], [false, COLORS.lease, 0.38]] as const) {
      const y0 = f.top + band * node + band * inset
      const h = Math.max(2, band * (1 - 2 * inset))
      const list = r.work.filter(x => x.node === node && x.result === result)
      // One bar a task while they fit (a thin white edge between neighbours); merged where they would not.
      const fits = list.length <= (f.right - f.left) / 3
      for (const w of fits ? list.map(x => ({ ...x, n: 1 })) : merged(list, msPerPx)) {
        const x0 = f.x(w.startMs / 1000)
        const width = Math.max(1, f.x(w.endMs / 1000) - x0 - (fits ? 1 : 0))
        const what = `node ${node}: ${w.n} ${result ? 'result' : 'lease'}${w.n === 1 ? '' : 's'}, ${(w.startMs / 1000).toFixed(2)}-${(w.endMs / 1000).toFixed(2)} s`
        parts.push(`<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${width.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(what)}</title></rect>`)
      }
    }
  }
  return svg(f, parts.join('') + faultMarks(f, r.faults), 'per-node timelines') +
    legend([{ color: COLORS.bar, label: 'recognising a task that it finished' }, { color: COLORS.lease, label: 'holding a lease that did not end in its own result (seen every 0.5 s)' }, { color: COLORS.down, label: 'down' }, { color: COLORS.fault, label: 'faults', dashed: true }])
}

function perNodeChart (r: SimnetReport): string {
  const labels = r.perNode.map((n, i) => `node ${i} …${n.peerId.slice(-6)}${n.alive ? '' : ' (down)'}`)
  const height = Math.max(120, 60 + r.nodes * 22)
  const f = frame({ height, left: 150, xMax: Math.max(1, ...r.perNode.map(n => n.tasks)), yMax: 1, xLabel: 'tasks finished', yLabel: 'node', yCategories: labels })
  const band = (f.bottom - f.top) / Math.max(1, r.nodes)
  const bars = r.perNode.map((n, i) => {
    const y0 = f.top + band * i + band * 0.15
    const w = f.x(n.tasks) - f.left
    return `<rect x="${f.left}" y="${y0.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" height="${(band * 0.7).toFixed(1)}" fill="${COLORS.bar}"/>` +
      `<text x="${(f.left + w + 4).toFixed(1)}" y="${(y0 + band * 0.35 + 4).toFixed(1)}" font-size="11">${esc(`${n.tasks}${n.slowdown !== 1 ? ` (${n.slowdown}x slower)` : ''}`)}</text>`
  }).join('')
  return svg(f, bars, 'tasks per node')
}

function hostCharts (r: SimnetReport, tMax: number): string {
  const s = r.host
  if (s.length === 0) return '<p>No samples (the run was too short).</p>'
  const cpu = frame({ xMax: tMax, yMax: 100, marks: r.faults.length, xLabel: 'seconds since the start', yLabel: `% of all ${r.parameters.host.cores} CPUs` })
  const line = (pick: (h: typeof s[number]) => number | null, color: string): string => {
    const pts = s.filter(h => pick(h) != null).map((h, i) => `${i === 0 ? 'M' : 'L'}${cpu.x(h.atMs / 1000).toFixed(1)},${cpu.y(pick(h)! * 100).toFixed(1)}`)
    return pts.length === 0 ? '' : `<path d="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`
  }
  const cpuSvg = svg(cpu, line(h => h.hostCpu, COLORS.host) + line(h => h.nodesCpu, COLORS.nodes) + line(h => h.simnetCpu, COLORS.simnet) + faultMarks(cpu, r.faults), 'host CPU use') +
    legend([{ color: COLORS.host, label: 'the whole host' }, { color: COLORS.nodes, label: 'the simnet nodes' }, { color: COLORS.simnet, label: 'simnet itself' }])
  const cores = r.parameters.host.cores
  const loadMax = Math.max(cores, ...s.map(h => h.load1))
  const load = frame({ height: 200, xMax: tMax, yMax: loadMax, xLabel: 'seconds since the start', yLabel: '1-minute load average' })
  const loadPath = s.map((h, i) => `${i === 0 ? 'M' : 'L'}${load.x(h.atMs / 1000).toFixed(1)},${load.y(h.load1).toFixed(1)}`).join(' ')
  const coreLine = `<line x1="${load.left}" x2="${load.right}" y1="${load.y(cores).toFixed(1)}" y2="${load.y(cores).toFixed(1)}" stroke="${COLORS.fault}" stroke-dasharray="4 3"/>`
  const loadSvg = svg(load, coreLine + `<path d="${loadPath}" fill="none" stroke="${COLORS.load}" stroke-width="2"/>`, 'host load average') +
    legend([{ color: COLORS.load, label: 'load average (1 min)' }, { color: COLORS.fault, label: `the host's ${cores} CPUs`, dashed: true }])
  return cpuSvg + loadSvg
}

function parametersTable (r: SimnetReport): string {
  const p = r.parameters
  const h = p.host
  const value = (v: unknown): string => Array.isArray(v) ? v.join(',') : String(v)
  const rows: Array<[string, string]> = [
    ['started', p.startedAt],
    ['texmesh', p.version],
    ['model', p.model],
    ['seed', String(p.seed)],
    ['command', commandLine(p.argv)],
    ['options', Object.entries(p.options).map(([k, v]) => `${k}=${value(v)}`).join(', ')],
    ['host CPU', `${h.cpuModel}, ${h.cores} cores (${h.availableCores} available to simnet)`],
    ['load average at the start', h.loadavg.join(' ')],
    ['host', `${h.platform} ${h.arch}, ${h.memoryGiB} GiB, Node.js ${h.node}`]
  ]
  return `<table class="params">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`
}

export function htmlReport (r: SimnetReport): string {
  const rows = r.invariants.map(i => `<tr><td class="${i.ok ? 'ok' : 'fail'}">${i.ok ? 'ok' : 'FAIL'}</td><td>${esc(i.name)}</td><td>${esc(i.detail)}</td></tr>`).join('')
  const faults = r.faults.length === 0
    ? '<p>None asked for.</p>'
    : `<table>${r.faults.map(f => `<tr><td>${esc((f.atMs / 1000).toFixed(2))} s</td><td>${esc(faultPoint(f))}</td><td>${esc(f.what)}</td></tr>`).join('')}</table>`
  const tMax = runSeconds(r)
  // The report as data, for tools; "<" escaped so nothing in it can end the script element.
  const data = JSON.stringify(r).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
  return `<!doctype html><html><head><meta charset="utf-8"><title>texmesh simnet report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:760px}td,th{padding:2px 8px;vertical-align:top}th{text-align:left;font-weight:600;white-space:nowrap}.ok{color:#283}.fail{color:#c22;font-weight:bold}h2{margin-top:1.5em}.legend{font-size:12px;margin:0 0 1em}.legend span{margin-right:1em;white-space:nowrap}.params td{word-break:break-word}</style></head><body>
<h1>texmesh simnet</h1>
<h2 id="parameters">Parameters</h2>${parametersTable(r)}
<h2>Summary</h2>
<p>${r.nodes} nodes (${r.mode === 'modelled' ? 'modelled compute' : 'the shipped model'}), ${r.tasks} tasks, ${r.completed} completed, ${r.lost} lost.
Makespan ${(r.makespanMs / 1000).toFixed(2)} s, throughput ${r.throughput} tasks/s${r.efficiency != null ? `, scheduling efficiency ${(r.efficiency * 100).toFixed(1)} %` : ''}.
Task latency p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms. Leases granted again: ${r.regrants}${r.recoveryMs != null ? `; recovery after the crash ${(r.recoveryMs / 1000).toFixed(2)} s` : ''}.</p>
<h2>Invariants</h2><table>${rows}</table>
<h2 id="faults">Faults</h2>${faults}
<h2 id="progress">Tasks completed over time</h2>${progressChart(r, tMax)}
<h2 id="latency">Task latency</h2>${latencyChart(r)}
<h2 id="timelines">Per-node timelines</h2>${nodeTimelines(r, tMax)}
<h2 id="per-node">Tasks per node</h2>${perNodeChart(r)}
<h2 id="host">Host CPU</h2>${hostCharts(r, tMax)}
<script type="application/json" id="simnet-report">${data}</script>
</body></html>
`
}
