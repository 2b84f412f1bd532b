/**
 * What formula memory (memory.ts) keeps, compactly: formulas' sources as one number each
 * (sourceCode: its entry's time and kind) in Sources, store entries in arrays (Entries), and
 * the keys it names entries by; and how it tells prose from a formula in a query (proseIn).
 */
import { createHash } from 'node:crypto'
import type { FormulaSource } from './memory.js'
import { DIMENSIONS, embedFormula } from '../../memory/embedding.js'
import { LatexSyntaxError } from '../../pipeline/latex/canonical.js'
import { hashString, IdTable } from '../../util/id-table.js'

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

  /** How many of the formulas 0..n-1 have no source. */
  unsourced (n: number): number {
    let count = 0
    for (let id = 0; id < n; id++) if (this.size(id) === 0) count++
    return count
  }

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

/** What a store entry held, in short (printOf): when it was written, and a hash of its formulas. */
export interface Print { time: number, hash: number }

/**
 * Each store entry the memory took, by its key: its print, and the ids of the formulas it gave
 * (so that a rewritten entry leaves its old ones). In arrays by slot, found by an IdTable: a Map
 * of a million entries to strings ("1790000000000:AbCdEfGhIjK#12,13") took about 95 bytes an
 * entry, these about 35.
 */
export class Entries {
  private keys: Array<string | undefined> = []
  private hashes = new Uint32Array(1024)
  private times = new Float64Array(1024)
  private prints = new Uint32Array(1024)
  /** the one formula an entry gave; NONE, or MANY (its ids in `many`) */
  private ids = new Int32Array(1024)
  private readonly many = new Map<number, number[]>()
  private free: number[] = []
  private readonly table = new IdTable(slot => this.hashes[slot]!)

  get size (): number { return this.table.size }

  private slotOf (key: string, hash = hashString(key)): number | undefined {
    return this.table.find(hash, slot => this.keys[slot] === key)
  }

  /** The entry's print and the formulas it gave, if it is held. */
  get (key: string): { print: Print, ids: number[] } | undefined {
    const slot = this.slotOf(key)
    return slot == null ? undefined : this.at(slot)
  }

  set (key: string, print: Print, ids: readonly number[]): void {
    const hash = hashString(key)
    let slot = this.slotOf(key, hash)
    if (slot == null) {
      slot = this.free.pop() ?? this.keys.length
      if (slot === this.keys.length) {
        this.keys.push(undefined)
        if (slot === this.hashes.length) this.grow()
      }
      this.keys[slot] = key
      this.hashes[slot] = hash
      this.table.insert(hash, slot)
    }
    this.times[slot] = print.time
    this.prints[slot] = print.hash
    this.many.delete(slot)
    if (ids.length === 1) this.ids[slot] = ids[0]!
    else if (ids.length === 0) this.ids[slot] = NONE
    else {
      this.ids[slot] = MANY
      this.many.set(slot, [...ids])
    }
  }

  delete (key: string): void {
    const slot = this.slotOf(key)
    if (slot == null) return
    this.table.remove(this.hashes[slot]!, slot)
    this.keys[slot] = undefined
    this.many.delete(slot)
    this.free.push(slot)
  }

  clear (): void {
    this.keys = []
    this.many.clear()
    this.free = []
    this.table.clear()
  }

  /** Every entry: its key, print and formulas. */
  * [Symbol.iterator] (): Generator<[string, Print, number[]]> {
    for (let slot = 0; slot < this.keys.length; slot++) {
      const key = this.keys[slot]
      if (key === undefined) continue
      const { print, ids } = this.at(slot)
      yield [key, print, ids]
    }
  }

  private at (slot: number): { print: Print, ids: number[] } {
    const one = this.ids[slot]!
    return { print: { time: this.times[slot]!, hash: this.prints[slot]! }, ids: one === MANY ? this.many.get(slot)! : one === NONE ? [] : [one] }
  }

  private grow (): void {
    const n = this.hashes.length * 2
    const grown = <T extends Uint32Array | Float64Array | Int32Array>(a: T, b: T): T => { b.set(a); return b }
    this.hashes = grown(this.hashes, new Uint32Array(n))
    this.times = grown(this.times, new Float64Array(n))
    this.prints = grown(this.prints, new Uint32Array(n))
    this.ids = grown(this.ids, new Int32Array(n))
  }
}
const NONE = -1
const MANY = -2

/** Two prints are of the same entry, as it was. */
export function samePrint (a: Print, b: Print): boolean { return a.time === b.time && a.hash === b.hash }

const KINDS = ['result', 'region', 'correction', 'confirmation'] as const
/** Times past this (2^50 ms: the year 37,000) are kept as the epoch, so that a time and a kind fit one number exactly. */
const MAX_TIME = 2 ** 50
/** A source's time (ms) and kind as one number: time x 4 + the kind's place in KINDS. */
export function sourceCode (time: number, kind: FormulaSource['kind']): number {
  return (time <= MAX_TIME ? time : 0) * 4 + KINDS.indexOf(kind)
}
export function kindOf (code: number): FormulaSource['kind'] { return KINDS[code % 4]! }
export function timeOf (code: number): number { return Math.floor(code / 4) }

/** What a store entry held, in short: its time and a hash (SHA-256, its first 32 bits) of its formulas. */
export function printOf (time: number, latex: readonly string[]): Print {
  return { time, hash: createHash('sha256').update(latex.join('\u0000')).digest().readUInt32BE(0) }
}

/**
 * A print as earlier copies saved it ("TIME:HASH", the hash's first 64 bits in base64url), or
 * undefined when the text is not one.
 */
export function printFromText (text: string): Print | undefined {
  const m = /^(\d+):([A-Za-z0-9_-]{11})$/.exec(text)
  return m == null ? undefined : { time: Number(m[1]), hash: Buffer.from(m[2]!, 'base64url').readUInt32BE(0) }
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
