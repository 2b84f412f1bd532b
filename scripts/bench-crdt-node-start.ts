/**
 * bench:crdt's node start run: how a whole node starts on a data dir whose store holds N results,
 * not only its replica. A real `texmesh node` process (bin/texmesh.js as a user starts it, the shipped model)
 * starts on a data dir filled beforehand: its store written through the replica with the node's
 * own key (results under SHA-256 image hashes, so its formula and image memories take them), its
 * memories built by a first start and saved at a clean stop. The second start is measured: from
 * the spawn to its API answering, to its memories holding the whole store (status.memory), and
 * its RSS 10 s later (anonymous and file-backed) and at its peak.
 */
import { readFile } from 'node:fs/promises'
import { Replica } from '../crdt/replica.js'
import { DataDir } from '../node/datadir/datadir.js'
import { SimNode, freePort } from '../simnet/cluster.js'
import type { ApiStatus } from '../node/daemon/api.js'
import { percentile } from '../simnet/summary.js'
import { benchImageHash } from './bench-result.js'

const byValue = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)

/** The longest a start may take to build its memories before the run gives up. */
const READY_TIMEOUT_MS = 60 * 60_000
/**
 * How long the status is still asked after the memories hold the store, before the RSS is read:
 * the node gives back what building them freed once they are done (util/release-memory.ts).
 */
const SETTLE_MS = 10_000
/** The longest a clean stop (saving the memories and a snapshot) may take. */
const STOP_TIMEOUT_MS = 10 * 60_000

export interface NodeStartFigures {
  results: number
  /** spawn to the API answering, on the second start */
  apiUpMs: number
  /** spawn to both memories holding the whole store */
  memoryReadyMs: number
  /** the first start's, when the memories were built from nothing */
  firstBuildMs: number
  /** RSS (VmRSS) once the memories hold the store (and 10 s more), and the peak (VmHWM) */
  rssBytes: number
  peakRssBytes: number
  /** of rssBytes: the process's own memory (RssAnon), and pages of files it maps (RssFile: the formula index read from its file, the program), which the kernel drops when it needs the memory */
  anonBytes: number
  fileBytes: number
  formulas: number
  /** status answered in, while the memories were built and 10 s after (p50 / p99 / max, ms) */
  statusP50Ms: number
  statusP99Ms: number
  statusMaxMs: number
}

async function vm (pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): Promise<number> {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m != null ? Number(m[1]) * 1024 : NaN
}

export interface StartFigures { apiUpMs: number, readyMs: number, rss: number, peak: number, anon: number, file: number, formulas: number, statusMs: number[] }

/** Start, wait for the memories (asking the status every 100 ms), and stop cleanly (SIGTERM, waited for: the memories are saved). */
export async function startUntilReady (node: SimNode, results: number): Promise<StartFigures> {
  const t0 = performance.now()
  await node.start([])
  const apiUpMs = performance.now() - t0
  const end = performance.now() + READY_TIMEOUT_MS
  let status: ApiStatus
  const statusMs: number[] = []
  for (;;) {
    const t = performance.now()
    status = await node.client!.get<ApiStatus>('/v1/status')
    statusMs.push(performance.now() - t)
    if (status.memory?.loading === false) break
    if (performance.now() > end) throw new Error(`the node's memories were not built within ${READY_TIMEOUT_MS / 60_000} minutes`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const readyMs = performance.now() - t0
  if (status.store?.results !== results) throw new Error(`the node holds ${status.store?.results} results, not ${results}`)
  for (const settled = performance.now() + SETTLE_MS; performance.now() < settled;) {
    const t = performance.now()
    await node.client!.get<ApiStatus>('/v1/status')
    statusMs.push(performance.now() - t)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const pid = node.child!.pid!
  const figures = { apiUpMs, readyMs, rss: await vm(pid, 'VmRSS'), peak: await vm(pid, 'VmHWM'), anon: await vm(pid, 'RssAnon'), file: await vm(pid, 'RssFile'), formulas: status.memory.formulas, statusMs }
  const child = node.child!
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await gone
  clearTimeout(timer)
  return figures
}

/** A node's data dir in `dir` whose store holds `results` results; its start measured. */
export async function measureNodeStart (results: number, dir: string, write: (replica: Replica, hash: (i: number) => string, n: number) => Promise<void>): Promise<NodeStartFigures> {
  const dataDir = new DataDir(dir)
  await dataDir.ensure()
  const { key } = await dataDir.identity()
  const replica = await Replica.open({ path: dataDir.paths.replica, key })
  await write(replica, benchImageHash, results)
  await replica.close()
  const node = new SimNode(0, { slowdown: 1, workers: 1, leaseMs: 30_000, asUser: true }, dir, await freePort(), await freePort())
  try {
    const first = await startUntilReady(node, results)
    const second = await startUntilReady(node, results)
    return {
      results,
      apiUpMs: second.apiUpMs,
      memoryReadyMs: second.readyMs,
      firstBuildMs: first.readyMs,
      rssBytes: second.rss,
      peakRssBytes: second.peak,
      anonBytes: second.anon,
      fileBytes: second.file,
      formulas: second.formulas,
      statusP50Ms: percentile(byValue(second.statusMs), 0.5),
      statusP99Ms: percentile(byValue(second.statusMs), 0.99),
      statusMaxMs: Math.max(...second.statusMs)
    }
  } finally {
    await node.stop()
  }
}
