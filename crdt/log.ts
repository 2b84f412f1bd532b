import { Level } from 'level'
import { open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Envelope } from './envelope.js'

/**
 * The envelope log in LevelDB: every accepted envelope, own and remote, under
 * `env!<author>!<incarnation>!<first>!<seq>` (numbers as fixed-width hex, so
 * keys sort by log position), and this node's own log position under `own`;
 * the latest snapshot of the document (snapshot.ts) is the file
 * `texmesh-snapshot` in the same folder. Every envelope stored also gets
 * `ord!<n>` -> its key, n counting up, so a start reads the envelopes stored
 * after its snapshot without walking the log. An envelope is in LevelDB's
 * write-ahead log when `append` resolves: a killed process loses nothing that
 * was acknowledged.
 */

export interface OwnState {
  /** hex */
  incarnation: string
  nextSeq: number
}

export interface StoredEnvelope {
  /** its LevelDB key */
  key: string
  logId: string
  first: number
  seq: number
  bytes: Uint8Array
}

/** The snapshot's file, in the LevelDB folder. */
const SNAPSHOT_FILE = 'texmesh-snapshot'

const hex = (n: number): string => n.toString(16).padStart(14, '0')

/** An envelope set aside at start-up: it no longer decodes, or fails a check (Replica.rebuild). */
export interface QuarantinedEnvelope {
  /** where it was stored */
  key: string
  author: string | null
  reason: string
  /** ms since the epoch */
  time: number
  bytes: number
}

/** The most quarantined envelopes kept (the oldest go first); each is at most an envelope's size. */
const MAX_QUARANTINED = 256

/** An envelope's place, from its LevelDB key `env!AUTHOR!INCARNATION!FIRST!SEQ`. */
function parseKey (key: string): Omit<StoredEnvelope, 'bytes'> {
  const parts = key.split('!')
  return { key, logId: `${parts[1]}!${parts[2]}`, first: parseInt(parts[3]!, 16), seq: parseInt(parts[4]!, 16) }
}

export function logIdOf (e: Pick<Envelope, 'author' | 'incarnation'>): string {
  return `${e.author}!${Buffer.from(e.incarnation).toString('hex')}`
}

export class EnvelopeLog {
  /** the last number given in the append order (`ord!`) */
  private order: number

  private constructor (private readonly db: Level<string, Uint8Array>, private readonly path: string, order: number) {
    this.order = order
  }

  static async open (path: string): Promise<EnvelopeLog> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    let order = 0
    // Pruning keeps the last snapshot's own entry, so the count goes on from where it was.
    for await (const key of db.keys({ gt: 'ord!', lt: 'ord"', reverse: true, limit: 1 })) order = parseInt(key.slice(4), 16)
    return new EnvelopeLog(db, path, order)
  }

  /** Where the append order stands: every envelope stored from now on comes after this number. */
  get appended (): number { return this.order }

  /** Go on counting from at least `order` (a snapshot's, should its entry be gone). */
  appendedAtLeast (order: number): void { this.order = Math.max(this.order, order) }

  /**
   * Where the envelopes stored after `order` are, in the order they were stored; an envelope
   * replaced since (by a compacted one) or quarantined is still listed, and bytesAt finds it gone.
   */
  async * appendedAfter (order: number): AsyncGenerator<Omit<StoredEnvelope, 'bytes'>> {
    for await (const key of this.db.values({ gt: `ord!${hex(order)}`, lt: 'ord"' })) yield parseKey(new TextDecoder().decode(key))
  }

  private key (logId: string, first: number, seq: number): string {
    return `env!${logId}!${hex(first)}!${hex(seq)}`
  }

  /** The LevelDB key of a stored envelope. */
  keyOf (logId: string, first: number, seq: number): string {
    return this.key(logId, first, seq)
  }

  /**
   * Set a stored envelope aside, atomically: out of the log, into `quarantine!` with its author
   * and the reason, so the node starts without it and an operator can see what it was.
   */
  async quarantine (key: string, bytes: Uint8Array, author: string | undefined, reason: string): Promise<void> {
    const time = Date.now()
    const qkey = `quarantine!${hex(time)}!${key}`
    const meta = JSON.stringify({ key, author: author ?? null, reason, time, bytes: bytes.length })
    await this.db.batch([
      { type: 'del', key },
      { type: 'put', key: qkey, value: bytes },
      { type: 'put', key: `quarantine-meta!${hex(time)}!${key}`, value: new TextEncoder().encode(meta) }
    ])
    // Bounded: the oldest quarantined envelopes are dropped past MAX_QUARANTINED.
    const keys: string[] = []
    for await (const k of this.db.keys({ gt: 'quarantine-meta!', lt: 'quarantine-meta"' })) keys.push(k)
    const drop = keys.slice(0, Math.max(0, keys.length - MAX_QUARANTINED))
    if (drop.length > 0) {
      await this.db.batch(drop.flatMap(k => [{ type: 'del' as const, key: k }, { type: 'del' as const, key: `quarantine!${k.slice('quarantine-meta!'.length)}` }]))
    }
  }

  /** The envelopes set aside at start-up, oldest first. */
  async * quarantined (): AsyncGenerator<QuarantinedEnvelope> {
    for await (const v of this.db.values({ gt: 'quarantine-meta!', lt: 'quarantine-meta"' })) {
      yield JSON.parse(new TextDecoder().decode(v)) as QuarantinedEnvelope
    }
  }

  /**
   * Store an envelope in one atomic write, with, for an own one, the next own
   * position, and deleting the stored envelopes of its log that it covers (a
   * compacted envelope from a peer replaces the narrower ones held here).
   */
  async append (e: Envelope, bytes: Uint8Array, options: {
    own?: OwnState
    replaces?: ReadonlyArray<{ first: number, seq: number }>
    /** envelopes stored in the same write (this node's own, signed in one go before `e`) */
    alongside?: ReadonlyArray<{ e: Envelope, bytes: Uint8Array }>
  } = {}): Promise<void> {
    const logId = logIdOf(e)
    const ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = (options.replaces ?? [])
      .filter(c => c.first !== e.first || c.seq !== e.seq)
      .map(c => ({ type: 'del' as const, key: this.key(logId, c.first, c.seq) }))
    const put = (key: string, value: Uint8Array): void => {
      ops.push({ type: 'put', key, value }, { type: 'put', key: `ord!${hex(++this.order)}`, value: new TextEncoder().encode(key) })
    }
    for (const a of options.alongside ?? []) put(this.key(logIdOf(a.e), a.e.first, a.e.seq), a.bytes)
    put(this.key(logId, e.first, e.seq), bytes)
    if (options.own != null) ops.push({ type: 'put', key: 'own', value: new TextEncoder().encode(JSON.stringify(options.own)) })
    await this.db.batch(ops)
  }

  /** Replace stored envelopes of a log with one that covers them all, atomically. */
  async replace (covered: ReadonlyArray<{ first: number, seq: number }>, merged: Envelope, bytes: Uint8Array): Promise<void> {
    await this.append(merged, bytes, { replaces: covered })
  }

  /**
   * The stored snapshot of the document (snapshot.ts), if any. It is a file in the LevelDB
   * folder (LevelDB leaves files it does not name alone): read whole, it is three times faster
   * than the same bytes as a LevelDB value, which are decompressed and copied twice.
   */
  async snapshot (): Promise<Uint8Array | undefined> {
    try {
      return await readFile(join(this.path, SNAPSHOT_FILE))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  /**
   * Replace the stored snapshot: written beside it, flushed to disk, then renamed over it (a kill
   * -9 leaves one or the other). LevelDB's own writes are flushed first, so that even a power cut
   * never leaves a snapshot holding what the log lost. `order`: the append order it covers; the
   * order's entries before it are then dropped (its own is kept, so the count goes on after a start).
   */
  async putSnapshot (parts: readonly Uint8Array[], order?: number): Promise<void> {
    // A synced write flushes LevelDB's write-ahead log, and every write before it; the key is also
    // where the first version of snapshots kept them (removed).
    await this.db.del('snapshot', { sync: true })
    const file = join(this.path, SNAPSHOT_FILE)
    const fresh = `${file}.new`
    const handle = await open(fresh, 'w')
    try {
      // Each part from where the one before ended (writeFile writes a part of any size whole).
      for (const part of parts) await handle.writeFile(part)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(fresh, file)
    if (order != null) await this.db.clear({ gt: 'ord!', lt: `ord!${hex(order)}` })
  }

  async ownState (): Promise<OwnState | undefined> {
    const v = await this.db.get('own')
    return v == null ? undefined : JSON.parse(new TextDecoder().decode(v)) as OwnState
  }

  /** Every stored envelope, in key order (each log by position). */
  async * all (): AsyncGenerator<StoredEnvelope> {
    yield * this.entries('env!', 'env"')
  }

  /** Where every stored envelope is, in key order, without reading the envelopes themselves. */
  async * positions (): AsyncGenerator<Omit<StoredEnvelope, 'bytes'>> {
    for await (const key of this.db.keys({ gt: 'env!', lt: 'env"' })) yield parseKey(key)
  }

  /** One stored envelope's bytes, by its LevelDB key; undefined when it is gone. */
  async bytesAt (key: string): Promise<Uint8Array | undefined> {
    return await this.db.get(key)
  }

  /** The stored envelopes of every log of one author (all its incarnations), in key order. */
  async * ofAuthor (author: string): AsyncGenerator<StoredEnvelope> {
    yield * this.entries(`env!${author}!`, `env!${author}"`)
  }

  /** The stored envelopes of one log whose first position is `from` or later, by position. */
  async * ofLog (logId: string, from = 0): AsyncGenerator<StoredEnvelope> {
    yield * this.entries(`env!${logId}!${hex(from)}`, `env!${logId}"`, true)
  }

  /** The stored envelopes of one log, from its last position back. */
  async * ofLogFromEnd (logId: string): AsyncGenerator<StoredEnvelope> {
    yield * this.entries(`env!${logId}!`, `env!${logId}"`, false, true)
  }

  private async * entries (gt: string, lt: string, inclusive = false, reverse = false): AsyncGenerator<StoredEnvelope> {
    // LevelDB iterators read a snapshot: a compaction meanwhile does not disturb them.
    for await (const [key, bytes] of this.db.iterator(inclusive ? { gte: gt, lt, reverse } : { gt, lt, reverse })) yield { ...parseKey(key), bytes }
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
