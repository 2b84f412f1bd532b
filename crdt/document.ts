/**
 * The Yjs document behind a replica: the maps themselves, an index of their
 * keys by prefix, the changes handed to listeners once a transaction is over,
 * applying updates under the node's bound client id, capturing the update of
 * a local write, checking the shape of written values, and reading entries
 * back typed; the results' texts it hands to the value store (value-store.ts)
 * once listeners have seen them, keeping a reference in their items. It knows
 * nothing of envelopes, signatures or LevelDB.
 */
import * as Y from 'yjs'
import { MAPS, type MapName, type WrittenValue } from './authorship.js'
import { readValue } from './values.js'
import type { ValueStore } from './value-store.js'
import { SwappedTexts } from './swapped.js'
import { SCHEMAS, type CorrectionEntry, type EvidenceEntry, type ResultEntry, type RevocationEntry } from './schemas.js'

/** A key "SUBJECT/AUTHOR": the subject (an image hash, a revoked peer) and its author. */
const BY_AUTHOR = /^([^/]+)\/([^/]+)$/

export interface Change {
  map: MapName
  key: string
  author: string
  /** true when this node wrote it */
  local: boolean
  /**
   * When its author wrote it: the entry's own `time` (ms since the epoch, on the author's clock;
   * every map's entries have one, signed with the rest). Undefined when the key was removed, or
   * its value has no such number.
   */
  time?: number
}

/** Up to this many authors, byAuthor looks up each one's key rather than keep an index of every key by prefix. */
const PROBE_AUTHORS = 256

/** The map whose value texts go to the value store (swapped.ts): the one that grows with every image read. */
const STORED: MapName = 'results'

const LOCAL = Symbol('local')
const REMOTE = Symbol('remote')

export class ReplicaDocument {
  private readonly doc = new Y.Doc({ gc: true })
  /**
   * map -> key prefix (up to and with the last "/") -> the key present, or the keys when several
   * are. Built on a map's first read by prefix when there are more than PROBE_AUTHORS authors,
   * and kept current from then on: a start that applies a snapshot of a million results does not build it.
   */
  private readonly index = new Map<MapName, Map<string, string | Set<string>>>()
  /** changes seen inside Yjs transactions, handed to listeners once the transaction is over */
  private readonly changes: Change[] = []
  private dispatching = false
  private readonly listeners = new Set<(c: Change) => void>()
  /** entries of each map, once counted (size()), kept as transactions change them */
  private readonly counts = new Map<MapName, number>()
  /** STORED's texts, swapped out to the value store */
  private readonly texts?: SwappedTexts
  /** an update being applied holds references only (apply()) */
  private referenced = false

  /**
   * @param clientID the client id bound to this node's key and incarnation
   * @param memberChanged told, inside the transaction, of each author whose member entry changed
   * @param authors every author whose updates the document holds
   * @param values where the texts of the results map's values are kept (none: in the document)
   */
  constructor (clientID: number, memberChanged: (author: string) => void, private readonly authors: () => ReadonlySet<string>, values?: ValueStore) {
    this.doc.clientID = clientID
    if (values != null) this.texts = new SwappedTexts(this.doc.getMap(STORED), values)
    for (const name of MAPS) {
      const map = this.doc.getMap(name)
      map.observe((event, tx) => {
        const count = this.counts.get(name)
        if (count != null) {
          let n = count
          for (const { action } of event.changes.keys.values()) n += action === 'add' ? 1 : action === 'delete' ? -1 : 0
          this.counts.set(name, n)
        }
        const index = this.index.get(name)
        const moving = this.texts != null && name === STORED && !this.referenced
        // Nothing to keep and no one to tell (a start applying its snapshot, say): the keys are not even walked.
        if (index == null && name !== 'members' && this.listeners.size === 0 && !moving) return
        if (moving) this.texts!.deletedIn(tx)
        for (const key of event.keysChanged) {
          if (moving) this.texts!.changed(key)
          const cut = key.lastIndexOf('/') + 1
          if (index != null) indexKey(index, key.slice(0, cut), key, map.has(key))
          const author = key.slice(cut)
          if (name === 'members') memberChanged(author)
          // Values are JSON text: read only when someone listens.
          if (this.listeners.size === 0) continue
          const time = timeOf(this.read(name, map.get(key)))
          // Listeners run after the transaction (and after apply() gives the doc its id back), so they may write.
          this.changes.push({ map: name, key, author, local: tx.origin === LOCAL, ...(time != null ? { time } : {}) })
        }
      })
    }
  }

  /** The index of a map's keys by prefix, built from the map the first time. */
  private indexOf (map: MapName): Map<string, string | Set<string>> {
    let index = this.index.get(map)
    if (index == null) {
      this.index.set(map, index = new Map())
      for (const key of this.doc.getMap(map).keys()) indexKey(index, key.slice(0, key.lastIndexOf('/') + 1), key, true)
    }
    return index
  }

  /** This node's client id in the document. */
  get clientID (): number { return this.doc.clientID }

  /**
   * Apply stored or remote updates. Yjs takes structs of its own client id
   * arriving from outside for another writer and draws a new random client id;
   * here they are this node's own signed history, so the bound id is kept and
   * the next write continues after them.
   */
  apply (update: Uint8Array, referenced = false): void {
    const own = this.doc.clientID
    // A snapshot of a document with a value store holds references only: no text to swap out, and
    // a million keys not walked to find that out.
    this.referenced = referenced
    // While applying, the doc wears id 0 (no derived id is 0 but with odds of 2^-53), so Yjs sees no clash.
    this.doc.clientID = 0
    try {
      Y.applyUpdate(this.doc, update, REMOTE)
    } finally {
      this.doc.clientID = own
      this.referenced = false
    }
    this.dispatch()
  }

  /**
   * Set keys to values' JSON text (values.ts encodeValue) as local writes, in one transaction, and
   * return the Yjs update they made; undefined when Yjs reported none. Listeners are not told yet: the
   * caller dispatches once the write is queued.
   */
  setLocal (writes: ReadonlyArray<{ map: MapName, key: string, text: string }>): Uint8Array | undefined {
    let update: Uint8Array | undefined
    const capture = (u: Uint8Array, origin: unknown): void => {
      if (origin === LOCAL) update = update == null ? u : Y.mergeUpdates([update, u])
    }
    this.doc.on('update', capture)
    try {
      this.doc.transact(() => { for (const w of writes) this.doc.getMap(w.map).set(w.key, w.text) }, LOCAL)
    } finally {
      this.doc.off('update', capture)
    }
    return update
  }

  /** Hand the changes of finished transactions to the listeners; a listener that writes adds more, delivered in turn. */
  dispatch (): void {
    if (this.dispatching) return
    this.dispatching = true
    try {
      // By index, not shift(): an apply of a large snapshot queues 100,000s of changes.
      for (let i = 0; i < this.changes.length; i++) {
        const c = this.changes[i]!
        for (const l of this.listeners) {
          try {
            l(c)
          } catch {
            // A failing listener must not undo a stored write or block the other listeners.
          }
        }
      }
    } finally {
      this.changes.length = 0
      this.dispatching = false
    }
    // Once listeners have seen them (they read the texts in place), and after a local write's update was captured.
    this.texts?.swapOut()
  }

  /** Every results text written into `into`, and read from there on; false when writing failed, and nothing changed (swapped.ts). */
  async moveTexts (into: ValueStore): Promise<boolean> {
    return await (this.texts?.moveTo(into) ?? Promise.resolve(false))
  }

  /** A value of the document as it was written (a swapped-out text read back from the store), checked when accepted. */
  private read (map: MapName, raw: unknown): unknown {
    return readValue(map === STORED && this.texts != null ? this.texts.read(raw) : raw)
  }

  /** Be told of every change, local or remote. Returns the unsubscribe function. */
  subscribe (listener: (c: Change) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /**
   * Why values an update writes do not fit their map's schema (null when they all do). The map
   * of an overwrite is its origin's, in the document or written by the same update.
   */
  checkShapes (values: readonly WrittenValue[]): string | null {
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

  /** The whole state of the document, as one update (for a snapshot). */
  encodeState (): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc)
  }

  /** The raw value under `key` in `map` (unchecked). */
  get (map: MapName, key: string): unknown {
    return this.read(map, this.doc.getMap(map).get(key))
  }

  /**
   * Entries of one map under a prefix ("IMAGE_HASH/"), by author: only keys
   * that are the prefix and one peer id (no further "/"); values that do not
   * fit the schema are skipped.
   */
  byAuthor<T>(map: MapName, prefix: string): Map<string, T> {
    const out = new Map<string, T>()
    const ymap = this.doc.getMap(map)
    // Every key ends in its author's peer id, and every author is known: with few authors, each
    // one's key is looked up, and no index of a million keys is built (or held).
    const take = (key: string): void => {
      const value = ymap.get(key)
      if (value === undefined) return
      const parsed = SCHEMAS[map].safeParse(this.read(map, value))
      if (parsed.success) out.set(key.slice(prefix.length), parsed.data as T)
    }
    const authors = this.authors()
    if (authors.size <= PROBE_AUTHORS) {
      for (const author of authors) take(prefix + author)
      return out
    }
    const keys = this.indexOf(map).get(prefix) ?? []
    for (const key of typeof keys === 'string' ? [keys] : keys) take(key)
    return out
  }

  /** Every entry of a map whose key matches `key` (its groups returned), values that do not fit the schema skipped. */
  private every<T>(map: MapName, key: RegExp): Array<{ key: string, parts: string[], entry: T }> {
    return [...this.each<T>(map, key)]
  }

  /**
   * The same, one entry at a time, each read when it is reached: a caller that goes over a
   * million in slices holds one at a time, and sees the value an entry has when it gets to it
   * (entries added meanwhile are reached too).
   */
  * each<T>(map: MapName, key: RegExp): Generator<{ key: string, parts: string[], entry: T }> {
    for (const [k, value] of this.doc.getMap(map).entries()) {
      const m = key.exec(k)
      if (m == null) continue
      const parsed = SCHEMAS[map].safeParse(this.read(map, value))
      if (parsed.success) yield { key: k, parts: m.slice(1), entry: parsed.data as T }
    }
  }

  /** Every result, or every review (corrections map), one at a time (each()), with its key in the map ("HASH/AUTHOR"). */
  * eachByAuthor<T>(map: 'results' | 'corrections'): Generator<{ key: string, hash: string, author: string, entry: T }> {
    for (const { key, parts: [hash, author], entry } of this.each<T>(map, BY_AUTHOR)) yield { key, hash: hash!, author: author!, entry }
  }

  /** Every revocation in the store, from every relaying author. */
  revocations (): Array<{ peer: string, author: string, entry: RevocationEntry }> {
    return this.every<RevocationEntry>('revocations', BY_AUTHOR).map(({ parts: [peer, author], entry }) => ({ peer: peer!, author: author!, entry }))
  }

  /** Every result of every image, from every author. */
  allResults (): Array<{ hash: string, author: string, entry: ResultEntry }> {
    return this.every<ResultEntry>('results', BY_AUTHOR).map(({ parts: [hash, author], entry }) => ({ hash: hash!, author: author!, entry }))
  }

  /** Every review (corrections map), from every reviewer. */
  reviews (): Array<{ hash: string, author: string, entry: CorrectionEntry }> {
    return this.every<CorrectionEntry>('corrections', BY_AUTHOR).map(({ parts: [hash, author], entry }) => ({ hash: hash!, author: author!, entry }))
  }

  /** Every piece of equivocation evidence, from every reporter. */
  evidence (): Array<{ voter: string, task: string, reporter: string, entry: EvidenceEntry }> {
    return this.every<EvidenceEntry>('evidence', /^([^!/]+)!([^/]+)\/([^/]+)$/).map(({ parts: [voter, task, reporter], entry }) => ({ voter: voter!, task: task!, reporter: reporter!, entry }))
  }

  /** How many entries a map holds (all authors). */
  /**
   * Entries in a map. Counted once (Y.Map's size builds an array of every entry: 100-200 ms at a
   * million, on every status), then kept as transactions add and delete entries.
   */
  size (map: MapName): number {
    let n = this.counts.get(map)
    if (n == null) {
      n = 0
      for (const item of this.doc.getMap(map)._map.values()) if (!item.deleted) n++
      this.counts.set(map, n)
    }
    return n
  }

  /** Every key and value of every map, for comparing replicas. */
  snapshot (): Record<MapName, Record<string, unknown>> {
    return Object.fromEntries(MAPS.map(m => [m, Object.fromEntries([...this.doc.getMap(m).entries()].map(([k, v]) => [k, this.read(m, v)]))])) as Record<MapName, Record<string, unknown>>
  }

  destroy (): void {
    this.doc.destroy()
  }
}

/** Keep `key` (under `prefix`) in an index, or take it out. One key under a prefix (an image read by one node: the usual case) is kept as it is, not in a Set. */
function indexKey (index: Map<string, string | Set<string>>, prefix: string, key: string, present: boolean): void {
  const keys = index.get(prefix)
  if (present) {
    if (keys == null) index.set(prefix, key)
    else if (typeof keys === 'string') { if (keys !== key) index.set(prefix, new Set([keys, key])) } else keys.add(key)
  } else if (keys === key) {
    index.delete(prefix)
  } else if (keys != null && typeof keys !== 'string') {
    keys.delete(key)
    if (keys.size === 0) index.delete(prefix)
  }
}

/** A value's `time` field, when it has a finite number there (values are checked on receipt, but read here unchecked). */
function timeOf (value: unknown): number | undefined {
  const time = typeof value === 'object' && value != null ? (value as { time?: unknown }).time : undefined
  return typeof time === 'number' && Number.isFinite(time) ? time : undefined
}
