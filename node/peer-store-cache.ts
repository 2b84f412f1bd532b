import { LevelDatastore } from 'datastore-level'
import type { Batch, Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'

/** Peer records kept in memory; a campus network has tens to hundreds of peers. */
const MAX_CACHED = 4096

/**
 * The persistent peer store on LevelDB, with reads served from memory.
 *
 * libp2p reads a peer's record from its datastore for every stream it opens
 * (to note the protocol) and for every mesh change, and task stealing opens
 * two streams per task: without a cache, these LevelDB reads were about a
 * tenth of a busy node's CPU. Writes go through to LevelDB at once, so
 * nothing is lost in a crash.
 */
export class CachedLevelDatastore extends LevelDatastore {
  private readonly cache = new Map<string, Uint8Array>()

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const hit = this.cache.get(k)
    if (hit != null) return hit
    const value = await super.get(key, options)
    this.remember(k, value)
    return value
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    return this.cache.has(key.toString()) || await super.has(key, options)
  }

  override async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const k = key.toString()
    this.cache.delete(k)
    const stored = await super.put(key, value, options)
    this.remember(k, value)
    return stored
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    this.cache.delete(key.toString())
    await super.delete(key, options)
  }

  override batch (): Batch {
    const batch = super.batch()
    const commit = batch.commit.bind(batch)
    batch.commit = async (options?: AbortOptions) => {
      // Cleared after too: a read while the batch was being written may have cached the old value.
      this.cache.clear()
      await commit(options)
      this.cache.clear()
    }
    return batch
  }

  private remember (key: string, value: Uint8Array): void {
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(key, value)
  }
}
