/**
 * A formula's structural embedding, from its canonical LaTeX: hashed features, weighted and
 * normalised, so that formulas sharing structure and symbols lie near each other
 * (`\int_0^1 x^n dx` finds `\int_0^1 x^{n+1} dx`). Pure and deterministic.
 *
 * Features, each hashed (FNV-1a) to one of DIMENSIONS signed slots:
 * - tokens, and token bigrams and trigrams (symbols, and how they follow each other);
 * - each token with the place it sits in: the argument of the command or script it is in, and
 *   that command's own place (subtree paths: `\frac#1>x`, `^>n`, `\sqrt#1>\frac#2>b`).
 * Counts are damped (1 + log n), so a long formula does not drown in repeated symbols.
 */
import { createHash } from 'node:crypto'
import { canonicalTokens } from '../pipeline/latex/canonical.js'
import { quantize } from './quantize.js'

/** Slots of the embedding (chosen by measurement: bench:memory). */
export const DIMENSIONS = 128

export const WEIGHTS = { token: 1, bigram: 1, trigram: 0.7, path: 1.2 }

/** Commands whose arguments make a place of their own, and how many arguments they take. */
const ARGUMENTS: Record<string, number> = { '\\frac': 2, '\\binom': 2, '\\sqrt': 1, '^': 1, _: 1, '\\overline': 1, '\\hat': 1, '\\vec': 1, '\\bar': 1, '\\tilde': 1, '\\dot': 1, '\\mathbf': 1, '\\mathrm': 1, '\\mathbb': 1, '\\mathcal': 1, '\\operatorname': 1 }

/** FNV-1a, 32 bits, fed a string at a time (the state as a signed 32-bit integer; `>>> 0` ends it). */
const FNV_OFFSET = 0x811c9dc5 | 0
const FNV_PRIME = 0x01000193
function feed (h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME)
  return h
}
const SPACE = ' '
/** Each kind of feature: its weight, and the hash state after its prefix ("t ", "b ", ...). */
const KINDS = [
  { weight: WEIGHTS.token, start: feed(FNV_OFFSET, 't ') },
  { weight: WEIGHTS.bigram, start: feed(FNV_OFFSET, 'b ') },
  { weight: WEIGHTS.trigram, start: feed(FNV_OFFSET, 'g ') },
  { weight: WEIGHTS.path, start: feed(FNV_OFFSET, 'p ') }
] as const
const TOKEN = 0
const BIGRAM = 1
const TRIGRAM = 2
const PATH = 3

/**
 * Features counted by their hashes, in the order first met (two features whose names share a
 * 32-bit hash count as one: about once in a million formulas of 100 features; version 1 of the
 * embedding kept them apart): an open-addressing table over typed
 * arrays, kept between calls, so that counting allocates nothing (a search re-embeds its
 * candidates: this is on its path).
 */
class FeatureCounts {
  /** per slot: 0 when free, else the feature's place in the order + 1 */
  private slots = new Int32Array(1024)
  /** per feature, in the order first met: its hash, count * KINDS.length + kind, and its slot */
  hashes = new Int32Array(256)
  packed = new Int32Array(256)
  private at = new Int32Array(256)
  size = 0

  clear (): void {
    for (let i = 0; i < this.size; i++) this.slots[this.at[i]!] = 0
    this.size = 0
  }

  add (h: number, kind: number): void {
    const mask = this.slots.length - 1
    for (let s = (h ^ (h >>> 15)) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s]!
      if (e === 0) {
        if (this.size === this.hashes.length) this.growEntries()
        this.hashes[this.size] = h
        this.packed[this.size] = KINDS.length + kind
        this.at[this.size] = s
        this.slots[s] = ++this.size
        if (this.size * 2 > this.slots.length) this.growSlots()
        return
      }
      if (this.hashes[e - 1] === h) { this.packed[e - 1]! += KINDS.length; return }
    }
  }

  private growEntries (): void {
    const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => { const b = new Int32Array(a.length * 2); b.set(a); return b }
    this.hashes = grow(this.hashes)
    this.packed = grow(this.packed)
    this.at = grow(this.at)
  }

  private growSlots (): void {
    this.slots = new Int32Array(this.slots.length * 2)
    const mask = this.slots.length - 1
    for (let i = 0; i < this.size; i++) {
      const h = this.hashes[i]!
      let s = (h ^ (h >>> 15)) & mask
      while (this.slots[s] !== 0) s = (s + 1) & mask
      this.slots[s] = i + 1
      this.at[i] = s
    }
  }
}
const counts = new FeatureCounts()

/**
 * Count into `out` the features of a formula's canonical tokens, as the FNV-1a hashes of their
 * names ("t x", "b x ^", "g x ^ {", "p \\frac#1>x"), hashed as they are read, never built.
 */
function countFeatures (tokens: readonly string[], out: FeatureCounts): void {
  const add = (h: number, kind: number): void => { out.add(h, kind) }
  for (let i = 0; i < tokens.length; i++) {
    add(feed(KINDS[TOKEN].start, tokens[i]!), TOKEN)
    if (i + 1 < tokens.length) add(feed(feed(feed(KINDS[BIGRAM].start, tokens[i]!), SPACE), tokens[i + 1]!), BIGRAM)
    if (i + 2 < tokens.length) add(feed(feed(feed(feed(feed(KINDS[TRIGRAM].start, tokens[i]!), SPACE), tokens[i + 1]!), SPACE), tokens[i + 2]!), TRIGRAM)
  }
  // "p OUTER>INNER>t": the innermost two places
  forEachPlace(tokens, (outer, inner, t) => {
    let h = KINDS[PATH].start
    if (outer != null) h = feed(feed(h, outer), '>')
    add(feed(feed(feed(h, inner), '>'), t), PATH)
  })
}

/**
 * Each token that sits in a place, with the innermost two places it is in (`outer` undefined when
 * there is one): a stack of the arguments the reader is in, where a command's next `{` opens its
 * argument (`\frac#1`, `^#1`).
 */
export function forEachPlace (tokens: readonly string[], visit: (outer: string | undefined, inner: string, token: string) => void): void {
  const places: string[] = []
  const pending: Array<{ name: string, left: number, index: number }> = []
  const opened: boolean[] = []
  for (const t of tokens) {
    if (t === '{') {
      const p = pending.at(-1)
      if (p != null && p.left > 0) {
        p.index++
        p.left--
        places.push(`${p.name}#${p.index}`)
        opened.push(true)
        if (p.left === 0) pending.pop()
      } else {
        opened.push(false)
      }
      continue
    }
    if (t === '}') {
      if (opened.pop() === true) places.pop()
      continue
    }
    const n = places.length
    if (n > 0) visit(n > 1 ? places[n - 2] : undefined, places[n - 1]!, t)
    const args = ARGUMENTS[t]
    if (args != null) pending.push({ name: t, left: args, index: 0 })
  }
}

/** The embedding of canonical tokens: unit length (all zeros for no tokens). */
export function embedTokens (tokens: readonly string[], dimensions = DIMENSIONS): Float32Array {
  const v = new Float32Array(dimensions)
  counts.clear()
  countFeatures(tokens, counts)
  const mask = (dimensions & (dimensions - 1)) === 0 ? dimensions - 1 : -1
  for (let i = 0; i < counts.size; i++) {
    const h = counts.hashes[i]! // the hash as a signed 32-bit integer: its top bit is its sign
    const packed = counts.packed[i]!
    const kind = packed % KINDS.length
    const count = (packed - kind) / KINDS.length
    const slot = mask >= 0 ? h & mask : (h >>> 0) % dimensions
    v[slot]! += (h < 0 ? -1 : 1) * KINDS[kind]!.weight * (count === 1 ? 1 : 1 + Math.log(count))
  }
  let norm = 0
  for (const x of v) norm += x * x
  norm = Math.sqrt(norm)
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm
  return v
}

/** The embedding of a LaTeX formula (its canonical form; throws LatexSyntaxError when it does not balance). */
export function embedFormula (latex: string, dimensions = DIMENSIONS): Float32Array {
  return embedTokens(canonicalTokens(latex), dimensions)
}

let fingerprint: string | undefined

/** Raise when the features change in a way the probes below might not show. */
const EMBEDDING_VERSION = 2
const PROBES = [
  '\\int_{0}^{1} x^{n} d x', '\\frac{a+b}{\\sqrt{c}}', 'e^{i \\pi}+1=0', '\\sum_{k=1}^{n} k^{2}', '\\mathbf{F}=m \\mathbf{a}',
  '\\lim_{x \\to 0} \\frac{\\sin x}{x}=1', '\\left( \\frac{n}{e} \\right)^{n}', '\\langle \\psi | \\hat{H} | \\psi \\rangle',
  '\\alpha \\beta \\gamma \\Delta \\Omega', '\\binom{n}{k} p^{k}(1-p)^{n-k}', 'x^2+\\frac12'
]

/**
 * What identifies this embedding: its version, and a hash of the canonical forms and vectors it
 * gives a set of probe formulas. A change to the features, weights, dimensions or canonical form
 * changes it, and a saved index of the old vectors is not used (memory/snapshot.ts).
 */
export function embeddingFingerprint (): string {
  fingerprint ??= createHash('sha256').update(`v${EMBEDDING_VERSION}:${DIMENSIONS};` + PROBES.map(f => {
    const canonical = canonicalTokens(f).join(' ')
    return `${canonical}=${Array.from(quantize(embedFormula(f))).join(',')}`
  }).join(';')).digest('hex').slice(0, 16)
  return fingerprint
}
