/**
 * Confidence calibration from the network's reviews, per model version: an isotonic curve
 * (confidence given -> probability the answer is right), fitted by pooling adjacent
 * violators on every review of that model in the store. Pure and deterministic: every node
 * fits the same curve from the same reviews, whatever order it learnt them in.
 *
 * - Each reviewer's reviews together weigh at most as much as the median reviewer's (the lower
 *   median, and at least FLOOD_CAP_MIN): a member that floods the store with reviews moves the
 *   curve no more than one typical member can (with two reviewers, no more than the other).
 * - Reviews of unreadable images (confidence 0: nothing was read) are left out.
 * - The curve replaces the shipped one once the reviews weigh MIN_REVIEW_WEIGHT or more.
 * - The threshold is the lowest confidence from which the curve says answers are right at
 *   least TARGET_PRECISION of the time (`texmesh node --critical-below auto` sends results
 *   below it to the quorum).
 */
import { isConfirmation, type Review } from './verdict.js'

/** Reviews (by weight) before a network curve replaces the shipped one. */
export const MIN_REVIEW_WEIGHT = 200
/** The least weight a reviewer's reviews may have together, however few the others wrote. */
export const FLOOD_CAP_MIN = 20
/** Answers above the threshold are right at least this often, by the curve. */
export const TARGET_PRECISION = 0.95
/** The most points a curve keeps (the store's bound). */
export const MAX_CURVE_POINTS = 256
/** The most review points recorded with a curve (the store's bound); past it, evenly spaced ones. */
export const MAX_FITTED_ON = 4096

export interface FittedCurve {
  model: string
  /** the reviews it was fitted on, [confidence given, 1 if right else 0], in order (at most MAX_FITTED_ON) */
  fittedOn: Array<[number, number]>
  /** [confidence given, probability right], confidence strictly increasing from 0 to 1, probability not decreasing */
  curve: Array<[number, number]>
  /** reviews it was fitted on, and their total weight after the flood cap */
  reviews: number
  weight: number
  /** the lowest confidence given from which answers are right >= TARGET_PRECISION of the time (null: nowhere) */
  threshold: number | null
}

interface Point { x: number, y: number, w: number }

/** The curve for one model from its reviews, by reviewer; undefined below MIN_REVIEW_WEIGHT. */
export function fitCalibration (model: string, reviews: ReadonlyArray<{ author: string, review: Review }>): FittedCurve | undefined {
  const mine = reviews.filter(r => r.review.reviewed.model === model && r.review.reviewed.confidence > 0)
  const perAuthor = new Map<string, number>()
  for (const r of mine) perAuthor.set(r.author, (perAuthor.get(r.author) ?? 0) + 1)
  const counts = [...perAuthor.values()].sort((a, b) => a - b)
  if (counts.length === 0) return undefined
  const cap = Math.max(FLOOD_CAP_MIN, counts[Math.floor((counts.length - 1) / 2)]!)
  // The weight, exactly (whole numbers: the same on every node, whatever the order of arrival).
  const weight = counts.reduce((s, n) => s + Math.min(n, cap), 0)
  if (weight < MIN_REVIEW_WEIGHT) return undefined
  const points: Point[] = mine.map(r => ({
    x: Math.min(1, r.review.reviewed.confidence),
    y: isConfirmation(r.review) ? 1 : 0,
    w: Math.min(1, cap / perAuthor.get(r.author)!)
  }))
  const curve = isotonic(points)
  const all = points.map(p => [p.x, p.y] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const fittedOn = all.length <= MAX_FITTED_ON ? all : Array.from({ length: MAX_FITTED_ON }, (_, i) => all[Math.round(i * (all.length - 1) / (MAX_FITTED_ON - 1))]!)
  return { model, curve, fittedOn, reviews: mine.length, weight, threshold: thresholdOf(curve, TARGET_PRECISION) }
}

/**
 * Weighted isotonic regression (pool adjacent violators) of y on x, as a monotone piecewise-linear
 * curve through each pooled block's weighted mean confidence, extended flat to 0 and 1.
 */
export function isotonic (input: readonly Point[]): Array<[number, number]> {
  // One point per distinct confidence (order-independent: sorted, ties pooled).
  const sorted = [...input].sort((a, b) => a.x - b.x || a.y - b.y || a.w - b.w)
  const blocks: Array<{ x: number, y: number, w: number }> = []
  for (const p of sorted) {
    const last = blocks.at(-1)
    if (last != null && last.x === p.x) pool(last, p)
    else blocks.push({ ...p })
    // Pool backwards while the means decrease.
    while (blocks.length > 1 && blocks.at(-2)!.y > blocks.at(-1)!.y) pool(blocks.at(-2)!, blocks.pop()!)
  }
  let pts: Array<[number, number]> = blocks.map(b => [b.x, b.y])
  // At most MAX_CURVE_POINTS - 2 inner points: keep evenly spaced ones (the curve stays monotone).
  if (pts.length > MAX_CURVE_POINTS - 2) {
    const step = (pts.length - 1) / (MAX_CURVE_POINTS - 3)
    pts = Array.from({ length: MAX_CURVE_POINTS - 2 }, (_, i) => pts[Math.round(i * step)]!)
  }
  const out: Array<[number, number]> = []
  if (pts[0]![0] > 0) out.push([0, pts[0]![1]])
  out.push(...pts)
  if (pts.at(-1)![0] < 1) out.push([1, pts.at(-1)![1]])
  return out.map(([x, y]) => [round(x), round(y)])
}

function pool (into: { x: number, y: number, w: number }, p: { x: number, y: number, w: number }): void {
  const w = into.w + p.w
  into.x = (into.x * into.w + p.x * p.w) / w
  into.y = (into.y * into.w + p.y * p.w) / w
  into.w = w
}

/** Six decimals: the same curve on every node, whatever its floating-point order of pooling. */
function round (v: number): number { return Math.round(v * 1e6) / 1e6 }

/** Map a confidence through a curve (linear between points, clamped to its ends). */
export function applyCurve (curve: ReadonlyArray<readonly [number, number]>, x: number): number {
  if (x <= curve[0]![0]) return curve[0]![1]
  for (let i = 1; i < curve.length; i++) {
    const [x1, y1] = curve[i]!
    if (x <= x1) {
      const [x0, y0] = curve[i - 1]!
      return x1 === x0 ? y1 : y0 + (x - x0) / (x1 - x0) * (y1 - y0)
    }
  }
  return curve.at(-1)![1]
}

/** The lowest x from which the curve is at least `target` (it does not decrease), or null. */
export function thresholdOf (curve: ReadonlyArray<readonly [number, number]>, target: number): number | null {
  if (curve[0]![1] >= target) return curve[0]![0]
  for (let i = 1; i < curve.length; i++) {
    const [x1, y1] = curve[i]!
    if (y1 >= target) {
      const [x0, y0] = curve[i - 1]!
      return round(y1 === y0 ? x1 : x0 + (target - y0) / (y1 - y0) * (x1 - x0))
    }
  }
  return null
}
