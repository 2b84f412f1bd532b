/**
 * A vector index of formulas: an HNSW graph (usearch) whose vectors are stored as int8, one copy,
 * 128 bytes a formula at 128 dimensions; the graph's distances are computed on those stored
 * vectors. ef_construction = 200 as the design sets it; M = 32 and ef_search rising with the
 * index's size, by measurement (bench:memory), where the design's 16 and 100 fell short of
 * recall@10 0.95. The graph ranks by the inner product of int8 vectors, the query made int8
 * too (usearch scales each vector to length 127 and truncates, so stored lengths differ by a few
 * percent); against cosine at 100,000 vectors, searches take 30 % less time and builds 45 %
 * less at the same recall once re-ranked, and at a million its coarser order is made up for by
 * re-ranking more (rerankCount; bench:memory). A search re-ranks its best candidates by their exact
 * (float) vectors, which the caller gives (for a formula, its embedding computed again).
 * It can be saved to a folder and loaded back (usearch's own file: vectors and graph).
 */
import { Index, MetricKind, ScalarKind } from 'usearch'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { verify, writeCheck } from './index-file.js'

/** At 100,000 formulas (bench:memory, on the hnswlib graph this replaced) M 16 fell short of recall@10 0.95 where M 32 reached it. */
export const HNSW_M = 32
export const HNSW_EF_CONSTRUCTION = 200
/** ef_search up to 200,000 formulas (bench:memory). */
export const HNSW_EF_SEARCH = 200

/**
 * ef_search for an index of `size` vectors: 200 up to 200,000, rising on a log scale to 600 at
 * 1,000,000 and held there (bench:memory, README).
 */
export function efSearchFor (size: number): number {
  if (size <= 200_000) return HNSW_EF_SEARCH
  return Math.round(Math.min(600, HNSW_EF_SEARCH + 400 * Math.log10(size / 200_000) / Math.log10(5)))
}
/**
 * Candidates re-ranked by their exact vectors for k results in an index of `size`: k and 40 %
 * more (at least 4 more) up to 200,000 vectors, rising on a log scale to k and 140 % more at
 * 1,000,000 and held there. By measurement (bench:memory, recall@10 against the float vectors,
 * k = 10): at 100,000 and ef 200, the graph's int8 order alone 0.887, its top 14 re-ranked
 * 0.956, 18: 0.967; at 1,000,000 and ef 600, 0.840, top 14: 0.924, 20: 0.950, 24: 0.954.
 */
export function rerankCount (k: number, size: number): number {
  const more = size <= 200_000 ? 0.4 : 0.4 + Math.min(1, Math.log10(size / 200_000) / Math.log10(5))
  return k + Math.max(4, Math.ceil(k * more))
}
const FILE = 'vectors-graph.usearch'
/** its size and CRC-32, checked before usearch reads it (index-file.ts) */
const CHECK_FILE = 'vectors-graph.check.json'
/** usearch's letter for the inner product, as its file header names the metric */
const METRIC_LETTER = 'i'
/** One thread: a node searches from its event loop, and its other cores read images. */
const THREADS = 1

export interface Hit { id: number, score: number }

/** A candidate's exact vector, by its id (for a formula, its embedding computed again). */
export type ExactVector = (id: number) => Float32Array

export class VectorIndex {
  private readonly graph: Index
  private count = 0
  /** ef_search when fixed (bench:memory); by size otherwise (efSearchFor) */
  private fixedEf: number | undefined

  constructor (readonly dimensions: number, efSearch?: number, readonly m = HNSW_M, saved?: string) {
    // expansion_search is the least the graph keeps while it searches; a search asks for ef
    // results at least (usearch keeps max(expansion_search, wanted)), so it can vary per search.
    this.graph = new Index({ dimensions, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: m, expansion_add: HNSW_EF_CONSTRUCTION, expansion_search: 16, multi: false })
    if (saved != null) {
      const file = join(saved, FILE)
      if (!existsSync(file)) throw new Error(`${saved}: no ${FILE}`)
      let rows: number
      try {
        rows = verify(file, join(saved, CHECK_FILE), dimensions, METRIC_LETTER)
        this.graph.load(file)
      } catch (err) {
        throw new Error(`${file} is not usable: ${(err as Error).message}`)
      }
      this.count = this.graph.size()
      // ids are 0..count-1, in the order added: the last one present says none is missing
      if (this.count !== rows || this.graph.dimensions() !== dimensions || (this.count > 0 && !(this.graph.contains(BigInt(this.count - 1)) as boolean))) {
        throw new Error(`${file}: ${this.count} vectors of ${this.graph.dimensions()} dimensions, not ${rows} of ${dimensions} with ids 0 to ${rows - 1}`)
      }
    }
    this.fixedEf = efSearch
  }

  /** An index written by `save` in `dir` (throws when its file is missing or damaged). */
  static load (dir: string, dimensions: number, efSearch?: number, m = HNSW_M): VectorIndex {
    return new VectorIndex(dimensions, efSearch, m, dir)
  }

  /** Write the index to `dir` (an existing folder). The caller makes the folder's replacement atomic (memory/snapshot.ts). */
  save (dir: string): void {
    this.graph.save(join(dir, FILE))
    writeCheck(join(dir, FILE), join(dir, CHECK_FILE))
  }

  get size (): number { return this.count }

  /** Add a unit vector (stored as int8: usearch scales it to 127 and truncates); its id is the number of vectors before it. */
  add (v: Float32Array): number {
    if (v.length !== this.dimensions) throw new RangeError(`a vector of ${v.length} dimensions in an index of ${this.dimensions}`)
    const id = this.count
    this.graph.add(BigInt(id), v, THREADS)
    this.count++
    return id
  }

  /**
   * The graph's best `n` candidates for a query, best first by the inner product of the int8
   * vectors (the query made int8 too): ef_search of them looked at, or n when more.
   */
  candidates (query: Float32Array, n: number): number[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${n} candidates: a whole number is needed`)
    if (this.count === 0 || n === 0) return []
    if (query.length !== this.dimensions) throw new RangeError(`a query of ${query.length} dimensions in an index of ${this.dimensions}`)
    const ef = this.fixedEf ?? efSearchFor(this.count)
    const { keys } = this.graph.search(query, Math.min(this.count, Math.max(ef, n)), THREADS)
    const out: number[] = []
    for (let i = 0; i < keys.length && out.length < n; i++) {
      const id = Number(keys[i])
      if (id < this.count) out.push(id)
    }
    return out
  }

  /**
   * The k nearest by cosine similarity: the graph's top `rerank` candidates (rerankCount(k,
   * size) unless set), re-ranked by their exact vectors (`exact`), with those vectors' scores.
   */
  search (query: Float32Array, k: number, exact: ExactVector, rerank = rerankCount(k, this.count)): Hit[] {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k = ${k}: a whole number is needed`)
    if (k === 0) return []
    return this.candidates(query, Math.max(k, rerank))
      .map(id => ({ id, score: cosine(query, exact(id)) }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, k)
  }

  /** ef_search: how many candidates the graph keeps while it searches (more: better recall, slower); by size (efSearchFor) unless set. */
  set efSearch (ef: number | undefined) { this.fixedEf = ef }
  get efSearch (): number | undefined { return this.fixedEf }

  /** Bytes a vector: its int8 storage, and the graph's links at the base level (the upper levels add a few percent). */
  bytesPerVector (): { vector: number, links: number } {
    return { vector: this.dimensions, links: this.graph.connectivity() * 2 * 4 }
  }
}

/** Cosine similarity of two unit vectors. */
export function cosine (a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

/**
 * The k nearest of `vectors` by exhaustive comparison (the reference search is measured
 * against): one pass keeping the best k, best first, ties by id.
 */
export function exhaustive (vectors: readonly Float32Array[], query: Float32Array, k: number): Hit[] {
  const best: Hit[] = []
  for (let id = 0; id < vectors.length; id++) {
    const score = cosine(query, vectors[id]!)
    if (best.length === k && score <= best[k - 1]!.score) continue
    let at = best.length
    while (at > 0 && best[at - 1]!.score < score) at--
    best.splice(at, 0, { id, score })
    if (best.length > k) best.pop()
  }
  return best
}
