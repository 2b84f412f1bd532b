/**
 * What formula memory (memory.ts) keeps, compactly: a formula's sources as one number each
 * (sourceCode: its entry's time and kind) in a Held, and the keys it names entries by; and how
 * it tells prose from a formula in a query (proseIn).
 */
import { createHash } from 'node:crypto'
import type { FormulaSource } from './memory.js'

/**
 * Entries are held under the store's own key string for a result ("HASH/AUTHOR": not a copy, a
 * million times) and "corrections:HASH/AUTHOR" for a review; the saved copy names both maps.
 */
export function savedKey (key: string): string { return key.startsWith('corrections:') ? key : `results:${key}` }

/**
 * A formula held: its id in the index, and its sources (entry key -> sourceCode). Most formulas
 * have one source, kept in two fields; a Map is made for a second (a Map of one entry took about
 * 150 bytes, a million times).
 */
export class Held {
  private one: string | undefined
  private code = 0
  private many: Map<string, number> | undefined
  constructor (readonly id: number) {}

  get size (): number { return this.many?.size ?? (this.one != null ? 1 : 0) }

  set (key: string, code: number): void {
    if (this.many != null) this.many.set(key, code)
    else if (this.one == null || this.one === key) {
      this.one = key
      this.code = code
    } else {
      this.many = new Map([[this.one, this.code], [key, code]])
      this.one = undefined
    }
  }

  delete (key: string): void {
    if (this.many != null) this.many.delete(key)
    else if (this.one === key) this.one = undefined
  }

  /** The sources, in the order they came. */
  entries (): Array<[string, number]> {
    return this.many != null ? [...this.many] : this.one != null ? [[this.one, this.code]] : []
  }
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
