import { join } from 'node:path'
import { z } from 'zod'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { clientIdFor, decodeEnvelope, EnvelopeError, MAX_ENVELOPE_BYTES, MAX_UPDATE_BYTES, newIncarnation, verifyEnvelope, type Envelope } from './envelope.js'
import { checkAuthorship, type MapName } from './authorship.js'
import { EnvelopeLog, logIdOf, type QuarantinedEnvelope } from './log.js'
import { checkValue, encodeValue } from './values.js'
import { SerialQueue } from '../util/serial.js'
import { SCHEMAS, type CalibrationEntry, type CorrectionEntry, type EvidenceEntry, type MemberEntry, type ResultEntry, type RevocationEntry } from './schemas.js'
import { Coverages } from './coverage.js'
import { Clients } from './clients.js'
import { HeldEnvelopes, heldKey } from './held.js'
import { Admission } from './admission.js'
import { ReplicaDocument, type Change } from './document.js'
import { OwnEnvelopeStore } from './own-store.js'
import { compactOwnLog } from './compaction.js'
import { rebuild, type RebuildStats } from './rebuild.js'
import { decodeSnapshot, Snapshots } from './snapshot.js'
import { ValueStore } from './value-store.js'
import { ReplicaClosedError, UncapturedWriteError } from './errors.js'
import { STAGE_BYTES, WriteStage } from './stage.js'
import type { ReceiveOutcome, ReplicaOptions } from './options.js'

/**
 * This node's replica of what the network knows: one Yjs document with the
 * maps results, calibration, corrections and members, persisted as a log of
 * signed envelopes in LevelDB. This folder (crdt/) is the only code that
 * touches Yjs; the rest of the project reads and writes through this typed API.
 *
 * Every entry is written by its author alone, under a key that ends in the
 * author's peer id: results and corrections under "IMAGE_HASH/AUTHOR",
 * calibration under "MODEL_VERSION/AUTHOR", members under "AUTHOR".
 *
 * The Replica composes the parts in this folder: the document (document.ts),
 * the envelope log (log.ts) rebuilt at start (rebuild.ts), own envelopes
 * stored in order (own-store.ts) and compacted (compaction.ts), the results'
 * texts kept in a file beside the log (value-store.ts), the coverage
 * of every log (coverage.ts), remote envelopes held back (held.ts), and who is
 * admitted (admission.ts). Here: the order of the checks on a remote envelope,
 * the order of a local write, and the typed API.
 */

export type { Change } from './document.js'
export { DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_HELD_BYTES_PER_AUTHOR } from './held.js'
export { ReplicaClosedError, ReplicaWriteError, UncapturedWriteError } from './errors.js'

export type { ReceiveOutcome, ReplicaOptions } from './options.js'

export class Replica {
  readonly author: string
  private readonly doc: ReplicaDocument
  private readonly coverage = new Coverages()
  /** client id -> author, for every incarnation seen with a valid signature */
  private readonly clients = new Clients()
  private readonly poisoned = new Map<string, string>()
  private readonly held: HeldEnvelopes
  private readonly admission: Admission
  private readonly own: OwnEnvelopeStore
  private readonly envelopeListeners = new Set<(bytes: Uint8Array) => void>()
  private readonly serial = new SerialQueue()
  private closing = false
  private closed = false
  private closeDone: Promise<void> | undefined
  private sinceCompaction = 0
  private readonly snapshots: Snapshots
  private readonly stage = new WriteStage<{ map: MapName, key: string, text: string }>(group => this.commit(group), w => w.text.length + w.key.length, STAGE_BYTES)
  /** How the last start went: envelopes a snapshot covered, and envelopes replayed. */
  startup: RebuildStats = { fromSnapshot: 0, replayed: 0, replayedBytes: 0, snapshotBytes: 0 }

  private constructor (
    private readonly log: EnvelopeLog,
    private values: ValueStore,
    private readonly key: Ed25519PrivateKey,
    private readonly incarnation: Uint8Array,
    private nextSeq: number,
    private readonly opts: ReplicaOptions
  ) {
    this.author = peerIdFromPrivateKey(key).toString()
    this.held = new HeldEnvelopes(opts)
    this.doc = new ReplicaDocument(clientIdFor(key.publicKey.raw, incarnation), author => { this.held.memberChanged(author) }, () => this.clients.authors(), values)
    this.clients.set(this.doc.clientID, this.author)
    this.snapshots = new Snapshots({
      settle: async () => await this.own.settle(),
      state: () => this.own.idle ? { update: this.doc.encodeState(), clients: [...this.clients], logs: this.coverage.sorted().map(([id, c]) => [id, c.ranges]), order: log.appended, ...this.values.describe() } : undefined,
      // The texts its references name are on disk before it is.
      put: async (parts, order) => { await this.values.flushed(true); await log.putSnapshot(parts, order) },
      enqueue: async job => { await this.enqueue(job) }
    })
    this.admission = new Admission(this.author, opts, author => this.doc.get('members', author))
    this.own = new OwnEnvelopeStore(log, {
      path: opts.path,
      key,
      author: this.author,
      incarnation,
      client: this.doc.clientID,
      enqueue: async job => { await this.enqueue(job) },
      closing: () => this.closing,
      stored: (e, bytes) => {
        this.coverage.of(logIdOf(e)).add(e.first, e.seq)
        for (const l of this.envelopeListeners) l(bytes)
        this.snapshots.grew(e.update.length)
        const every = this.opts.compactEvery ?? 1000
        if (every > 0 && ++this.sinceCompaction >= every && !this.closing) {
          this.sinceCompaction = 0
          // queued after the jobs already in the queue
          void this.compact().catch(() => {})
        }
      }
    })
  }

  /** Open (or make) the replica in `path` and rebuild the document from its log. */
  static async open (opts: ReplicaOptions): Promise<Replica> {
    const log = await EnvelopeLog.open(opts.path)
    let values: ValueStore | undefined
    try {
      // The value store the snapshot refers to (a new one when it has none, or it is gone: the log is then replayed).
      const bytes = await log.snapshot()
      const saved = bytes != null ? { bytes, snapshot: decodeSnapshot(bytes) } : undefined
      values = ValueStore.open(join(opts.path, 'values'), saved?.snapshot?.values, saved?.snapshot?.valueBytes, saved?.snapshot?.valueGarbage)
      values.removeOthers()
      const own = await log.ownState()
      // No own log here (first start, or a lost data dir): a new incarnation, so a new client id.
      const incarnation = own != null ? new Uint8Array(Buffer.from(own.incarnation, 'hex')) : newIncarnation()
      const replica = new Replica(log, values, opts.key, incarnation, own?.nextSeq ?? 0, opts)
      replica.startup = await rebuild(log, {
        clients: replica.clients,
        checkShapes: values => replica.doc.checkShapes(values),
        apply: (update, referenced) => { replica.doc.apply(update, referenced) },
        covered: (logId, first, seq) => { replica.coverage.of(logId).add(first, seq) },
        values: values.id
      }, own != null ? { logId: logIdOf({ author: replica.author, incarnation }), nextSeq: own.nextSeq } : undefined, saved)
      // The next snapshot is due as the one applied had been just taken; what was replayed counts towards it,
      // and all of one that does not refer to this texts file (an older version's: else every start swaps its texts out again).
      replica.snapshots.loaded(replica.startup.snapshotBytes)
      replica.snapshots.grew(replica.startup.replayedBytes + (saved?.snapshot?.values !== values.id ? replica.startup.snapshotBytes : 0))
      // In the serial queue: no snapshot is taken while the texts move.
      if (replica.values.wasteful) await replica.enqueue(async () => { await replica.compactTexts() })
      return replica
    } catch (err) {
      await values?.close()
      await log.close()
      throw err
    }
  }

  /**
   * At a start, when texts no key shows take over half the texts file: the others written into a
   * new file, and a snapshot that refers to it taken before the old one goes. A failure (a full
   * disk) leaves the old file in use, as if none had been tried.
   */
  private async compactTexts (): Promise<void> {
    const into = await ValueStore.rewrite(join(this.opts.path, 'values'), async store => await this.doc.moveTexts(store))
    if (into == null) return
    const old = this.values
    this.values = into
    // Not taken: the snapshot on disk still refers to the old file, which stays (the next start removes the other).
    await old.close(await this.snapshots.take(true).catch(() => false)).catch(() => {})
  }

  /** Envelopes set aside at start-up (see rebuild.ts), with their author and why. */
  async quarantined (): Promise<QuarantinedEnvelope[]> {
    const out: QuarantinedEnvelope[] = []
    for await (const q of this.log.quarantined()) out.push(q)
    return out
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      if (this.closed) throw new ReplicaClosedError()
      return await job()
    })
  }

  /** Apply a local change, sign it (with the writes made meanwhile), and resolve once its envelope is in LevelDB. */
  private async write (map: MapName, key: string, value: unknown): Promise<void> {
    if (this.closing) throw new ReplicaClosedError()
    const refused = checkValue(value)
    if (refused != null) throw new z.ZodError([{ code: 'custom', path: [], message: `${map} ${key}: ${refused.detail}`, input: value }])
    SCHEMAS[map].parse(value)
    const text = encodeValue(value)
    // An update over the envelope's limit could never be signed: refused before it reaches the document.
    if ((text.length + key.length) * 3 + 1024 > MAX_UPDATE_BYTES && Buffer.byteLength(text) + Buffer.byteLength(key) + 1024 > MAX_UPDATE_BYTES) {
      throw new z.ZodError([{ code: 'custom', path: [], message: `${map} ${key}: ${text.length} characters of value, over the ${MAX_UPDATE_BYTES} bytes an update may hold`, input: value }])
    }
    await this.stage.add({ map, key, text })
  }

  /** Writes issued together, into the document in one transaction: one update, one log position (stage.ts). */
  private commit (group: Array<{ map: MapName, key: string, text: string }>): Promise<void> {
    const update = this.doc.setLocal(group)
    // Y.Map.set makes a new item even for an equal value, so a write always yields an update;
    // none means the write ran inside another transaction and would never be stored.
    if (update == null) throw new UncapturedWriteError(`the writes of ${group.map(w => `${w.map} ${w.key}`).join(', ').slice(0, 200)} produced no update`)
    const stored = this.own.write(update, this.nextSeq++, group.length)
    // Listeners see the change once its envelope is queued, so what they write comes after it in the log.
    this.doc.dispatch()
    return stored
  }

  /** Own changes in the document that LevelDB has not yet taken (see ReplicaWriteError). */
  unstoredChanges (): number { return this.own.size }
  /** Is work queued (envelopes to apply, writes to store)? Work that can wait (memories.ts) waits for it. */
  busy (): boolean { return this.serial.size > 0 }

  putResult (imageHash: string, entry: ResultEntry): Promise<void> { return this.write('results', `${imageHash}/${this.author}`, entry) }
  putCorrection (imageHash: string, entry: CorrectionEntry): Promise<void> { return this.write('corrections', `${imageHash}/${this.author}`, entry) }
  putCalibration (modelVersion: string, entry: CalibrationEntry): Promise<void> { return this.write('calibration', `${modelVersion}/${this.author}`, entry) }
  putMember (entry: MemberEntry): Promise<void> { return this.write('members', this.author, entry) }
  /** A revocation of `peer`'s membership, relayed by this node (the admin's signature is in the text). */
  putRevocation (peer: string, entry: RevocationEntry): Promise<void> { return this.write('revocations', `${peer}/${this.author}`, entry) }
  /** Every revocation in the store, from every relaying author. */
  revocations (): Array<{ peer: string, author: string, entry: RevocationEntry }> { return this.doc.revocations() }

  /** Equivocation evidence against `voter` on `task`, reported by this node. */
  putEvidence (voter: string, task: string, entry: EvidenceEntry): Promise<void> { return this.write('evidence', `${voter}!${task}/${this.author}`, entry) }
  // Entries of one map under a prefix, by author (ReplicaDocument.byAuthor: only keys that are the prefix and one peer id).
  results (imageHash: string): Map<string, ResultEntry> { return this.doc.byAuthor('results', `${imageHash}/`) }
  corrections (imageHash: string): Map<string, CorrectionEntry> { return this.doc.byAuthor('corrections', `${imageHash}/`) }
  calibration (modelVersion: string): Map<string, CalibrationEntry> { return this.doc.byAuthor('calibration', `${modelVersion}/`) }
  members (): Map<string, MemberEntry> { return this.doc.byAuthor('members', '') }
  /** Every piece of equivocation evidence, from every reporter. */
  evidence (): Array<{ voter: string, task: string, reporter: string, entry: EvidenceEntry }> { return this.doc.evidence() }
  /** Every result of every image, from every author. */
  allResults (): Array<{ hash: string, author: string, entry: ResultEntry }> { return this.doc.allResults() }
  /** Every review (corrections map) of every image, from every reviewer. */
  reviews (): Array<{ hash: string, author: string, entry: CorrectionEntry }> { return this.doc.reviews() }
  /** The same two, one entry at a time, each read when reached (for going over a large store in slices). */
  eachResult (): Generator<{ key: string, hash: string, author: string, entry: ResultEntry }> { return this.doc.eachByAuthor('results') }
  eachReview (): Generator<{ key: string, hash: string, author: string, entry: CorrectionEntry }> { return this.doc.eachByAuthor('corrections') }

  /** How many entries a map holds (all authors). */
  size (map: MapName): number { return this.doc.size(map) }

  /** Every key and value of every map, for comparing replicas. */
  snapshot (): Record<MapName, Record<string, unknown>> { return this.doc.snapshot() }

  /** Be told of every change, local or remote. Returns the unsubscribe function. */
  subscribe (listener: (c: Change) => void): () => void { return this.doc.subscribe(listener) }

  /** Be given every new own envelope (to publish it). */
  onEnvelope (listener: (bytes: Uint8Array) => void): () => void {
    this.envelopeListeners.add(listener)
    return () => { this.envelopeListeners.delete(listener) }
  }

  /** Which log an envelope belongs to and its last position, without checking it; undefined when it does not decode. */
  position (bytes: Uint8Array): { log: string, seq: number } | undefined {
    try {
      const e = decodeEnvelope(bytes)
      return { log: logIdOf(e), seq: e.seq }
    } catch {
      return undefined
    }
  }

  /**
   * Take an envelope from another node: verify, check, store, apply. An
   * envelope that names a client id not known yet is held ("pending") until
   * an envelope of that incarnation arrives; one whose author is not
   * (yet) admitted is refused as "not-a-member" and held too, and tried again
   * when the author's member entry arrives. Held envelopes are capped in
   * bytes; one dropped is fetched again by catch-up (heads do not count it).
   */
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

  /** `heldSince`: when an envelope tried again was first held (it keeps that time if it is held again). */
  private async receiveNow (bytes: Uint8Array, heldSince?: number): Promise<ReceiveOutcome> {
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
    const key = heldKey(logId, e.first, e.seq)
    if (!await this.admission.admitted(e)) {
      const held = this.held.hold(key, { bytes, author: e.author, waitsFor: 'admission', ...(heldSince != null ? { since: heldSince } : {}) })
      return this.reject('not-a-member', `${e.author} is not a member${held ? ' (held in case its certificate arrives)' : ''}`, e.author, held)
    }
    if (!this.clients.has(e.client)) {
      this.clients.set(e.client, e.author)
      this.held.clientKnown(e.client)
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
        this.held.hold(key, { bytes, author: e.author, waitsFor: [...unknown], ...(heldSince != null ? { since: heldSince } : {}) })
        return { status: 'pending' }
      }
      this.poisoned.set(logId, authored.reason)
      return this.reject(authored.reason, authored.detail, e.author)
    }
    const shape = this.doc.checkShapes(authored.values)
    if (shape != null) {
      this.poisoned.set(logId, shape)
      return this.reject('bad-value', shape, e.author)
    }
    // A wider (compacted) envelope replaces the narrower ones of its log stored here.
    const covered = coverage?.within(e.first, e.seq) ?? []
    await this.log.append(e, bytes, { replaces: covered })
    this.coverage.of(logId).add(e.first, e.seq)
    this.doc.apply(e.update)
    this.snapshots.grew(e.update.length)
    return { status: 'applied' }
  }

  /** Forget what certifiedUntil said of an author's certificates (its membership changed: it was revoked, say). */
  forgetCertificates (author: string): void { this.admission.forget(author) }
  /** Try again the held envelopes that wait for a client id now known, or for an author whose member entry arrived. */
  private async retryHeld (): Promise<void> {
    for (;;) {
      const keys = this.held.due()
      if (keys.size === 0) return
      for (const k of keys) {
        const h = this.held.unhold(k)
        if (h != null) await this.receiveNow(h.bytes, h.since)
      }
    }
  }

  /** Envelopes held back now, and their bytes. */
  heldEnvelopes (): { pending: number, notAdmitted: number, bytes: number } { return this.held.counts() }
  /** When the envelope held back longest was first held (ms since the epoch); undefined when none is. */
  heldSince (): number | undefined { return this.held.oldest() }

  /** How far this replica has each log: log id ("AUTHOR!INCARNATION") -> last complete position. */
  heads (): Record<string, number> { return this.coverage.heads() }

  /** The stored envelopes a replica with `theirs` heads lacks, each log in order; reads only the logs and positions it needs. */
  async * missing (theirs: Readonly<Record<string, number>>): AsyncGenerator<Uint8Array> {
    for (const [logId, c] of this.coverage.sorted()) {
      const have = theirs[logId] ?? -1
      const wanted = c.wanted(have)
      if (wanted.length === 0) continue
      const from = Math.min(...wanted.map(r => r.first))
      for await (const stored of this.log.ofLog(logId, from)) {
        if (stored.seq > have) yield stored.bytes
      }
    }
  }

  /** Fold this incarnation's own envelopes into few signed envelopes, so the log does not grow without bound (compaction.ts). */
  compact (): Promise<{ merged: number, envelopes: number }> {
    if (this.closing) return Promise.reject(new ReplicaClosedError())
    return this.enqueue(async () => {
      const own = { key: this.key, author: this.author, incarnation: this.incarnation, client: this.doc.clientID, isOwnClient: (c: number) => this.clients.get(c) === this.author }
      const logId = logIdOf(own)
      return await compactOwnLog(this.log, own, (first, seq) => { this.coverage.of(logId).add(first, seq) })
    })
  }

  /** Stop taking writes and envelopes, finish what is queued, close LevelDB. Writes after this reject with ReplicaClosedError. */
  async close (): Promise<void> {
    this.closing = true
    // Writes accepted before (in this turn) go into the document and the queue first.
    this.stage.flush()
    this.closeDone ??= (async () => {
      // Jobs queued before closing (acknowledged writes among them) finish; later ones reject.
      await this.serial.idle()
      this.snapshots.stop()
      await this.own.close()
      // The next start applies this snapshot and replays nothing (a failure only makes that start slower).
      await this.snapshots.take().catch(() => false)
      this.closed = true
      this.doc.destroy()
      await this.values.close()
      await this.log.close()
    })()
    await this.closeDone
  }
}
