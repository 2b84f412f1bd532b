import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeDir, runCli, tempDir } from './helpers.js'
import { longestStall } from '../simnet/summary.js'
import { drawLatency } from '../simnet/compute.js'
import { Rng } from '../formulas/rng.js'

/** The run's parameters, as --json prints them. */
function assertParameters (j: any, argvStart: string[]): void {
  const p = j.parameters
  assert.ok(p != null, 'parameters')
  assert.equal(p.seed, 1)
  assert.match(p.version, /^\d+\.\d+\.\d+/)
  assert.equal(p.model, 'modelled')
  assert.ok(!Number.isNaN(Date.parse(p.startedAt)), p.startedAt)
  assert.deepEqual(p.argv.slice(0, argvStart.length), argvStart)
  assert.equal(p.options.nodes, j.nodes)
  assert.equal(p.options.tasks, j.tasks)
  assert.ok(typeof p.host.cpuModel === 'string' && p.host.cores >= 1 && p.host.loadavg.length === 3, JSON.stringify(p.host))
}

async function simnetDirs (): Promise<string[]> {
  return (await readdir(tmpdir())).filter(d => d.startsWith('texmesh-simnet-'))
}

describe('texmesh simnet', { timeout: 240_000 }, () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await removeDir(d) })

  it('crashes at a third of the work, prints each change of progress, reports its parameters and charts, and cleans up', async () => {
    const before = await simnetDirs()
    const out = await tempDir()
    dirs.push(out)
    const report = join(out, 'report.html')
    // Tasks of 600-900 ms on 4 nodes: about 5 a second, so completions come one by one.
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '40', '--modelled', '600,900', '--crash', '1', '--lease-ms', '1500', '--report', report], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    // The crash fires at a third of the tasks done (13.3 of 40), within 2 tasks.
    const killed = /killed nodes? [\d, ]+ at (\d+)(?: of 40)? done/.exec(r.stderr)
    assert.ok(killed != null, r.stderr)
    const at = Number(killed[1])
    assert.ok(Math.abs(at - 40 / 3) <= 2, `the crash fired at ${at} of 40 done, not at a third (13.3): ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`fault at [\\d.]+ s \\(at ${at} of 40 done\\): SIGKILL`))
    // Progress: each change of the done count, never a jump of many tasks.
    const counts = [...r.stderr.matchAll(/^simnet: (\d+)\/40 done$/gm)].map(m => Number(m[1]))
    assert.ok(counts.length >= 10, `progress lines: ${counts.join(' ')}`)
    assert.equal(counts[counts.length - 1], 40, `the last progress line says all are done: ${counts.join(' ')}`)
    const jumps = counts.slice(1).map((c, i) => c - counts[i]!)
    assert.ok(jumps.every(j => j >= 0 && j <= 4), `progress jumps: ${counts.join(' ')}`)

    const html = await readFile(report, 'utf8')
    assert.match(html, /every task has a result/)
    for (const id of ['parameters', 'faults', 'progress', 'latency', 'timelines', 'per-node', 'host']) assert.match(html, new RegExp(`<h2 id="${id}">`), id)
    // Every chart is inline SVG with titled axes and several labelled ticks; nothing is fetched.
    const charts = [...html.matchAll(/<svg xmlns[^>]*aria-label="([^"]+)">([\s\S]*?)<\/svg>/g)]
    assert.deepEqual(charts.map(c => c[1]), ['tasks done over time', 'task latency histogram', 'per-node timelines', 'tasks per node', 'host CPU use', 'host load average'])
    for (const [, label, body] of charts) {
      const ticks = [...body!.matchAll(/<text [^>]*text-anchor="(?:middle|end)">([^<]*)<\/text>/g)].map(m => m[1])
      assert.ok(ticks.length >= 6, `${label}: tick labels ${ticks.join(' ')}`)
    }
    assert.match(html, /seconds since the start/)
    assert.match(html, /latency, ms/)
    assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//)
    assert.match(html, /<th>seed<\/th><td>1<\/td>/)
    assert.match(html, /<th>model<\/th><td>modelled<\/td>/)
    assert.match(html, /<th>command<\/th><td>texmesh simnet --nodes 4 --tasks 40 --modelled 600,900 --crash 1/)
    assert.match(html, /<th>host CPU<\/th><td>[^<]+, \d+ cores/)
    // The report as data, embedded in the page: the shape --json prints.
    const data = /<script type="application\/json" id="simnet-report">([^<]*)<\/script>/.exec(html)
    assert.ok(data != null)
    const j = JSON.parse(data[1]!)
    assert.deepEqual(Object.keys(j.latencyMs).sort(), ['p50', 'p95', 'p99'])
    for (const k of ['nodes', 'tasks', 'completed', 'lost', 'throughput', 'perNode', 'invariants', 'parameters', 'latencyHistogram', 'work', 'downtime', 'host']) assert.ok(k in j, k)
    assert.equal(j.nodes, 4)
    assert.equal(j.tasks, 40)
    assert.equal(j.completed, 40)
    assert.equal(j.lost, 0)
    assert.ok(j.throughput > 0)
    assert.equal(j.perNode.length, 4)
    assert.equal(j.perNode.reduce((s: number, n: { tasks: number }) => s + n.tasks, 0), 40)
    assert.equal(j.perNode.filter((n: { alive: boolean }) => !n.alive).length, 1, 'one node was killed')
    assert.ok(j.invariants.length >= 3)
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
    assert.match(j.faults[0].what, /SIGKILL/)
    assert.equal(j.faults[0].done, at)
    assert.equal(j.faults[0].of, 40)
    assert.equal(j.latencyHistogram.reduce((s: number, b: { count: number }) => s + b.count, 0), 40)
    assert.equal(j.work.filter((w: { result: boolean }) => w.result).length, 40, 'one timeline bar per result')
    assert.equal(j.downtime.length, 1)
    assert.ok(j.host.length >= 2, 'host samples every second')
    assert.deepEqual(await simnetDirs(), before, 'temp dirs removed')
  })

  it('splits the network and heals it, with every result in every replica afterwards', async () => {
    // Enough tasks that the work outlasts the progress poll that starts the partition at a fifth
    // done (with 40, all of them sometimes finished between two polls), and slow enough that a
    // count read on a loaded machine does not see 3 tasks end (at 60-100 ms it fired at 27 once).
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '120', '--modelled', '150,250', '--partition', '--partition-ms', '1500', '--spread', '--json'], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assert.equal(j.completed, 120)
    assertParameters(j, ['simnet', '--nodes', '4', '--tasks', '120'])
    // The partition fires at a fifth of the tasks done (24 of 120), within 2 tasks.
    const split = j.faults.find((f: { what: string }) => /partition:/.test(f.what))
    assert.ok(Math.abs(split.done - 24) <= 2, `the partition fired at ${split.done} of 120 done`)
    assert.ok(j.faults.some((f: { what: string }) => /partition:/.test(f.what)))
    assert.ok(j.faults.some((f: { what: string }) => /healed/.test(f.what)))
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
  })

  it('critical tasks with a Byzantine voter: every certificate is for the honest answer, the equivocator is listed', async () => {
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '8', '--modelled', '30,50', '--critical', '--byzantine', '1', '--attack', 'equivocate', '--json'], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assertParameters(j, ['simnet', '--nodes', '4', '--tasks', '8'])
    assert.equal(j.parameters.options.critical, true)
    assert.equal(j.certificates.length, 8)
    assert.ok(j.certificates.every((c: { honest: boolean }) => c.honest))
    assert.deepEqual(j.equivocators, j.byzantine)
    assert.ok(j.invariants.some((i: { name: string }) => i.name === 'no certificate for a wrong answer'))
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
  })

  it('mixed load: a share of the tasks critical, every one certified, the ordinary ones not starved', async () => {
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '200', '--modelled', '40,80', '--critical-share', '0.2', '--json'], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assert.equal(j.completed, 200)
    assert.equal(j.quorum.critical, 40)
    assert.equal(j.quorum.ordinary, 160)
    assert.equal(j.certificates.length, 40)
    assert.ok(j.quorum.readingsPerTask >= 3, `a critical task takes at least 2f+1 = 3 readings, got ${j.quorum.readingsPerTask}`)
    const names = j.invariants.map((i: { name: string }) => i.name)
    assert.ok(names.includes('every critical task certified (at most f Byzantine voters)'))
    assert.ok(names.includes('ordinary tasks kept finishing while critical ones ran (not starved)'))
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
  })

  it('a seed replays a node\'s random draws; another seed draws others', () => {
    const draws = (seed: number): number[] => { const rng = new Rng(seed); return Array.from({ length: 5 }, () => drawLatency([40, 80], () => rng.next())) }
    assert.deepEqual(draws(7001), draws(7001))
    assert.notDeepEqual(draws(7001), draws(7002))
    for (const ms of draws(7001)) assert.ok(ms > 0)
  })

  it('starvation is the longest stretch with tasks waiting and none finishing', () => {
    assert.equal(longestStall(0, []), 0)
    assert.equal(longestStall(100, [300, 150, 1100, 1200]), 800)
    // Finished before the start of the count: no negative stretch, and the clock does not go back.
    assert.equal(longestStall(1000, [900, 1500]), 500)
  })

  it('refuses bad options with a one-line error', async () => {
    const r = await runCli(['simnet', '--nodes', '2', '--crash', '2'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--crash must leave node 0/)
    const inverted = await runCli(['simnet', '--modelled', '300,100'])
    assert.equal(inverted.code, 1)
    assert.match(inverted.stderr, /--modelled=300,100: the 95th percentile must not be below the median/)
    assert.equal(inverted.stderr.trim().split('\n').length, 1, 'one line, before any node starts')
    const share = await runCli(['simnet', '--critical-share', '1.5'])
    assert.equal(share.code, 1)
    assert.match(share.stderr, /--critical-share must be a number from 0 to 1, not "1.5"/)
  })
})
