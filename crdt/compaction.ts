/**
 * Compaction of this node's own log: runs of own envelopes folded into few
 * signed envelopes, so the log does not grow without bound. Peers that take a
 * folded envelope drop the narrower ones it covers (Replica.receive).
 */
import * as Y from 'yjs'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { encodeEnvelope, decodeEnvelope, MAX_UPDATE_BYTES, signEnvelope } from './envelope.js'
import { logIdOf, type EnvelopeLog } from './log.js'

/** An own envelope this large is left alone by compaction (it is already a fold of many writes). */
const SEALED_BYTES = MAX_UPDATE_BYTES / 4

/** The own log to compact: whose it is, and the key and ids its folds are signed under. */
export interface OwnLog {
  key: Ed25519PrivateKey
  author: string
  incarnation: Uint8Array
  /** this incarnation's client id */
  client: number
}

/**
 * Fold this incarnation's own envelopes into few signed envelopes, so the
 * log does not grow without bound. Each fold is the state of a scratch
 * document (gc on) fed only this author's updates, so an entry overwritten
 * many times keeps only its last value plus small deletion markers; the
 * structs keep this incarnation's client id and clocks, so peers that have
 * part of the range skip it, and the delete set names only the author's
 * items. An own envelope of SEALED_BYTES or more is left alone; runs after
 * the last one are folded, each at most MAX_UPDATE_BYTES / 2 of raw updates.
 * `covered` is told of each fold stored. Run it in the replica's serial queue.
 */
export async function compactOwnLog (log: EnvelopeLog, own: OwnLog, covered: (first: number, seq: number) => void): Promise<{ merged: number, envelopes: number }> {
  const { key, author, incarnation, client } = own
  const logId = logIdOf({ author, incarnation })
  const scratch = new Y.Doc({ gc: true })
  try {
    const mine: Array<{ first: number, seq: number, update: Uint8Array }> = []
    // Other clocks: the author's earlier incarnations, applied so that origins and deletions resolve; never re-encoded.
    const others = new Map<number, number>()
    for await (const stored of log.ofAuthor(author)) {
      const update = decodeEnvelope(stored.bytes).update
      if (stored.logId === logId) {
        mine.push({ first: stored.first, seq: stored.seq, update })
        continue
      }
      for (const [c, clock] of Y.parseUpdateMeta(update).to) others.set(c, Math.max(others.get(c) ?? 0, clock))
      Y.applyUpdate(scratch, update)
    }
    let start = 0
    for (const [i, o] of mine.entries()) if (o.update.length >= SEALED_BYTES) start = i + 1
    for (const o of mine.slice(0, start)) Y.applyUpdate(scratch, o.update)
    let merged = 0
    let envelopes = start
    let run: typeof mine = []
    let runBytes = 0
    let from = Y.getState(scratch.store, client)
    const fold = async (): Promise<void> => {
      if (run.length === 0) return
      envelopes++
      const folded = run
      run = []
      runBytes = 0
      const since = from
      from = Y.getState(scratch.store, client)
      if (folded.length < 2) return
      const update = Y.encodeStateAsUpdate(scratch, Y.encodeStateVector(new Map([...others, [client, since]])))
      if (update.length > MAX_UPDATE_BYTES) return
      const first = folded[0]!.first
      const seq = folded[folded.length - 1]!.seq
      const e = await signEnvelope(key, author, { incarnation, client, first, seq, update })
      await log.replace(folded, e, encodeEnvelope(e))
      covered(first, seq)
      merged += folded.length
    }
    for (const o of mine.slice(start)) {
      if (runBytes + o.update.length > MAX_UPDATE_BYTES / 2) await fold()
      Y.applyUpdate(scratch, o.update)
      run.push(o)
      runBytes += o.update.length
    }
    await fold()
    return { merged, envelopes }
  } finally {
    scratch.destroy()
  }
}
