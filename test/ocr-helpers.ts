/** The pipeline's checks of a v2 model's canvases (test/ocr.test.ts): a line wider than the widest, and glyph scales. */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import type { OcrPipeline, OcrResult } from '../pipeline/ocr.js'
import { readingScore } from '../pipeline/answer.js'
import { GLYPH_SCALES, RESCALE_BELOW_LOGPROB } from '../pipeline/scales.js'
import { canonicalTokens } from '../pipeline/latex/canonical.js'
import { glyphCanvas, type GlyphGeometry } from '../pipeline/model-input.js'
import { preprocess } from '../pipeline/preprocess.js'
import { glyphPieces, segment } from '../pipeline/segment.js'
import { answerTokens, readTruth } from '../scripts/eval.js'
import { normalizedEditDistance } from '../pipeline/latex/metrics.js'

/**
 * A v2 model reads glyphs of one size on canvases up to its widest: a line wider than that (eight
 * of held-out A's formulas of 25-40 tokens side by side, a length the model reads well) is read in
 * pieces cut at gaps, each within the canvas, and their readings joined; closer to the truth than
 * the line squeezed into one canvas (its glyphs shrunk below the size the model reads).
 */
export async function widerThanTheCanvas (pipeline: OcrPipeline, geometry: GlyphGeometry): Promise<void> {
  const dir = fileURLToPath(new URL('../../datasets/heldout-a/', import.meta.url))
  const longest = (await readTruth(dir)).filter(t => { const n = canonicalTokens(t.latex).length; return n >= 25 && n <= 40 }).sort((a, b) => a.file.localeCompare(b.file)).slice(0, 8)
  const parts = await Promise.all(longest.map(async t => await sharp(await readFile(dir + t.file)).flatten({ background: '#ffffff' }).grayscale().png().toBuffer()))
  const metas = await Promise.all(parts.map(async p => await sharp(p).metadata()))
  const height = Math.max(...metas.map(m => m.height!))
  const gap = 12
  const width = metas.reduce((w, m) => w + m.width! + gap, gap)
  let left = gap
  const composite = metas.map((m, i) => { const c = { input: parts[i]!, left, top: Math.floor((height - m.height!) / 2) }; left += m.width! + gap; return c })
  const bytes = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(composite).png().toBuffer()
  const img = await preprocess(bytes, 'wide.png')
  const regions = segment(img.ink, img.width, img.height)
  assert.equal(regions.length, 1, 'one line, one region')
  const region = regions[0]!
  const pieces = glyphPieces(img.ink, img.width, region, geometry)
  assert.ok(pieces.length > 1, `${pieces.length} piece`)
  for (const p of pieces) assert.ok(p.width * geometry.glyph / region.glyph <= geometry.maxWidth, 'each piece fits the canvas')
  const r = await pipeline.recognize(bytes, 'wide.png')
  assert.equal(r.regions.length, 1)
  const squeezed = await pipeline.recognizer.recognize([await glyphCanvas(img.ink, img.width, img.height, region.box, region.glyph, geometry)], { beam: 5 })
  const truth = longest.flatMap(t => canonicalTokens(t.latex))
  const pieced = normalizedEditDistance(truth, answerTokens(r.regions[0]!.latex))
  const whole = normalizedEditDistance(truth, squeezed[0]![0]!.tokens)
  assert.ok(pieced < whole, `edit distance to the truth: ${pieced.toFixed(3)} in pieces, ${whole.toFixed(3)} squeezed into one canvas`)
}

/**
 * Held-out A's first images, each read as the pipeline reads it, and at each glyph scale alone: a
 * sure first reading is the answer as it is; an unsure one gives way to the likeliest of the
 * scales' readings, with the first's embedding; and at least one image's answer changes so.
 */
export async function unsureReadAgain (pipeline: OcrPipeline): Promise<void> {
  const [first, ...others] = GLYPH_SCALES
  assert.ok(first != null && others.length > 0)
  const dir = fileURLToPath(new URL('../../datasets/heldout-a/', import.meta.url))
  let unsure = 0
  let changed = 0
  for (const t of (await readTruth(dir)).slice(0, 40)) {
    const bytes = await readFile(dir + t.file)
    const r = await pipeline.recognize(bytes, t.file)
    const readings: OcrResult[] = []
    for (const s of [first, ...others]) readings.push(await pipeline.recognize(bytes, t.file, { glyphScales: [s] }))
    const once = readings[0]!
    assert.equal(r.embedding, once.embedding, `${t.file}: the embedding is the first scale's`)
    const logprob = once.regions.reduce((sum, g) => sum + g.score, 0) / once.regions.length
    if (logprob >= RESCALE_BELOW_LOGPROB) {
      assert.deepEqual({ ...r, ms: 0, timings: {} }, { ...once, ms: 0, timings: {} }, `${t.file}: sure at the first scale, read once`)
      continue
    }
    unsure++
    const likeliest = readings.reduce((a, b) => (readingScore(b) > readingScore(a) ? b : a))
    assert.equal(r.latex, likeliest.latex, t.file)
    assert.equal(readingScore(r), readingScore(likeliest))
    if (r.latex !== once.latex) changed++
  }
  assert.ok(unsure > 0 && changed > 0, `of 40 images, ${unsure} unsure, ${changed} read otherwise at another scale`)
  const sum = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
  await assert.rejects(pipeline.recognize(await readFile(sum), 'sum.png', { glyphScales: [] }), RangeError)
  await assert.rejects(pipeline.recognize(await readFile(sum), 'sum.png', { glyphScales: [1, 0] }), /each a number > 0/)
}
