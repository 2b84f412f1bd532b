import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format'
import type { RunningNode } from '../node/daemon/start.js'
import { NodeMetrics } from '../node/daemon/metrics.js'
import { OCR_STAGES } from '../pipeline/timings.js'
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

/** Sum of a counter's samples over every label set that includes `labels`. */
function total (families: PromFamily[], name: string, labels: Record<string, string>): number {
  const f = families.find(f => f.name === name)
  return (f?.metrics ?? []).filter(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((s, m) => s + Number(m.value), 0)
}

/** An unlabelled histogram's count and sum (0 when it has observed nothing). */
function histogram (families: PromFamily[], name: string): { count: number, sum: number } {
  const f = family(families, name)
  assert.equal(f.type, 'HISTOGRAM', `${name} is a histogram`)
  return { count: Number(f.metrics[0]?.count ?? 0), sum: Number(f.metrics[0]?.sum ?? 0) }
}

/**
 * The count and sum of one series of a histogram with one label, read from the text itself: the
 * parser folds every series of a labelled histogram into one (it knows unlabelled ones only).
 */
function series (text: string, name: string, label: string, value: string): { count: number, sum: number } {
  const read = (suffix: string): number => {
    const line = text.split('\n').find(l => l.startsWith(`${name}_${suffix}{${label}="${value}"}`))
    return line == null ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return { count: read('count'), sum: read('sum') }
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

    // The result reached the other node: each entry applied from another node carries the time its
    // author wrote it, so the lag histogram counted every remote change, and (one machine, one
    // clock, the nodes up all along) none arrived late.
    await waitFor('the result on both nodes', () => a.replica.results(task.hash).size > 0 && b.replica.results(task.hash).size > 0)
    let remote = 0
    for (const node of [a, b]) {
      const fams = await waitFor('every remote change in the lag histogram', async () => {
        const f = parsePrometheusTextFormat((await scrape(node.apiPort)).text)
        return total(f, 'texmesh_store_changes_total', { origin: 'remote' }) === histogram(f, 'texmesh_store_sync_lag_seconds').count ? f : undefined
      })
      const lag = histogram(fams, 'texmesh_store_sync_lag_seconds')
      assert.ok(lag.sum >= 0 && lag.sum <= 30 * lag.count, `${lag.sum} s of lag over ${lag.count} entries`)
      remote += lag.count
      // Nothing is held back in an open network whose nodes write only their own entries.
      assert.equal(value(fams, 'texmesh_store_held_oldest_seconds'), 0)
    }
    assert.ok(remote >= 1, 'the node that did not write the result applied it from the other')

    // Process health, from prom-client's defaults.
    assert.ok(value(families, 'texmesh_process_resident_memory_bytes') > 0)
    family(families, 'texmesh_nodejs_eventloop_lag_seconds')
  })

  it('counts grow between scrapes and never go back', async () => {
    // A backup reading of the first test's task may still run on b: let it end, so only b.ocr counts.
    await waitFor('both nodes idle', () => a.taskStats().running === 0 && b.taskStats().running === 0, 60_000)
    const beforeText = (await scrape(b.apiPort)).text
    const before = parsePrometheusTextFormat(beforeText)
    const r = await b.ocr(await readFile(IMAGE), { file: 'fraction.png' })
    assert.ok(r.latex.length > 0)
    const afterText = (await scrape(b.apiPort)).text
    const after = parsePrometheusTextFormat(afterText)
    const count = (fams: PromFamily[]): number => Number(family(fams, 'texmesh_ocr_seconds').metrics[0]?.count ?? 0)
    assert.equal(count(after), count(before) + 1)
    const read = (fams: PromFamily[]): number => counted(fams, 'texmesh_ocr_total', { outcome: 'read' })
    assert.equal(read(after), read(before) + 1)
    // Each stage of the pipeline timed this one image once; the stages do not overlap, so together
    // they took no longer than the whole recognition (which also has the threads' messages, and the
    // model's loading on a node's first image).
    const whole = histogram(after, 'texmesh_ocr_seconds').sum - histogram(before, 'texmesh_ocr_seconds').sum
    assert.equal(family(after, 'texmesh_ocr_stage_seconds').type, 'HISTOGRAM')
    let staged = 0
    for (const stage of OCR_STAGES) {
      const [then, now] = [beforeText, afterText].map(text => series(text, 'texmesh_ocr_stage_seconds', 'stage', stage))
      assert.equal(now!.count, then!.count + 1, `stage ${stage} counted the image`)
      assert.ok(now!.sum >= then!.sum, stage)
      if (stage === 'encoder' || stage === 'decoder') assert.ok(now!.sum > then!.sum, `the ${stage} took some time`)
      staged += now!.sum - then!.sum
    }
    assert.ok(staged > 0 && staged <= whole + 1e-3, `stages ${staged} s, whole ${whole} s`)
    // The timings are the metrics' own: the API's answer is as it was.
    assert.equal('timings' in r, false)
    // Counters never go back between scrapes.
    for (const f of after.filter(f => f.type === 'COUNTER')) {
      for (const m of f.metrics) {
        const old = before.find(b => b.name === f.name)?.metrics.find(b => JSON.stringify(b.labels ?? {}) === JSON.stringify(m.labels ?? {}))
        assert.ok(Number(m.value) >= Number(old?.value ?? 0), `${f.name} went back`)
      }
    }
  })

  it('counts how late entries from other nodes arrived, a clock ahead of this one\'s as no lag, and own writes not at all', async () => {
    const unread = (): never => { throw new Error('not read in this test') }
    const metrics = new NodeMetrics({ version: 'v', model: 'm', tasks: unread, quorum: unread, equivocators: unread, peers: unread, store: { size: unread, heldEnvelopes: unread, heldSince: unread, unstoredChanges: unread } })
    const now = 1_000_000
    metrics.noteStoreChange({ map: 'results', local: false, time: now - 2500 }, now)
    metrics.noteStoreChange({ map: 'results', local: false, time: now + 60_000 }, now)
    metrics.noteStoreChange({ map: 'members', local: true, time: now - 9000 }, now)
    metrics.noteStoreChange({ map: 'members', local: false }, now)
    const lag = (await metrics.registry.getSingleMetric('texmesh_store_sync_lag_seconds')!.get()).values
    // A histogram's values name their series (_bucket, _sum, _count).
    const of = (name: string): number => lag.find(v => (v as { metricName?: string }).metricName === name)!.value
    assert.equal(of('texmesh_store_sync_lag_seconds_count'), 2)
    assert.equal(of('texmesh_store_sync_lag_seconds_sum'), 2.5)
    const changes = (await metrics.registry.getSingleMetric('texmesh_store_changes_total')!.get()).values
    assert.equal(changes.reduce((s, v) => s + v.value, 0), 4)
  })

  it('is refused to a browser of another origin, like the rest of the API', async () => {
    const res = await scrape(a.apiPort, { origin: 'http://evil.example' })
    assert.equal(res.status, 403)
  })
})
