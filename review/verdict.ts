/**
 * A review's verdict (the design's five): what a person's confirmation or
 * correction says about the answer the model gave. Pure: every node computes
 * the same verdict from the same review.
 */
import { canonicalize } from '../pipeline/latex/canonical.js'

export type Verdict = 'success' | 'acceptable' | 'low-confidence' | 'suboptimal' | 'failed'
export const VERDICTS: readonly Verdict[] = ['success', 'acceptable', 'low-confidence', 'suboptimal', 'failed']

/** A confirmed answer at this confidence or more is a success; from ACCEPTABLE_FROM, acceptable; below, low-confidence. */
export const SUCCESS_FROM = 0.95
export const ACCEPTABLE_FROM = 0.80

/** What was reviewed: the answer served at the time, by which model, how sure, and the alternatives it offered. */
export interface Reviewed {
  latex: string
  model: string
  confidence: number
  alternatives: string[]
}

/** One person's review of an image's answer: the LaTeX they say is right (canonical). */
export interface Review {
  latex: string
  reviewed: Reviewed
  time: number
}

/** Two LaTeX strings are the same formula when their canonical forms are equal (the strings, if either does not parse). */
export function sameFormula (a: string, b: string): boolean {
  return canonicalOrSelf(a) === canonicalOrSelf(b)
}

/** Canonical forms computed lately: every view, fit and statistic asks again for the same reviews' formulas. */
const CANONICAL_CACHE = 20_000
const canonicalCache = new Map<string, string>()

export function canonicalOrSelf (latex: string): string {
  const known = canonicalCache.get(latex)
  if (known != null) return known
  let canonical: string
  try {
    canonical = canonicalize(latex)
  } catch {
    canonical = latex.trim()
  }
  if (canonicalCache.size >= CANONICAL_CACHE) canonicalCache.delete(canonicalCache.keys().next().value!)
  canonicalCache.set(latex, canonical)
  return canonical
}

/** Was the reviewed answer confirmed (the review names the same formula)? */
export function isConfirmation (review: Review): boolean {
  return sameFormula(review.latex, review.reviewed.latex)
}

/**
 * The verdict, and for a suboptimal one the rank (1 = the first alternative)
 * at which the right formula was among the alternatives.
 */
export function verdictOf (review: Review): { verdict: Verdict, rank?: number } {
  const { reviewed } = review
  if (isConfirmation(review)) {
    if (reviewed.confidence >= SUCCESS_FROM) return { verdict: 'success' }
    if (reviewed.confidence >= ACCEPTABLE_FROM) return { verdict: 'acceptable' }
    return { verdict: 'low-confidence' }
  }
  const right = canonicalOrSelf(review.latex)
  const at = reviewed.alternatives.findIndex(a => canonicalOrSelf(a) === right)
  return at >= 0 ? { verdict: 'suboptimal', rank: at + 1 } : { verdict: 'failed' }
}
