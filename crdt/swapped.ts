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

export class SwappedTexts {
  /** keys changed since their texts were last swapped out */
  private readonly moves: string[] = []

  constructor (private readonly map: Y.Map<unknown>, private store: ValueStore) {}

  /**
   * A key changed (called inside the transaction, while Yjs still holds deleted items' contents):
   * its text is due to be swapped out, and the text it showed before no longer counts.
   */
  changed (key: string): void {
    this.moves.push(key)
    const item = this.map._map.get(key)
    const before = item == null ? undefined : item.deleted ? item : item.left
    if (before?.deleted === true && before.content instanceof Y.ContentAny) {
      const text = before.content.arr[before.content.arr.length - 1]
      if (typeof text === 'string' && text.startsWith(MARK)) this.store.discard(text.slice(MARK.length))
    }
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
      if (item == null || item.deleted || !(item.content instanceof Y.ContentAny)) continue
      const arr = item.content.arr
      const last = arr.length - 1
      const text = arr[last]
      if (typeof text !== 'string' || text.startsWith(MARK)) continue
      arr[last] = MARK + this.store.hold(text)
    }
    this.moves.length = 0
  }

  /** A raw value of the map with its text read back (undefined when the store has it not); any other value as it is. */
  read (raw: unknown): unknown {
    return typeof raw === 'string' && raw.startsWith(MARK) ? this.store.read(raw.slice(MARK.length)) : raw
  }

  /**
   * Every text written into `into`, then read from there on (a compaction of the store at a
   * start, in the replica's serial queue: no write or snapshot meanwhile). The items change only
   * once every text is written, all in one go; false when a write failed, and nothing changed.
   * Held texts are written every 64 MiB, so the move never holds them all.
   */
  async moveTo (into: ValueStore): Promise<boolean> {
    const items: Array<{ arr: unknown[], ref: string }> = []
    let held = 0
    try {
      for (const item of this.map._map.values()) {
        if (item.deleted || !(item.content instanceof Y.ContentAny)) continue
        const arr = item.content.arr
        const ref = arr[arr.length - 1]
        if (typeof ref !== 'string' || !ref.startsWith(MARK)) continue
        const text = this.store.read(ref.slice(MARK.length))
        // Unreadable: a reference to nothing, read as missing as before.
        items.push({ arr, ref: text == null ? '' : into.hold(text) })
        if ((held += text?.length ?? 0) > 64 * 1024 * 1024) {
          await into.flushed()
          held = 0
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
