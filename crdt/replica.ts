import * as Y from 'yjs'
import { z } from 'zod'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { clientIdFor, decodeEnvelope, encodeEnvelope, EnvelopeError, MAX_ENVELOPE_BYTES, MAX_UPDATE_BYTES, newIncarnation, signEnvelope, verifyEnvelope, type Envelope } from './envelope.js'
import { checkAuthorship, MAPS, type MapName, type WrittenValue } from './authorship.js'
import { EnvelopeLog, logIdOf, type QuarantinedEnvelope } from './log.js'
import { checkValue } from './values.js'
import { SerialQueue } from '../util/serial.js'
import { EvidenceEntry, MemberEntry, RevocationEntry, SCHEMAS, type CalibrationEntry, type CorrectionEntry, type ResultEntry } from './schemas.js'

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
  /**
   * May this author write, as far as the caller knows now (a connected
   * member; always true in an open network)? Without it and without
   * `certifiedUntil`, every author may.
   */
  admits?: (author: string) => boolean
  /**
   * Until when (ms since the epoch) does this membership certificate text make
   * `author` a member; undefined if it does not. With it, an author `admits`
   * refuses is still admitted when its entry in the members map, or a member
   * entry inside the envelope itself, holds such a certificate.
   */
  certifiedUntil?: (author: string, certificate: string) => Promise<number | undefined>
  /** Called for each refused remote envelope. */
  /** `held`: kept, and applied if its author's certificate arrives (usual while a new member's certificate spreads) */
  onReject?: (reason: string, detail: string, author: string | undefined, held: boolean) => void
  /** Bytes of envelopes held back (waiting for an incarnation, or for their author to be admitted), all authors together (default 16 MiB). */
  maxHeldBytes?: number
  /** The same, for one author (default 4 MiB). */
  maxHeldBytesPerAuthor?: number
  /** Compact the own log after this many new own envelopes (default 1000; 0: never by itself). */
  compactEvery?: number
}

export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_HELD_BYTES_PER_AUTHOR = 4 * 1024 * 1024
/** An own envelope this large is left alone by compaction (it is already a fold of many writes). */
const SEALED_BYTES = MAX_UPDATE_BYTES / 4
/** Verified certificates remembered, so a member's envelopes do not each cost a signature check. */
const MAX_CERTIFICATE_MEMO = 4096

export class ReplicaClosedError extends Error {
  override name = 'ReplicaClosedError'
  constructor (message = 'the replica is closed') { super(message) }
}

/**
 * An own change could not be stored (a full disk, say). It stays in the document and in order,
 * and is stored, then published, when LevelDB takes writes again: later own changes wait behind
 * it, so peers never see a gap in this node's log.
 */
export class ReplicaWriteError extends Error {
  override name = 'ReplicaWriteError'
}

/** A local write changed the document but Yjs reported no update for it: never acknowledged. */
export class UncapturedWriteError extends Error {
  override name = 'UncapturedWriteError'
}

/** A remote envelope held back: until a client id it names is known, or until its author is admitted. */
interface Held {
  bytes: Uint8Array
  author: string
  /** the unknown client ids it waits for, or 'admission' */
  waitsFor: number[] | 'admission'
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
  /** held envelopes by "LOG!FIRST!SEQ", oldest first */
  private readonly held = new Map<string, Held>()
  private readonly heldByClient = new Map<number, Set<string>>()
  private readonly heldByAuthor = new Map<string, Set<string>>()
  private readonly heldBytesOf = new Map<string, number>()
  private heldBytes = 0
  /** client ids that became known, and authors whose member entry changed, since held envelopes were last retried */
  private readonly newClients: number[] = []
  private readonly newMembers = new Set<string>()
  private readonly certificates = new Map<string, number>()
  /** map -> key prefix (up to and with the last "/") -> keys present */
  private readonly index = new Map<MapName, Map<string, Set<string>>>(MAPS.map(m => [m, new Map()]))
  /** changes seen inside Yjs transactions, handed to listeners once the transaction is over */
  private readonly changes: Change[] = []
  private dispatching = false
  private readonly listeners = new Set<(c: Change) => void>()
  private readonly envelopeListeners = new Set<(bytes: Uint8Array) => void>()
  private readonly serial = new SerialQueue()
  private closing = false
  private closed = false
  private closeDone: Promise<void> | undefined
  private sinceCompaction = 0
  /** own envelopes signed but not yet in LevelDB, oldest first (see ReplicaWriteError) */
  private readonly unstored: Array<{ e: Envelope, bytes: Uint8Array, seq: number }> = []
  private storeRetry: ReturnType<typeof setTimeout> | undefined
  private storeBackoffMs = 0

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
      const map = this.doc.getMap(name)
      const index = this.index.get(name)!
      map.observe((event, tx) => {
        for (const key of event.keysChanged) {
          const cut = key.lastIndexOf('/') + 1
          const prefix = key.slice(0, cut)
          let keys = index.get(prefix)
          if (map.has(key)) {
            if (keys == null) index.set(prefix, keys = new Set())
            keys.add(key)
          } else if (keys != null) {
            keys.delete(key)
            if (keys.size === 0) index.delete(prefix)
          }
          const author = key.slice(cut)
          if (name === 'members' && this.heldByAuthor.has(author)) this.newMembers.add(author)
          // Listeners run after the transaction (and after apply() gives the doc its id back), so they may write.
          this.changes.push({ map: name, key, author, local: tx.origin === LOCAL })
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

  /**
   * Rebuild the document from the log. Stored data never stops a start: an envelope that no
   * longer decodes or passes the checks a remote one must pass (written by an older version,
   * or straight into LevelDB) is quarantined, kept aside with its author and the reason, and
   * the rest is applied.
   */
  private async rebuild (): Promise<void> {
    const good: Array<{ logId: string, first: number, seq: number, e: Envelope }> = []
    const bad: Array<{ key: string, bytes: Uint8Array, author: string | undefined, reason: string }> = []
    for await (const stored of this.log.all()) {
      let e: Envelope
      try {
        e = decodeEnvelope(stored.bytes)
      } catch (err) {
        bad.push({ key: stored.key, bytes: stored.bytes, author: undefined, reason: `undecodable envelope: ${String((err as Error).message).slice(0, 200)}` })
        continue
      }
      this.clients.set(e.client, e.author)
      good.push({ logId: stored.logId, first: stored.first, seq: stored.seq, e })
    }
    const kept: typeof good = []
    for (const g of good) {
      const authored = checkAuthorship(g.e.update, g.e.author, c => this.clients.get(c) === g.e.author)
      const reason = !authored.ok ? `${authored.reason}: ${authored.detail}` : this.checkShapes(authored.values.filter(v => v.map != null))
      if (reason != null) {
        bad.push({ key: this.log.keyOf(g.logId, g.first, g.seq), bytes: encodeEnvelope(g.e), author: g.e.author, reason })
      } else {
        kept.push(g)
      }
    }
    let updates = kept
    try {
      if (updates.length > 0) this.apply(Y.mergeUpdates(updates.map(g => g.e.update)))
    } catch {
      // One of them cannot be applied with the rest: apply them one by one, setting aside what fails.
      updates = []
      for (const g of kept) {
        try {
          this.apply(g.e.update)
          updates.push(g)
        } catch (err) {
          bad.push({ key: this.log.keyOf(g.logId, g.first, g.seq), bytes: encodeEnvelope(g.e), author: g.e.author, reason: `cannot be applied: ${String((err as Error).message).slice(0, 200)}` })
        }
      }
    }
    for (const g of updates) this.coverageOf(g.logId).add(g.first, g.seq)
    for (const b of bad) await this.log.quarantine(b.key, b.bytes, b.author, b.reason)
  }

  /** Envelopes set aside at start-up (see rebuild), with their author and why. */
  async quarantined (): Promise<QuarantinedEnvelope[]> {
    const out: QuarantinedEnvelope[] = []
    for await (const q of this.log.quarantined()) out.push(q)
    return out
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
    this.dispatch()
  }

  /** Hand the changes of finished transactions to the listeners; a listener that writes adds more, delivered in turn. */
  private dispatch (): void {
    if (this.dispatching) return
    this.dispatching = true
    try {
      for (let c = this.changes.shift(); c != null; c = this.changes.shift()) {
        for (const l of this.listeners) {
          try {
            l(c)
          } catch {
            // A failing listener must not undo a stored write or block the other listeners.
          }
        }
      }
    } finally {
      this.dispatching = false
    }
  }

  private coverageOf (logId: string): Coverage {
    let c = this.coverage.get(logId)
    if (c == null) this.coverage.set(logId, c = new Coverage())
    return c
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      if (this.closed) throw new ReplicaClosedError()
      return await job()
    })
  }

  /** Apply a local change, sign it, and resolve once its envelope is in LevelDB. */
  private async write (map: MapName, key: string, value: unknown): Promise<void> {
    if (this.closing) throw new ReplicaClosedError()
    const refused = checkValue(value)
    if (refused != null) throw new z.ZodError([{ code: 'custom', path: [], message: `${map} ${key}: ${refused.detail}`, input: value }])
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
    // Y.Map.set makes a new item even for an equal value, so a write always yields an update;
    // none means the write ran inside another transaction and would never be stored.
    if (update == null) throw new UncapturedWriteError(`the write of ${map} ${key} produced no update`)
    const seq = this.nextSeq++
    const u = update
    const stored = this.enqueue(async () => {
      const e = await signEnvelope(this.key, this.author, { incarnation: this.incarnation, client: this.doc.clientID, first: seq, seq, update: u })
      this.unstored.push({ e, bytes: encodeEnvelope(e), seq })
      await this.storeOwn()
    })
    // Listeners see the change once its envelope is queued, so what they write comes after it in the log.
    this.dispatch()
    await stored
    const every = this.opts.compactEvery ?? 1000
    if (every > 0 && ++this.sinceCompaction >= every && !this.closing) {
      this.sinceCompaction = 0
      void this.compact().catch(() => {})
    }
  }

  /** Store the own envelopes not yet stored, in order, and publish each once stored. Runs in the serial queue. */
  private async storeOwn (): Promise<void> {
    while (this.unstored.length > 0) {
      const { e, bytes, seq } = this.unstored[0]!
      try {
        await this.log.append(e, bytes, { own: { incarnation: Buffer.from(this.incarnation).toString('hex'), nextSeq: seq + 1 } })
      } catch (err) {
        this.retryStoreLater()
        const n = this.unstored.length
        throw new ReplicaWriteError(`could not store ${n === 1 ? 'a change' : `${n} changes`} in ${this.opts.path} (${(err as Error).message}); kept in memory and stored, in order, once LevelDB takes writes again (lost if the node stops first)`, { cause: err })
      }
      this.unstored.shift()
      this.storeBackoffMs = 0
      this.coverageOf(logIdOf(e)).add(seq, seq)
      for (const l of this.envelopeListeners) l(bytes)
    }
  }

  private retryStoreLater (): void {
    if (this.storeRetry != null || this.closing) return
    this.storeBackoffMs = Math.min(30_000, Math.max(500, this.storeBackoffMs * 2))
    this.storeRetry = setTimeout(() => {
      this.storeRetry = undefined
      if (this.closing || this.unstored.length === 0) return
      // a failure schedules the next try
      this.enqueue(async () => { await this.storeOwn() }).catch(() => {})
    }, this.storeBackoffMs)
    this.storeRetry.unref?.()
  }

  /** Own changes in the document that LevelDB has not yet taken (see ReplicaWriteError). */
  unstoredChanges (): number { return this.unstored.length }

  putResult (imageHash: string, entry: ResultEntry): Promise<void> { return this.write('results', `${imageHash}/${this.author}`, entry) }
  putCorrection (imageHash: string, entry: CorrectionEntry): Promise<void> { return this.write('corrections', `${imageHash}/${this.author}`, entry) }
  putCalibration (modelVersion: string, entry: CalibrationEntry): Promise<void> { return this.write('calibration', `${modelVersion}/${this.author}`, entry) }
  putMember (entry: MemberEntry): Promise<void> { return this.write('members', this.author, entry) }
  /** A revocation of `peer`'s membership, relayed by this node (the admin's signature is in the text). */
  putRevocation (peer: string, entry: RevocationEntry): Promise<void> { return this.write('revocations', `${peer}/${this.author}`, entry) }
  /** Every revocation in the store, from every relaying author. */
  revocations (): Array<{ peer: string, author: string, entry: RevocationEntry }> {
    const out: Array<{ peer: string, author: string, entry: RevocationEntry }> = []
    for (const [key, value] of this.doc.getMap('revocations').entries()) {
      const m = /^([^/]+)\/([^/]+)$/.exec(key)
      const parsed = RevocationEntry.safeParse(value)
      if (m != null && parsed.success) out.push({ peer: m[1]!, author: m[2]!, entry: parsed.data })
    }
    return out
  }

  /** Equivocation evidence against `voter` on `task`, reported by this node. */
  putEvidence (voter: string, task: string, entry: EvidenceEntry): Promise<void> { return this.write('evidence', `${voter}!${task}/${this.author}`, entry) }

  /**
   * Entries of one map under a prefix ("IMAGE_HASH/"), by author: only keys
   * that are the prefix and one peer id (no further "/"); values that do not
   * fit the schema are skipped.
   */
  private byAuthor<T>(map: MapName, prefix: string): Map<string, T> {
    const out = new Map<string, T>()
    const ymap = this.doc.getMap(map)
    for (const key of this.index.get(map)!.get(prefix) ?? []) {
      const parsed = SCHEMAS[map].safeParse(ymap.get(key))
      if (parsed.success) out.set(key.slice(prefix.length), parsed.data as T)
    }
    return out
  }

  results (imageHash: string): Map<string, ResultEntry> { return this.byAuthor('results', `${imageHash}/`) }
  corrections (imageHash: string): Map<string, CorrectionEntry> { return this.byAuthor('corrections', `${imageHash}/`) }
  calibration (modelVersion: string): Map<string, CalibrationEntry> { return this.byAuthor('calibration', `${modelVersion}/`) }
  members (): Map<string, MemberEntry> { return this.byAuthor('members', '') }

  /** Every piece of equivocation evidence, from every reporter. */
  evidence (): Array<{ voter: string, task: string, reporter: string, entry: EvidenceEntry }> {
    const out: Array<{ voter: string, task: string, reporter: string, entry: EvidenceEntry }> = []
    for (const [key, value] of this.doc.getMap('evidence').entries()) {
      const m = /^([^!/]+)!([^/]+)\/([^/]+)$/.exec(key)
      const parsed = EvidenceEntry.safeParse(value)
      if (m != null && parsed.success) out.push({ voter: m[1]!, task: m[2]!, reporter: m[3]!, entry: parsed.data })
    }
    return out
  }

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

  /**
   * Take an envelope from another node: verify, check, store, apply. An
   * envelope that names a client id not known yet is held ("pending") until
   * an envelope of that incarnation arrives; one whose author is not
   * (yet) admitted is refused as "not-a-member" and held too, and tried again
   * when the author's member entry arrives. Held envelopes are capped in
   * bytes; one dropped is fetched again by catch-up (heads do not count it).
   */
  /** Which log an envelope belongs to and its last position, without checking it; undefined when it does not decode. */
  position (bytes: Uint8Array): { log: string, seq: number } | undefined {
    try {
      const e = decodeEnvelope(bytes)
      return { log: logIdOf(e), seq: e.seq }
    } catch {
      return undefined
    }
  }

  receive (bytes: Uint8Array): Promise<ReceiveOutcome> {
    if (this.closing) return Promise.resolve({ status: 'rejected', reason: 'closed', detail: 'the replica is closed' })
    return this.enqueue(async () => {
      const outcome = await this.receiveNow(bytes)
      await this.retryHeld()
      return outcome
    })
  }

  private reject (reason: string, detail: string, author?: string, held = false): ReceiveOutcome {
    this.opts.onReject?.(reason, detail, author, held)
    return { status: 'rejected', reason, detail }
  }

  private async receiveNow (bytes: Uint8Array): Promise<ReceiveOutcome> {
    if (bytes.length > MAX_ENVELOPE_BYTES) return this.reject('oversized', `envelope is ${bytes.length} bytes, over the limit of ${MAX_ENVELOPE_BYTES}`)
    let e: Envelope
    try {
      e = decodeEnvelope(bytes)
    } catch (err) {
      if (err instanceof EnvelopeError) return this.reject('malformed', err.message)
      throw err
    }
    const logId = logIdOf(e)
    const coverage = this.coverage.get(logId)
    if (coverage?.covers(e.first, e.seq) === true) return { status: 'duplicate' }
    const poison = this.poisoned.get(logId)
    if (poison != null) return this.reject('broken-log', `an earlier envelope of this log was refused (${poison})`, e.author)
    const check = await verifyEnvelope(e)
    if (!check.ok) return this.reject(check.reason, check.detail, e.author)
    const heldKey = `${logId}!${e.first}!${e.seq}`
    if (!await this.admitted(e)) {
      const held = this.hold(heldKey, { bytes, author: e.author, waitsFor: 'admission' })
      return this.reject('not-a-member', `${e.author} is not a member${held ? ' (held in case its certificate arrives)' : ''}`, e.author, held)
    }
    if (!this.clients.has(e.client)) {
      this.clients.set(e.client, e.author)
      if (this.heldByClient.has(e.client)) this.newClients.push(e.client)
    }
    const unknown = new Set<number>()
    const authored = checkAuthorship(e.update, e.author, c => {
      const who = this.clients.get(c)
      if (who == null) unknown.add(c)
      return who === e.author
    })
    if (!authored.ok) {
      if (unknown.size > 0) {
        // It builds on an incarnation not seen yet: hold it until that incarnation's envelopes arrive.
        this.hold(heldKey, { bytes, author: e.author, waitsFor: [...unknown] })
        return { status: 'pending' }
      }
      this.poisoned.set(logId, authored.reason)
      return this.reject(authored.reason, authored.detail, e.author)
    }
    const shape = this.checkShapes(authored.values)
    if (shape != null) {
      this.poisoned.set(logId, shape)
      return this.reject('bad-value', shape, e.author)
    }
    // A wider (compacted) envelope replaces the narrower ones of its log stored here.
    const covered = coverage?.ranges.filter(r => e.first <= r.first && r.seq <= e.seq) ?? []
    await this.log.append(e, bytes, { replaces: covered })
    this.coverageOf(logId).add(e.first, e.seq)
    this.apply(e.update)
    return { status: 'applied' }
  }

  /**
   * Why values an update writes do not fit their map's schema (null when they all do). The map
   * of an overwrite is its origin's, in the document or written by the same update.
   */
  private checkShapes (values: readonly WrittenValue[]): string | null {
    for (const w of values) {
      let map = w.map
      if (map == null && w.origin != null) {
        try {
          const origin = Y.getItem(this.doc.store, w.origin)
          if (typeof origin.parentSub === 'string') map = Y.findRootTypeKey(origin.parent as Y.AbstractType<unknown>)
        } catch {
          // not in the document: no map to tell
        }
      }
      // An overwrite whose origin has not arrived yet (Yjs keeps it pending until it does) has no map to
      // tell: it is bounded in depth and size all the same (values.ts), and readers check its shape.
      if (map == null) continue
      if (!MAPS.includes(map as MapName)) return 'a value outside the document\'s maps'
      const parsed = SCHEMAS[map as MapName].safeParse(w.value)
      if (!parsed.success) return `${map}: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 300)}`
    }
    return null
  }

  /** Is the author of this (validly signed) envelope allowed to write? */
  private async admitted (e: Envelope): Promise<boolean> {
    const { admits, certifiedUntil } = this.opts
    if (e.author === this.author || (admits == null && certifiedUntil == null) || admits?.(e.author) === true) return true
    if (certifiedUntil == null) return false
    // A member entry is written by its author alone and the certificate names the author,
    // so a valid certificate there, or in this very envelope, proves membership whatever else the envelope writes.
    const entry = MemberEntry.safeParse(this.doc.getMap('members').get(e.author))
    if (entry.success && await this.certified(e.author, entry.data.certificate, certifiedUntil)) return true
    for (const certificate of certificatesIn(e.update)) {
      if (await this.certified(e.author, certificate, certifiedUntil)) return true
    }
    return false
  }

  /** Forget what certifiedUntil said of an author's certificates (its membership changed: it was revoked, say). */
  forgetCertificates (author: string): void {
    for (const memo of [...this.certificates.keys()]) if (memo.startsWith(`${author}\n`)) this.certificates.delete(memo)
  }

  private async certified (author: string, certificate: string, certifiedUntil: NonNullable<ReplicaOptions['certifiedUntil']>): Promise<boolean> {
    const memo = `${author}\n${certificate}`
    let until = this.certificates.get(memo)
    if (until == null) {
      until = await certifiedUntil(author, certificate) ?? 0
      if (this.certificates.size >= MAX_CERTIFICATE_MEMO) this.certificates.clear()
      this.certificates.set(memo, until)
    }
    return Date.now() < until
  }

  /** Hold an envelope back, within the byte caps (the oldest held go first). Returns whether it is held. */
  private hold (key: string, h: Held): boolean {
    if (this.held.has(key)) return true
    const perAuthor = this.opts.maxHeldBytesPerAuthor ?? DEFAULT_MAX_HELD_BYTES_PER_AUTHOR
    const total = this.opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES
    if (h.bytes.length > perAuthor || h.bytes.length > total) return false
    this.held.set(key, h)
    this.heldBytes += h.bytes.length
    this.heldBytesOf.set(h.author, (this.heldBytesOf.get(h.author) ?? 0) + h.bytes.length)
    const index = <K>(m: Map<K, Set<string>>, k: K): void => {
      let keys = m.get(k)
      if (keys == null) m.set(k, keys = new Set())
      keys.add(key)
    }
    index(this.heldByAuthor, h.author)
    if (h.waitsFor !== 'admission') for (const c of h.waitsFor) index(this.heldByClient, c)
    for (const k of this.heldByAuthor.get(h.author)!) {
      if ((this.heldBytesOf.get(h.author) ?? 0) <= perAuthor) break
      this.unhold(k)
    }
    for (const k of this.held.keys()) {
      if (this.heldBytes <= total) break
      this.unhold(k)
    }
    return this.held.has(key)
  }

  private unhold (key: string): Held | undefined {
    const h = this.held.get(key)
    if (h == null) return undefined
    this.held.delete(key)
    this.heldBytes -= h.bytes.length
    const left = (this.heldBytesOf.get(h.author) ?? 0) - h.bytes.length
    if (left > 0) this.heldBytesOf.set(h.author, left)
    else this.heldBytesOf.delete(h.author)
    const unindex = <K>(m: Map<K, Set<string>>, k: K): void => {
      const keys = m.get(k)
      keys?.delete(key)
      if (keys?.size === 0) m.delete(k)
    }
    unindex(this.heldByAuthor, h.author)
    if (h.waitsFor !== 'admission') for (const c of h.waitsFor) unindex(this.heldByClient, c)
    return h
  }

  /** Try again the held envelopes that wait for a client id now known, or for an author whose member entry arrived. */
  private async retryHeld (): Promise<void> {
    for (;;) {
      const keys = new Set<string>()
      for (const c of this.newClients.splice(0)) for (const k of this.heldByClient.get(c) ?? []) keys.add(k)
      for (const a of this.newMembers) {
        for (const k of this.heldByAuthor.get(a) ?? []) if (this.held.get(k)?.waitsFor === 'admission') keys.add(k)
      }
      this.newMembers.clear()
      if (keys.size === 0) return
      for (const k of keys) {
        const h = this.unhold(k)
        if (h != null) await this.receiveNow(h.bytes)
      }
    }
  }

  /** Envelopes held back now, and their bytes. */
  heldEnvelopes (): { pending: number, notAdmitted: number, bytes: number } {
    let notAdmitted = 0
    for (const h of this.held.values()) if (h.waitsFor === 'admission') notAdmitted++
    return { pending: this.held.size - notAdmitted, notAdmitted, bytes: this.heldBytes }
  }

  /** How far this replica has each log: log id ("AUTHOR!INCARNATION") -> last complete position. */
  heads (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, c] of this.coverage) out[id] = c.head()
    return out
  }

  /** The stored envelopes a replica with `theirs` heads lacks, each log in order; reads only the logs and positions it needs. */
  async * missing (theirs: Readonly<Record<string, number>>): AsyncGenerator<Uint8Array> {
    for (const [logId, c] of [...this.coverage].sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)) {
      const have = theirs[logId] ?? -1
      const wanted = c.ranges.filter(r => r.seq > have)
      if (wanted.length === 0) continue
      const from = Math.min(...wanted.map(r => r.first))
      for await (const stored of this.log.ofLog(logId, from)) {
        if (stored.seq > have) yield stored.bytes
      }
    }
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
   */
  compact (): Promise<{ merged: number, envelopes: number }> {
    if (this.closing) return Promise.reject(new ReplicaClosedError())
    return this.enqueue(async () => {
      const logId = logIdOf({ author: this.author, incarnation: this.incarnation })
      const client = this.doc.clientID
      const scratch = new Y.Doc({ gc: true })
      try {
        const own: Array<{ first: number, seq: number, update: Uint8Array }> = []
        // Other clocks: the author's earlier incarnations, applied so that origins and deletions resolve; never re-encoded.
        const others = new Map<number, number>()
        for await (const stored of this.log.ofAuthor(this.author)) {
          const update = decodeEnvelope(stored.bytes).update
          if (stored.logId === logId) {
            own.push({ first: stored.first, seq: stored.seq, update })
            continue
          }
          for (const [c, clock] of Y.parseUpdateMeta(update).to) others.set(c, Math.max(others.get(c) ?? 0, clock))
          Y.applyUpdate(scratch, update)
        }
        let start = 0
        for (const [i, o] of own.entries()) if (o.update.length >= SEALED_BYTES) start = i + 1
        for (const o of own.slice(0, start)) Y.applyUpdate(scratch, o.update)
        let merged = 0
        let envelopes = start
        let run: typeof own = []
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
          const e = await signEnvelope(this.key, this.author, { incarnation: this.incarnation, client, first, seq, update })
          await this.log.replace(folded, e, encodeEnvelope(e))
          this.coverageOf(logId).add(first, seq)
          merged += folded.length
        }
        for (const o of own.slice(start)) {
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
    })
  }

  /** Stop taking writes and envelopes, finish what is queued, close LevelDB. Writes after this reject with ReplicaClosedError. */
  async close (): Promise<void> {
    this.closing = true
    this.closeDone ??= (async () => {
      // Jobs queued before closing (acknowledged writes among them) finish; later ones reject.
      await this.serial.idle()
      if (this.storeRetry != null) clearTimeout(this.storeRetry)
      // One last try for changes a failed write left in memory; what still fails is lost with the
      // process, as its writers were told.
      if (this.unstored.length > 0) await this.storeOwn().catch(() => {})
      this.closed = true
      this.doc.destroy()
      await this.log.close()
    })()
    await this.closeDone
  }
}

/** Certificate texts of the member entries an update carries (any map: the certificate names its peer itself). */
function certificatesIn (update: Uint8Array): string[] {
  const out: string[] = []
  try {
    for (const s of Y.decodeUpdate(update).structs) {
      if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentAny)) continue
      for (const v of s.content.arr) {
        const m = MemberEntry.safeParse(v)
        if (m.success) out.push(m.data.certificate)
        if (out.length >= 4) return out
      }
    }
  } catch {
    // undecodable: the authorship check says so
  }
  return out
}
