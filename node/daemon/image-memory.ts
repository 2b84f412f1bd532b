import type { Replica } from '../../crdt/replica.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import { decodeEmbedding, IMAGE_DIMENSIONS } from '../../pipeline/image-embedding.js'
import { dot, SCALE } from '../../memory/quantize.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { isoTime } from '../../util/time.js'
import { canonicalOrSelf } from '../../review/verdict.js'
import { MemoryLoadingError, SearchError, type FormulaHit, type FormulaSource } from './memory.js'
import { giveWay, inSlices, SLICE_MS } from '../../util/slices.js'
import type { Compute } from './compute.js'

/**
 * The image side of formula memory: the embedding every result of a one-formula image carries
 * (pipeline/image-embedding.ts), by image and author, kept current as results arrive (and taken
 * from the replica at start: decoding only, no model run). Search is exact, a scan of the int8
 * vectors; embeddings of different model versions are never compared.
 */
export interface ImageHit { hash: string, author: string, cosine: number }

/** What an image is answered with (its served answer), what backs it, and whether a quorum certificate that holds here does. */
export interface ServedAnswer { latex: string, kind: FormulaSource['kind'], certified: boolean }

/**
 * Search by image: `compute` reads the image (the embedding is its encoder's), then the answers
 * served for the most similar images read before by the same model. SearchError for an image
 * that has no embedding (not one formula read upright in one piece).
 */
export async function searchByImage (init: { images: ImageMemory, compute: Compute, answerOf: (hash: string) => Promise<ServedAnswer | undefined> },
  image: Uint8Array, k: number): Promise<{ images: number, hits: FormulaHit[] }> {
  // Refused before the image is read, while the store's embeddings are still being taken.
  init.images.refuseWhileLoading()
  const { embedding: e, regions, rotated, model } = await init.compute.recognize(image, 'search')
  const vec = e != null ? decodeEmbedding(e) : undefined
  if (vec == null) {
    throw new SearchError(regions.length !== 1
      ? `search by image takes an image of one formula; this one reads as ${regions.length} formulas (crop it to one)`
      : `search by image takes an image of one formula read upright in one piece; this one was ${rotated != null ? 'read turned on its side' : 'too wide to read in one piece, or the model gives no embedding'}`)
  }
  const hits = await init.images.search(Float32Array.from(vec, x => x / SCALE), model, k, init.answerOf)
  return { images: init.images.size(model), hits }
}

/** Sources listed per hit (the rest are counted). */
const MAX_SOURCES = 20

/** Images a search by image resolves (the nearest; the rest are not counted as sources). */
const SEARCH_IMAGES_PER_HIT = 20

function norm (v: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!
  return Math.sqrt(s)
}

/**
 * The embeddings held, in slots of one growing Int8Array (IMAGE_DIMENSIONS bytes each), with
 * each slot's norm, model and store key in arrays beside it: a million embeddings each in an
 * Int8Array of its own took about 300 bytes apiece. A freed slot is used again.
 */
class Slots {
  vectors = new Int8Array(0)
  norms = new Float32Array(0)
  /** index into the model names; -1: free */
  models = new Int32Array(0)
  keys: Array<string | undefined> = []
  private readonly free: number[] = []

  get length (): number { return this.keys.length }

  /** A slot for `key`, its vector copied in. */
  take (key: string, vector: Int8Array, norm: number, model: number): number {
    let slot = this.free.pop()
    if (slot == null) {
      slot = this.keys.length
      this.keys.push(undefined)
      if (slot >= this.norms.length) this.grow(Math.max(1024, 2 * this.norms.length))
    }
    this.put(slot, key, vector, norm, model)
    return slot
  }

  put (slot: number, key: string, vector: Int8Array, norm: number, model: number): void {
    this.vectors.set(vector, slot * IMAGE_DIMENSIONS)
    this.norms[slot] = norm
    this.models[slot] = model
    this.keys[slot] = key
  }

  release (slot: number): void {
    this.keys[slot] = undefined
    this.models[slot] = -1
    this.free.push(slot)
  }

  private grow (slots: number): void {
    const vectors = new Int8Array(slots * IMAGE_DIMENSIONS)
    vectors.set(this.vectors)
    const norms = new Float32Array(slots)
    norms.set(this.norms)
    const models = new Int32Array(slots).fill(-1)
    models.set(this.models)
    this.vectors = vectors
    this.norms = norms
    this.models = models
  }
}

export class ImageMemory {
  private readonly slots = new Slots()
  /** store key ("HASH/AUTHOR") -> its slot */
  private readonly slotOf = new Map<string, number>()
  /** model names, each once, and how many embeddings each has */
  private readonly modelNames: string[] = []
  private readonly perModel: number[] = []
  private readonly unsubscribe: () => void
  private stopped = false
  /** true until every result of the store is taken */
  loading = true
  /**
   * Resolves once every result of the store is taken: they are decoded in slices that leave the
   * event loop free (util/slices.ts), so a node serves meanwhile; near() finds only what is taken
   * so far (a reuse missed is an image read again), and search by image is refused until then.
   */
  readonly ready: Promise<void>

  constructor (private readonly replica: Replica) {
    // Changes are taken from the start; an entry the slices reach later is taken again, as it is then.
    this.unsubscribe = replica.subscribe(change => {
      if (change.map !== 'results') return
      const slash = change.key.lastIndexOf('/')
      const hash = change.key.slice(0, slash)
      if (slash < 0 || !SHA256_HEX.test(hash)) return
      this.set(change.key, replica.results(hash).get(change.author))
    })
    this.ready = new Promise<void>(resolve => { this.begin = resolve }).then(async () => {
      // Giving way to the store between slices, as the formula memory's build does.
      await inSlices(replica.eachResult(), ({ key, hash, entry }) => { if (SHA256_HEX.test(hash)) this.set(key, entry) }, () => this.stopped, SLICE_MS, giveWay(() => replica.busy()))
      this.loading = false
    })
  }

  /** Start taking the store's results (a node calls it once it serves). */
  begin: () => void = () => {}

  /** Take a result (or its removal) under its key in the store ("HASH/AUTHOR"). */
  private set (key: string, entry: ResultEntry | undefined): void {
    const vec = entry?.embedding != null ? decodeEmbedding(entry.embedding) : undefined
    const n = vec != null ? norm(vec) / SCALE : 0
    const slot = this.slotOf.get(key)
    if (slot != null) this.perModel[this.slots.models[slot]!]!--
    if (entry == null || vec == null || !(n > 0)) {
      if (slot != null) {
        this.slots.release(slot)
        this.slotOf.delete(key)
      }
      return
    }
    let model = this.modelNames.indexOf(entry.model)
    if (model < 0) {
      model = this.modelNames.push(entry.model) - 1
      this.perModel.push(0)
    }
    this.perModel[model]!++
    if (slot != null) this.slots.put(slot, key, vec, n, model)
    else this.slotOf.set(key, this.slots.take(key, vec, n, model))
  }

  /** Results embedded by model `model` (every model's when not given). */
  size (model?: string): number {
    if (model == null) return this.slotOf.size
    const m = this.modelNames.indexOf(model)
    return m < 0 ? 0 : this.perModel[m]!
  }

  /**
   * The images nearest a query of model `model`, most similar first (cosine, at most 1): at most
   * `k`, at `minCosine` or more, one hit per image (its most similar result), among those `keep`
   * accepts (asked only of images at `minCosine` or more).
   */
  near (query: Float32Array, model: string, k: number, minCosine = -1, keep: (hash: string) => boolean = () => true): ImageHit[] {
    const qn = norm(query)
    const m = this.modelNames.indexOf(model)
    if (!(qn > 0) || m < 0 || k <= 0) return []
    const { vectors, norms, models, keys } = this.slots
    // Every slot's cosine; those at minCosine or more are the candidates.
    const found: number[] = []
    const cosines = new Float32Array(this.slots.length)
    for (let slot = 0; slot < this.slots.length; slot++) {
      if (models[slot] !== m) continue
      const cosine = Math.min(1, dot(query, vectors, slot * IMAGE_DIMENSIONS) / (qn * norms[slot]!))
      if (cosine < minCosine) continue
      cosines[slot] = cosine
      found.push(slot)
    }
    // The best `wanted` of them, best first (ties in slot order), then one hit per image; more
    // are taken while too few images came out and more candidates are left.
    for (let wanted = Math.max(256, 8 * k); ; wanted *= 4) {
      let best = found
      if (found.length > wanted) {
        const sorted = Float32Array.from(found, slot => cosines[slot]!).sort()
        const floor = sorted[sorted.length - wanted]!
        best = found.filter(slot => cosines[slot]! >= floor)
      }
      best.sort((a, b) => cosines[b]! - cosines[a]! || a - b)
      const hits: ImageHit[] = []
      const seen = new Set<string>()
      for (const slot of best) {
        const key = keys[slot]!
        const cut = key.lastIndexOf('/')
        const hash = key.slice(0, cut)
        if (seen.has(hash)) continue
        seen.add(hash)
        if (!keep(hash)) continue
        hits.push({ hash, author: key.slice(cut + 1), cosine: cosines[slot]! })
        if (hits.length === k) break
      }
      if (hits.length === k || best.length === found.length) return hits
    }
  }

  /**
   * Search by image: the answers served for the images nearest a query (`answerOf`: the image's
   * served answer, what backs it, and whether it is certified), one hit per formula (canonical),
   * scored by its most similar image's cosine, with the images as its sources (counted among the
   * nearest SEARCH_IMAGES_PER_HIT x k images).
   */
  async search (query: Float32Array, model: string, k: number, answerOf: (hash: string) => Promise<ServedAnswer | undefined>): Promise<FormulaHit[]> {
    this.refuseWhileLoading()
    const hits = new Map<string, FormulaHit>()
    for (const h of this.near(query, model, SEARCH_IMAGES_PER_HIT * k)) {
      const entry = this.replica.results(h.hash).get(h.author)
      const answer = entry != null ? await answerOf(h.hash) : undefined
      if (entry == null || answer == null) continue
      const latex = canonicalOrSelf(answer.latex)
      const source: FormulaSource = { hash: h.hash, by: h.author, time: isoTime(entry.time), kind: answer.kind, ...(entry.task != null ? { task: entry.task } : {}), certified: answer.certified }
      const hit = hits.get(latex)
      if (hit != null) {
        hit.sourceCount++
        if (hit.sources.length < MAX_SOURCES) hit.sources.push(source)
      } else if (hits.size < k) {
        hits.set(latex, { latex, score: Math.round(h.cosine * 1e4) / 1e4, sources: [source], sourceCount: 1 })
      }
    }
    return [...hits.values()]
  }

  /** MemoryLoadingError while the store's results are still being taken. */
  refuseWhileLoading (): void {
    if (this.loading) throw new MemoryLoadingError('search by image: the node is still taking the store\'s image embeddings; ask again shortly')
  }

  stop (): void {
    this.stopped = true
    this.begin()
    this.unsubscribe()
  }
}
