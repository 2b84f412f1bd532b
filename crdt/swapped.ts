import * as Y from 'yjs'
import type { ValueStore } from './value-store.js'

/**
 * A map's value texts swapped out of their Yjs items into the value store (value-store.ts), each
 * item holding a reference instead: MARK and the text's place in the store. No value text starts
 * with MARK: texts are JSON, and an update whose value is not JSON text is refused (values.ts
 * decodeValue). The document (document.ts) says which keys changed, inside each transaction, and
 * when listeners are done with them; this swaps their texts out then, reads references back,
 * and keeps the store's count of texts no key shows.
 */
const MARK = '\u0001'

/** The value a map item holds (the last of its plain contents) and the contents; undefined for other items. */
function held (item: Y.Item | null | undefined): { arr: unknown[], value: unknown } | undefined {
  if (item == null || !(item.content instanceof Y.ContentAny)) return undefined
  const arr = item.content.arr
  return { arr, value: arr[arr.length - 1] }
}

/** A reference a value is, without its MARK; undefined when the value is no reference. */
function refIn (value: unknown): string | undefined {
  return typeof value === 'string' && value.startsWith(MARK) ? value.slice(MARK.length) : undefined
}

export class SwappedTexts {
  /** keys changed since their texts were last swapped out */
  private readonly moves: string[] = []

  constructor (private readonly map: Y.Map<unknown>, private store: ValueStore) {}

  /** A key changed (called inside the transaction): its text is due to be swapped out. */
  changed (key: string): void { this.moves.push(key) }

  /**
   * The transaction is over (called from an observer, while Yjs still holds deleted items'
   * contents): the texts of items it deleted no longer count, each once, however many times a
   * key was set within it.
   */
  deletedIn (tx: Y.Transaction): void {
    Y.iterateDeletedStructs(tx, tx.deleteSet, struct => {
      if (!(struct instanceof Y.Item) || struct.parent !== this.map) return
      const ref = refIn(held(struct)?.value)
      if (ref != null) this.store.discard(ref)
    })
  }

  /**
   * The texts of the keys changed since the last call, to the store, each replaced in its item by a
   * reference. Called once listeners are done and a local write's update was captured, so no
   * update ever carries a reference; the document's own encoding (a snapshot) does.
   */
  swapOut (): void {
    if (this.moves.length === 0) return
    for (const key of this.moves) {
      const item = this.map._map.get(key)
      const now = item?.deleted === false ? held(item) : undefined
      if (typeof now?.value !== 'string' || refIn(now.value) != null) continue
      now.arr[now.arr.length - 1] = MARK + this.store.hold(now.value)
    }
    this.moves.length = 0
  }

  /** A raw value of the map with its text read back (undefined when the store has it not); any other value as it is. */
  read (raw: unknown): unknown {
    const ref = refIn(raw)
    return ref != null ? this.store.read(ref) : raw
  }

  /**
   * Every text written into `into`, then read from there on (a compaction of the store at a
   * start, in the replica's serial queue: no write or snapshot meanwhile). The items change only
   * once every text is written, all in one go; false when a write failed, and nothing changed.
   * Held texts are written every 64 MiB, so the move never holds them all.
   */
  async moveTo (into: ValueStore): Promise<boolean> {
    const items: Array<{ arr: unknown[], ref: string }> = []
    let unwritten = 0
    try {
      for (const item of this.map._map.values()) {
        const now = item.deleted ? undefined : held(item)
        const ref = refIn(now?.value)
        if (now == null || ref == null) continue
        const text = this.store.read(ref)
        // Unreadable: a reference to nothing, read as missing as before.
        items.push({ arr: now.arr, ref: text == null ? '' : into.hold(text) })
        if ((unwritten += text?.length ?? 0) > 64 * 1024 * 1024) {
          await into.flushed()
          unwritten = 0
        }
      }
      await into.flushed()
    } catch {
      return false
    }
    for (const { arr, ref } of items) arr[arr.length - 1] = MARK + ref
    this.store = into
    return true
  }
}
