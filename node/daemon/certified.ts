import type { Replica } from '../../crdt/replica.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import type { TaskRecord } from '../../protocols/tasks/queue.js'
import { verifyQuorumCertificate, type QuorumCertificate, type QuorumContext } from '../../protocols/votes/index.js'
import type { Log } from '../log.js'

/**
 * Which results in the store carry a quorum certificate that holds for them,
 * and the answer a node gives for an image (certified only, when asked).
 */
export class CertifiedResults {
  /** results whose certificate was checked: "HASH/AUTHOR" -> what was checked and whether it holds for that result */
  private readonly certified = new Map<string, { fingerprint: string, ok: boolean }>()

  constructor (private readonly replica: Replica, readonly context: QuorumContext, private readonly log: Log) {}

  /**
   * Does this result carry a certificate that holds, for this very image,
   * LaTeX and model? (A member could attach someone else's certificate to a
   * wrong answer.) Remembered, so reads can ask synchronously.
   */
  async check (hash: string, author: string, entry: ResultEntry): Promise<boolean> {
    if (entry.certificate == null) return false
    const c = entry.certificate as Partial<QuorumCertificate>
    const fingerprint = `${entry.time}|${entry.model}|${entry.latex}|${c.votes?.map(v => v.sig).join(',') ?? ''}`
    const key = `${hash}/${author}`
    const known = this.certified.get(key)
    if (known?.fingerprint === fingerprint) return known.ok
    const check = await verifyQuorumCertificate(entry.certificate, this.context)
    const ok = check.ok && check.certificate.image === hash && check.certificate.latex === entry.latex && check.certificate.model === entry.model
    if (!ok) this.log.warn({ hash, author, reason: check.ok ? 'not this result\'s certificate' : check.reason }, 'a result carries a certificate that does not hold')
    this.certified.set(key, { fingerprint, ok })
    return ok
  }

  /** Whether this result's certificate was checked and holds. */
  holds (hash: string, author: string): boolean {
    return this.certified.get(`${hash}/${author}`)?.ok === true
  }

  /** Every certificate among an image's results, checked (once each). */
  async checkImage (hash: string): Promise<void> {
    for (const [by, entry] of this.replica.results(hash)) if (entry.certificate != null) await this.check(hash, by, entry)
  }

  /** The certificates of a critical task's results, checked once per run (start only checks the newest tasks). */
  async checkTask (t: TaskRecord): Promise<void> {
    if (t.critical) await this.checkImage(t.hash)
  }

  /** The answer for an image: for `model` when given (certified only, when asked), the earliest written, ties by author. */
  best (hash: string, model: string | undefined, certifiedOnly = false): (ResultEntry & { by: string }) | undefined {
    let best: (ResultEntry & { by: string }) | undefined
    for (const [by, entry] of this.replica.results(hash)) {
      if (model != null && entry.model !== model) continue
      if (certifiedOnly && !this.holds(hash, by)) continue
      if (best == null || entry.time < best.time || (entry.time === best.time && by < best.by)) best = { ...entry, by }
    }
    return best
  }
}
