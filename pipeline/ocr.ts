/**
 * The OCR pipeline on one node: image bytes in, LaTeX with confidence and
 * alternatives out. It runs the stages in order and needs no network:
 *
 *   preprocess (preprocess.ts) -> segment (segment.ts) -> recognise
 *   (recognizer.ts, beam search) -> LaTeX (canonical form, parse check in
 *   latex/validate.ts) -> confidence (confidence.ts)
 *
 * One OcrPipeline holds one onnxruntime session pair; load it once per
 * process and reuse it.
 */
import { canonicalize, detokenize } from './latex/canonical.js'
import { checkLatex } from './latex/validate.js'
import { delimitersPair } from './latex/delimiters.js'
import { calibrate, IDENTITY_CURVE, loadShippedCurve, rawProbability, type CalibrationCurve } from './confidence.js'
import { canvasFromInk, glyphCanvas } from './model-input.js'
import { ImageError, preprocess } from './preprocess.js'
import { DEFAULT_MODEL_DIR, glyphGeometry, LENGTH_ALPHA, Recognizer, type Hypothesis } from './recognizer.js'
import { forcedScore, tokenIds, type ForcedScore } from './forced.js'
import { encodeEmbedding, imageEmbedding } from './image-embedding.js'
import { glyphPieces, readingPieces, segment } from './segment.js'
import { StageClock, type OcrTimings } from './timings.js'
import { unreadable, type Unreadable } from './unreadable.js'

export const DEFAULT_BEAM = 5

/**
 * How many nats less likely than the answer a reading whose brackets pair may be, to be chosen
 * over an answer whose brackets do not (latex/delimiters.ts). Chosen on 1,500 generated formulas
 * of the `learning` profile (seed 41, not a held-out set): at 2 nats five answers changed, one
 * to the right reading and none away from it (1 nat: two, neither to it); wider margins changed
 * no more. Then measured with texmesh-v2+de227d7e: held-out
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
}

export interface PipelineOptions {
  modelDir?: string;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Calibration curve for confidences (default: the model folder's calibration.json, else the identity). */
  curve?: CalibrationCurve;
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
    if (paired > 0) chosen = paired
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
function combinedAlternatives (regions: readonly RegionResult[], limit: number): Alternative[] {
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
    const img = await clock.time('preprocess', async () => await preprocess(bytes, file, opts.maxPixels ? { maxPixels: opts.maxPixels } : {}))
    const regions = clock.timeSync('segment', () => segment(img.ink, img.width, img.height))
    if (regions.length === 0) throw new ImageError(file, 'no-ink', 'the image has no ink (blank, or too little contrast)')
    let best = await this.read(img, regions, beam, clock)
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
        const r = await this.read(turned, tr, beam, clock)
        // A turned reading carries no embedding: score() reads images upright.
        if (turnedWins(upright, r, fellApart) && r.confidence > (best === upright ? 0 : best.confidence)) best = { ...withoutEmbedding(r), rotated: turn }
      }
    }
    return { ...best, model: this.model, ms: Math.round((performance.now() - t0) * 10) / 10, timings: clock.ms }
  }

  /** The canvases of an ink map's regions (a region too wide for the canvas is read in pieces, segment.ts), and each region's pieces. */
  private async canvases (img: { ink: Uint8Array; width: number; height: number }, regions: ReturnType<typeof segment>, clock: StageClock) {
    const geometry = glyphGeometry(this.recognizer.manifest)
    const plans = clock.timeSync('segment', () => regions.map((r) => (geometry ? glyphPieces(img.ink, img.width, r, geometry) : readingPieces(img.ink, img.width, r))))
    const canvases = await clock.time('canvas', async () => await Promise.all(
      regions.flatMap((r, i) =>
        plans[i]!.map((box) => (geometry ? glyphCanvas(img.ink, img.width, img.height, box, r.glyph, geometry) : canvasFromInk(img.ink, img.width, img.height, box)))
      )
    ))
    return { plans, canvases }
  }

  /** Read the regions of an ink map: each region's answer, and the whole image's. Each stage's time goes to `clock`. */
  private async read (img: { ink: Uint8Array; width: number; height: number }, regions: ReturnType<typeof segment>, beam: number, clock: StageClock): Promise<Omit<OcrResult, 'model' | 'ms' | 'timings'>> {
    const { plans, canvases } = await this.canvases(img, regions, clock)
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
    const { canvases } = await this.canvases(img, regions, clock)
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
