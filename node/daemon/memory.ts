import type { Replica } from '../../crdt/replica.js'
import type { CorrectionEntry, ResultEntry } from '../../crdt/schemas.js'
import { isConfirmation } from '../../review/verdict.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { isoTime } from '../../util/time.js'
import { canonicalize, LatexSyntaxError } from '../../pipeline/latex/canonical.js'
import { DIMENSIONS, embedFormula } from '../../memory/embedding.js'
import { VectorIndex } from '../../memory/index.js'
import type { Log } from '../log.js'
import { EVERY_REVIEWER, type Reviewers } from './reviews.js'

/**
 * Formula memory on a node: every formula the replicated store holds (results, each region of a
 * many-formula image, and reviewers' corrections), one entry per canonical form, with where it
 * came from; a vector index over their structural embeddings (memory/), built from the replica at
 * start and kept current as entries arrive; and search by LaTeX.
 */

/** Where a formula came from: an image's result (by the node that read it) or a reviewer's correction or confirmation. */
export interface FormulaSource {
  hash: string
  by: string
  time: string
  kind: 'result' | 'region' | 'correction' | 'confirmation'
  /** the result carries a quorum certificate that this node checked and that holds */
  certified: boolean
}

/** One search hit: a formula (canonical), its similarity to the query (cosine, 1 = same features), its sources (the latest MAX_SOURCES) and how many there are. */
export interface FormulaHit { latex: string, score: number, sources: FormulaSource[], sourceCount: number }

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
  /** each store entry ("map:HASH/AUTHOR") -> the formulas it gave, so that a rewritten entry leaves its old ones */
  private readonly byEntry = new Map<string, string[]>()
  private readonly unsubscribe: () => void

  /** `holds`: whether a result's certificate was checked here and holds (node/daemon/certified.ts) */
  /** `reviewers`: whose reviews count (a revoked member's corrections are no source) */
  constructor (private readonly replica: Replica, private readonly holds: (hash: string, author: string) => boolean, private readonly log: Log, private readonly reviewers: Reviewers = EVERY_REVIEWER) {
    for (const { hash, author, entry } of replica.allResults()) this.setResult(hash, author, entry)
    for (const { hash, author, entry } of replica.reviews()) this.setReview(hash, author, entry)
    this.unsubscribe = replica.subscribe(change => {
      const slash = change.key.lastIndexOf('/')
      const hash = change.key.slice(0, slash)
      if (slash < 0 || !SHA256_HEX.test(hash)) return
      if (change.map === 'results') this.setResult(hash, change.author, replica.results(hash).get(change.author))
      else if (change.map === 'corrections') this.setReview(hash, change.author, replica.corrections(hash).get(change.author))
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
    // Formulas whose every source was rewritten since stay in the graph, without sources: fetch a few more.
    return this.index.search(query, k + 8).flatMap(({ id, score }) => {
      const formula = this.formulas[id]!
      const all = [...this.byFormula.get(formula)!.sources.values()].filter(s => s.kind === 'result' || s.kind === 'region' || this.reviewers.counts(s.by))
      if (all.length === 0) return []
      const sources = all.sort((a, b) => b.time.localeCompare(a.time)).slice(0, MAX_SOURCES)
        .map(s => s.kind === 'result' || s.kind === 'region' ? { ...s, certified: this.holds(s.hash, s.by) } : s)
      return [{ latex: formula, score: Math.round(score * 1e4) / 1e4, sources, sourceCount: all.length }]
    }).slice(0, k)
  }

  stop (): void { this.unsubscribe() }

  private setResult (hash: string, author: string, entry: ResultEntry | undefined): void {
    const key = `results:${hash}/${author}`
    this.drop(key)
    if (entry == null || entry.unreadable != null || !SHA256_HEX.test(hash)) return
    const time = isoTime(entry.time)
    const regions = entry.regions ?? []
    const gave = regions.length > 1
      ? regions.map(r => this.add(r.latex, key, { hash, by: author, time, kind: 'region', certified: false }))
      : [this.add(entry.latex, key, { hash, by: author, time, kind: 'result', certified: false })]
    this.byEntry.set(key, gave.filter((f): f is string => f != null))
  }

  private setReview (hash: string, author: string, entry: CorrectionEntry | undefined): void {
    const key = `corrections:${hash}/${author}`
    this.drop(key)
    if (entry == null || !SHA256_HEX.test(hash)) return
    const kind = isConfirmation(entry) ? 'confirmation' : 'correction'
    const f = this.add(entry.latex, key, { hash, by: author, time: isoTime(entry.time), kind, certified: false })
    if (f != null) this.byEntry.set(key, [f])
  }

  /** An entry rewritten or removed: its formulas lose it as a source. */
  private drop (key: string): void {
    for (const f of this.byEntry.get(key) ?? []) this.byFormula.get(f)?.sources.delete(key)
    this.byEntry.delete(key)
  }

  /** Add a formula from a store entry; the canonical formula, or undefined when there is nothing to search it by. */
  private add (latex: string, key: string, source: FormulaSource): string | undefined {
    let formula: string
    try {
      formula = canonicalize(latex)
    } catch {
      return undefined // not balanced: nothing to search it by
    }
    if (formula === '') return undefined
    let held = this.byFormula.get(formula)
    if (held == null) {
      let vector: Float32Array
      try {
        vector = embedFormula(formula)
      } catch (err) {
        this.log.debug({ err, formula: formula.slice(0, 200) }, 'a formula could not be embedded')
        return undefined
      }
      held = { id: this.index.add(vector), sources: new Map() }
      this.byFormula.set(formula, held)
      this.formulas.push(formula)
    }
    held.sources.set(key, source)
    return formula
  }
}
