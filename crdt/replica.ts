import * as Y from 'yjs'
import { z } from 'zod'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { clientIdFor, decodeEnvelope, encodeEnvelope, EnvelopeError, MAX_UPDATE_BYTES, newIncarnation, signEnvelope, verifyEnvelope, type Envelope } from './envelope.js'
import { checkAuthorship, MAPS, type MapName } from './authorship.js'
import { EnvelopeLog, logIdOf } from './log.js'

/**
 * This node's replica of what the network knows: one Yjs document with the
 * maps results, calibration, corrections and members, persisted as a log of
 * signed envelopes in LevelDB. This module is the only code that touches
 * Yjs; the rest of the project reads and writes through its typed API.
 *
 * Every entry is written by its author alone, under a key that ends in the
 * author's peer id: results and corrections under "IMAGE_HASH/AUTHOR",
 * calibration under "MODEL_VERSION/AUTHOR", members under "AUTHOR".
 */

const latex = z.string().max(4096)
export const ResultEntry = z.object({
  latex,
  confidence: z.number().min(0).max(1),
  alternatives: z.array(z.object({ latex, score: z.number() })).max(16),
  model: z.string().min(1).max(128),
  time: z.number().int().nonnegative(),
  /** The regions of a multi-formula image, top to bottom (the pipeline's segmentation). */
  regions: z.array(z.object({
    bbox: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }),
    latex,
    confidence: z.number().min(0).max(1)
  })).max(64).optional(),
  /** milliseconds the recognition took on the author's node */
  ms: z.number().nonnegative().optional(),
  /** The quorum certificate, for critical images. */
  certificate: z.unknown().optional()
})
export type ResultEntry = z.infer<typeof ResultEntry>

export const CorrectionEntry = z.object({ latex, time: z.number().int().nonnegative(), note: z.string().max(1024).optional() })
export type CorrectionEntry = z.infer<typeof CorrectionEntry>

export const CalibrationEntry = z.object({
  model: z.string().min(1).max(128),
  /** [raw, calibrated] points of the curve */
  curve: z.array(z.tuple([z.number(), z.number()])).min(2).max(256),
  /** the points it was fitted on: [raw confidence, 1 if the answer was right else 0] */
  fittedOn: z.array(z.tuple([z.number(), z.number()])).max(4096),
  time: z.number().int().nonnegative()
})
export type CalibrationEntry = z.infer<typeof CalibrationEntry>

export const MemberEntry = z.object({ certificate: z.string().min(1).max(8192), time: z.number().int().nonnegative() })
export type MemberEntry = z.infer<typeof MemberEntry>

const SCHEMAS: Record<MapName, z.ZodType> = { results: ResultEntry, calibration: CalibrationEntry, corrections: CorrectionEntry, members: MemberEntry }

export interface Change {
  map: MapName
  key: string
  author: string
  /** true when this node wrote it */
  local: boolean
}

export type ReceiveOutcome =
  | { status: 'applied' | 'duplicate' | 'pending' }
  | { status: 'rejected', reason: string, detail: string }

export interface ReplicaOptions {
  /** LevelDB folder */
  path: string
  key: Ed25519PrivateKey
  /** May this author write? (membership; always true in an open network) */
  admits?: (author: string) => boolean
  /** Called for each refused remote envelope. */
  onReject?: (reason: string, detail: string, author: string | undefined) => void
  /** Envelopes held back until an incarnation they build on is known (default 1000). */
  maxPending?: number
  /** Compact the own log after this many new own envelopes (default 1000; 0: never by itself). */
  compactEvery?: number
}

const LOCAL = Symbol('local')
const REMOTE = Symbol('remote')

/** Covered log positions of one (author, incarnation) log. */
class Coverage {
  ranges: Array<{ first: number, seq: number }> = []
  covers (first: number, seq: number): boolean {
    return this.ranges.some(r => r.first <= first && seq <= r.seq)
  }

  add (first: number, seq: number): void {
    this.ranges = this.ranges.filter(r => !(first <= r.first && r.seq <= seq))
    this.ranges.push({ first, seq })
    this.ranges.sort((a, b) => a.first - b.first)
  }

  /** The last position up to which the log is complete from 0, or -1. */
  head (): number {
    let head = -1
    for (const r of this.ranges) {
      if (r.first > head + 1) break
      head = Math.max(head, r.seq)
    }
    return head
  }
}

export class Replica {
  readonly author: string
  private readonly doc = new Y.Doc({ gc: true })
  private readonly coverage = new Map<string, Coverage>()
  /** client id -> author, for every incarnation seen with a valid signature */
  private readonly clients = new Map<number, string>()
  private readonly poisoned = new Map<string, string>()
  private readonly pending = new Map<string, Uint8Array>()
  private readonly listeners = new Set<(c: Change) => void>()
  private readonly envelopeListeners = new Set<(bytes: Uint8Array) => void>()
  private serial: Promise<unknown> = Promise.resolve()
  private closed = false
  private sinceCompaction = 0

  private constructor (
    private readonly log: EnvelopeLog,
    private readonly key: Ed25519PrivateKey,
    private readonly incarnation: Uint8Array,
    private nextSeq: number,
    private readonly opts: ReplicaOptions
  ) {
    this.author = peerIdFromPrivateKey(key).toString()
    this.doc.clientID = clientIdFor(key.publicKey.raw, incarnation)
    this.clients.set(this.doc.clientID, this.author)
    for (const name of MAPS) {
      this.doc.getMap(name).observe((event, tx) => {
        for (const key of event.keysChanged) {
          const change: Change = { map: name, key, author: key.slice(key.lastIndexOf('/') + 1), local: tx.origin === LOCAL }
          for (const l of this.listeners) l(change)
        }
      })
    }
  }

  /** Open (or make) the replica in `path` and rebuild the document from its log. */
  static async open (opts: ReplicaOptions): Promise<Replica> {
    const log = await EnvelopeLog.open(opts.path)
    try {
      const own = await log.ownState()
      // No own log here (first start, or a lost data dir): a new incarnation, so a new client id.
      const incarnation = own != null ? new Uint8Array(Buffer.from(own.incarnation, 'hex')) : newIncarnation()
      const replica = new Replica(log, opts.key, incarnation, own?.nextSeq ?? 0, opts)
      await replica.rebuild()
      return replica
    } catch (err) {
      await log.close()
      throw err
    }
  }

  private async rebuild (): Promise<void> {
    const updates: Uint8Array[] = []
    for await (const stored of this.log.all()) {
      const e = decodeEnvelope(stored.bytes)
      this.clients.set(e.client, e.author)
      this.coverageOf(stored.logId).add(stored.first, stored.seq)
      updates.push(e.update)
    }
    if (updates.length > 0) this.apply(Y.mergeUpdates(updates))
  }

  /**
   * Apply stored or remote updates. Yjs takes structs of its own client id
   * arriving from outside for another writer and draws a new random client id;
   * here they are this node's own signed history, so the bound id is kept and
   * the next write continues after them.
   */
  private apply (update: Uint8Array): void {
    const own = this.doc.clientID
    // While applying, the doc wears id 0 (no derived id is 0 but with odds of 2^-53), so Yjs sees no clash.
    this.doc.clientID = 0
    try {
      Y.applyUpdate(this.doc, update, REMOTE)
    } finally {
      this.doc.clientID = own
    }
  }

  private coverageOf (logId: string): Coverage {
    let c = this.coverage.get(logId)
    if (c == null) this.coverage.set(logId, c = new Coverage())
    return c
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.serial.then(job)
    this.serial = run.catch(() => {})
    return run
  }

  /** Apply a local change, sign it, and resolve once its envelope is in LevelDB. */
  private async write (map: MapName, key: string, value: unknown): Promise<void> {
    if (this.closed) throw new Error('the replica is closed')
    SCHEMAS[map].parse(value)
    let update: Uint8Array | undefined
    const capture = (u: Uint8Array, origin: unknown): void => {
      if (origin === LOCAL) update = update == null ? u : Y.mergeUpdates([update, u])
    }
    this.doc.on('update', capture)
    try {
      this.doc.transact(() => { this.doc.getMap(map).set(key, value) }, LOCAL)
    } finally {
      this.doc.off('update', capture)
    }
    if (update == null) return
    const seq = this.nextSeq++
    const u = update
    await this.enqueue(async () => {
      const e = await signEnvelope(this.key, this.author, { incarnation: this.incarnation, client: this.doc.clientID, first: seq, seq, update: u })
      const bytes = encodeEnvelope(e)
      await this.log.append(e, bytes, { incarnation: Buffer.from(this.incarnation).toString('hex'), nextSeq: seq + 1 })
      this.coverageOf(logIdOf(e)).add(seq, seq)
      for (const l of this.envelopeListeners) l(bytes)
    })
    const every = this.opts.compactEvery ?? 1000
    if (every > 0 && ++this.sinceCompaction >= every) {
      this.sinceCompaction = 0
      void this.compact().catch(() => {})
    }
  }

  putResult (imageHash: string, entry: ResultEntry): Promise<void> { return this.write('results', `${imageHash}/${this.author}`, entry) }
  putCorrection (imageHash: string, entry: CorrectionEntry): Promise<void> { return this.write('corrections', `${imageHash}/${this.author}`, entry) }
  putCalibration (modelVersion: string, entry: CalibrationEntry): Promise<void> { return this.write('calibration', `${modelVersion}/${this.author}`, entry) }
  putMember (entry: MemberEntry): Promise<void> { return this.write('members', this.author, entry) }

  /** Entries of one map under a prefix ("IMAGE_HASH/"), by author; values that do not fit the schema are skipped. */
  private byAuthor<T>(map: MapName, prefix: string): Map<string, T> {
    const out = new Map<string, T>()
    for (const [key, value] of this.doc.getMap(map).entries()) {
      if (!key.startsWith(prefix)) continue
      const parsed = SCHEMAS[map].safeParse(value)
      if (parsed.success) out.set(key.slice(prefix.length), parsed.data as T)
    }
    return out
  }

  results (imageHash: string): Map<string, ResultEntry> { return this.byAuthor('results', `${imageHash}/`) }
  corrections (imageHash: string): Map<string, CorrectionEntry> { return this.byAuthor('corrections', `${imageHash}/`) }
  calibration (modelVersion: string): Map<string, CalibrationEntry> { return this.byAuthor('calibration', `${modelVersion}/`) }
  members (): Map<string, MemberEntry> { return this.byAuthor('members', '') }

  /** How many entries a map holds (all authors). */
  size (map: MapName): number { return this.doc.getMap(map).size }

  /** Every key and value of every map, for comparing replicas. */
  snapshot (): Record<MapName, Record<string, unknown>> {
    return Object.fromEntries(MAPS.map(m => [m, this.doc.getMap(m).toJSON()])) as Record<MapName, Record<string, unknown>>
  }

  /** Be told of every change, local or remote. Returns the unsubscribe function. */
  subscribe (listener: (c: Change) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Be given every new own envelope (to publish it). */
  onEnvelope (listener: (bytes: Uint8Array) => void): () => void {
    this.envelopeListeners.add(listener)
    return () => { this.envelopeListeners.delete(listener) }
  }

  /** Take an envelope from another node: verify, check, store, apply. */
  receive (bytes: Uint8Array): Promise<ReceiveOutcome> {
    return this.enqueue(async () => {
      const outcome = await this.receiveNow(bytes)
      if (outcome.status === 'applied' && this.pending.size > 0) await this.retryPending()
      return outcome
    })
  }

  private reject (reason: string, detail: string, author?: string): ReceiveOutcome {
    this.opts.onReject?.(reason, detail, author)
    return { status: 'rejected', reason, detail }
  }

  private async receiveNow (bytes: Uint8Array): Promise<ReceiveOutcome> {
    if (this.closed) return { status: 'rejected', reason: 'closed', detail: 'the replica is closed' }
    let e: Envelope
    try {
      e = decodeEnvelope(bytes)
    } catch (err) {
      if (err instanceof EnvelopeError) return this.reject('malformed', err.message)
      throw err
    }
    const logId = logIdOf(e)
    if (this.coverage.get(logId)?.covers(e.first, e.seq) === true) return { status: 'duplicate' }
    const poison = this.poisoned.get(logId)
    if (poison != null) return this.reject('broken-log', `an earlier envelope of this log was refused (${poison})`, e.author)
    if (this.opts.admits != null && !this.opts.admits(e.author)) return this.reject('not-a-member', `${e.author} is not a member`, e.author)
    const check = await verifyEnvelope(e)
    if (!check.ok) return this.reject(check.reason, check.detail, e.author)
    this.clients.set(e.client, e.author)
    const unknown = new Set<number>()
    const authored = checkAuthorship(e.update, e.author, c => {
      const who = this.clients.get(c)
      if (who == null) unknown.add(c)
      return who === e.author
    })
    if (!authored.ok) {
      if (unknown.size > 0) {
        // It builds on an incarnation not seen yet: hold it until that incarnation's envelopes arrive.
        this.pending.set(`${logId}!${e.first}!${e.seq}`, bytes)
        const cap = this.opts.maxPending ?? 1000
        for (const k of this.pending.keys()) { if (this.pending.size <= cap) break; this.pending.delete(k) }
        return { status: 'pending' }
      }
      this.poisoned.set(logId, authored.reason)
      return this.reject(authored.reason, authored.detail, e.author)
    }
    await this.log.append(e, bytes)
    this.coverageOf(logId).add(e.first, e.seq)
    this.apply(e.update)
    return { status: 'applied' }
  }

  private async retryPending (): Promise<void> {
    for (let progress = true; progress && this.pending.size > 0;) {
      progress = false
      for (const [k, bytes] of [...this.pending]) {
        this.pending.delete(k)
        const r = await this.receiveNow(bytes)
        if (r.status === 'applied') progress = true
      }
    }
  }

  /** How far this replica has each log: log id ("AUTHOR!INCARNATION") -> last complete position. */
  heads (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, c] of this.coverage) out[id] = c.head()
    return out
  }

  /** The stored envelopes a replica with `theirs` heads lacks, in log order. */
  async * missing (theirs: Readonly<Record<string, number>>): AsyncGenerator<Uint8Array> {
    for await (const stored of this.log.all()) {
      const have = theirs[stored.logId] ?? -1
      if (stored.seq > have) yield stored.bytes
    }
  }

  /**
   * Fold this incarnation's own envelopes into one signed envelope covering
   * them all, so the log does not grow without bound. Peers that lack part of
   * the range get the merged envelope; Yjs ignores what they already have.
   */
  compact (): Promise<{ merged: number, envelopes: number }> {
    return this.enqueue(async () => {
      const logId = logIdOf({ author: this.author, incarnation: this.incarnation })
      // Runs of consecutive own envelopes, each small enough to be one envelope when merged.
      const runs: Array<Array<{ first: number, seq: number, update: Uint8Array }>> = [[]]
      let bytes = 0
      for await (const stored of this.log.all()) {
        if (stored.logId !== logId) continue
        const update = decodeEnvelope(stored.bytes).update
        if (bytes + update.length > MAX_UPDATE_BYTES / 2 && runs[runs.length - 1]!.length > 0) {
          runs.push([])
          bytes = 0
        }
        runs[runs.length - 1]!.push({ first: stored.first, seq: stored.seq, update })
        bytes += update.length
      }
      let merged = 0
      let envelopes = 0
      for (const run of runs) {
        envelopes++
        if (run.length < 2) continue
        const first = run[0]!.first
        const seq = run[run.length - 1]!.seq
        const e = await signEnvelope(this.key, this.author, {
          incarnation: this.incarnation, client: this.doc.clientID, first, seq, update: Y.mergeUpdates(run.map(r => r.update))
        })
        await this.log.replace(run, e, encodeEnvelope(e))
        this.coverageOf(logId).add(first, seq)
        merged += run.length
      }
      return { merged, envelopes }
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    await this.serial
    this.closed = true
    this.doc.destroy()
    await this.log.close()
  }
}
