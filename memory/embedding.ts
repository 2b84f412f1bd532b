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

const WEIGHTS = { token: 1, bigram: 1, trigram: 0.7, path: 1.2 }

/** Commands whose arguments make a place of their own, and how many arguments they take. */
const ARGUMENTS: Record<string, number> = { '\\frac': 2, '\\binom': 2, '\\sqrt': 1, '^': 1, _: 1, '\\overline': 1, '\\hat': 1, '\\vec': 1, '\\bar': 1, '\\tilde': 1, '\\dot': 1, '\\mathbf': 1, '\\mathrm': 1, '\\mathbb': 1, '\\mathcal': 1, '\\operatorname': 1 }

/** The features of a formula's canonical tokens, with their counts. */
export function features (tokens: readonly string[]): Map<string, { weight: number, count: number }> {
  const out = new Map<string, { weight: number, count: number }>()
  const add = (key: string, weight: number): void => {
    const f = out.get(key)
    if (f != null) f.count++
    else out.set(key, { weight, count: 1 })
  }
  for (let i = 0; i < tokens.length; i++) {
    add(`t ${tokens[i]!}`, WEIGHTS.token)
    if (i + 1 < tokens.length) add(`b ${tokens[i]!} ${tokens[i + 1]!}`, WEIGHTS.bigram)
    if (i + 2 < tokens.length) add(`g ${tokens[i]!} ${tokens[i + 1]!} ${tokens[i + 2]!}`, WEIGHTS.trigram)
  }
  // Places: a stack of the arguments the reader is in. A command's next `{` opens its argument.
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
    const place = places.slice(-2).join('>')
    if (place !== '') add(`p ${place}>${t}`, WEIGHTS.path)
    const n = ARGUMENTS[t]
    if (n != null) pending.push({ name: t, left: n, index: 0 })
  }
  return out
}

/** FNV-1a, 32 bits. */
function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The embedding of canonical tokens: unit length (all zeros for no tokens). */
export function embedTokens (tokens: readonly string[], dimensions = DIMENSIONS): Float32Array {
  const v = new Float32Array(dimensions)
  for (const [key, { weight, count }] of features(tokens)) {
    const h = fnv1a(key)
    v[h % dimensions]! += (h & 0x80000000 ? -1 : 1) * weight * (1 + Math.log(count))
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
const EMBEDDING_VERSION = 1
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
