/**
 * Stage 5, confidence: the model's probability of its answer, mapped through
 * a calibration curve.
 *
 * The raw probability is exp(sum of token log-probabilities) of the chosen
 * sequence, the end token included. A calibration curve is a monotone
 * piecewise-linear map from raw to calibrated probability; until calibration
 * data exists (a later part of the system fits curves from corrections) the
 * identity is used.
 */
import { z } from 'zod';

export const CalibrationCurve = z
  .object({
    /** [raw, calibrated] points, raw strictly increasing, both in [0, 1]. */
    points: z.array(z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)])).min(2),
  })
  .refine((c) => c.points.every((p, i) => i === 0 || p[0] > c.points[i - 1]![0]), 'raw values must increase')
  .refine((c) => c.points.every((p, i) => i === 0 || p[1] >= c.points[i - 1]![1]), 'the curve must not decrease');
export type CalibrationCurve = z.infer<typeof CalibrationCurve>;

export const IDENTITY_CURVE: CalibrationCurve = { points: [[0, 0], [1, 1]] };

/** The model's probability of a sequence from its summed log-probability. */
export function rawProbability(logprob: number): number {
  return Math.min(1, Math.max(0, Math.exp(logprob)));
}

/** Map a raw probability through a curve (clamped to its ends). */
export function calibrate(raw: number, curve: CalibrationCurve = IDENTITY_CURVE): number {
  const pts = curve.points;
  if (raw <= pts[0]![0]) return pts[0]![1];
  for (let i = 1; i < pts.length; i++) {
    const [x1, y1] = pts[i]!;
    if (raw === x1) return y1;
    if (raw < x1) {
      const [x0, y0] = pts[i - 1]!;
      return y0 + ((raw - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return pts[pts.length - 1]![1];
}
