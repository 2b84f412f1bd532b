/**
 * Start-up: the document rebuilt from its latest snapshot and the envelopes
 * the snapshot does not cover (or from the whole envelope log when there is
 * no snapshot), with what no longer passes set aside in quarantine so that
 * stored data never stops a start.
 */
import * as Y from 'yjs'
import { decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.js'
import { checkAuthorship, type WrittenValue } from './authorship.js'
import type { EnvelopeLog, StoredEnvelope } from './log.js'
import { decodeSnapshot, snapshotCoverage, type Snapshot } from './snapshot.js'
import type { Coverage } from './coverage.js'

/** What the rebuild fills in, of the replica it rebuilds. */
export interface RebuildTarget {
  /** client id -> author, for every incarnation seen */
  clients: Map<number, string>
  /** why written values do not fit their map (ReplicaDocument.checkShapes) */
  checkShapes: (values: readonly WrittenValue[]) => string | null
  /**
   * apply an update to the document (ReplicaDocument.apply); throws when it cannot be applied.
   * `referenced`: a snapshot's, whose results hold references to the value store, not texts
   */
  apply: (update: Uint8Array, referenced?: boolean) => void
  /** an envelope covering `first`..`seq` of a log is applied */
  covered: (logId: string, first: number, seq: number) => void
  /** the id of the value store the document keeps its results' texts in (value-store.ts) */
  values?: string
}

/** What a rebuild did: envelopes the snapshot covered, and envelopes checked and applied. */
export interface RebuildStats {
  fromSnapshot: number
  replayed: number
  /** bytes of update in the envelopes replayed */
  replayedBytes: number
  /** bytes of the snapshot applied (0: none) */
  snapshotBytes: number
}

/**
 * Rebuild the document from the snapshot and the log. Stored data never stops a start: an envelope that no
 * longer decodes or passes the checks a remote one must pass (written by an older version,
 * or straight into LevelDB) is quarantined, kept aside with its author and the reason, and
 * the rest is applied.
 */
export async function rebuild (log: EnvelopeLog, target: RebuildTarget, own?: { logId: string, nextSeq: number },
  stored?: { bytes: Uint8Array, snapshot: Snapshot | undefined }): Promise<RebuildStats> {
  const { clients } = target
  const good: Array<{ logId: string, first: number, seq: number, e: Envelope }> = []
  const bad: Array<{ key: string, bytes: Uint8Array, author: string | undefined, reason: string }> = []
  let fromSnapshot = 0
  let snapshotBytes = 0
  let held: Map<string, Coverage> | undefined
  /** the append order the snapshot covers (format 2): only what was stored after it is read */
  let order: number | undefined
  {
    // The snapshot as the caller read it (to open the value store it refers to), or read here.
    const saved = stored != null ? stored.bytes : await log.snapshot()
    const snapshot = stored != null ? stored.snapshot : saved != null ? decodeSnapshot(saved) : undefined
    // A snapshot that refers to another value store than this one (lost, or replaced) holds markers
    // for texts that are not here: the log is replayed whole instead.
    if (snapshot != null && (snapshot.values == null || snapshot.values === target.values)) {
      try {
        target.apply(snapshot.update, snapshot.values != null)
        for (const [client, author] of snapshot.clients) clients.set(client, author)
        held = snapshotCoverage(snapshot)
        snapshotBytes = saved!.length
        order = snapshot.order
      } catch {
        // A snapshot that cannot be applied: the log is replayed whole (on top of what it applied: Yjs skips what it has).
      }
    }
    if (order != null) log.appendedAtLeast(order)
  }
  /**
   * The stored envelopes to check and apply: with a snapshot, those stored after it (format 2), or
   * every position walked and only those it does not cover read (format 1).
   */
  async function * toReplay (): AsyncGenerator<StoredEnvelope> {
    if (held == null) {
      yield * log.all()
      return
    }
    let uncovered: Array<Omit<StoredEnvelope, 'bytes'>> = []
    if (order != null) {
      const seen = new Set<string>()
      for await (const at of log.appendedAfter(order)) {
        if (held.get(at.logId)?.covers(at.first, at.seq) !== true && !seen.has(at.key)) uncovered.push(at)
        seen.add(at.key)
      }
      // Own envelopes stored without an order entry (by an older version, started after this
      // snapshot was taken and killed before it took its own) leave a gap after what the snapshot
      // holds of the own log, which is stored without one: the log is walked after all.
      let ownAfter = -1
      for (const r of held.get(own?.logId ?? '')?.ranges ?? []) ownAfter = Math.max(ownAfter, r.seq)
      if (own != null && !complete(uncovered.filter(at => at.logId === own.logId), ownAfter + 1, own.nextSeq)) {
        uncovered = []
        order = undefined
      } else {
        // What the snapshot covers is in the log (it is taken once everything applied is stored), range by range.
        for (const [logId, c] of held) {
          for (const r of c.ranges) target.covered(logId, r.first, r.seq)
          fromSnapshot += c.ranges.length
        }
      }
    }
    if (order == null) {
      for await (const at of log.positions()) {
        if (held.get(at.logId)?.covers(at.first, at.seq) === true) {
          target.covered(at.logId, at.first, at.seq)
          fromSnapshot++
        } else {
          uncovered.push(at)
        }
      }
    }
    for (const at of uncovered) {
      const bytes = await log.bytesAt(at.key)
      if (bytes != null) yield { ...at, bytes }
    }
  }
  for await (const stored of toReplay()) {
    let e: Envelope
    try {
      e = decodeEnvelope(stored.bytes)
    } catch (err) {
      bad.push({ key: stored.key, bytes: stored.bytes, author: undefined, reason: `undecodable envelope: ${String((err as Error).message).slice(0, 200)}` })
      continue
    }
    clients.set(e.client, e.author)
    good.push({ logId: stored.logId, first: stored.first, seq: stored.seq, e })
  }
  const kept: typeof good = []
  for (const g of good) {
    const authored = checkAuthorship(g.e.update, g.e.author, c => clients.get(c) === g.e.author)
    const reason = !authored.ok ? `${authored.reason}: ${authored.detail}` : target.checkShapes(authored.values.filter(v => v.map != null))
    if (reason != null) {
      bad.push({ key: log.keyOf(g.logId, g.first, g.seq), bytes: encodeEnvelope(g.e), author: g.e.author, reason })
    } else {
      kept.push(g)
    }
  }
  let updates = kept
  try {
    if (updates.length > 0) target.apply(Y.mergeUpdates(updates.map(g => g.e.update)))
  } catch {
    // One of them cannot be applied with the rest: apply them one by one, setting aside what fails.
    updates = []
    for (const g of kept) {
      try {
        target.apply(g.e.update)
        updates.push(g)
      } catch (err) {
        bad.push({ key: log.keyOf(g.logId, g.first, g.seq), bytes: encodeEnvelope(g.e), author: g.e.author, reason: `cannot be applied: ${String((err as Error).message).slice(0, 200)}` })
      }
    }
  }
  for (const g of updates) target.covered(g.logId, g.first, g.seq)
  for (const b of bad) await log.quarantine(b.key, b.bytes, b.author, b.reason)
  return { fromSnapshot, replayed: updates.length, replayedBytes: updates.reduce((n, g) => n + g.e.update.length, 0), snapshotBytes }
}

/** Whether `ranges` cover every position from `from` up to `next` - 1. */
function complete (ranges: ReadonlyArray<{ first: number, seq: number }>, from: number, next: number): boolean {
  let head = from - 1
  for (const r of [...ranges].sort((x, y) => x.first - y.first)) {
    if (r.first > head + 1) break
    head = Math.max(head, r.seq)
  }
  return head >= next - 1
}
