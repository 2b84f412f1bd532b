import { randomBytes } from 'node:crypto'
import { Level } from 'level'

/**
 * The text of the results map's values, kept in LevelDB rather than in the Yjs document: at a
 * million results the texts are about 700 MB of the replica's heap, and a node reads few of them
 * again (a search shows a handful; the memories keep what they need of each). The document keeps
 * the items themselves, which the CRDT needs, each holding a short reference (a marker) to its
 * text here. document.ts swaps a text out once listeners have seen it and reads it back through
 * here; a text swapped out waits in memory until its batch is written.
 *
 * Texts are kept under the id of the Yjs item that holds them ("CLIENT:CLOCK"), never under the map
 * key: a text of a local write may reach the disk before its envelope does, and a kill -9 then must
 * not have replaced the text the last snapshot refers to. A text its key no longer shows is garbage
 * only once a snapshot taken after that is on disk (replica.ts drops it then); a kill -9 before
 * leaves it here, unread (at most the texts overwritten since the last snapshot).
 *
 * The store has an id of its own, drawn when it is made; a snapshot of the document records it
 * (snapshot.ts), and a start whose store is not the one its snapshot refers to (a store lost or
 * replaced) replays the log instead.
 */

/** Texts written in one LevelDB batch at most. */
const BATCH = 4096
/** Texts are kept under this prefix and their map key. */
const KEY = 'v!'
const ID_KEY = '!store-id'
const SYNC_KEY = '!synced'

export class ValueStore {
  /** texts waiting to be written, by item id */
  private readonly pending = new Map<string, string>()
  /** ids of texts no key shows any more, to drop after the next snapshot */
  private garbage: string[] = []
  private writing: Promise<void> = Promise.resolve()
  private scheduled = false

  private constructor (private readonly db: Level<string, string>, readonly id: string) {}

  /** Open (or make) the store in folder `path`. */
  static async open (path: string): Promise<ValueStore> {
    const db = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    try {
      let id = await db.get(ID_KEY)
      if (id == null) {
        id = randomBytes(12).toString('hex')
        await db.put(ID_KEY, id, { sync: true })
      }
      return new ValueStore(db, id)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  /** Keep `text`, the value of item `id` (written in the next batch). */
  hold (id: string, text: string): void {
    this.pending.set(id, text)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.flush().catch(() => {}) })
  }

  /** The text of item `id`; undefined when the store has none. */
  read (id: string): string | undefined {
    return this.pending.get(id) ?? this.db.getSync(KEY + id)
  }

  /** No key shows item `id`'s text any more. */
  supersede (id: string): void {
    this.garbage.push(id)
  }

  /** The garbage so far, to drop once a snapshot taken now is on disk (or to give back when it fails). */
  takeGarbage (): string[] {
    return this.garbage.splice(0)
  }

  giveBackGarbage (ids: readonly string[]): void {
    this.garbage.push(...ids)
  }

  /** Drop texts no snapshot on disk refers to any more. */
  async drop (ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += BATCH) {
      await this.db.batch(ids.slice(i, i + BATCH).map(id => ({ type: 'del' as const, key: KEY + id })))
    }
  }

  /** Texts waiting to be written. */
  get waiting (): number { return this.pending.size }

  /**
   * Resolves once every text held before the call is written (`sync`: and flushed to disk, as a
   * snapshot that refers to them needs); rejects when a write failed (the texts stay held, and readable).
   */
  async flushed (sync = false): Promise<void> {
    await this.flush()
    if (sync) await this.db.put(SYNC_KEY, String(Date.now()), { sync: true })
  }

  private flush (): Promise<void> {
    this.scheduled = false
    const entries = [...this.pending]
    const write = async (): Promise<void> => {
      for (let i = 0; i < entries.length; i += BATCH) {
        const part = entries.slice(i, i + BATCH)
        await this.db.batch(part.map(([id, text]) => ({ type: 'put' as const, key: KEY + id, value: text })))
        for (const [id] of part) this.pending.delete(id)
      }
    }
    // After the batches before (a failed one does not stop the next: its texts are in this one too).
    this.writing = this.writing.catch(() => {}).then(write)
    return this.writing
  }

  async close (): Promise<void> {
    await this.flush().catch(() => {})
    await this.db.close()
  }
}
