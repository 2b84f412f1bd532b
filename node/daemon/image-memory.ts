import type { Replica } from '../../crdt/replica.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import { decodeEmbedding } from '../../pipeline/image-embedding.js'
import { dot } from '../../memory/quantize.js'
import { SHA256_HEX } from '../../util/sha256.js'

/**
 * The image side of formula memory: the embedding every result of a one-formula image carries
 * (pipeline/image-embedding.ts), by image and author, kept current as results arrive. Search is
 * exact (a scan of int8 vectors: 128 multiply-adds per result, about 15 ms per 100,000 results on
 * this project's machines); embeddings of different model versions are never compared.
 */
export interface ImageHit { hash: string, author: string, cosine: number }

interface Held { hash: string, author: string, model: string, vec: Int8Array }

export class ImageMemory {
  private readonly held = new Map<string, Held>()
  private readonly unsubscribe: () => void

  constructor (private readonly replica: Replica) {
    for (const { hash, author, entry } of replica.allResults()) this.set(hash, author, entry)
    this.unsubscribe = replica.subscribe(change => {
      if (change.map !== 'results') return
      const slash = change.key.lastIndexOf('/')
      const hash = change.key.slice(0, slash)
      if (slash < 0 || !SHA256_HEX.test(hash)) return
      this.set(hash, change.author, replica.results(hash).get(change.author))
    })
  }

  private set (hash: string, author: string, entry: ResultEntry | undefined): void {
    const key = `${hash}/${author}`
    const vec = entry?.embedding != null ? decodeEmbedding(entry.embedding) : undefined
    if (entry == null || vec == null) this.held.delete(key)
    else this.held.set(key, { hash, author, model: entry.model, vec })
  }

  /** Images embedded (results that carry an embedding). */
  get size (): number { return this.held.size }

  /**
   * The images nearest a unit query of model `model`, most similar first: at most `k`, at
   * `minCosine` or more, one hit per image (its most similar result), among those `keep` accepts.
   */
  near (query: Float32Array, model: string, k: number, minCosine = -1, keep: (hash: string) => boolean = () => true): ImageHit[] {
    const best = new Map<string, ImageHit>()
    for (const h of this.held.values()) {
      if (h.model !== model) continue
      const cosine = dot(query, h.vec)
      if (cosine < minCosine || (best.get(h.hash)?.cosine ?? -2) >= cosine || !keep(h.hash)) continue
      best.set(h.hash, { hash: h.hash, author: h.author, cosine })
    }
    return [...best.values()].sort((a, b) => b.cosine - a.cosine).slice(0, k)
  }

  stop (): void { this.unsubscribe() }
}
