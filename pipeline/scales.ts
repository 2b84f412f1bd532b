/**
 * The sizes a v2 model's canvases are drawn at (ocr.ts), as factors on the typical glyph the
 * segmenter measures (segment.ts); the first is the one every image is read at. That measure runs
 * large against the glyph size the model was trained at (blur and thick strokes widen the ink it
 * measures), so the canvas is drawn a little larger. An image whose first reading is unsure (the
 * mean of its regions' log-probabilities under RESCALE_BELOW_LOGPROB) is read again at the others,
 * and the reading with the best length-normalised score (answer.ts readingScore) wins.
 *
 * Chosen with texmesh-v2+de227d7e on 1,500 generated formulas of the `learning` profile (seed 41,
 * not a held-out set). One reading at 0.80 / 0.85 / 0.88 / 0.92 / 1.00 / 1.12 of the measured
 * glyph: 76.1 / 77.7 / 78.1 / 77.7 / 77.0 / 73.6 % exact. The mean time an image took, one
 * thread, against 35.1 ms at 1 alone:
 * - 0.88 alone: 78.1 %, 1.15 times (its canvases are larger);
 * - 0.88, then 1 below a log-probability of -8 / -10 / -12: 78.9 / 78.9 / 78.8 %, 1.66 / 1.59 /
 *   1.52 times (re-reading 20 / 15 / 11 % of the images; an unsure image is a long formula, so
 *   costly). A threshold on the length-normalised score instead did worse at the same time
 *   (78.5 % at 1.63 times);
 * - 0.88, then 1 and 0.8 for the answers under 0.8 confidence: 79.3 %, 2.78 times, which
 *   `bench:ocr` measured at 20 images a second on two cores, under the 25 of the speed budget.
 * The threshold is on the model's own log-probability, not on the confidence: the calibration
 * curve is fitted on what this pipeline reads, so it must not decide what is read.
 */
export const GLYPH_SCALES: readonly number[] = [0.88, 1]
export const RESCALE_BELOW_LOGPROB = -10
