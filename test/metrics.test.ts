import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

const IMAGE = fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))

async function scrape (port: number, headers: Record<string, string> = {}): Promise<{ status: number, type: string | null, text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

function family (families: PromFamily[], name: string): PromFamily {
  const f = families.find(f => f.name === name)
  assert.ok(f != null, `metric ${name} is missing`)
  return f
}

/** The value of the sample whose labels include `labels`. */
function value (families: PromFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = family(families, name).metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  assert.ok(sample?.value != null, `${name} has no sample with ${JSON.stringify(labels)}`)
  return Number(sample.value)
}

/** The same for a labelled counter, whose sample appears only once it has counted something. */
function counted (families: PromFamily[], name: string, labels: Record<string, string>): number {
  const sample = family(families, name).metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(sample?.value ?? 0)
}

describe('GET /metrics', { timeout: 120_000 }, () => {
  let dirA: string
  let dirB: string
  let a: RunningNode
  let b: RunningNode

  before(async () => {
    dirA = await tempDir()
    dirB = await tempDir()
    a = await startTestNode(dirA)
    b = await startTestNode(dirB, { bootstrap: [a.libp2p.getMultiaddrs()[0]!.toString()] })
    await waitFor('the nodes to connect', () => a.libp2p.getPeers().length === 1)
  })

  after(async () => {
    await b?.stop()
    await a?.stop()
    await removeDir(dirA)
    await removeDir(dirB)
  })

  it('parses as Prometheus text, and counts a task read with the real model', async () => {
    const task = await a.submit(await readFile(IMAGE), { file: 'fraction.png', critical: false })
    await waitFor('the task to finish', async () => (await a.task(task.id))?.state === 'done', 60_000)

    const res = await scrape(a.apiPort)
    assert.equal(res.status, 200)
    assert.match(res.type ?? '', /^text\/plain; version=0\.0\.4/)
    const families = parsePrometheusTextFormat(res.text)
    for (const f of families) {
      assert.ok(f.help.length > 0, `${f.name} has help text`)
      assert.notEqual(f.type, 'UNTYPED', `${f.name} has a type`)
    }

    const status = await a.status()
    assert.equal(value(families, 'texmesh_info', { model: status.model! }), 1)
    assert.equal(value(families, 'texmesh_tasks', { state: 'done' }), 1)
    assert.equal(value(families, 'texmesh_tasks', { state: 'queued' }), 0)
    assert.ok(value(families, 'texmesh_leases_granted_total') >= 1)
    // One result, or two when an idle slot took a backup of the task and finished too.
    assert.ok(value(families, 'texmesh_store_entries', { map: 'results' }) >= 1)
    assert.ok(value(families, 'texmesh_store_changes_total', { map: 'results' }) >= 1)
    assert.equal(value(families, 'texmesh_peers', { membership: 'open' }), 1)

    // Exactly one node read the image, whichever took it; its histogram counted it.
    const processed = value(families, 'texmesh_tasks_processed_total')
    assert.equal(counted(families, 'texmesh_ocr_total', { outcome: 'read' }), processed)
    const ocr = family(families, 'texmesh_ocr_seconds')
    assert.equal(ocr.type, 'HISTOGRAM')
    assert.equal(Number(ocr.metrics[0]?.count), processed)
    if (processed > 0) assert.ok(Number(ocr.metrics[0]?.sum) > 0)

    // Process health, from prom-client's defaults.
    assert.ok(value(families, 'texmesh_process_resident_memory_bytes') > 0)
    family(families, 'texmesh_nodejs_eventloop_lag_seconds')
  })

  it('counts grow between scrapes and never go back', async () => {
    // A backup reading of the first test's task may still run on b: let it end, so only b.ocr counts.
    await waitFor('both nodes idle', () => a.taskStats().running === 0 && b.taskStats().running === 0, 60_000)
    const before = parsePrometheusTextFormat((await scrape(b.apiPort)).text)
    const r = await b.ocr(await readFile(IMAGE), { file: 'fraction.png' })
    assert.ok(r.latex.length > 0)
    const after = parsePrometheusTextFormat((await scrape(b.apiPort)).text)
    const count = (fams: PromFamily[]): number => Number(family(fams, 'texmesh_ocr_seconds').metrics[0]?.count ?? 0)
    assert.equal(count(after), count(before) + 1)
    const read = (fams: PromFamily[]): number => counted(fams, 'texmesh_ocr_total', { outcome: 'read' })
    assert.equal(read(after), read(before) + 1)
    // Counters never go back between scrapes.
    for (const f of after.filter(f => f.type === 'COUNTER')) {
      for (const m of f.metrics) {
        const old = before.find(b => b.name === f.name)?.metrics.find(b => JSON.stringify(b.labels ?? {}) === JSON.stringify(m.labels ?? {}))
        assert.ok(Number(m.value) >= Number(old?.value ?? 0), `${f.name} went back`)
      }
    }
  })

  it('is refused to a browser of another origin, like the rest of the API', async () => {
    const res = await scrape(a.apiPort, { origin: 'http://evil.example' })
    assert.equal(res.status, 403)
  })
})
