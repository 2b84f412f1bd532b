/**
 * A vector index of formulas: int8 vectors (quantize.ts) kept in one growing buffer, an HNSW graph
 * (hnswlib-node; ef_construction = 200 as the design sets it, M = 32 and ef_search = 200, rising
 * with the index's size to 600 at a million, by measurement, where the design's 16 and 100 fell
 * short of recall@10 0.95: bench:memory) over
 * them for candidates, and an exact re-rank of the candidates against the stored vectors. A
 * brute-force search over the same vectors is the reference the benchmark measures recall on.
 * It can be saved to a folder and loaded back (hnswlib's own graph file, and the vectors).
 */
import hnswlib from 'hnswlib-node'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dequantize, dot, quantize } from './quantize.js'

/** At 100,000 formulas and ef_search 200 (bench:memory): M 16 gives recall@10 0.933 at p99 1.2 ms; M 32, 0.972 at 1.7 ms. */
export const HNSW_M = 32
export const HNSW_EF_CONSTRUCTION = 200
/** At 100,000 formulas and M 32 (bench:memory): ef 100 gives recall@10 0.937 at p99 0.6 ms; 200, 0.974 at 0.9 ms. */
export const HNSW_EF_SEARCH = 200

/**
 * ef_search for an index of `size` vectors: 200 up to 200,000, rising on a log scale to 600 at
 * 1,000,000 and held there. At 1,000,000 (bench:memory) ef 200 gives recall@10 0.888 at p99
 * 1.8 ms, 400 gives 0.942 at 3.1 ms, 600 gives 0.960 at 4.6 ms.
 */
export function efSearchFor (size: number): number {
  if (size <= 200_000) return HNSW_EF_SEARCH
  return Math.round(Math.min(600, HNSW_EF_SEARCH + 400 * Math.log10(size / 200_000) / Math.log10(5)))
}
/** Candidates fetched from the graph per result wanted, for the exact re-rank. */
const OVERFETCH = 4
const INITIAL_CAPACITY = 1024
const GRAPH_FILE = 'graph.hnsw'
const VECTORS_FILE = 'vectors.i8'

export interface Hit { id: number, score: number }

export class VectorIndex {
  private vectors: Int8Array
  private count = 0
  private readonly graph: hnswlib.HierarchicalNSW

  /** ef_search when fixed (bench:memory); by size otherwise (efSearchFor) */
  private fixedEf: number | undefined
  private graphEf = 0

  constructor (readonly dimensions: number, capacity = INITIAL_CAPACITY, efSearch?: number, private readonly m = HNSW_M, saved?: string) {
    this.graph = new hnswlib.HierarchicalNSW('ip', dimensions)
    if (saved == null) {
      this.vectors = new Int8Array(capacity * dimensions)
      this.graph.initIndex({ maxElements: capacity, m, efConstruction: HNSW_EF_CONSTRUCTION, randomSeed: 100 })
    } else {
      this.graph.readIndexSync(join(saved, GRAPH_FILE))
      const stored = readFileSync(join(saved, VECTORS_FILE))
      this.count = this.graph.getCurrentCount()
      if (stored.length !== this.count * dimensions) throw new Error(`${saved}: ${stored.length} bytes of vectors for a graph of ${this.count}`)
      const room = Math.max(this.graph.getMaxElements(), this.count, 1)
      this.vectors = new Int8Array(room * dimensions)
      this.vectors.set(new Int8Array(stored.buffer, stored.byteOffset, stored.length))
    }
    this.fixedEf = efSearch
  }

  /** An index written by `save` in `dir` (throws when its files are missing or do not agree). */
  static load (dir: string, dimensions: number, efSearch?: number, m = HNSW_M): VectorIndex {
    return new VectorIndex(dimensions, INITIAL_CAPACITY, efSearch, m, dir)
  }

  /**
   * Write the graph and the int8 vectors to `dir` (an existing folder), at once: nothing is added
   * meanwhile, so the two agree. The caller makes the folder's replacement atomic (memory/snapshot.ts).
   */
  save (dir: string): void {
    this.graph.writeIndexSync(join(dir, GRAPH_FILE))
    writeFileSync(join(dir, VECTORS_FILE), this.vectors.subarray(0, this.count * this.dimensions))
  }

  get size (): number { return this.count }

  /** Add a unit vector; its id is the number of vectors before it. */
  add (v: Float32Array): number {
    if (v.length !== this.dimensions) throw new RangeError(`a vector of ${v.length} dimensions in an index of ${this.dimensions}`)
    const id = this.count
    const capacity = this.vectors.length / this.dimensions
    if (id >= capacity) {
      const grown = new Int8Array(capacity * 2 * this.dimensions)
      grown.set(this.vectors)
      this.vectors = grown
      this.graph.resizeIndex(capacity * 2)
    }
    const q = quantize(v)
    this.vectors.set(q, id * this.dimensions)
    // The graph is built on the stored (quantised) vectors, so that it and the re-rank agree.
    this.graph.addPoint(Array.from(dequantize(q)), id)
    this.count++
    return id
  }

  /** The k nearest by cosine similarity: candidates from the graph, re-ranked exactly. */
  search (query: Float32Array, k: number): Hit[] {
    if (this.count === 0 || k <= 0) return []
    const want = Math.min(this.count, Math.max(k * OVERFETCH, k))
    const ef = this.fixedEf ?? efSearchFor(this.count)
    if (ef !== this.graphEf) { this.graph.setEf(ef); this.graphEf = ef }
    const { neighbors } = this.graph.searchKnn(Array.from(query), want)
    return this.rank(query, neighbors, k)
  }

  /**
   * The k nearest by exhaustive comparison (the reference for recall): one pass over the stored
   * vectors keeping the best k, so that a million vectors make no garbage.
   */
  exact (query: Float32Array, k: number): Hit[] {
    const best: Hit[] = []
    for (let id = 0; id < this.count; id++) {
      const score = dot(query, this.vectors, id * this.dimensions)
      if (best.length === k && score <= best[k - 1]!.score) continue
      let at = best.length
      while (at > 0 && best[at - 1]!.score < score) at--
      best.splice(at, 0, { id, score })
      if (best.length > k) best.pop()
    }
    return best
  }

  /** ef_search: how many candidates the graph keeps while it searches (more: better recall, slower); by size (efSearchFor) unless set. */
  set efSearch (ef: number | undefined) { this.fixedEf = ef }
  get efSearch (): number | undefined { return this.fixedEf }

  /** Bytes of vector storage per vector (int8), and of the graph's own copy (float32) and links. */
  bytesPerVector (): { int8: number, graph: number } {
    return { int8: this.dimensions, graph: this.dimensions * 4 + this.m * 2 * 4 }
  }

  private rank (query: Float32Array, ids: number[], k: number): Hit[] {
    return ids.map(id => ({ id, score: dot(query, this.vectors, id * this.dimensions) }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, k)
  }
}
