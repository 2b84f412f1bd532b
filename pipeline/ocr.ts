/**
 * The OCR pipeline on one node: image bytes in, LaTeX with confidence and
 * alternatives out. It runs the stages in order and needs no network:
 *
 *   preprocess (preprocess.ts) -> segment (segment.ts) -> recognise
 *   (recognizer.ts, beam search; at the glyph scales of scales.ts) -> LaTeX
 *   (answer.ts: canonical form, parse check, brackets that pair) -> confidence
 *   (confidence.ts)
 *
 * One OcrPipeline holds one onnxruntime session pair; load it once per
 * process and reuse it.
 */
import { chooseAnswer, combinedAlternatives, joinPieces, readingScore, type Alternative, type RegionResult } from './answer.js'
import { GLYPH_SCALES, RESCALE_BELOW_LOGPROB } from './scales.js'
import { loadShippedCurve, type CalibrationCurve } from './confidence.js'
import { canvasFromInk, glyphCanvas } from './model-input.js'
import { ImageError, preprocess } from './preprocess.js'
import { DEFAULT_MODEL_DIR, glyphGeometry, Recognizer, type Hypothesis } from './recognizer.js'
import { forcedScore, tokenIds, type ForcedScore } from './forced.js'
import { encodeEmbedding, imageEmbedding } from './image-embedding.js'
import { glyphPieces, readingPieces, segment } from './segment.js'
import { StageClock, type OcrTimings } from './timings.js'
import { unreadable, type Unreadable } from './unreadable.js'

export type { Alternative, Box, ParseOutcome, RegionResult } from './answer.js'

export const DEFAULT_BEAM = 5

export { GLYPH_SCALES, RESCALE_BELOW_LOGPROB } from './scales.js'

export interface OcrResult {
  /** The regions' LaTeX, top to bottom, joined by " \\ " when there are several. */
  latex: string;
  /** Calibrated probability that the whole answer is right (the product over regions). */
  confidence: number;
  alternatives: Alternative[];
  regions: RegionResult[];
  /** The model version (model.json), which results and votes carry. */
  model: string;
  ms: number;
  /** The image was read turned by this many degrees (clockwise): its ink stood on its side. Boxes are in the turned image. */
  rotated?: 90 | 270;
  /** Why the answer is not to be trusted, when a region is something this model cannot read (the first such region's). */
  unreadable?: Unreadable;
  /** Where the time went, stage by stage (timings.ts); the node's metrics take it, its API does not answer with it. */
  timings?: OcrTimings;
  /** An image of one formula, read upright in one piece: its embedding (image-embedding.ts, int8 as base64), for formula memory. */
  embedding?: string;
}

/** Ink this many times taller than wide is read turned on its side too (a page scanned sideways). */
export const TURNED_ASPECT = 1.5
/**
 * A turned reading wins over the upright one only when it is this many times likelier, region for
 * region: an upright tall formula (a fraction, a big operator with its limits) read turned is
 * often a plausible formula too, and so is a column of formulas. But a formula on its side read
 * upright falls apart into narrow regions (its glyphs, stacked in a column: each at most
 * NARROW_REGION glyphs wide); against those, the likelier whole reading of one region wins.
 * Measured (scratch, 2026-12-06) on tall upright formulas rendered by TeX (three fonts, 110 and
 * 200 dpi), 44 sideways images (held-out A and B, and the test fixtures, turned) and three tall
 * columns of six formulas: texmesh-v2+91b1048c turns 2 of 180 upright formulas, 24 sideways ones
 * and no column. Without the narrow-region condition it turned a column too (and 27 sideways); the
 * rule before (the likeliest region for region, tried only below 0.8) missed three of the four
 * turned test fixtures with the 840-minute model, and turned 20 sideways images against 33.
 * (Measured with canvases at the measured glyph size; both readings are now drawn at the first
 * of GLYPH_SCALES, and the turned ones are not read again at the others.)
 */
export const TURN_MARGIN = 1.1
/** An upright region at most this many glyphs wide, in a tall image, may be glyphs of a formula on its side. */
export const NARROW_REGION = 3

const perRegion = (r: { confidence: number; regions: readonly unknown[] }): number => Math.pow(r.confidence, 1 / Math.max(1, r.regions.length))

/** Whether a turned reading beats the upright one (TURN_MARGIN); `fellApart`: the upright regions are all narrow. */
export function turnedWins (upright: { confidence: number; regions: readonly unknown[] }, turned: { confidence: number; regions: readonly unknown[] }, fellApart: boolean): boolean {
  if (fellApart && upright.regions.length > 1 && turned.regions.length === 1) return turned.confidence > upright.confidence
  return perRegion(turned) > TURN_MARGIN * perRegion(upright)
}

/** The mean of a reading's regions' log-probabilities (what RESCALE_BELOW_LOGPROB is compared with). */
function meanRegionLogprob (r: { regions: readonly { score: number }[] }): number {
  return r.regions.reduce((sum, g) => sum + g.score, 0) / Math.max(1, r.regions.length)
}

function unionBox (boxes: readonly { left: number; top: number; width: number; height: number }[]): { width: number; height: number } {
  const left = Math.min(...boxes.map((b) => b.left))
  const top = Math.min(...boxes.map((b) => b.top))
  const right = Math.max(...boxes.map((b) => b.left + b.width))
  const bottom = Math.max(...boxes.map((b) => b.top + b.height))
  return { width: right - left, height: bottom - top }
}

/** An ink map turned clockwise by 90 or 270 degrees (exact: pixels move, none is resampled). */
export function turnInk (img: { ink: Uint8Array; width: number; height: number }, degrees: 90 | 270): { ink: Uint8Array; width: number; height: number } {
  const { width: w, height: h, ink } = img
  const out = new Uint8Array(w * h)
  // The turned image is h wide and w high.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [nx, ny] = degrees === 90 ? [h - 1 - y, x] : [y, w - 1 - x]
      out[ny * h + nx] = ink[y * w + x]!
    }
  }
  return { ink: out, width: h, height: w }
}

function withoutEmbedding<T extends { embedding?: string }> (r: T): Omit<T, 'embedding'> {
  const { embedding: _, ...rest } = r
  return rest
}

export interface OcrOptions {
  /** Beam width (default 5). */
  beam?: number;
  /** Refuse images with more pixels than this. */
  maxPixels?: number;
  /** The glyph scales to read at, the first always, the rest for an unsure reading (default GLYPH_SCALES, scales.ts). */
  glyphScales?: readonly number[];
}

export interface PipelineOptions {
  modelDir?: string;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Calibration curve for confidences (default: the model folder's calibration.json, else the identity). */
  curve?: CalibrationCurve;
}

export class OcrPipeline {
  private constructor (
    readonly recognizer: Recognizer,
    private readonly curve: CalibrationCurve
  ) {}

  static async load (opts: PipelineOptions = {}): Promise<OcrPipeline> {
    const dir = opts.modelDir ?? DEFAULT_MODEL_DIR
    const recognizer = await Recognizer.load(dir, opts.threads ? { threads: opts.threads } : {})
    try {
      return new OcrPipeline(recognizer, opts.curve ?? (await loadShippedCurve(dir, recognizer.version)))
    } catch (err) {
      await recognizer.release()
      throw err
    }
  }

  get model (): string {
    return this.recognizer.version
  }

  /** Recognise one image. Throws ImageError (naming `file`) for input that is not a readable image with ink. */
  async recognize (bytes: Uint8Array, file = '<image>', opts: OcrOptions = {}): Promise<OcrResult> {
    const t0 = performance.now()
    const clock = new StageClock()
    const beam = opts.beam ?? DEFAULT_BEAM
    const scales = opts.glyphScales ?? GLYPH_SCALES
    if (scales.length === 0 || !scales.every((s) => s > 0 && Number.isFinite(s))) throw new RangeError(`glyph scales [${scales.join(', ')}]: give at least one, each a number > 0`)
    // A v1 model's canvases squeeze the ink whatever its glyphs: one reading.
    const [firstScale, ...otherScales] = glyphGeometry(this.recognizer.manifest) ? scales : [1]
    const img = await clock.time('preprocess', async () => await preprocess(bytes, file, opts.maxPixels ? { maxPixels: opts.maxPixels } : {}))
    const regions = clock.timeSync('segment', () => segment(img.ink, img.width, img.height))
    if (regions.length === 0) throw new ImageError(file, 'no-ink', 'the image has no ink (blank, or too little contrast)')
    let best = await this.read(img, regions, beam, clock, firstScale!)
    // Not an image the model cannot read (an array, prose): another scale would not make it readable.
    if (best.unreadable == null && meanRegionLogprob(best) < RESCALE_BELOW_LOGPROB) {
      // The image's embedding stays the first reading's: the image memory compares images at one scale.
      const first = best
      let bestScore = readingScore(first)
      for (const scale of otherScales) {
        const r = withoutEmbedding(await this.read(img, regions, beam, clock, scale))
        const score = readingScore(r)
        if (score > bestScore) {
          best = first.embedding != null ? { ...r, embedding: first.embedding } : r
          bestScore = score
        }
      }
    }
    // Ink much taller than wide may be a formula turned on its side (a page scanned sideways): it
    // is read turned both ways too, and a turned reading wins when it is likelier (turnedWins).
    // An upright reading too sure to be beaten (region for region) costs no other reading.
    const box = unionBox(regions.map((r) => r.box))
    const fellApart = regions.length > 1 && regions.every((r) => r.box.width <= NARROW_REGION * r.glyph)
    const beatable = fellApart || perRegion(best) * TURN_MARGIN < 1
    if (box.height > TURNED_ASPECT * box.width && beatable) {
      const upright = best
      for (const turn of [90, 270] as const) {
        const { turned, tr } = clock.timeSync('segment', () => {
          const turned = turnInk(img, turn)
          return { turned, tr: segment(turned.ink, turned.width, turned.height) }
        })
        if (tr.length === 0) continue
        const r = await this.read(turned, tr, beam, clock, firstScale!)
        // A turned reading carries no embedding: score() reads images upright.
        if (turnedWins(upright, r, fellApart) && r.confidence > (best === upright ? 0 : best.confidence)) best = { ...withoutEmbedding(r), rotated: turn }
      }
    }
    return { ...best, model: this.model, ms: Math.round((performance.now() - t0) * 10) / 10, timings: clock.ms }
  }

  /**
   * The canvases of an ink map's regions (a region too wide for the canvas is read in pieces,
   * segment.ts), each drawn at `scale` times its typical glyph (GLYPH_SCALES), and each region's
   * pieces. The pieces are cut for the measured glyph at any scale (as GLYPH_SCALES were
   * measured): a region near the canvas's limits is drawn as large as they let it.
   */
  private async canvases (img: { ink: Uint8Array; width: number; height: number }, regions: ReturnType<typeof segment>, clock: StageClock, scale: number) {
    const geometry = glyphGeometry(this.recognizer.manifest)
    const plans = clock.timeSync('segment', () => regions.map((r) => (geometry ? glyphPieces(img.ink, img.width, r, geometry) : readingPieces(img.ink, img.width, r))))
    const canvases = await clock.time('canvas', async () => await Promise.all(
      regions.flatMap((r, i) =>
        plans[i]!.map((box) => (geometry ? glyphCanvas(img.ink, img.width, img.height, box, r.glyph * scale, geometry) : canvasFromInk(img.ink, img.width, img.height, box)))
      )
    ))
    return { plans, canvases }
  }

  /** Read the regions of an ink map: each region's answer, and the whole image's. Each stage's time goes to `clock`. */
  private async read (img: { ink: Uint8Array; width: number; height: number }, regions: ReturnType<typeof segment>, beam: number, clock: StageClock, scale: number): Promise<Omit<OcrResult, 'model' | 'ms' | 'timings'>> {
    const { plans, canvases } = await this.canvases(img, regions, clock, scale)
    // Recognizer.recognize's steps, timed apart: every canvas encoded, then a beam search over each.
    const encoded = await clock.time('encoder', async () => await this.recognizer.encode(canvases))
    const hyps: Hypothesis[][] = []
    for (const image of encoded) hyps.push(await clock.time('decoder', async () => await this.recognizer.beamSearch(image, { beam })))
    const c = canvases[0]!
    const embedding = canvases.length === 1 && !(c instanceof Uint8Array)
      ? imageEmbedding(encoded[0]!.memory.data as Float32Array, c.height, c.width, encoded[0]!.memory.dims[2]!)
      : undefined
    const answer = clock.timeSync('answer', () => this.answer(img, regions, plans, hyps, beam))
    return embedding != null ? { ...answer, embedding: encodeEmbedding(embedding) } : answer
  }

  /**
   * The model's score of each LaTeX on an image of one formula (one teacher-forced decoder pass
   * each, forced.ts): undefined for a LaTeX it cannot score (does not parse, or holds a token the
   * model does not know). Undefined in all when the image is not one formula read in one piece.
   */
  async score (bytes: Uint8Array, latex: readonly string[], file = '<image>', opts: Pick<OcrOptions, 'maxPixels'> = {}): Promise<Array<ForcedScore | undefined> | undefined> {
    const clock = new StageClock()
    const img = await preprocess(bytes, file, opts.maxPixels ? { maxPixels: opts.maxPixels } : {})
    const regions = segment(img.ink, img.width, img.height)
    if (regions.length !== 1) return undefined
    // At the first glyph scale, the one every image is read at (and its embedding made at).
    const { canvases } = await this.canvases(img, regions, clock, GLYPH_SCALES[0]!)
    if (canvases.length !== 1) return undefined
    const [image] = await this.recognizer.encode(canvases)
    const out: Array<ForcedScore | undefined> = []
    for (const l of latex) {
      const ids = tokenIds(this.recognizer, l)
      out.push(ids == null ? undefined : await forcedScore(this.recognizer, image!, ids))
    }
    return out
  }

  /** Each region's answer from its pieces' hypotheses, and the whole image's. */
  private answer (img: { ink: Uint8Array; width: number }, regions: ReturnType<typeof segment>, plans: readonly unknown[][], hyps: readonly Hypothesis[][], beam: number): Omit<OcrResult, 'model' | 'ms' | 'timings'> {
    let next = 0
    const results = regions.map((r, i) => {
      const parts = hyps.slice(next, (next += plans[i]!.length))
      const answer = chooseAnswer(joinPieces(parts, beam), { x: r.box.left, y: r.box.top, width: r.box.width, height: r.box.height }, this.curve)
      const why = unreadable(img.ink, img.width, r.box, r.glyph, answer.confidence)
      return why == null ? answer : { ...answer, confidence: 0, unreadable: why }
    })
    const single = results.length === 1
    const first = results.find((r) => r.unreadable != null)?.unreadable
    return {
      latex: results.map((r) => r.latex).join(' \\\\ '),
      confidence: results.reduce((p, r) => p * r.confidence, 1),
      alternatives: single ? results[0]!.alternatives : combinedAlternatives(results, Math.max(0, beam - 1)),
      regions: results,
      ...(first != null ? { unreadable: first } : {}),
    }
  }

  async release (): Promise<void> {
    await this.recognizer.release()
  }
}
