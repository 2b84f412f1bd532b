/**
 * Stage 5, confidence: the model's probability of its answer, mapped through
 * a calibration curve.
 *
 * The raw probability is exp(sum of token log-probabilities) of the chosen
 * sequence, the end token included. A calibration curve is a monotone
 * piecewise-linear map from raw to calibrated probability, fitted by isotonic
 * regression on answers known to be right or wrong. A model folder ships one
 * (calibration.json, fitted on datasets/calibration by `npm run calibrate`);
 * without it, the identity. (Refitting curves from users' corrections across
 * the network is a later part of the system; the CRDT's calibration map keeps
 * its points in the same [raw, right] form.)
 *
 * Why a curve at all: the model was trained with label smoothing, so even a
 * token it is sure of gets about 0.9, and the raw probability of a correct
 * 20-token answer is near 0.1.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ModelFileError } from './model-error.js'

/** [raw, calibrated] points, raw strictly increasing, both in [0, 1]. */
const CurvePoints = z.array(z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)])).min(2)

export const CalibrationCurve = z
  .object({ points: CurvePoints })
  .refine((c) => c.points.every((p, i) => i === 0 || p[0] > c.points[i - 1]![0]), 'raw values must increase')
  .refine((c) => c.points.every((p, i) => i === 0 || p[1] >= c.points[i - 1]![1]), 'the curve must not decrease')
export type CalibrationCurve = z.infer<typeof CalibrationCurve>

export const IDENTITY_CURVE: CalibrationCurve = { points: [[0, 0], [1, 1]] }

/** The model's probability of a sequence from its summed log-probability. */
export function rawProbability (logprob: number): number {
  const p = Math.exp(logprob)
  return Number.isNaN(p) ? 0 : Math.min(1, Math.max(0, p))
}

/** Map a raw probability through a curve (clamped to its ends). */
export function calibrate (raw: number, curve: CalibrationCurve = IDENTITY_CURVE): number {
  if (Number.isNaN(raw)) return 0 // no probability to map: no confidence
  const pts = curve.points
  if (raw <= pts[0]![0]) return pts[0]![1]
  for (let i = 1; i < pts.length; i++) {
    const [x1, y1] = pts[i]!
    if (raw === x1) return y1
    if (raw < x1) {
      const [x0, y0] = pts[i - 1]!
      return y0 + ((raw - x0) / (x1 - x0)) * (y1 - y0)
    }
  }
  return pts[pts.length - 1]![1]
}

/** An answer whose rightness is known: its raw probability, and whether it was right. */
export interface Outcome {
  raw: number;
  right: boolean;
}

/**
 * The calibration curve for a set of outcomes: isotonic regression (pool
 * adjacent violators) of rightness on raw probability, each pool's rate
 * smoothed by one right and one wrong pseudo-answer (no pool says 0 or 1 on a
 * few answers), held from the pool's lowest raw probability to its highest (a
 * step; straight lines between pools). Every answer it was fitted on then maps
 * to its own pool's rate: a point at each pool's mean, with lines between,
 * gave an answer far from its pool's mean a neighbour's rate, and on a few
 * pools expected 43.8 right answers of 60 where 51 were.
 */
export function fitCalibration (outcomes: readonly Outcome[]): CalibrationCurve {
  // A probability that is not a number (a model gone wrong) says nothing; it would also never pool.
  const sorted = outcomes.filter((o) => Number.isFinite(o.raw)).sort((a, b) => a.raw - b.raw)
  if (sorted.length === 0) return IDENTITY_CURVE
  type Pool = { low: number; high: number; n: number; right: number }
  const pools: Pool[] = []
  const rate = (p: Pool) => p.right / p.n
  for (let i = 0; i < sorted.length;) {
    // Equal raw values start in one pool, so no two pools' raw ranges meet: the curve's raw values stay strictly increasing.
    const raw = sorted[i]!.raw
    const pool: Pool = { low: raw, high: raw, n: 0, right: 0 }
    for (; i < sorted.length && sorted[i]!.raw === raw; i++) {
      pool.n++
      if (sorted[i]!.right) pool.right++
    }
    pools.push(pool)
    while (pools.length > 1 && rate(pools[pools.length - 2]!) >= rate(pools[pools.length - 1]!)) {
      const last = pools.pop()!
      const prev = pools[pools.length - 1]!
      prev.high = last.high
      prev.n += last.n
      prev.right += last.right
    }
  }
  let floor = 0
  const points = pools.flatMap((p): Array<[number, number]> => {
    floor = Math.max(floor, (p.right + 1) / (p.n + 2)) // smoothing may reorder two pools: keep the curve rising
    return p.high > p.low ? [[p.low, floor], [p.high, floor]] : [[p.low, floor]]
  })
  if (pools.length === 1) return { points: [[0, floor], [1, floor]] } // one pool: a constant
  return CalibrationCurve.parse({ points })
}

/**
 * Expected calibration error: answers binned by stated probability (ten equal
 * bins), the gap between each bin's mean probability and its share of right
 * answers, weighted by the bin's size. 0 for a perfectly calibrated model.
 */
export function expectedCalibrationError (outcomes: readonly { p: number; right: boolean }[], bins = 10): number {
  const known = outcomes.filter((o) => Number.isFinite(o.p))
  if (known.length === 0) return 0
  const sums = Array.from({ length: bins }, () => ({ n: 0, p: 0, right: 0 }))
  for (const o of known) {
    const b = sums[Math.min(bins - 1, Math.max(0, Math.floor(o.p * bins)))]!
    b.n++
    b.p += o.p
    if (o.right) b.right++
  }
  return sums.reduce((e, b) => e + (b.n ? Math.abs(b.p - b.right) : 0), 0) / known.length
}

/** models/NAME/calibration.json: the curve shipped with a model, and what it was fitted on. */
export const ShippedCalibration = z.object({
  /** the model version (model.json) the curve was fitted for */
  model: z.string().min(1),
  /** [raw, calibrated] points */
  curve: CurvePoints,
  /** the outcomes it was fitted on: [raw probability, 1 if the answer was right else 0] */
  fittedOn: z.array(z.tuple([z.number().min(0).max(1), z.union([z.literal(0), z.literal(1)])])),
  /** the labelled set and beam width of the fit */
  set: z.string(),
  beam: z.number().int().positive(),
})
export type ShippedCalibration = z.infer<typeof ShippedCalibration>

export const CALIBRATION_FILE = 'calibration.json'

/**
 * The curve a model folder ships for `version`; the identity when it ships
 * none. A curve fitted for another version of the model is refused: its
 * confidences would be wrong without any sign of it.
 */
export async function loadShippedCurve (modelDir: string, version: string): Promise<CalibrationCurve> {
  const path = join(modelDir, CALIBRATION_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return IDENTITY_CURVE
    throw new ModelFileError(`model folder ${modelDir}: ${CALIBRATION_FILE} cannot be read (${(err as Error).message})`)
  }
  let shipped: ShippedCalibration
  let curve: CalibrationCurve
  try {
    shipped = ShippedCalibration.parse(JSON.parse(text))
    curve = CalibrationCurve.parse({ points: shipped.curve })
  } catch (err) {
    const why = err instanceof z.ZodError ? err.issues.map((i) => i.message).join('; ') : (err as Error).message
    throw new ModelFileError(`model folder ${modelDir}: ${CALIBRATION_FILE} is not a calibration curve (${why})`)
  }
  if (shipped.model !== version) {
    throw new ModelFileError(
      `model folder ${modelDir}: ${CALIBRATION_FILE} was fitted for model ${shipped.model}, not ${version} ` +
        '(fit it again with `npm run calibrate` in a texmesh checkout, or remove it to state raw probabilities)'
    )
  }
  return curve
}
