import type { Replica } from '../../crdt/replica.js'
import { canonicalize, LatexSyntaxError } from '../../pipeline/latex/canonical.js'
import { DIMENSIONS, embedFormula } from '../../memory/embedding.js'
import { VectorIndex } from '../../memory/index.js'
import type { Log } from '../log.js'

/**
 * Formula memory on a node: every formula the replicated store holds (results, each region of a
 * many-formula image, and reviewers' corrections), one entry per canonical form, with where it
 * came from; a vector index over their structural embeddings (memory/), built from the replica at
 * start and kept current as entries arrive; and search by LaTeX.
 */

/** Where a formula came from: an image's result (by the node that read it) or a reviewer's correction. */
export interface FormulaSource {
  hash: string
  by: string
  time: string
  kind: 'result' | 'region' | 'correction'
  /** the result carries a quorum certificate */
  certified: boolean
}

/** One search hit: a formula (canonical), its similarity to the query (cosine, 1 = same features), and its sources. */
export interface FormulaHit { latex: string, score: number, sources: FormulaSource[] }

/** Sources listed per formula in a hit (the rest are counted). */
const MAX_SOURCES = 20
/** The longest LaTeX a query may have. */
export const MAX_QUERY_LATEX = 4096
export const MAX_K = 100

export class SearchError extends Error {}

export class FormulaMemory {
  private readonly index = new VectorIndex(DIMENSIONS)
  private readonly byFormula = new Map<string, { id: number, sources: Map<string, FormulaSource> }>()
  private readonly formulas: string[] = []
  private readonly unsubscribe: () => void

  constructor (private readonly replica: Replica, private readonly log: Log) {
    for (const { hash, author, entry } of replica.allResults()) this.addResult(hash, author, entry)
    for (const { hash, author, entry } of replica.reviews()) this.add(entry.latex, { hash, by: author, time: iso(entry.time), kind: 'correction', certified: false })
    this.unsubscribe = replica.subscribe(change => {
      const slash = change.key.lastIndexOf('/')
      const hash = change.key.slice(0, slash)
      if (change.map === 'results') {
        const entry = replica.results(hash).get(change.author)
        if (entry != null) this.addResult(hash, change.author, entry)
      } else if (change.map === 'corrections') {
        const entry = replica.corrections(hash).get(change.author)
        if (entry != null) this.add(entry.latex, { hash, by: change.author, time: iso(entry.time), kind: 'correction', certified: false })
      }
    })
  }

  /** Distinct formulas held. */
  get size (): number { return this.formulas.length }

  /** The k formulas most like `latex`, equivalent forms grouped. */
  search (latex: string, k = 10): FormulaHit[] {
    if (latex.trim() === '') throw new SearchError('an empty query: give a formula in LaTeX')
    if (latex.length > MAX_QUERY_LATEX) throw new SearchError(`a query of ${latex.length} characters; at most ${MAX_QUERY_LATEX}`)
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new SearchError(`k must be a whole number from 1 to ${MAX_K}`)
    let query: Float32Array
    try {
      query = embedFormula(latex)
    } catch (err) {
      if (err instanceof LatexSyntaxError) throw new SearchError(`the query is not LaTeX this reader can take: ${err.message}`)
      throw err
    }
    if (!query.some(x => x !== 0)) throw new SearchError('the query has no symbols to search by')
    return this.index.search(query, k).map(({ id, score }) => {
      const formula = this.formulas[id]!
      const sources = [...this.byFormula.get(formula)!.sources.values()].sort((a, b) => b.time.localeCompare(a.time)).slice(0, MAX_SOURCES)
      return { latex: formula, score: Math.round(score * 1e4) / 1e4, sources }
    })
  }

  stop (): void { this.unsubscribe() }

  private addResult (hash: string, author: string, entry: { latex: string, time: number, certificate?: unknown, unreadable?: unknown, regions?: Array<{ latex: string }> | undefined }): void {
    if (entry.unreadable != null) return
    const certified = entry.certificate != null
    const regions = entry.regions ?? []
    if (regions.length > 1) {
      for (const r of regions) this.add(r.latex, { hash, by: author, time: iso(entry.time), kind: 'region', certified })
    } else {
      this.add(entry.latex, { hash, by: author, time: iso(entry.time), kind: 'result', certified })
    }
  }

  private add (latex: string, source: FormulaSource): void {
    let formula: string
    try {
      formula = canonicalize(latex)
    } catch {
      return // not balanced: nothing to search it by
    }
    if (formula === '') return
    let held = this.byFormula.get(formula)
    if (held == null) {
      let vector: Float32Array
      try {
        vector = embedFormula(formula)
      } catch (err) {
        this.log.debug({ err, formula: formula.slice(0, 200) }, 'a formula could not be embedded')
        return
      }
      held = { id: this.index.add(vector), sources: new Map() }
      this.byFormula.set(formula, held)
      this.formulas.push(formula)
    }
    held.sources.set(`${source.kind}:${source.hash}/${source.by}`, source)
  }
}

const iso = (ms: number): string => new Date(ms).toISOString()
