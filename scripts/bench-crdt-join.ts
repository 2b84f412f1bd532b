/**
 * bench:crdt's join run: a new node joins a network whose store holds N results, and this
 * measures how soon it serves and how it serves while it catches up.
 *
 * The network is one node (in this process) whose store holds N results; the new node is a real
 * `texmesh node` process (started as a user starts it, the shipped model, an empty data dir) bootstrapped
 * from it. Timed from the spawn: its API up, its first image read (POST /v1/ocr) while it
 * catches up, and the store held whole; meanwhile its status is asked every 250 ms and an image
 * read every 2 s, for the latencies of a node serving during catch-up; and its peak RSS.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SimNode, freePort } from '../simnet/cluster.js'
import { percentile } from '../simnet/summary.js'
import type { ApiStatus } from '../node/daemon/api.js'
import type { RunningNode } from '../node/daemon/start.js'

const IMAGE = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
/** The longest the new node may take to hold everything before the run gives up. */
const HOLD_TIMEOUT_MS = 60 * 60_000

export interface JoinFigures {
  results: number
  /** spawn to the API answering */
  apiUpMs: number
  /** spawn to the first image read */
  firstReadMs: number
  /** results the new node held when its first reading came back */
  heldAtFirstRead: number
  /** spawn to the whole store held */
  heldMs: number
  /** spawn to its formula memory holding it too */
  memoryMs: number
  statusP50Ms: number
  statusP99Ms: number
  statusMaxMs: number
  readP50Ms: number
  readMaxMs: number
  reads: number
  /** the new node's peak RSS (VmHWM) */
  peakRssBytes: number
}

async function peakRss (pid: number): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m != null ? Number(m[1]) * 1024 : NaN
}

/** `holder` holds `results` results; a new node joins it. */
export async function measureJoin (holder: RunningNode, results: number, dir: string): Promise<JoinFigures> {
  const image = await readFile(IMAGE)
  const joiner = new SimNode(0, { slowdown: 1, workers: 1, leaseMs: 30_000, asUser: true }, join(dir, 'joiner'), await freePort(), await freePort())
  const t0 = performance.now()
  await joiner.start([holder.libp2p.getMultiaddrs()[0]!.toString()])
  try {
    const client = joiner.client!
    const apiUpMs = performance.now() - t0
    const statusMs: number[] = []
    const readMs: number[] = []
    let firstReadMs: number | undefined
    let heldAtFirstRead = 0
    let held = 0
    let nextRead = 0
    let reading: Promise<void> | undefined
    let failed: Error | undefined
    const end = performance.now() + HOLD_TIMEOUT_MS
    while (held < results) {
      if (failed != null) throw failed
      if (performance.now() > end) throw new Error(`the new node held ${held} of ${results} results after ${HOLD_TIMEOUT_MS / 60_000} minutes`)
      if (reading == null && performance.now() >= nextRead) {
        nextRead = performance.now() + 2000
        const t = performance.now()
        reading = client.postBytes<{ latex?: string }>('/v1/ocr?name=sum.png', image, 'image/png').then(r => {
          if (typeof r.latex !== 'string' || r.latex === '') throw new Error('the new node read the image as nothing')
          readMs.push(performance.now() - t)
          if (firstReadMs == null) { firstReadMs = performance.now() - t0; heldAtFirstRead = held }
        }).catch((err: Error) => { failed = err }).finally(() => { reading = undefined })
      }
      const t = performance.now()
      const s = await client.get<ApiStatus>('/v1/status')
      statusMs.push(performance.now() - t)
      held = s.store?.results ?? 0
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const heldMs = performance.now() - t0
    // Its formula memory takes the results behind the store (util/backlog.ts): when it has them all.
    for (;;) {
      const s = await client.get<ApiStatus>('/v1/status')
      if (s.memory?.loading === false && s.memory.behind === 0) break
      if (performance.now() > end) throw new Error(`the new node's memory was still ${s.memory?.behind} changes behind after ${HOLD_TIMEOUT_MS / 60_000} minutes`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const memoryMs = performance.now() - t0
    await reading
    if (failed != null) throw failed
    if (firstReadMs == null) {
      const t = performance.now()
      await client.postBytes('/v1/ocr?name=sum.png', image, 'image/png')
      readMs.push(performance.now() - t)
      firstReadMs = performance.now() - t0
      heldAtFirstRead = results
    }
    const byTime = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
    return {
      results,
      apiUpMs,
      firstReadMs,
      heldAtFirstRead,
      heldMs,
      memoryMs,
      statusP50Ms: percentile(byTime(statusMs), 0.5),
      statusP99Ms: percentile(byTime(statusMs), 0.99),
      statusMaxMs: Math.max(...statusMs),
      readP50Ms: percentile(byTime(readMs), 0.5),
      readMaxMs: Math.max(...readMs),
      reads: readMs.length,
      peakRssBytes: await peakRss(joiner.child!.pid!)
    }
  } finally {
    await joiner.stop()
  }
}
