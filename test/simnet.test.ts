import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeDir, runCli, tempDir } from './helpers.js'

async function simnetDirs (): Promise<string[]> {
  return (await readdir(tmpdir())).filter(d => d.startsWith('texmesh-simnet-'))
}

describe('texmesh simnet', { timeout: 240_000 }, () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await removeDir(d) })

  it('runs real nodes with a crash, reports in the documented JSON shape, and cleans up', async () => {
    const before = await simnetDirs()
    const out = await tempDir()
    dirs.push(out)
    const report = join(out, 'report.html')
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '40', '--modelled', '40,80', '--crash', '1', '--lease-ms', '1500', '--json', '--report', report], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(j.latencyMs).sort(), ['p50', 'p95', 'p99'])
    for (const k of ['nodes', 'tasks', 'completed', 'lost', 'throughput', 'perNode', 'invariants']) assert.ok(k in j, k)
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
    const html = await readFile(report, 'utf8')
    assert.match(html, /<svg/)
    assert.match(html, /every task has a result/)
    assert.deepEqual(await simnetDirs(), before, 'temp dirs removed')
  })

  it('splits the network and heals it, with every result in every replica afterwards', async () => {
    // Enough tasks that the work outlasts the progress poll that starts the partition at a fifth
    // done (with 40, all of them sometimes finished between two polls).
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '120', '--modelled', '60,100', '--partition', '--partition-ms', '1500', '--spread', '--json'], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assert.equal(j.completed, 120)
    assert.ok(j.faults.some((f: { what: string }) => /partition:/.test(f.what)))
    assert.ok(j.faults.some((f: { what: string }) => /healed/.test(f.what)))
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
  })

  it('critical tasks with a Byzantine voter: every certificate is for the honest answer, the equivocator is listed', async () => {
    const r = await runCli(['simnet', '--nodes', '4', '--tasks', '8', '--modelled', '30,50', '--critical', '--byzantine', '1', '--attack', 'equivocate', '--json'], { timeoutMs: 200_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = JSON.parse(r.stdout)
    assert.equal(j.certificates.length, 8)
    assert.ok(j.certificates.every((c: { honest: boolean }) => c.honest))
    assert.deepEqual(j.equivocators, j.byzantine)
    assert.ok(j.invariants.some((i: { name: string }) => i.name === 'no certificate for a wrong answer'))
    for (const i of j.invariants) assert.equal(i.ok, true, `${i.name}: ${i.detail}`)
  })

  it('refuses bad options with a one-line error', async () => {
    const r = await runCli(['simnet', '--nodes', '2', '--crash', '2'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--crash must leave node 0/)
    const inverted = await runCli(['simnet', '--modelled', '300,100'])
    assert.equal(inverted.code, 1)
    assert.match(inverted.stderr, /--modelled=300,100: the 95th percentile must not be below the median/)
    assert.equal(inverted.stderr.trim().split('\n').length, 1, 'one line, before any node starts')
  })
})
