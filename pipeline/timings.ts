/**
 * Where the recognition of one image spent its time, stage by stage (the
 * node's metrics observe it: texmesh_ocr_stage_seconds). Each stage is timed
 * with performance.now() on the thread that ran it; the stages do not overlap,
 * so their sum is at most the whole recognition's time. An image read more
 * than once (turned on its side, or again at another glyph scale: ocr.ts)
 * adds up each reading's times.
 */

/**
 * The stages, in the order they run: waiting in the pool for a free worker
 * (pool.ts); decoding the image to an ink map (preprocess.ts); finding the
 * regions and cutting wide ones into pieces (segment.ts, and turning the ink
 * for a sideways reading); drawing the model canvases (model-input.ts); the
 * encoder; the beam search over the decoder (recognizer.ts, beam.ts); and
 * choosing each region's answer (canonical LaTeX, parse check, confidence,
 * the unreadable check: ocr.ts).
 */
export const OCR_STAGES = ['queue', 'preprocess', 'segment', 'canvas', 'encoder', 'decoder', 'answer'] as const
export type OcrStage = (typeof OCR_STAGES)[number]

/** Milliseconds per stage. A stage that did not run is absent (a pipeline outside a pool has no queue). */
export type OcrTimings = Partial<Record<OcrStage, number>>

/** Adds up the time spent in each stage of one recognition. */
export class StageClock {
  readonly ms: OcrTimings = {}

  /** Run `work` as part of `stage`. */
  async time<T>(stage: OcrStage, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    try {
      return await work()
    } finally {
      this.add(stage, performance.now() - t0)
    }
  }

  /** The same for synchronous work. */
  timeSync<T>(stage: OcrStage, work: () => T): T {
    const t0 = performance.now()
    try {
      return work()
    } finally {
      this.add(stage, performance.now() - t0)
    }
  }

  add (stage: OcrStage, ms: number): void {
    this.ms[stage] = (this.ms[stage] ?? 0) + ms
  }
}
