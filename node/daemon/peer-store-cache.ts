import { LevelDatastore } from 'datastore-level'
import { Key, type Batch, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import { SerialQueue } from '../../util/serial.js'

/** How long a changed peer record may wait in memory before it is written to LevelDB. */
export const PEER_STORE_FLUSH_MS = 5_000

/**
 * The persistent peer store on LevelDB, read from memory, written behind.
 *
 * libp2p reads and rewrites a peer's record (with a new "updated" time) for
 * every stream it opens (to note the protocol), every connection-monitor
 * ping and every mesh change; task stealing opens two streams per task.
 * Done against LevelDB, that was a tenth of a busy node's CPU. Records are
 * served from memory, and the latest version of each changed record is
 * written at most every PEER_STORE_FLUSH_MS, before any query, and on close.
 * A crash loses at most the last few seconds of peer metadata, which the
 * next connection rewrites; deletions are written at once.
 */
export class CachedLevelDatastore extends LevelDatastore {
  private readonly cache = new Map<string, Uint8Array>()
  private readonly dirty = new Set<string>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** flushes, one at a time */
  private readonly flushing = new SerialQueue()
  /** Bumped by every delete and batch: a LevelDB read that began before one must not be cached. */
  private generation = 0

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const hit = this.cache.get(k)
    if (hit != null) return hit
    const generation = this.generation
    const value = await super.get(key, options)
    if (generation === this.generation && !this.cache.has(k)) this.cache.set(k, value)
    return value
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    return this.cache.has(key.toString()) || await super.has(key, options)
  }

  override async put (key: Key, value: Uint8Array, _options?: AbortOptions): Promise<Key> {
    const k = key.toString()
    this.cache.set(k, value)
    this.dirty.add(k)
    this.schedule()
    return key
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    const k = key.toString()
    this.cache.delete(k)
    this.dirty.delete(k)
    this.generation++
    // A flush under way may still hold the old value: let it land first.
    await this.flushing.idle()
    await super.delete(key, options)
  }

  override batch (): Batch {
    const batch = super.batch()
    const touched = new Set<string>()
    const put = batch.put.bind(batch)
    const del = batch.delete.bind(batch)
    const commit = batch.commit.bind(batch)
    batch.put = (key: Key, value: Uint8Array) => { touched.add(key.toString()); put(key, value) }
    batch.delete = (key: Key) => { touched.add(key.toString()); del(key) }
    batch.commit = async (options?: AbortOptions) => {
      // Pending writes first, so that the batch has the last word; then forget what it changed.
      await this.flush()
      for (const k of touched) { this.cache.delete(k); this.dirty.delete(k) }
      this.generation++
      await commit(options)
    }
    return batch
  }

  override async * query (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    await this.flush()
    yield * super.query(q, options)
  }

  override async * queryKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    await this.flush()
    yield * super.queryKeys(q, options)
  }

  override async close (): Promise<void> {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    try {
      await this.flush()
    } finally {
      await super.close()
    }
  }

  /** Write every changed record (one LevelDB batch); a failed write stays pending. */
  async flush (): Promise<void> {
    await this.flushing.run(async () => {
      if (this.dirty.size === 0) return
      const keys = [...this.dirty]
      this.dirty.clear()
      const ops = keys.flatMap(k => {
        const value = this.cache.get(k)
        return value == null ? [] : [{ type: 'put' as const, key: k, value }]
      })
      try {
        await this.db.batch(ops)
      } catch (err) {
        for (const k of keys) if (this.cache.has(k)) this.dirty.add(k)
        throw err
      }
    })
  }

  private schedule (): void {
    if (this.timer != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      // Tried again later if LevelDB refused it.
      this.flush().catch(() => { if (this.dirty.size > 0) this.schedule() })
    }, PEER_STORE_FLUSH_MS)
    this.timer.unref?.()
  }
}
