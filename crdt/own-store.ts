/**
 * Storing this node's own writes: the updates of writes made close together
 * (while the replica's queue is busy) are merged into one envelope, signed
 * once and stored in one LevelDB write (group commit); each signed own
 * envelope goes into LevelDB, in order, with the next own position, and only
 * then is it published. One LevelDB refuses (a full disk, say) stays in memory, and so do
 * the ones after it, until a retry (backing off up to 30 s) stores them all:
 * peers never see a gap in this node's log (see ReplicaWriteError).
 */
import * as Y from 'yjs'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { encodeEnvelope, MAX_UPDATE_BYTES, signEnvelope, type Envelope } from './envelope.js'
import type { EnvelopeLog } from './log.js'
import { ReplicaWriteError } from './errors.js'

export interface OwnStoreOptions {
  /** the LevelDB folder, named in errors */
  path: string
  /** the key, author, incarnation and client id own envelopes are signed under */
  key: Ed25519PrivateKey
  author: string
  incarnation: Uint8Array
  client: number
  /** run a job in the replica's serial queue */
  enqueue: (job: () => Promise<void>) => Promise<void>
  /** is the replica closing? */
  closing: () => boolean
  /** an own envelope is stored: cover its positions, publish it */
  stored: (e: Envelope, bytes: Uint8Array) => void
}

/** The updates of one batch are at most this many bytes together (one larger update goes alone). */
export const BATCH_BYTES = MAX_UPDATE_BYTES / 4

interface Batch {
  updates: Uint8Array[]
  bytes: number
  /** the writes its updates hold (writes of one turn share an update: stage.ts) */
  writes: number
  /** log position of the first update */
  first: number
  /** resolves once the batch's envelope is in LevelDB (at the batch's turn in the queue) */
  stored?: Promise<void>
  /** its signing and store, once begun (writes no longer join it then) */
  done?: Promise<void>
}

export class OwnEnvelopeStore {
  /** own envelopes signed but not yet in LevelDB, oldest first (see ReplicaWriteError) */
  private readonly unstored: Array<{ e: Envelope, bytes: Uint8Array, writes: number }> = []
  /** batches not yet signed, oldest first; writes join the last one */
  private readonly pending: Batch[] = []
  private storeRetry: ReturnType<typeof setTimeout> | undefined
  private storeBackoffMs = 0

  constructor (private readonly log: EnvelopeLog, private readonly opts: OwnStoreOptions) {}

  /** Own changes in the document that LevelDB has not yet taken. */
  get size (): number { return this.unstored.reduce((n, u) => n + u.writes, 0) }

  /** Every own change given is stored: none waits in a batch or in memory. */
  get idle (): boolean { return this.pending.length === 0 && this.unstored.length === 0 }

  /**
   * Store an own update, holding `writes` writes, at log position `seq` (one after the last one
   * given); resolves once its envelope is in LevelDB. Updates given before the batch's turn in the
   * queue share its envelope.
   */
  write (update: Uint8Array, seq: number, writes = 1): Promise<void> {
    let batch = this.pending[this.pending.length - 1]
    if (batch == null || batch.bytes + update.length > BATCH_BYTES) {
      const b: Batch = batch = { updates: [], bytes: 0, writes: 0, first: seq }
      this.pending.push(b)
      b.stored = this.opts.enqueue(async () => {
        await this.flushThrough(b)
        await b.done
      })
    }
    batch.updates.push(update)
    batch.bytes += update.length
    batch.writes += writes
    return batch.stored!
  }

  /**
   * Sign the batches not yet signed, oldest first, and store them in one LevelDB write, unless
   * `last` was already: an own log's positions reach LevelDB in order. Runs in the serial queue.
   * A failure is each batch's writers' to hear, at its turn.
   */
  private async flushThrough (last?: Batch): Promise<void> {
    if (last?.done != null || this.pending.length === 0) return
    const batches = this.pending.splice(0)
    const done = this.flush(batches)
    for (const b of batches) b.done = done
    await done.catch(() => {})
  }

  /**
   * Store every own change given so far, ahead of its turn (for a snapshot). Runs in the serial
   * queue. Writes may come meanwhile: read `idle` right before relying on it.
   */
  async settle (): Promise<void> {
    await this.flushThrough()
  }

  /** Sign each batch as one envelope and store them, after those not stored yet. Runs in the serial queue. */
  private async flush (batches: readonly Batch[]): Promise<void> {
    const { key, author, incarnation, client } = this.opts
    for (const batch of batches) {
      const update = batch.updates.length === 1 ? batch.updates[0]! : Y.mergeUpdates(batch.updates)
      const e = await signEnvelope(key, author, { incarnation, client, first: batch.first, seq: batch.first + batch.updates.length - 1, update })
      this.unstored.push({ e, bytes: encodeEnvelope(e), writes: batch.writes })
    }
    await this.store()
  }

  /** Store the own envelopes not yet stored, in one LevelDB write, and publish each once stored, in order. Runs in the serial queue. */
  async store (): Promise<void> {
    if (this.unstored.length === 0) return
    const all = this.unstored.slice()
    const last = all[all.length - 1]!
    try {
      await this.log.append(last.e, last.bytes, { own: { incarnation: Buffer.from(this.opts.incarnation).toString('hex'), nextSeq: last.e.seq + 1 }, alongside: all.slice(0, -1) })
    } catch (err) {
      this.retryStoreLater()
      const n = this.size
      throw new ReplicaWriteError(`could not store ${n === 1 ? 'a change' : `${n} changes`} in ${this.opts.path} (${(err as Error).message}); kept in memory and stored, in order, once LevelDB takes writes again (lost if the node stops first)`, { cause: err })
    }
    this.unstored.splice(0, all.length)
    this.storeBackoffMs = 0
    for (const { e, bytes } of all) this.opts.stored(e, bytes)
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
