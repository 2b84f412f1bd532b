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
 * It can be saved to a folder and loaded back (usearch's own files: vectors and graph), in
 * segments, so that what was saved is read from its files rather than held in memory.
 */
import { Index, MetricKind, ScalarKind } from 'usearch'
import { constants, copyFileSync, existsSync, linkSync, readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
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
/** The file a single-segment index was saved in before segments (read as the segment from 0). */
const LEGACY = 'vectors-graph'
/** usearch's letter for the inner product, as its file header names the metric */
const METRIC_LETTER = 'i'
/** One thread: a node searches from its event loop, and its other cores read images. */
const THREADS = 1
/**
 * The in-memory segment is frozen (saved, then read from its file) once it holds this many
 * vectors, or a quarter of the index when that is more: a million formulas take at most a few
 * hundred thousand in memory, and an index that grows tenfold gains about ten segments.
 */
export const FREEZE_AT = 65_536
/** Frozen segments kept before two adjacent ones are merged (the two smallest together). */
export const MERGE_PAST = 4

export interface Hit { id: number, score: number }

/** A candidate's exact vector, by its id (for a formula, its embedding computed again). */
export type ExactVector = (id: number) => Float32Array

/**
 * Vectors first..first+size-1, viewed (memory-mapped) from `file`, which never changes; `file`
 * '': a merge of two, in memory until the next save writes it.
 * `rewritten`: its file was gone, and the last save wrote it again from the graph (which may still map the deleted file).
 */
interface Frozen { first: number, size: number, graph: Index, file: string, rewritten?: boolean }

const segmentName = (first: number): string => `seg-${first}`
const dataFile = (dir: string, name: string): string => join(dir, `${name}.usearch`)
const checkFile = (dir: string, name: string): string => join(dir, `${name}.check.json`)

/**
 * A vector index in segments: HNSW graphs over consecutive ids. The last segment is in memory
 * and takes additions; the others were saved and are read from their files (usearch's `view`:
 * memory-mapped, so their pages are the page cache's, read as searches touch them and dropped
 * by the kernel when it needs the memory). A search asks every segment and keeps the best.
 */
export class VectorIndex {
  private readonly frozen: Frozen[] = []
  private live: Index
  private liveFirst = 0
  private count = 0
  /** ef_search when fixed (bench:memory); by size otherwise (efSearchFor) */
  private fixedEf: number | undefined

  /** frozen segments kept before a merge is due (settable, as tests do) */
  mergePast = MERGE_PAST

  constructor (readonly dimensions: number, efSearch?: number, readonly m = HNSW_M, saved?: string, public freezeAt = FREEZE_AT) {
    this.live = this.graph()
    this.fixedEf = efSearch
    if (saved != null) this.open(saved)
  }

  /** An index written by `save` in `dir` (throws when a file is missing or damaged). */
  static load (dir: string, dimensions: number, efSearch?: number, m = HNSW_M, freezeAt = FREEZE_AT): VectorIndex {
    return new VectorIndex(dimensions, efSearch, m, dir, freezeAt)
  }

  private graph (): Index {
    // expansion_search is the least the graph keeps while it searches; a search asks for ef
    // results at least (usearch keeps max(expansion_search, wanted)), so it can vary per search.
    return new Index({ dimensions: this.dimensions, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: this.m, expansion_add: HNSW_EF_CONSTRUCTION, expansion_search: 16, multi: false })
  }

  /** Read the segments saved in `dir`: each checked, then viewed, but the last one loaded when it still takes additions. */
  private open (dir: string): void {
    const names = readdirSync(dir).map(f => /^(seg-(\d+)|vectors-graph)\.usearch$/.exec(f)).filter(m => m != null)
      .map(m => ({ name: m[1]!, first: m[2] == null ? 0 : Number(m[2]) })).sort((a, b) => a.first - b.first)
    if (names.length === 0) throw new Error(`${dir}: no saved index (${segmentName(0)}.usearch)`)
    names.forEach(({ name, first }, i) => {
      const file = dataFile(dir, name)
      if (first !== this.count || (name === LEGACY && names.length > 1)) throw new Error(`${file}: a segment from ${first} where ${this.count} was due`)
      let rows: number
      const graph = this.graph()
      try {
        rows = verify(file, checkFile(dir, name), this.dimensions, METRIC_LETTER)
        const last = i === names.length - 1
        if (last && rows < this.freezeLimit(first + rows)) graph.load(file)
        else graph.view(file)
      } catch (err) {
        throw new Error(`${file} is not usable: ${(err as Error).message}`)
      }
      // ids are first..first+rows-1, in the order added: the last one present says none is missing
      if (graph.size() !== rows || graph.dimensions() !== this.dimensions || (rows > 0 && !(graph.contains(BigInt(first + rows - 1)) as boolean))) {
        throw new Error(`${file}: ${graph.size()} vectors of ${graph.dimensions()} dimensions, not ${rows} of ${this.dimensions} with ids ${first} to ${first + rows - 1}`)
      }
      this.count += rows
      if (i === names.length - 1 && rows < this.freezeLimit(this.count)) {
        this.live = graph
        this.liveFirst = first
      } else {
        this.frozen.push({ first, size: rows, graph, file })
      }
    })
    if (this.frozen.length > 0 && this.frozen.at(-1)!.first + this.frozen.at(-1)!.size === this.count) this.liveFirst = this.count
  }

  /** Vectors the in-memory segment takes before it is frozen, in an index of `total` (freezeAt: settable, as tests do). */
  private freezeLimit (total: number): number { return Math.max(this.freezeAt, Math.floor(total / 4)) }

  /**
   * Write the index to `dir` (an existing folder): the in-memory segment as a file, each frozen
   * one as a link to its file (a copy where links cannot be made). Then call `savedIn` with the
   * folder where the files end up (the caller may rename `dir`, to make the replacement atomic:
   * memory/snapshot.ts).
   */
  save (dir: string): void {
    for (const s of this.frozen) {
      const name = segmentName(s.first)
      const [to, check] = [dataFile(dir, name), checkFile(dir, name)]
      // A merge not yet saved, or its file gone (memory/ deleted while the node runs): written
      // from the graph (a mapping outlives its file).
      s.rewritten = s.file === '' || !keep(s.file, to)
      if (s.rewritten === true) s.graph.save(to)
      if (s.rewritten === true || !keep(checkFile(dirname(s.file), basename(s.file, '.usearch')), check)) writeCheck(to, check)
    }
    if (this.count > this.liveFirst || this.frozen.length === 0) {
      const name = segmentName(this.liveFirst)
      this.live.save(dataFile(dir, name))
      writeCheck(dataFile(dir, name), checkFile(dir, name))
    }
  }

  /**
   * The files `save` wrote are now in `dir` (and those it wrote before may go): the frozen
   * segments are read from there, and the in-memory one, when it has grown enough, is frozen too.
   * Returns how many graphs it dropped (their native memory goes when V8 collects them).
   */
  savedIn (dir: string): number {
    let dropped = 0
    // Every path first: a view that fails below leaves none pointing into a copy about to go.
    for (const s of this.frozen) s.file = dataFile(dir, segmentName(s.first))
    // Read from the file written (a merge's, or one written again: the deleted file's disk space goes back).
    for (const s of this.frozen) {
      if (s.rewritten !== true) continue
      s.graph = this.view(s.file, s.size)
      s.rewritten = undefined
      dropped++
    }
    const size = this.count - this.liveFirst
    if (size === 0 || size < this.freezeLimit(this.count)) return dropped
    const file = dataFile(dir, segmentName(this.liveFirst))
    const graph = this.view(file, size)
    const live = this.graph()
    this.frozen.push({ first: this.liveFirst, size, graph, file })
    this.live = live
    this.liveFirst = this.count
    return dropped + 1
  }

  /** A graph read from `file` (just saved), which must hold `size` vectors. */
  private view (file: string, size: number): Index {
    const graph = this.graph()
    graph.view(file)
    if (graph.size() !== size) throw new Error(`${file}: ${graph.size()} vectors where ${size} were saved`)
    return graph
  }

  get size (): number { return this.count }

  /**
   * When more than `mergePast` segments are frozen, the merge of the two adjacent ones smallest
   * together: one step per vector added to their new graph, for the caller to take in slices.
   * The vectors are the exact ones (`exact`: for a formula, its embedding computed again), so
   * the new graph stores the same int8 vectors as the two (usearch gives no vectors back, and
   * re-quantizes int8 it is given). Once the last step is taken, the new graph replaces the two
   * (searched in memory until the next save writes it and reads it from there); left unfinished,
   * it changes nothing. Undefined when none is due, or when the pair due holds a merge not yet saved.
   */
  merging (exact: ExactVector): Iterable<void> | undefined {
    if (this.frozen.length <= this.mergePast) return undefined
    let at = 0
    const pair = (i: number): number => this.frozen[i]!.size + this.frozen[i + 1]!.size
    for (let i = 1; i + 1 < this.frozen.length; i++) if (pair(i) < pair(at)) at = i
    const [a, b] = [this.frozen[at]!, this.frozen[at + 1]!]
    if (a.file === '' || b.file === '') return undefined
    const steps = function * (this: VectorIndex): Generator<void> {
      const graph = this.graph()
      for (let id = a.first; id < b.first + b.size; id++) {
        const v = exact(id)
        if (v.length !== this.dimensions) throw new RangeError(`a vector of ${v.length} dimensions in an index of ${this.dimensions}`)
        graph.add(BigInt(id), v, THREADS)
        yield
      }
      const i = this.frozen.indexOf(a)
      if (i >= 0 && this.frozen[i + 1] === b) this.frozen.splice(i, 2, { first: a.first, size: a.size + b.size, graph, file: '' })
    }
    return steps.call(this)
  }

  /** Frozen segments held in memory, merged but not yet saved. */
  get unsavedMerges (): number { return this.frozen.filter(s => s.file === '').length }

  /** How many segments: those read from files, and the one in memory. */
  get segments (): { frozen: number, inMemory: number } {
    return { frozen: this.frozen.length, inMemory: this.count - this.liveFirst }
  }

  /** Add a unit vector (stored as int8: usearch scales it to 127 and truncates); its id is the number of vectors before it. */
  add (v: Float32Array): number {
    if (v.length !== this.dimensions) throw new RangeError(`a vector of ${v.length} dimensions in an index of ${this.dimensions}`)
    const id = this.count
    this.live.add(BigInt(id), v, THREADS)
    this.count++
    return id
  }

  /**
   * The graph's best `n` candidates for a query, best first by the inner product of the int8
   * vectors (the query made int8 too): from each segment, ef_search of them looked at (for the
   * segment's size), or n when more.
   */
  candidates (query: Float32Array, n: number): number[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${n} candidates: a whole number is needed`)
    if (this.count === 0 || n === 0) return []
    if (query.length !== this.dimensions) throw new RangeError(`a query of ${query.length} dimensions in an index of ${this.dimensions}`)
    const found: Array<{ id: number, distance: number }> = []
    const ask = (graph: Index, size: number): void => {
      if (size === 0) return
      const ef = this.fixedEf ?? efSearchFor(size)
      const { keys, distances } = graph.search(query, Math.min(size, Math.max(ef, n)), THREADS)
      for (let i = 0; i < keys.length; i++) {
        const id = Number(keys[i])
        if (id < this.count) found.push({ id, distance: distances[i]! })
      }
    }
    for (const s of this.frozen) ask(s.graph, s.size)
    ask(this.live, this.count - this.liveFirst)
    if (this.frozen.length > 0) found.sort((a, b) => a.distance - b.distance || a.id - b.id)
    return found.slice(0, n).map(f => f.id)
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
    return { vector: this.dimensions, links: this.live.connectivity() * 2 * 4 }
  }
}

/** Link errors a copy answers: another file system, or one without hard links. */
const CANNOT_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'ENOSYS'])

/**
 * Put `from` at `to` (a new name): a hard link, or a copy where links cannot be made; false when
 * `from` is gone. Never over an existing file: a copy over a hard link of a file a segment maps
 * would truncate it under the mapping.
 */
function keep (from: string, to: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    if (code === 'ENOENT' && !existsSync(from)) return false
    if (!CANNOT_LINK.has(code)) throw err
  }
  copyFileSync(from, to, constants.COPYFILE_EXCL)
  return true
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
