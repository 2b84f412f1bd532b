import { sha256Hex } from '../../util/sha256.js'
import type { BlobService } from '../../protocols/blob/index.js'
import type { TaskQueue } from '../../protocols/tasks/queue.js'
import { quorum, verifyQuorumCertificate, type Quorum, type QuorumContext } from '../../protocols/votes/index.js'
import type { VoteLedger } from '../../protocols/votes/ledger.js'
import { MAX_RESULT_REGIONS } from '../../crdt/schemas.js'
import type { Compute } from './compute.js'
import type { NodeTasksInit } from './work.js'

/**
 * Critical images wired: the quorum service reads with this node's compute,
 * fetches images by blob, signs into the ledger, and puts each certified answer
 * into the replicated store, with this node's own reading's regions and time
 * when it agrees.
 */

/** This node's own readings of images it voted on, kept for the certified result (see onCertified). */
const MAX_KEPT_READINGS = 256

export function criticalQuorum (init: NodeTasksInit, queue: TaskQueue, blobs: BlobService, ledger: VoteLedger, context: QuorumContext): Quorum {
  const readings = new Map<string, Awaited<ReturnType<Compute['recognize']>>>()
  const q = init.quorum
  return quorum({
    f: q.f,
    ...(init.random != null ? { random: init.random } : {}),
    ...(q.silenceMs != null ? { silenceMs: q.silenceMs } : {}),
    concurrency: Math.max(1, init.workers),
    key: q.key,
    model: init.compute.model,
    network: q.network?.name ?? null,
    eligible: q.eligible,
    isMember: q.isMember,
    certificateOf: q.certificateOf,
    blobs,
    localImage: async hash => await queue.blob(hash),
    recognise: async (image, file) => {
      const r = await init.compute.recognize(image, file)
      // Kept (bounded) so that a certified answer this node also read carries its regions and time.
      const hash = sha256Hex(image)
      readings.delete(hash)
      readings.set(hash, r)
      for (const old of readings.keys()) { if (readings.size <= MAX_KEPT_READINGS) break; readings.delete(old) }
      return { latex: r.latex, confidence: r.confidence, model: r.model }
    },
    onCertified: async (task, certificate, confidence) => {
      // The votes carry the answer only; this node's own reading of the image, when it agrees,
      // gives the regions, alternatives and time a result has.
      const own = readings.get(task.image)
      const agrees = own != null && own.latex === certificate.latex && own.model === certificate.model
      await init.replica.putResult(task.image, {
        latex: certificate.latex,
        confidence,
        alternatives: agrees ? own.alternatives.slice(0, 16).filter(a => Number.isFinite(a.score)) : [],
        model: certificate.model,
        time: Date.now(),
        task: task.id,
        ...(agrees ? { regions: own.regions.slice(0, MAX_RESULT_REGIONS).map(g => ({ bbox: g.bbox, latex: g.latex, confidence: g.confidence })), ms: own.ms } : {}),
        ...(agrees && own.embedding != null ? { embedding: own.embedding } : {}),
        certificate
      })
    },
    onNoConsensus: async (task, votes) => { await queue.noConsensus(task.id, votes) },
    checkCertificate: async certificate => await verifyQuorumCertificate(certificate, context),
    onEquivocation: async (a, b) => {
      await init.replica.putEvidence(a.voter, a.task, { votes: [a, b], time: Date.now() })
      await q.onEquivocation?.(a, b)
    },
    ...(q.tamper != null ? { tamper: q.tamper } : {}),
    ledger
  })({ node: init.node, log: (init.rootLog ?? init.log).child({ component: 'protocols:votes' }) })
}
