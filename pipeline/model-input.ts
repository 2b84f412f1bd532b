/**
 * The model's input contract, shared by data generation, evaluation and the
 * pipeline, so training and inference see the same pixels:
 *
 * - one grayscale canvas of INPUT_HEIGHT x INPUT_WIDTH, float32 in [0, 1]
 *   where 1 is ink and 0 is paper (tensor layout [batch, 1, H, W]);
 * - the formula is cropped to its ink, scaled to fit inside the canvas less a
 *   MARGIN on each side (keeping its aspect ratio), and placed at the left,
 *   centred vertically.
 */
import sharp, { type Sharp } from 'sharp'

export const INPUT_HEIGHT = 64
export const INPUT_WIDTH = 512
export const MARGIN = 2

export class NoInkError extends Error {
  override name = 'NoInkError'
}

export interface GrayImage {
  width: number;
  height: number;
  /** One byte per pixel, 0 black, 255 white. */
  data: Uint8Array;
}

/** Run a sharp pipeline to one-channel 8-bit pixels (sharp turns raw gray input into sRGB unless told). */
export async function rawGray (s: Sharp): Promise<GrayImage> {
  const { data, info } = await s.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true })
  if (info.channels !== 1) throw new Error(`expected 1 channel, got ${info.channels}`)
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }
}

/** A sharp pipeline over one-channel pixels. */
export function fromGray (img: GrayImage): Sharp {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), {
    raw: { width: img.width, height: img.height, channels: 1 },
  })
}

/** Decode any image sharp reads into 8-bit gray, with EXIF orientation applied and alpha on white. */
export async function decodeGray (image: Buffer | Uint8Array): Promise<GrayImage> {
  return rawGray(sharp(image, { failOn: 'error' }).rotate().flatten({ background: '#ffffff' }))
}

function percentile (hist: Uint32Array, total: number, q: number): number {
  const target = total * q
  let acc = 0
  for (let v = 0; v < 256; v++) {
    acc += hist[v]!
    if (acc >= target) return v
  }
  return 255
}

/**
 * Ink intensities (0 paper .. 255 ink): inverts white-on-black, and stretches
 * contrast between the paper level and the darkest ink.
 */
export function inkMap (img: GrayImage): Uint8Array {
  const n = img.width * img.height
  const hist = new Uint32Array(256)
  for (let i = 0; i < n; i++) hist[img.data[i]!]!++
  const median = percentile(hist, n, 0.5)
  const invert = median < 128
  // Paper is the common level; ink the far tail on the other side.
  const paper = median
  // The ink level: the darkest (or, inverted, lightest) few pixels, robust to a stray one; counted
  // within the box around everything off the paper level, so that white space around a formula
  // (a formula on a whole page) does not move it into the anti-aliased grey.
  const box = offPaperBox(img, paper)
  if (box == null) return new Uint8Array(n)
  const boxHist = new Uint32Array(256)
  for (let y = box.top; y <= box.bottom; y++) {
    const row = y * img.width
    for (let x = box.left; x <= box.right; x++) boxHist[img.data[row + x]!]!++
  }
  const m = (box.bottom - box.top + 1) * (box.right - box.left + 1)
  const q = Math.max(4 / m, 0.0005)
  const ink = invert ? percentile(boxHist, m, 1 - q) : percentile(boxHist, m, q)
  const span = Math.abs(paper - ink)
  const out = new Uint8Array(n)
  if (span < MIN_INK_CONTRAST) return out // no contrast: no ink
  for (let i = 0; i < n; i++) {
    const v = img.data[i]!
    const t = invert ? (v - paper) / (ink - paper) : (paper - v) / (paper - ink)
    out[i] = t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255)
  }
  return out
}

/** Pixels this far from the paper level may be ink (the contrast below which there is none). */
const MIN_INK_CONTRAST = 24

/** The inclusive box around every pixel at least MIN_INK_CONTRAST from the paper level; null when there is none. */
function offPaperBox (img: GrayImage, paper: number): { left: number; top: number; right: number; bottom: number } | null {
  let left = img.width
  let right = -1
  let top = img.height
  let bottom = -1
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width
    for (let x = 0; x < img.width; x++) {
      if (Math.abs(img.data[row + x]! - paper) < MIN_INK_CONTRAST) continue
      if (x < left) left = x
      if (x > right) right = x
      if (y < top) top = y
      if (y > bottom) bottom = y
    }
  }
  return right < 0 ? null : { left, top, right, bottom }
}

export interface InkBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The bounding box of the ink, ignoring rows and columns with only a stray pixel. */
export function inkBox (ink: Uint8Array, width: number, height: number, threshold = 110): InkBox {
  const rows = new Uint32Array(height)
  const cols = new Uint32Array(width)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! > threshold) {
        rows[y]!++
        cols[x]!++
      }
    }
  }
  const minCount = 1
  let top = 0
  while (top < height && rows[top]! < minCount) top++
  if (top === height) throw new NoInkError('the image has no ink')
  let bottom = height - 1
  while (bottom > top && rows[bottom]! < minCount) bottom--
  let left = 0
  while (left < width && cols[left]! < minCount) left++
  let right = width - 1
  while (right > left && cols[right]! < minCount) right--
  return { left, top, width: right - left + 1, height: bottom - top + 1 }
}

/** The model input canvas (ink 0..255, INPUT_HEIGHT x INPUT_WIDTH) for an ink map and its box. */
export async function canvasFromInk (ink: Uint8Array, width: number, height: number, box: InkBox): Promise<Uint8Array> {
  const maxW = INPUT_WIDTH - 2 * MARGIN
  const maxH = INPUT_HEIGHT - 2 * MARGIN
  const scale = Math.min(maxW / box.width, maxH / box.height)
  const w = Math.max(1, Math.min(maxW, Math.round(box.width * scale)))
  const h = Math.max(1, Math.min(maxH, Math.round(box.height * scale)))
  const resized = (
    await rawGray(
      fromGray({ width, height, data: ink })
        .extract(box)
        .resize(w, h, { fit: 'fill', kernel: scale < 1 ? 'lanczos3' : 'cubic' })
    )
  ).data
  const canvas = new Uint8Array(INPUT_WIDTH * INPUT_HEIGHT)
  const top = MARGIN + Math.floor((maxH - h) / 2)
  for (let y = 0; y < h; y++) {
    canvas.set(resized.subarray(y * w, (y + 1) * w), (top + y) * INPUT_WIDTH + MARGIN)
  }
  return canvas
}

/**
 * v2's input geometry: glyphs of one size whatever the formula's length. The crop is scaled so
 * that its typical glyph (segment.ts glyphSizeOf) is `glyph` pixels, placed MARGIN in from the
 * left and centred vertically on a canvas whose height is a multiple of ROW_STEP and width a
 * multiple of COL_STEP (the encoder's strides). A crop taller than maxHeight is scaled down to
 * fit; one wider than maxWidth is scaled down too, but the pipeline cuts such regions into
 * pieces first (segment.ts readingPieces). scripts/train/glyph.py glyph_canvas is its twin.
 */
export interface GlyphGeometry {
  glyph: number;
  maxHeight: number;
  maxWidth: number;
}

export const ROW_STEP = 16
export const COL_STEP = 32

/** A model input: ink 0..255, row-major. */
export interface Canvas {
  data: Uint8Array;
  height: number;
  width: number;
}

/** The scale glyphCanvas applies to a box whose typical glyph is `glyph` pixels. */
export function glyphScale (box: { width: number; height: number }, glyph: number, g: GlyphGeometry): number {
  return Math.min(g.glyph / Math.max(glyph, 1), (g.maxHeight - 2 * MARGIN) / box.height, (g.maxWidth - 2 * MARGIN) / box.width)
}

/**
 * The v2 resize, as the trainer does it (scripts/train/glyph.py resize): down, sharp's Lanczos-3;
 * up, bilinear with pixel centres aligned (sharp's upsampling has no twin in Python's libraries).
 */
export async function resizeInk (img: GrayImage, w: number, h: number): Promise<Uint8Array> {
  if (w < img.width || h < img.height) return (await rawGray(fromGray(img).resize(w, h, { fit: 'fill', kernel: 'lanczos3' }))).data
  const out = new Uint8Array(w * h)
  const sx = img.width / w
  const sy = img.height / h
  const src = img.data
  for (let y = 0; y < h; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5)
    const y0 = Math.min(img.height - 1, Math.floor(fy))
    const y1 = Math.min(img.height - 1, y0 + 1)
    const ty = fy - y0
    for (let x = 0; x < w; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5)
      const x0 = Math.min(img.width - 1, Math.floor(fx))
      const x1 = Math.min(img.width - 1, x0 + 1)
      const tx = fx - x0
      const top = src[y0 * img.width + x0]! * (1 - tx) + src[y0 * img.width + x1]! * tx
      const bottom = src[y1 * img.width + x0]! * (1 - tx) + src[y1 * img.width + x1]! * tx
      out[y * w + x] = Math.round(top * (1 - ty) + bottom * ty)
    }
  }
  return out
}

/** The v2 model canvas for an ink map's box whose typical glyph is `glyph` pixels. */
export async function glyphCanvas (ink: Uint8Array, width: number, height: number, box: InkBox, glyph: number, g: GlyphGeometry): Promise<Canvas> {
  const scale = glyphScale(box, glyph, g)
  const w = Math.max(1, Math.min(g.maxWidth - 2 * MARGIN, Math.round(box.width * scale)))
  const h = Math.max(1, Math.min(g.maxHeight - 2 * MARGIN, Math.round(box.height * scale)))
  const crop = await rawGray(fromGray({ width, height, data: ink }).extract(box))
  const resized = await resizeInk(crop, w, h)
  const H = Math.min(g.maxHeight, ROW_STEP * Math.ceil((h + 2 * MARGIN) / ROW_STEP))
  const W = Math.min(g.maxWidth, COL_STEP * Math.ceil((w + 2 * MARGIN) / COL_STEP))
  const data = new Uint8Array(W * H)
  const top = MARGIN + Math.floor((H - 2 * MARGIN - h) / 2)
  for (let y = 0; y < h; y++) data.set(resized.subarray(y * w, (y + 1) * w), (top + y) * W + MARGIN)
  return { data, height: H, width: W }
}

/** Decode an image and make its model input canvas (ink 0..255). Throws NoInkError for a blank image. */
export async function modelCanvas (image: Buffer | Uint8Array): Promise<Uint8Array> {
  const gray = await decodeGray(image)
  const ink = inkMap(gray)
  const box = inkBox(ink, gray.width, gray.height)
  return canvasFromInk(ink, gray.width, gray.height, box)
}

/** The float tensor data [1, 1, H, W] for a canvas. */
export function canvasToTensorData (canvas: Uint8Array): Float32Array {
  const out = new Float32Array(canvas.length)
  for (let i = 0; i < canvas.length; i++) out[i] = canvas[i]! / 255
  return out
}
