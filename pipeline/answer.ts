/**
 * Stages 4 and 5 for a region: its answer chosen from the beam (canonical LaTeX, the parse check,
 * brackets that pair), its alternatives and confidence; the readings of a region read in pieces
 * joined; and how whole readings of one image are compared.
 */
import { canonicalize, detokenize, tokenize } from './latex/canonical.js'
import { delimitersPair } from './latex/delimiters.js'
import { checkLatex } from './latex/validate.js'
import { calibrate, IDENTITY_CURVE, rawProbability, type CalibrationCurve } from './confidence.js'
import { LENGTH_ALPHA, type Hypothesis } from './recognizer.js'
import type { Unreadable } from './unreadable.js'

/**
 * How many nats less likely than the answer a reading whose brackets pair may be, to be chosen
 * over an answer whose brackets do not (latex/delimiters.ts). Chosen on 1,500 generated formulas
 * of the `learning` profile (seed 41, not a held-out set): at 2 nats five answers changed, one
 * to the right reading and none away from it (1 nat: two, neither to it); wider margins changed
 * no more. Then measured with texmesh-v2+de227d7e, at the glyph scale of the time (1): held-out
 * C 67.8 % -> 68.3 % exact (75 answers changed: 18 to the right one, 3 away from it); A and B
 * unchanged (their brackets always pair, and so did every answer's).
 */
export const PAIRING_MARGIN = 2

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Another reading, in the beam's (length-normalised) order. */
export interface Alternative {
  latex: string;
  /** The sequence's log-probability under the model (higher is likelier). */
  score: number;
}

/**
 * Which beam the answer came from: the best one; or a later one that parses as TeX, because the
 * best did not, or because its brackets did not pair and the later one's do (PAIRING_MARGIN);
 * or none parsed.
 */
export type ParseOutcome = 'best' | 'alternative' | 'none'

export interface RegionResult {
  bbox: Box;
  latex: string;
  confidence: number;
  score: number;
  parse: ParseOutcome;
  alternatives: Alternative[];
  /** The region is not something this model can read (an array, or prose): its reading is kept, with confidence 0. */
  unreadable?: Unreadable;
}

/**
 * A whole reading's log-probability over its length to the LENGTH_ALPHA, as the beam scores one
 * (each region's end counted): what readings of one image at several scales are compared by.
 */
export function readingScore (r: { regions: readonly { latex: string; score: number }[] }): number {
  let logprob = 0
  let length = 0
  for (const g of r.regions) {
    logprob += g.score
    length += tokenCount(g.latex) + 1
  }
  return logprob / Math.pow(Math.max(1, length), LENGTH_ALPHA)
}

function tokenCount (latex: string): number {
  try {
    return tokenize(latex).length
  } catch {
    return latex.length // no TeX: its characters
  }
}

function canonicalOrRaw (latex: string): string {
  try {
    return canonicalize(latex)
  } catch {
    return latex
  }
}

/** Stage 4 and 5 for one region: canonical LaTeX, the parse check, alternatives and confidence. */
export function chooseAnswer (hyps: readonly Hypothesis[], box: Box, curve: CalibrationCurve = IDENTITY_CURVE): RegionResult {
  // Canonical strings, best first; a later hypothesis with the same canonical form adds nothing.
  const seen = new Set<string>()
  const cands: Alternative[] = []
  for (const h of hyps) {
    const latex = canonicalOrRaw(h.latex)
    if (seen.has(latex)) continue
    seen.add(latex)
    cands.push({ latex, score: h.logprob })
  }
  if (cands.length === 0) cands.push({ latex: '', score: -Infinity })
  const parses = cands.map((c) => checkLatex(c.latex).ok)
  let chosen = parses.indexOf(true)
  if (chosen >= 0 && !delimitersPair(cands[chosen]!.latex)) {
    const top = cands[chosen]!.score
    const paired = cands.findIndex((c, i) => i > chosen && parses[i] && top - c.score <= PAIRING_MARGIN && delimitersPair(c.latex))
    if (paired >= 0) chosen = paired
  }
  const parse: ParseOutcome = chosen === 0 ? 'best' : chosen > 0 ? 'alternative' : 'none'
  if (chosen < 0) chosen = 0
  const answer = cands[chosen]!
  // Alternatives in the beam's order; when something parses, only what parses.
  return {
    bbox: box,
    latex: answer.latex,
    score: answer.score,
    // No reading at all (an empty beam) is no confidence, whatever the curve's lowest point.
    confidence: Number.isFinite(answer.score) ? calibrate(rawProbability(answer.score), curve) : 0,
    parse,
    alternatives: cands.filter((_, i) => i !== chosen && (parse === 'none' || parses[i])),
  }
}

/**
 * Whole-image alternatives for several regions: the answer with one region
 * swapped for one of its alternatives, likeliest first.
 */
export function combinedAlternatives (regions: readonly RegionResult[], limit: number): Alternative[] {
  const total = regions.reduce((s, r) => s + r.score, 0)
  const out: Alternative[] = []
  regions.forEach((r, i) => {
    for (const a of r.alternatives) {
      const parts = regions.map((q, j) => (j === i ? a.latex : q.latex))
      out.push({ latex: parts.join(' \\\\ '), score: total - r.score + a.score })
    }
  })
  return out.sort((a, b) => b.score - a.score).slice(0, limit)
}

/**
 * A region read in pieces: its hypotheses are the pieces' readings joined, the
 * best of each first, then the best with one piece swapped for one of its
 * alternatives, in the beam's (length-normalised) order. Log-probabilities
 * add, each piece's end token included, and the length counts those ends, as
 * the beam search counts a whole reading's.
 */
export function joinPieces (pieces: readonly (readonly Hypothesis[])[], limit: number): Hypothesis[] {
  if (pieces.length === 1) return [...pieces[0]!]
  if (pieces.some((p) => p.length === 0)) return []
  const join = (choice: readonly Hypothesis[]): Hypothesis => {
    const tokens = choice.flatMap((h) => h.tokens)
    const logprob = choice.reduce((s, h) => s + h.logprob, 0)
    return { tokens, latex: detokenize(tokens), logprob, score: logprob / Math.pow(tokens.length + choice.length, LENGTH_ALPHA) }
  }
  const best = pieces.map((p) => p[0]!)
  const swaps: Hypothesis[] = []
  pieces.forEach((p, i) => {
    for (const alt of p.slice(1)) swaps.push(join(best.map((h, j) => (j === i ? alt : h))))
  })
  swaps.sort((a, b) => b.score - a.score)
  return [join(best), ...swaps].slice(0, Math.max(1, limit))
}
