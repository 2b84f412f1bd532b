/**
 * Snapshots of the document, so a start does not replay the whole log: the
 * document's state (one Yjs update), the client ids it has seen and their
 * authors, and which log positions it holds. A start applies the snapshot,
 * then only the stored envelopes it does not cover (written after it, before
 * a kill -9 say), which pass every check as before (rebuild.ts).
 *
 * A snapshot is taken only when every own change in the document is stored
 * (replica.ts), so it never holds what the log lacks. It is one file, replaced
 * whole (log.ts): a kill -9 while one is written leaves the one before.
 *
 * The checks at start (authorship, shapes) run on what a snapshot does not
 * cover. The snapshot itself is this node's own record, like the envelope log
 * it summarizes; one of another format version is ignored, and the log is
 * replayed whole.
 */
import { Coverage } from './coverage.js'

/**
 * Bump when the checks an envelope must pass at start change: older snapshots are then ignored.
 * Format 2 adds the append order it covers (log.ts); one of format 1 is still applied, and the
 * whole log's positions walked to find what it does not cover.
 */
const FORMAT = 3
/**
 * Format 3 adds the id of the value store its results' texts are in (value-store.ts): older
 * versions, which would take the markers for values, ignore it and replay the log.
 */
const READABLE = new Set([1, 2, FORMAT])
const MAGIC = new TextEncoder().encode('texmesh-snapshot\n')

export interface Snapshot {
  /** Y.encodeStateAsUpdate of the document */
  update: Uint8Array
  /** client id -> author */
  clients: Array<[number, string]>
  /** log id -> ranges of positions held */
  logs: Array<[string, Array<{ first: number, seq: number }>]>
  /** the envelope log's append order when it was taken: envelopes stored later come after it (undefined in format 1) */
  order?: number
  /** the value store its markers refer to (format 3; undefined: the texts are in the update) */
  values?: string
  /** the bytes that store had given out when it was taken: its references all lie before */
  valueBytes?: number
  /** of those, about how many no reference names */
  valueGarbage?: number
}

/**
 * A snapshot's wire form: magic, format, a JSON header's length and the header, then the update;
 * in two parts, so that the update (the bulk: about 780 MB at a million results) is written as it
 * is rather than copied once more.
 */
export function encodeSnapshot (s: Snapshot): [Uint8Array, Uint8Array] {
  const header = new TextEncoder().encode(JSON.stringify({ clients: s.clients, logs: s.logs.map(([id, ranges]) => [id, ranges.map(r => [r.first, r.seq])]), order: s.order, values: s.values, valueBytes: s.valueBytes, valueGarbage: s.valueGarbage }))
  const head = new Uint8Array(MAGIC.length + 1 + 4 + header.length)
  head.set(MAGIC, 0)
  head[MAGIC.length] = FORMAT
  new DataView(head.buffer).setUint32(MAGIC.length + 1, header.length)
  head.set(header, MAGIC.length + 5)
  return [head, s.update]
}

/** A stored snapshot, or undefined when it is of another format or does not decode (the log is then replayed whole). */
export function decodeSnapshot (bytes: Uint8Array): Snapshot | undefined {
  if (bytes.length < MAGIC.length + 5 || MAGIC.some((b, i) => bytes[i] !== b) || !READABLE.has(bytes[MAGIC.length]!)) return undefined
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length + 1)
  if (MAGIC.length + 5 + length > bytes.length) return undefined
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 5, MAGIC.length + 5 + length))) as {
      clients: Array<[number, string]>
      logs: Array<[string, Array<[number, number]>]>
      order?: unknown
      values?: unknown
      valueBytes?: unknown
      valueGarbage?: unknown
    }
    if (!Array.isArray(header.clients) || !Array.isArray(header.logs)) return undefined
    const format = bytes[MAGIC.length]!
    const order = format >= 2 ? header.order : undefined
    if (format >= 2 && !(Number.isSafeInteger(order) && (order as number) >= 0)) return undefined
    if (header.values != null && (typeof header.values !== 'string' || !(Number.isSafeInteger(header.valueBytes) && (header.valueBytes as number) >= 0))) return undefined
    return {
      update: bytes.subarray(MAGIC.length + 5 + length),
      clients: header.clients,
      logs: header.logs.map(([id, ranges]) => [id, ranges.map(([first, seq]) => ({ first, seq }))]),
      ...(order != null ? { order: order as number } : {}),
      ...(typeof header.values === 'string' ? { values: header.values, valueBytes: header.valueBytes as number } : {}),
      ...(Number.isSafeInteger(header.valueGarbage) && (header.valueGarbage as number) >= 0 ? { valueGarbage: header.valueGarbage as number } : {})
    }
  } catch {
    return undefined
  }
}

/** Which log positions a snapshot holds. */
export function snapshotCoverage (s: Snapshot): Map<string, Coverage> {
  const out = new Map<string, Coverage>()
  for (const [id, ranges] of s.logs) {
    const c = new Coverage()
    for (const r of ranges) c.add(r.first, r.seq)
    out.set(id, c)
  }
  return out
}

/** A snapshot is taken once updates of at least this many bytes, and the last snapshot's size, were stored since. */
const MIN_GROWTH_BYTES = 16 * 1024 * 1024
/** A snapshot due waits for the store to be this long without new updates (a catch-up is not stalled by one)... */
const QUIET_MS = 2000
/** ...unless this many times what made it due was stored meanwhile. */
const MAX_DEFERRAL = 4

export interface SnapshotSource {
  /** store the own changes not yet stored */
  settle: () => Promise<void>
  /** the document's state now; undefined while an own change waits unstored (no snapshot then) */
  state: () => Snapshot | undefined
  /** store a snapshot's bytes, given in parts, and the append order it covers */
  put: (parts: readonly Uint8Array[], order: number | undefined) => Promise<void>
  /** run a job in the replica's serial queue */
  enqueue: (job: () => Promise<void>) => Promise<void>
}

/**
 * When to take snapshots: once the updates stored since the last one reach its size (so encoding
 * snapshots costs about one byte for each byte written), and at close. Encoding one holds the
 * node's thread (for seconds at a million results), so a snapshot that is due waits
 * for QUIET_MS without new updates: a new node catching up on a million results is not stalled
 * every time its document doubles. A stream that never pauses gets one once MAX_DEFERRAL times
 * the due growth was stored, so a start after a kill -9 replays at most about four fifths of the
 * document.
 */
export class Snapshots {
  private since = 0
  private last = 0
  private lastGrowth = 0
  private scheduled = false
  private stopped = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<boolean> | undefined

  constructor (private readonly source: SnapshotSource, private readonly quietMs = QUIET_MS) {}

  /** A start applied a snapshot of `bytes`: the next is due once as much again is stored. */
  loaded (bytes: number): void { this.last = bytes }

  /** Updates of `bytes` were stored (own or remote); a snapshot is queued when enough were, and the store is quiet. */
  grew (bytes: number): void {
    this.since += bytes
    this.lastGrowth = performance.now()
    const due = Math.max(MIN_GROWTH_BYTES, this.last)
    if (this.stopped || this.scheduled || this.since < due) return
    if (this.since >= MAX_DEFERRAL * due) this.queue()
    else this.timer ??= setTimeout(() => { this.whenQuiet() }, this.quietMs).unref()
  }

  private whenQuiet (): void {
    this.timer = undefined
    if (this.stopped || this.scheduled) return
    const quietFor = performance.now() - this.lastGrowth
    if (quietFor >= this.quietMs) this.queue()
    else this.timer = setTimeout(() => { this.whenQuiet() }, this.quietMs - quietFor).unref()
  }

  private queue (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.scheduled = true
    this.source.enqueue(async () => { await this.take() }).catch(() => {}).finally(() => { this.scheduled = false })
  }

  /** No more snapshots as updates grow (the replica is closing): only the one take() at close. */
  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /**
   * Take one now, if anything was stored since the last (or `always`). Runs in the serial queue (or
   * once it is idle, at close); true when taken.
   */
  async take (always = false): Promise<boolean> {
    // One at a time: a take queued as updates grew may still run when the one at close begins.
    while (this.running != null) await this.running.catch(() => false)
    this.running = this.takeNow(always)
    try {
      return await this.running
    } finally {
      this.running = undefined
    }
  }

  private async takeNow (always: boolean): Promise<boolean> {
    if (this.since === 0 && !always) return false
    await this.source.settle()
    const since = this.since
    // Read right here, with no await between: a write made while settle() stored the others makes this undefined.
    const state = this.source.state()
    if (state == null) return false
    const parts = encodeSnapshot(state)
    await this.source.put(parts, state.order)
    this.last = parts[0].length + parts[1].length
    this.since -= since
    return true
  }
}
