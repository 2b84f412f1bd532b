/**
 * What a run reads from the nodes once its work is over: whether every result
 * reached every live replica, and for critical runs what an honest node reads
 * in each image, where ballots' time went, and who equivocated.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { OcrResult } from '../pipeline/ocr.js'
import type { QuorumTimings } from '../protocols/votes/index.js'
import type { Cluster, SimNode } from './cluster.js'
import { statusOf } from './observer.js'
import type { Submitted } from './types.js'
import type { WorkItem } from './workload.js'

/** Every result (by image hash) in every live replica: gossip and catch-up given 30 s to deliver; what is missing then. */
export async function missingReplicas (cluster: Cluster, hashes: string[]): Promise<string[]> {
  let missing: string[] = []
  const replDeadline = Date.now() + 30_000
  do {
    missing = []
    for (const n of cluster.live()) {
      for (const h of hashes) {
        const r = await n.client!.get<Record<string, unknown>>(`/v1/results/${h}`).catch(() => ({}))
        if (Object.keys(r).length === 0) missing.push(`node ${n.index} lacks ${h.slice(0, 12)}`)
      }
    }
    if (missing.length > 0) await sleep(500)
  } while (missing.length > 0 && Date.now() < replDeadline)
  return missing
}

/** Critical runs: what an honest node reads in each image, to judge the certificates. */
export async function honestReadings (honest: SimNode, submitted: Submitted[], work: WorkItem[]): Promise<Map<string, string>> {
  const readings = new Map<string, string>()
  for (const [i, s] of submitted.entries()) {
    if (!s.critical) continue
    const r = await honest.client!.postBytes<OcrResult>(`/v1/ocr?name=${encodeURIComponent(work[i]!.name)}`, work[i]!.bytes)
    readings.set(s.id, r.latex)
  }
  return readings
}

/** Critical runs: where ballots' time went, as each live node measured it. */
export async function quorumTimings (cluster: Cluster): Promise<Array<{ node: number, quorum: QuorumTimings }>> {
  const timings: Array<{ node: number, quorum: QuorumTimings }> = []
  for (const n of cluster.live()) {
    const st = await statusOf(n)
    if (st?.quorum != null) timings.push({ node: n.index, quorum: st.quorum })
  }
  return timings
}

/** Critical runs: the voters `node` caught equivocating. */
export async function equivocatorsSeenBy (node: SimNode): Promise<string[]> {
  return (await node.client!.get<Array<{ id: string, equivocated?: boolean }>>('/v1/peers').catch(() => [])).filter(p => p.equivocated === true).map(p => p.id)
}
