/**
 * What reviews say of a model, per model version: how many, their verdicts,
 * the measured accuracy of reviewed answers, and how well their confidence
 * was calibrated (expected calibration error over equal-width bins, and the
 * bins themselves for a reliability plot). Pure.
 */
import { expectedCalibrationError } from '../pipeline/confidence.js'
import { isConfirmation, verdictOf, VERDICTS, type Review, type Verdict } from './verdict.js'

const cmp = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/** Confidence bins of the reliability plot and the calibration error. */
export const RELIABILITY_BINS = 10

export interface ReliabilityBin {
  /** the bin's confidence range [from, to) (the last bin includes 1) */
  from: number
  to: number
  reviews: number
  /** mean confidence of its answers, and the share of them that were right (null: empty bin) */
  confidence: number | null
  accuracy: number | null
}

export interface ModelStats {
  model: string
  reviews: number
  verdicts: Record<Verdict, number>
  /** reviewed answers that were right (confirmed) */
  accuracy: number
  /** mean confidence of reviewed answers */
  confidence: number
  /** expected calibration error: sum over bins of (share of reviews) x |accuracy - mean confidence| */
  calibrationError: number
  bins: ReliabilityBin[]
}

/** Statistics per model version, most reviewed first. */
export function reviewStats (reviews: Iterable<Review>): ModelStats[] {
  const byModel = new Map<string, Review[]>()
  for (const r of reviews) {
    const list = byModel.get(r.reviewed.model) ?? []
    list.push(r)
    byModel.set(r.reviewed.model, list)
  }
  return [...byModel].map(([model, list]) => modelStats(model, list))
    .sort((a, b) => b.reviews - a.reviews || (a.model < b.model ? -1 : 1))
}

function modelStats (model: string, unordered: Review[]): ModelStats {
  // Summed in one order on every node (floating-point sums depend on it): by confidence, then formulas.
  const list = [...unordered].sort((a, b) => a.reviewed.confidence - b.reviewed.confidence || cmp(a.latex, b.latex) || cmp(a.reviewed.latex, b.reviewed.latex))
  const verdicts = Object.fromEntries(VERDICTS.map(v => [v, 0])) as Record<Verdict, number>
  const bins = Array.from({ length: RELIABILITY_BINS }, (_, i) => ({ from: i / RELIABILITY_BINS, to: (i + 1) / RELIABILITY_BINS, n: 0, conf: 0, right: 0 }))
  let right = 0
  let conf = 0
  for (const r of list) {
    verdicts[verdictOf(r).verdict]++
    const ok = isConfirmation(r)
    const c = Math.min(1, Math.max(0, r.reviewed.confidence))
    const bin = bins[Math.min(RELIABILITY_BINS - 1, Math.floor(c * RELIABILITY_BINS))]!
    bin.n++
    bin.conf += c
    if (ok) {
      bin.right++
      right++
    }
    conf += c
  }
  const n = list.length
  const calibrationError = expectedCalibrationError(list.map(r => ({ p: Math.min(1, Math.max(0, r.reviewed.confidence)), right: isConfirmation(r) })), RELIABILITY_BINS)
  return {
    model,
    reviews: n,
    verdicts,
    accuracy: right / n,
    confidence: conf / n,
    calibrationError,
    bins: bins.map(b => ({ from: b.from, to: b.to, reviews: b.n, confidence: b.n > 0 ? b.conf / b.n : null, accuracy: b.n > 0 ? b.right / b.n : null }))
  }
}
