/**
 * Compaction of this node's own log: runs of own envelopes folded into few
 * signed envelopes, so the log does not grow without bound. Peers that take a
 * folded envelope drop the narrower ones it covers (Replica.receive).
 */
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { encodeEnvelope, decodeEnvelope, MAX_UPDATE_BYTES, signEnvelope } from './envelope.js'
import { logIdOf, type EnvelopeLog } from './log.js'
import { foldUpdates } from './fold.js'
import { checkAuthorship } from './authorship.js'

/** An own envelope this large is left alone by compaction (it is already a fold of many writes). */
const SEALED_BYTES = MAX_UPDATE_BYTES / 4

/** The own log to compact: whose it is, and the key and ids its folds are signed under. */
export interface OwnLog {
  key: Ed25519PrivateKey
  author: string
  incarnation: Uint8Array
  /** this incarnation's client id */
  client: number
  /** whether a client id is one of this author's (the check every peer makes of a fold) */
  isOwnClient: (client: number) => boolean
}

/**
 * Fold this incarnation's own envelopes into few signed envelopes, so the log does not grow
 * without bound. An own envelope of SEALED_BYTES or more is left alone, and so is everything
 * before it: the log is read from its end back to its last sealed envelope, and only the runs
 * after it are folded (fold.ts), each at most MAX_UPDATE_BYTES / 2 of raw updates of consecutive
 * positions, and only if it passes the authorship check every peer will make of it. So a
 * compaction costs what was written since the last one, however long the log. A fold keeps the
 * structs' client id and clocks, so peers that have part of the range skip it; the delete set
 * names only the author's items, and an entry written again within a run keeps only its last
 * value. `covered` is told of each fold stored. Run it in the replica's serial queue.
 */
export async function compactOwnLog (log: EnvelopeLog, own: OwnLog, covered: (first: number, seq: number) => void): Promise<{ merged: number, envelopes: number }> {
  const { key, author, incarnation, client } = own
  const tail: Array<{ first: number, seq: number, update: Uint8Array }> = []
  for await (const stored of log.ofLogFromEnd(logIdOf({ author, incarnation }))) {
    const update = decodeEnvelope(stored.bytes).update
    if (update.length >= SEALED_BYTES) break
    tail.push({ first: stored.first, seq: stored.seq, update })
  }
  tail.reverse()
  let merged = 0
  let envelopes = 0
  let run: typeof tail = []
  let runBytes = 0
  const fold = async (): Promise<void> => {
    if (run.length === 0) return
    envelopes++
    const folded = run
    run = []
    runBytes = 0
    if (folded.length < 2) return
    // A fold no peer would take (it cannot be made, or breaks an authorship rule) is not made: the run stays as it is.
    const update = foldUpdates(folded.map(o => o.update))
    if (update == null || update.length > MAX_UPDATE_BYTES || !checkAuthorship(update, author, own.isOwnClient).ok) return
    const first = folded[0]!.first
    const seq = folded[folded.length - 1]!.seq
    const e = await signEnvelope(key, author, { incarnation, client, first, seq, update })
    await log.replace(folded, e, encodeEnvelope(e))
    covered(first, seq)
    merged += folded.length
  }
  for (const o of tail) {
    // A run is of consecutive positions: a gap (an envelope quarantined at a start) ends it.
    const last = run[run.length - 1]
    if (runBytes + o.update.length > MAX_UPDATE_BYTES / 2 || (last != null && o.first !== last.seq + 1)) await fold()
    run.push(o)
    runBytes += o.update.length
  }
  await fold()
  return { merged, envelopes }
}
