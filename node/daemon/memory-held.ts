/**
 * What formula memory (memory.ts) keeps, compactly: formulas' sources as one number each
 * (sourceCode: its entry's time and kind) in Sources, entries as one string each (entryCode),
 * and the keys it names entries by; and how it tells prose from a formula in a query (proseIn).
 */
import { createHash } from 'node:crypto'
import type { FormulaSource } from './memory.js'
import { DIMENSIONS, embedFormula } from '../../memory/embedding.js'
import { LatexSyntaxError } from '../../pipeline/latex/canonical.js'

/**
 * Entries are held under the store's own key string for a result ("HASH/AUTHOR": not a copy, a
 * million times) and "corrections:HASH/AUTHOR" for a review; the saved copy names both maps.
 */
export function savedKey (key: string): string { return key.startsWith('corrections:') ? key : `results:${key}` }

/**
 * Every formula's sources (entry key -> sourceCode), by the formula's id. Most formulas have one
 * source, kept in two arrays (its key; its code, a double stored unboxed): an object for each of
 * a million formulas took about 56 bytes more. A Map is made for a formula's second source.
 */
export class Sources {
  private keys: Array<string | undefined> = []
  private codes: number[] = []
  private readonly many = new Map<number, Map<string, number>>()

  /** Room for `n` formulas more (ids from the count before), with no sources yet. */
  grow (n: number): void {
    for (let i = 0; i < n; i++) {
      this.keys.push(undefined)
      this.codes.push(0)
    }
  }

  clear (): void {
    this.keys = []
    this.codes = []
    this.many.clear()
  }

  size (id: number): number { return this.many.get(id)?.size ?? (this.keys[id] !== undefined ? 1 : 0) }

  set (id: number, key: string, code: number): void {
    const many = this.many.get(id)
    const one = this.keys[id]
    if (many != null) {
      many.set(key, code)
    } else if (one === undefined || one === key) {
      this.keys[id] = key
      this.codes[id] = code
    } else {
      this.many.set(id, new Map([[one, this.codes[id]!], [key, code]]))
      this.keys[id] = undefined
    }
  }

  delete (id: number, key: string): void {
    const many = this.many.get(id)
    if (many != null) many.delete(key)
    else if (this.keys[id] === key) this.keys[id] = undefined
  }

  /** A formula's sources, in the order they came. */
  entries (id: number): Array<[string, number]> {
    const many = this.many.get(id)
    const one = this.keys[id]
    return many != null ? [...many] : one !== undefined ? [[one, this.codes[id]!]] : []
  }
}

/**
 * What a store entry held, and the formulas it gave, as one string: its print (printOf), "#",
 * and the formulas' ids ("1790000000000:AbCdEfGhIjK#12,13"). An object and an array for each of
 * a million entries took about 100 bytes more.
 */
export function entryCode (print: string, ids: readonly number[]): string { return `${print}#${ids.join(',')}` }
export function printIn (code: string): string { return code.slice(0, code.lastIndexOf('#')) }
export function idsIn (code: string): number[] {
  const ids = code.slice(code.lastIndexOf('#') + 1)
  return ids === '' ? [] : ids.split(',').map(Number)
}

const KINDS = ['result', 'region', 'correction', 'confirmation'] as const
/** Times past this (2^50 ms: the year 37,000) are kept as the epoch, so that a time and a kind fit one number exactly. */
const MAX_TIME = 2 ** 50
/** A source's time (ms) and kind as one number: time x 4 + the kind's place in KINDS. */
export function sourceCode (time: number, kind: FormulaSource['kind']): number {
  return (time <= MAX_TIME ? time : 0) * 4 + KINDS.indexOf(kind)
}
export function kindOf (code: number): FormulaSource['kind'] { return KINDS[code % 4]! }
export function timeOf (code: number): number { return Math.floor(code / 4) }

/** What a store entry held, in short: its time and a hash (SHA-256, 64 bits) of its formulas. */
export function printOf (time: number, latex: readonly string[]): string {
  return `${time}:${createHash('sha256').update(latex.join('\u0000')).digest('base64url').slice(0, 11)}`
}

/**
 * Words of prose in a query, if it has any, outside commands and their text arguments
 * (`\text{...}`, `\mathrm{...}`): two words side by side, one of them of four letters or
 * more ("integral of", "what is the"). Formulas name things with a letter or two, with commands,
 * or with single words (`softmax(x)`), not with phrases.
 */
export function proseIn (query: string): string | undefined {
  const bare = query.replace(/\\(?:text[a-z]*|math[a-z]*|operatorname\*?|mbox|hbox)\s*\{[^{}]*\}/g, ' ').replace(/\\[a-zA-Z]+\*?/g, ' ')
  return /(?<![a-zA-Z])(?:[a-zA-Z]{4,}\s+[a-zA-Z]{2,}|[a-zA-Z]{2,}\s+[a-zA-Z]{4,})(?![a-zA-Z])/.exec(bare)?.[0]
}

/** The longest LaTeX a query may have. */
export const MAX_QUERY_LATEX = 4096
export const MAX_K = 100

export class SearchError extends Error {}

/** A query's embedding, once it is checked: LaTeX of a formula, not prose, with symbols to search by; k from 1 to MAX_K. */
export function queryVector (latex: string, k: number): Float32Array {
  if (latex.trim() === '') throw new SearchError('an empty query: give a formula in LaTeX')
  if (latex.length > MAX_QUERY_LATEX) throw new SearchError(`a query of ${latex.length} characters; at most ${MAX_QUERY_LATEX}`)
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new SearchError(`k must be a whole number from 1 to ${MAX_K}`)
  const prose = proseIn(latex)
  if (prose != null) throw new SearchError(`the query reads as prose ("${prose}"): give a formula in LaTeX, such as \\int_0^1 x^n dx`)
  let query: Float32Array
  try {
    query = embedFormula(latex)
  } catch (err) {
    if (err instanceof LatexSyntaxError) throw new SearchError(`the query is not LaTeX this reader can take: ${err.message}`)
    throw err
  }
  if (!query.some(x => x !== 0)) throw new SearchError('the query has no symbols to search by')
  return query
}

/**
 * A remembered formula's embedding for a merge of index segments; for one that no longer embeds
 * (search passes over it), a unit vector of its own, so that the ids stay in step.
 */
export function embeddingOrUnit (formula: string): Float32Array {
  try {
    return embedFormula(formula)
  } catch {
    const unit = new Float32Array(DIMENSIONS)
    unit[0] = 1
    return unit
  }
}
