/**
 * A document shared across 4 node processes (simnet's, recognition modelled as a sleep) finishes
 * when one of the nodes that took its formulas is killed mid-document (SIGKILL): the leases it
 * held run out and other nodes take its formulas.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Cluster } from '../simnet/cluster.js'
import { generateDocuments } from '../scripts/datagen/documents.js'
import type { DocumentView } from '../node/daemon/documents.js'
import type { TaskView } from '../node/daemon/task-view.js'
import { removeDir, tempDir, waitFor } from './helpers.js'

describe('a document on 4 nodes, one killed', { timeout: 240_000 }, () => {
  let root: string | undefined
  let cluster: Cluster | undefined
  after(async () => {
    await cluster?.stop()
    if (root != null) await removeDir(root)
  })

  it('finishes every formula of the document', async () => {
    root = await tempDir()
    await generateDocuments(join(root, 'docs'), 1, 4, 28)
    const pdf = await readFile(join(root, 'docs', 'doc-00.pdf'))
    cluster = await Cluster.start(join(root, 'cluster'), Array.from({ length: 4 }, (_, i) => ({ slowdown: 1, workers: 1, leaseMs: 3000, modelled: [300, 400] as [number, number], seed: i + 1 })))
    assert.ok(await cluster.meshed(60_000), 'the 4 nodes meet')
    const origin = cluster.nodes[0]!.client!
    const victim = cluster.nodes[3]!
    const submitted = await origin.postBytes<DocumentView>('/v1/documents?name=kill.pdf', pdf, 'application/pdf')
    // Once the victim holds some of the document's formulas, it dies without a word.
    const held = await waitFor('node 3 to take a formula of the document', async () => {
      const doc = await origin.get<DocumentView>(`/v1/documents/${submitted.id}`)
      for (const f of doc.formulas) {
        if (f.task == null) continue
        const t = await origin.get<TaskView>(`/v1/tasks/${f.task}`)
        if (t.state === 'leased' && t.workers.at(-1) === victim.peerId) return t.id
      }
      return undefined
    }, 60_000, 50)
    await victim.kill()
    const done = await waitFor('the document to finish', async () => {
      const doc = await origin.get<DocumentView>(`/v1/documents/${submitted.id}`)
      return doc.state === 'done' ? doc : undefined
    }, 120_000, 250)
    assert.ok(done.formulas.length >= 20, `${done.formulas.length} formulas`)
    assert.deepEqual([...new Set(done.formulas.map(f => f.state))], ['done'])
    assert.equal(done.pagesDone, done.pageCount)
    // The formula the dead node held was read by another (unless it wrote its result just before dying).
    const t = await origin.get<TaskView>(`/v1/tasks/${held}`)
    assert.equal(t.state, 'done')
    assert.ok(t.result?.by !== victim.peerId || t.workers.length === 1, `task ${held}: read by ${t.result?.by}, workers ${t.workers.join(', ')}`)
    assert.ok(t.workers.includes(victim.peerId))
  })
})
