// The pipeline's image side: decoding and refusing images (preprocess), and finding
// formulas and pieces of them in the ink (segment), with the model's input geometry.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { preprocess, ImageError, type ImageErrorReason } from '../pipeline/preprocess.js'
import { glyphPieces, glyphSizeOf, PIECE_GLYPHS, PIECE_GLYPH_PX, readingPieces, segment } from '../pipeline/segment.js'
import { COL_STEP, glyphCanvas, INPUT_WIDTH, MARGIN, resizeInk, ROW_STEP } from '../pipeline/model-input.js'
import { readTruth } from '../scripts/eval.js'

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/ocr/', import.meta.url))
const DATASETS = fileURLToPath(new URL('../../datasets/', import.meta.url))

async function fixture (name: string): Promise<Buffer> {
  return await readFile(FIXTURES + name)
}

async function regionsOf (bytes: Uint8Array): Promise<Array<{ left: number, top: number, width: number, height: number }>> {
  const img = await preprocess(bytes, 'test')
  return segment(img.ink, img.width, img.height).map(r => r.box)
}

async function refusal (bytes: Uint8Array, opts: { maxPixels?: number } = {}): Promise<ImageError> {
  try {
    await preprocess(bytes, 'bad-file.png', opts)
  } catch (err) {
    assert.ok(err instanceof ImageError, `expected an ImageError, got ${String(err)}`)
    assert.match(err.message, /^bad-file\.png: /, 'the error names the file')
    return err
  }
  assert.fail('the image was accepted')
}

/** A grayscale TIFF laid out directory first, then one uncompressed strip (as many writers do). */
function tiffDirectoryFirst (pixels: Buffer, width: number, height: number, compression = 1, claimedBytes = pixels.length): Buffer {
  const tags: Array<[number, number, number]> = [ // tag, type (3 SHORT, 4 LONG), value
    [256, 4, width], [257, 4, height], [258, 3, 8], [259, 3, compression], [262, 3, 1],
    [273, 4, 0], [277, 3, 1], [278, 4, height], [279, 4, claimedBytes]
  ]
  const dataAt = 8 + 2 + 12 * tags.length + 4
  const head = Buffer.alloc(dataAt)
  head.write('II*\0', 0, 'latin1')
  head.writeUInt32LE(8, 4)
  head.writeUInt16LE(tags.length, 8)
  tags.forEach(([tag, type, value], i) => {
    const at = 10 + 12 * i
    head.writeUInt16LE(tag, at)
    head.writeUInt16LE(type, at + 2)
    head.writeUInt32LE(1, at + 4)
    const v = tag === 273 ? dataAt : value
    if (type === 3) head.writeUInt16LE(v, at + 8)
    else head.writeUInt32LE(v, at + 8)
  })
  return Buffer.concat([head, pixels])
}

describe('preprocess', () => {
  it('reads PNG, JPEG, WebP, TIFF and GIF alike', async () => {
    const png = await fixture('one-formula.png')
    const want = await regionsOf(png)
    assert.equal(want.length, 1)
    for (const format of ['jpeg', 'webp', 'tiff', 'gif'] as const) {
      const bytes = await sharp(png).toFormat(format, format === 'jpeg' ? { quality: 95 } : {}).toBuffer()
      const img = await preprocess(bytes, `x.${format}`)
      assert.equal(img.format, format)
      const got = await regionsOf(bytes)
      assert.equal(got.length, 1, format)
      for (const k of ['left', 'top', 'width', 'height'] as const) {
        assert.ok(Math.abs(got[0]![k] - want[0]![k]) <= 2, `${format}: ${k} ${got[0]![k]} vs ${want[0]![k]}`)
      }
    }
  })

  it('applies EXIF orientation', async () => {
    const png = await fixture('one-formula.png')
    const meta = await sharp(png).metadata()
    // Pixels stored rotated by 90 degrees, with the EXIF tag that says how to show them.
    const stored = await sharp(png).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer()
    const img = await preprocess(stored)
    assert.deepEqual([img.width, img.height], [meta.width, meta.height])
  })

  it('inverts white-on-black to ink on paper', async () => {
    const png = await fixture('one-formula.png')
    const dark = await sharp(png).negate({ alpha: false }).png().toBuffer()
    assert.deepEqual(await regionsOf(dark), await regionsOf(png))
  })

  it('reads a formula on a whole white page as it reads the formula alone', async () => {
    const png = await fixture('one-formula.png')
    const meta = await sharp(png).metadata()
    const page = await sharp({ create: { width: 2480, height: 3508, channels: 3, background: '#ffffff' } })
      .composite([{ input: png, left: 900, top: 1200 }]).png().toBuffer()
    const alone = await preprocess(png, 'alone')
    const onPage = await preprocess(page, 'page')
    const [box] = segment(onPage.ink, onPage.width, onPage.height).map(r => r.box)
    assert.ok(box != null)
    // The same ink values where the formula is: white space around it does not change the contrast stretch.
    let differ = 0
    for (let y = 0; y < meta.height!; y++) {
      for (let x = 0; x < meta.width!; x++) {
        if (alone.ink[y * alone.width + x] !== onPage.ink[(y + 1200) * onPage.width + x + 900]) differ++
      }
    }
    assert.equal(differ, 0)
  })

  it('takes the first frame of an animated GIF', async () => {
    const png = await fixture('one-formula.png')
    const { width, height } = await sharp(png).metadata()
    const frame = await sharp(png).ensureAlpha().raw().toBuffer()
    const blank = Buffer.alloc(frame.length, 255)
    const gif = await sharp(Buffer.concat([frame, blank]), { raw: { width: width!, height: height! * 2, channels: 4, pageHeight: height! } })
      .gif().toBuffer()
    assert.equal((await sharp(gif).metadata()).pages, 2)
    assert.equal((await regionsOf(gif)).length, 1)
  })

  it('refuses each kind of bad input with a reason and the file name', async () => {
    const png = await fixture('one-formula.png')
    const jpeg = await sharp(png).jpeg().toBuffer()
    const webp = await sharp(png).webp().toBuffer()
    const gif = await sharp(png).gif().toBuffer()
    const tiff = await sharp(png).tiff({ compression: 'lzw' }).toBuffer()
    const gray = await sharp(png).grayscale().raw().toBuffer({ resolveWithObject: true })
    const tiffFirst = tiffDirectoryFirst(gray.data, gray.info.width, gray.info.height)
    // the hand-made TIFF is a good one when whole
    assert.equal((await sharp(tiffFirst).metadata()).width, gray.info.width)
    const tiffBadCompression = tiffDirectoryFirst(gray.data, gray.info.width, gray.info.height, 777)
    // a writer that claims more strip bytes than it wrote, on a good image: read, not refused
    const overclaimed = tiffDirectoryFirst(gray.data, gray.info.width, gray.info.height, 1, gray.data.length + 100)
    assert.equal((await preprocess(overclaimed, 'overclaimed.tif')).width, gray.info.width)
    const corrupt = Buffer.from(png)
    corrupt.fill(0x41, 60, 200) // inside the image data: checksums fail
    const white = await sharp({ create: { width: 300, height: 80, channels: 3, background: '#ffffff' } }).png().toBuffer()
    const cases: Array<[string, Buffer, ImageErrorReason, { maxPixels?: number }?]> = [
      ['zero bytes', Buffer.alloc(0), 'empty'],
      ['text', Buffer.from('\\frac{a}{b} is not an image\n'), 'not-an-image'],
      ['truncated PNG', png.subarray(0, Math.floor(png.length / 2)), 'truncated'],
      ['truncated JPEG', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'truncated'],
      ['truncated WebP', webp.subarray(0, Math.floor(webp.length / 2)), 'truncated'],
      ['truncated GIF', gif.subarray(0, Math.floor(gif.length / 2)), 'truncated'],
      // TIFF has no end marker: sharp writes the directory last, other writers first
      ['truncated TIFF, directory last', tiff.subarray(0, Math.floor(tiff.length * 0.9)), 'truncated'],
      ['truncated TIFF, directory first', tiffFirst.subarray(0, Math.floor(tiffFirst.length * 0.6)), 'truncated'],
      ['TIFF with an unknown compression', tiffBadCompression, 'corrupt'],
      ['corrupt PNG', corrupt, 'corrupt'],
      ['an SVG (not a raster format)', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'not-an-image'],
      ['over the pixel limit', png, 'too-large', { maxPixels: 1000 }],
      // sharp's own limit of 0 means none; here it refuses everything
      ['a pixel limit of 0', png, 'too-large', { maxPixels: 0 }]
    ]
    for (const [what, bytes, reason, opts] of cases) {
      const err = await refusal(bytes, opts)
      assert.equal(err.reason, reason, `${what}: ${err.message}`)
    }
    // The same, decoded side by side (as texmesh ocr --jobs and a daemon's workers do): libvips'
    // error messages can then belong to another image, and must not change the reason.
    for (let round = 0; round < 4; round++) {
      const errs = await Promise.all(cases.map(async ([, bytes, , opts]) => await refusal(bytes, opts)))
      errs.forEach((err, i) => { assert.equal(err.reason, cases[i]![2], `${cases[i]![0]} side by side: ${err.message}`) })
    }
    // No ink is found by segmentation: the preprocessed map is empty.
    const img = await preprocess(white)
    assert.deepEqual(segment(img.ink, img.width, img.height), [])
  })

  it('refuses a decompression bomb before decoding it', async () => {
    // 10000 x 10000 white pixels compress to a few kilobytes.
    const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#ffffff' } }).png({ compressionLevel: 9 }).toBuffer()
    assert.ok(bomb.length < 1_000_000)
    const err = await refusal(bomb)
    assert.equal(err.reason, 'too-large')
    assert.match(err.message, /100000000 pixels/)
  })
})

describe('segment', () => {
  it('keeps a single formula in one region: fractions, limits and scripts included', async () => {
    for (const name of ['one-formula.png', 'fraction.png', 'sum.png']) {
      assert.equal((await regionsOf(await fixture(name))).length, 1, name)
    }
  })

  it('splits a multi-line derivation into lines, top to bottom', async () => {
    const boxes = await regionsOf(await fixture('three-lines.png'))
    assert.equal(boxes.length, 3)
    for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i]!.top >= boxes[i - 1]!.top + boxes[i - 1]!.height, 'lines do not overlap and come in order')
  })

  it('splits formulas far apart on one line, left to right', async () => {
    const boxes = await regionsOf(await fixture('two-columns.png'))
    assert.equal(boxes.length, 2)
    assert.ok(boxes[1]!.left > boxes[0]!.left + boxes[0]!.width)
  })

  it('drops isolated specks of noise from the crop', async () => {
    const png = await fixture('one-formula.png')
    const clean = await regionsOf(png)
    const { width, height } = await sharp(png).metadata()
    const speck = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000000' } }).png().toBuffer()
    const noisy = await sharp(png).composite([{ input: speck, left: width! - 3, top: height! - 3 }, { input: speck, left: 1, top: 1 }]).png().toBuffer()
    assert.deepEqual(await regionsOf(noisy), clean)
  })

  it('reads a region too wide for the canvas in pieces, cut only where a gap runs through its height', () => {
    // Glyphs of 20 x 20 pixels, 10 apart, in a region 1790 pixels wide: 5.6 pixels on the canvas whole.
    const width = 1800
    const height = 30
    const draw = (ink: Uint8Array, left: number, w: number, top = 5, h = 20): void => {
      for (let y = top; y < top + h; y++) ink.fill(255, y * width + left, y * width + left + w)
    }
    const box = { left: 5, top: 5, width: 1790, height: 20 }
    const widest = 20 * (INPUT_WIDTH - 2 * MARGIN) / PIECE_GLYPH_PX // 725.7
    const ink = new Uint8Array(width * height)
    const glyphs: Array<[number, number]> = []
    for (let k = 0; k < 60; k++) {
      glyphs.push([5 + 30 * k, 24 + 30 * k])
      draw(ink, 5 + 30 * k, 20)
    }
    const pieces = readingPieces(ink, width, { box, glyph: 20 })
    // As few pieces as fit (1790 / 725.7: three), equally wide: 20 glyphs each, cropped to their ink.
    assert.deepEqual(pieces, [0, 20, 40].map(k => ({ left: 5 + 30 * k, top: 5, width: 30 * 19 + 20, height: 20 })))
    for (const p of pieces) assert.ok(p.width <= widest)

    // Gaps narrower than a fifth of a glyph (a script beside its base) are never cut; nor are the gaps
    // beside a dot (\ldots). Here every other glyph is 3 pixels from the next, and dots sit in
    // the gaps near where the cuts would go.
    const close = new Uint8Array(width * height)
    for (let k = 0; k < 60; k++) draw(close, 5 + 30 * k, k % 2 === 0 ? 27 : 20)
    const dots = [19, 39].map(k => 5 + 30 * k + 25) // in the gaps after glyphs 19 and 39
    for (const x of dots) draw(close, x, 3, 20, 3)
    const cut = readingPieces(close, width, { box, glyph: 20 })
    assert.equal(cut.length, 3)
    for (let i = 1; i < cut.length; i++) {
      const at = cut[i]!.left - 5 // in box coordinates: the start of a glyph pair, never its second glyph
      assert.equal(at % 60, 0, `a cut inside a close pair (piece at ${cut[i]!.left})`)
      for (const x of dots) assert.ok(Math.abs(cut[i]!.left - x) > 10, 'no cut beside a dot')
    }
    // every glyph whole in exactly one piece
    for (const [a, b] of glyphs) assert.equal(cut.filter(p => p.left <= a && b < p.left + p.width).length, 1, `glyph at ${a}`)

    // A rule over the whole width (a long fraction bar) leaves no gap to cut at: one piece.
    draw(ink, 5, 1790, 5, 1)
    assert.deepEqual(readingPieces(ink, width, { box, glyph: 20 }), [box])
    // A region that fits the canvas well is read whole.
    assert.deepEqual(readingPieces(ink, width, { box: { left: 5, top: 5, width: 200, height: 20 }, glyph: 20 }), [{ left: 5, top: 5, width: 200, height: 20 }])
  })

  it('v2 geometry: glyphs of one size, whatever the length; pieces only past the widest canvas, of at most PIECE_GLYPHS glyphs', async () => {
    // Glyphs of 30 x 30 pixels, 15 apart: the typical glyph is 30, so the canvas scale is 16 / 30.
    const geometry = { glyph: 16, maxHeight: 128, maxWidth: 512 }
    const width = 1400
    const height = 40
    const ink = new Uint8Array(width * height)
    const glyphsUpTo = (n: number): void => {
      for (let k = 0; k < n; k++) for (let y = 5; y < 35; y++) ink.fill(255, y * width + 5 + 45 * k, y * width + 35 + 45 * k)
    }
    glyphsUpTo(30) // 1335 pixels of formula
    assert.equal(glyphSizeOf(ink, width, height), 30)
    const short = { left: 5, top: 5, width: 30 + 45 * 4, height: 30 }
    const c = await glyphCanvas(ink, width, height, short, 30, geometry)
    assert.equal(c.height % ROW_STEP, 0)
    assert.equal(c.width % COL_STEP, 0)
    assert.equal(c.data.length, c.height * c.width)
    // 210 x 30 scaled by 16/30: 112 x 16, placed MARGIN in from the left, centred in 32 rows.
    assert.deepEqual([c.height, c.width], [32, 128])
    let rows = 0
    for (let y = 0; y < c.height; y++) if (c.data.subarray(y * c.width, (y + 1) * c.width).some(v => v > 128)) rows++
    assert.ok(rows >= 15 && rows <= 17, `${rows} rows of ink for a 16-pixel glyph`)
    assert.ok(c.data[(c.height >> 1) * c.width + MARGIN + 1]! > 128, 'ink starts at the margin')
    // The whole line is 1335 * 16 / 30 = 712 pixels: wider than 512, so read in two pieces, each within the canvas.
    const box = { left: 5, top: 5, width: 1335, height: 30 }
    const pieces = glyphPieces(ink, width, { box, glyph: 30 }, geometry)
    assert.equal(pieces.length, 2)
    for (const p of pieces) assert.ok(p.width * 16 / 30 <= 512 - 2 * MARGIN)
    // With room for it, the same line is one piece, and its glyphs are as tall as the short one's.
    const wide = { ...geometry, maxWidth: 1024 }
    assert.deepEqual(glyphPieces(ink, width, { box, glyph: 30 }, wide), [box])
    const whole = await glyphCanvas(ink, width, height, box, 30, wide)
    assert.deepEqual([whole.height, whole.width], [32, 736])
    // On a canvas of 2,048 pixels the line at a glyph of 15 (1335 * 16 / 15 = 1424 pixels) fits: one
    // piece. At a glyph of 10 (2136 pixels) it does not, and is cut into pieces no wider than
    // PIECE_GLYPHS glyphs (1,024 pixels), the widest piece the v2 models read well: three, not two.
    assert.deepEqual(glyphPieces(ink, width, { box, glyph: 15 }, { ...geometry, maxWidth: 2048 }), [box])
    const cut = glyphPieces(ink, width, { box, glyph: 10 }, { ...geometry, maxWidth: 2048 })
    assert.equal(cut.length, 3)
    for (const p of cut) assert.ok(p.width * 16 / 10 <= PIECE_GLYPHS * 16 - 2 * MARGIN)
  })

  it('v2 resize: bilinear up with pixel centres aligned, Lanczos down', async () => {
    const img = { width: 2, height: 1, data: Uint8Array.from([0, 200]) }
    // Centres of 4 output pixels fall at -0.25 (clamped to 0), 0.25, 0.75 and 1.25 (clamped to 1) of the input.
    assert.deepEqual([...(await resizeInk(img, 4, 1))], [0, 50, 150, 200])
    const big = { width: 40, height: 40, data: new Uint8Array(1600).fill(255) }
    const small = await resizeInk(big, 10, 10)
    assert.equal(small.length, 100)
    assert.ok(small.every(v => v === 255))
  })

  it('finds exactly one region in every held-out image', async () => {
    for (const set of ['heldout-a', 'heldout-b']) {
      for (const t of await readTruth(DATASETS + set)) {
        const n = (await regionsOf(await readFile(`${DATASETS}${set}/${t.file}`))).length
        assert.equal(n, 1, `${set}/${t.file}: ${n} regions`)
      }
    }
  })
})
