/**
 * Storing this node's own envelopes: each signed own envelope goes into
 * LevelDB, in order, with the next own position, and only then is it
 * published. One LevelDB refuses (a full disk, say) stays in memory, and so do
 * the ones after it, until a retry (backing off up to 30 s) stores them all:
 * peers never see a gap in this node's log (see ReplicaWriteError).
 */
import type { Envelope } from './envelope.js'
import type { EnvelopeLog } from './log.js'
import { ReplicaWriteError } from './errors.js'

export interface OwnStoreOptions {
  /** the LevelDB folder, named in errors */
  path: string
  /** this node's incarnation */
  incarnation: Uint8Array
  /** run a job in the replica's serial queue */
  enqueue: (job: () => Promise<void>) => Promise<void>
  /** is the replica closing? */
  closing: () => boolean
  /** an own envelope is stored: cover its position, publish it */
  stored: (e: Envelope, bytes: Uint8Array, seq: number) => void
}

export class OwnEnvelopeStore {
  /** own envelopes signed but not yet in LevelDB, oldest first (see ReplicaWriteError) */
  private readonly unstored: Array<{ e: Envelope, bytes: Uint8Array, seq: number }> = []
  private storeRetry: ReturnType<typeof setTimeout> | undefined
  private storeBackoffMs = 0

  constructor (private readonly log: EnvelopeLog, private readonly opts: OwnStoreOptions) {}

  /** Own changes in the document that LevelDB has not yet taken. */
  get size (): number { return this.unstored.length }

  /** Store a signed own envelope, after those not stored yet. Runs in the serial queue. */
  async add (e: Envelope, bytes: Uint8Array, seq: number): Promise<void> {
    this.unstored.push({ e, bytes, seq })
    await this.store()
  }

  /** Store the own envelopes not yet stored, in order, and publish each once stored. Runs in the serial queue. */
  async store (): Promise<void> {
    while (this.unstored.length > 0) {
      const { e, bytes, seq } = this.unstored[0]!
      try {
        await this.log.append(e, bytes, { own: { incarnation: Buffer.from(this.opts.incarnation).toString('hex'), nextSeq: seq + 1 } })
      } catch (err) {
        this.retryStoreLater()
        const n = this.unstored.length
        throw new ReplicaWriteError(`could not store ${n === 1 ? 'a change' : `${n} changes`} in ${this.opts.path} (${(err as Error).message}); kept in memory and stored, in order, once LevelDB takes writes again (lost if the node stops first)`, { cause: err })
      }
      this.unstored.shift()
      this.storeBackoffMs = 0
      this.opts.stored(e, bytes, seq)
    }
  }

  private retryStoreLater (): void {
    if (this.storeRetry != null || this.opts.closing()) return
    this.storeBackoffMs = Math.min(30_000, Math.max(500, this.storeBackoffMs * 2))
    this.storeRetry = setTimeout(() => {
      this.storeRetry = undefined
      if (this.opts.closing() || this.unstored.length === 0) return
      // a failure schedules the next try
      this.opts.enqueue(async () => { await this.store() }).catch(() => {})
    }, this.storeBackoffMs)
    this.storeRetry.unref?.()
  }

  /** At close, once the serial queue is idle: no more retries, and one last try. */
  async close (): Promise<void> {
    if (this.storeRetry != null) clearTimeout(this.storeRetry)
    // One last try for changes a failed write left in memory; what still fails is lost with the
    // process, as its writers were told.
    if (this.unstored.length > 0) await this.store().catch(() => {})
  }
}
