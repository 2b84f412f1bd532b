/**
 * Stage 1, preprocess: image bytes to an ink map.
 *
 * Decodes PNG, JPEG, WebP, TIFF and GIF (the first frame or page) with sharp,
 * applies EXIF orientation, makes it gray, inverts white-on-black and
 * stretches contrast (pipeline/model-input.ts, the same code the training data
 * went through). Bad input is refused with an ImageError that names the file
 * and the reason.
 */
import sharp from 'sharp'
import { inkMap, rawGray } from './model-input.js'

/** Why an image was refused. Match on `reason`, not on the message. */
export type ImageErrorReason = 'empty' | 'truncated' | 'corrupt' | 'not-an-image' | 'too-large' | 'no-ink'

export class ImageError extends Error {
  override name = 'ImageError'
  constructor (
    readonly file: string,
    readonly reason: ImageErrorReason,
    detail: string
  ) {
    super(`${file}: ${detail}`)
  }
}

/** Formats sharp reads that the pipeline accepts. */
export const IMAGE_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'tiff', 'gif'])

/** 50 megapixels: a 600 dpi A4 page is 35. Bigger images are refused before decoding (decompression bombs). */
export const DEFAULT_MAX_PIXELS = 50_000_000

export interface PreprocessOptions {
  /** Refuse images with more pixels than this (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

export interface InkImage {
  width: number;
  height: number;
  /** 0 paper .. 255 ink, one byte per pixel, row-major. */
  ink: Uint8Array;
  /** The decoded format (png, jpeg, ...). */
  format: string;
}

/** The accepted format the first bytes announce, if any. */
export function magicFormat (b: Uint8Array): string | undefined {
  const ascii = (at: number, text: string) => [...text].every((c, i) => b[at + i] === c.charCodeAt(0))
  if (b[0] === 0x89 && ascii(1, 'PNG\r\n\x1a\n')) return 'png'
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg'
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif'
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp'
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*') || ascii(0, 'II+\0') || ascii(0, 'MM\0+')) return 'tiff' // and BigTIFF
  return undefined
}

/**
 * Whether a TIFF stops before the data its first directory points at. TIFF has no end marker,
 * and writers often put the directory last, so a cut file is one whose directory, or a strip
 * or tile the directory lists, starts past the end; with `partly`, also one whose strips run
 * past the end (asked only of a file that failed to decode: some writers give byte counts that
 * run past the end of a good file). Bounded work whatever the file claims: at most
 * MAX_TIFF_STRIPS entries are read.
 */
function tiffCutShort (b: Uint8Array, partly = false): boolean {
  const n = b.length
  if (n < 8) return true
  const le = b[0] === 0x49
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const u16 = (at: number) => view.getUint16(at, le)
  const u32 = (at: number) => view.getUint32(at, le)
  if (u16(2) === 43) {
    // BigTIFF: a 64-bit offset to the first directory
    return n < 16 || view.getBigUint64(8, le) + 8n > BigInt(n)
  }
  const ifd = u32(4)
  if (ifd + 2 > n) return true
  const entries = u16(ifd)
  if (ifd + 2 + 12 * entries > n) return true
  /** A SHORT or LONG array entry: where its values are, how many, their size; undefined if another type. */
  const array = (tag: number) => {
    for (let i = 0; i < entries; i++) {
      const at = ifd + 2 + 12 * i
      if (u16(at) !== tag) continue
      const size = u16(at + 2) === 3 ? 2 : u16(at + 2) === 4 ? 4 : 0
      const count = u32(at + 4)
      if (size === 0 || count === 0) return undefined
      return { start: size * count <= 4 ? at + 8 : u32(at + 8), count: Math.min(count, MAX_TIFF_STRIPS), size }
    }
    return undefined
  }
  for (const [offsetsTag, countsTag] of [[273, 279], [324, 325]] as const) {
    const offsets = array(offsetsTag)
    if (offsets == null) continue
    const counts = partly ? array(countsTag) : undefined
    const value = (a: { start: number; size: number }, k: number): number | undefined => {
      const p = a.start + a.size * k
      if (p + a.size > n) return undefined
      return a.size === 2 ? u16(p) : u32(p)
    }
    for (let k = 0; k < offsets.count; k++) {
      const offset = value(offsets, k)
      if (offset == null || offset >= n) return true // the list itself, or a strip, starts past the end
      const bytes = counts != null && k < counts.count ? value(counts, k) : undefined
      if (counts != null && (bytes == null || offset + bytes > n)) return true
    }
  }
  return false
}

/** Strip or tile offsets read by tiffCutShort: enough for a 65536-row image stored a row per strip. */
const MAX_TIFF_STRIPS = 65536

/** Whether a PNG, JPEG, GIF or WebP file visibly stops before its end (TIFF: tiffCutShort). */
function cutShort (b: Uint8Array, format: string): boolean {
  const n = b.length
  switch (format) {
    case 'png': // ends with the IEND chunk
      return n < 12 || !(b[n - 8] === 0x49 && b[n - 7] === 0x45 && b[n - 6] === 0x4e && b[n - 5] === 0x44)
    case 'jpeg': {
      // an end-of-image marker, possibly followed by padding
      for (let i = n - 2; i >= Math.max(0, n - 1024); i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return false
      return true
    }
    case 'gif': // ends with the trailer byte
      return b[n - 1] !== 0x3b
    case 'webp': // the RIFF header gives the length
      return n < 12 || 8 + ((b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0) > n
    default:
      return false
  }
}

/** What libvips' messages call each format, to tell a message about this file from another's. */
const FORMAT_WORDS: Record<string, RegExp> = { png: /png/i, jpeg: /jpe?g/i, gif: /gif/i, webp: /webp/i, tiff: /tiff/i }

/**
 * Why sharp refused the bytes. The file's own bytes decide: libvips keeps one
 * error buffer per process, and when images are decoded side by side (texmesh
 * ocr --jobs, a node's workers) a failure's message can be another image's,
 * or "Unknown error". A message is quoted only when it names this format.
 */
function classify (file: string, bytes: Uint8Array, err: unknown): ImageError {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!
  const format = magicFormat(bytes)
  if (format == null) return new ImageError(file, 'not-an-image', 'not an image (PNG, JPEG, WebP, TIFF or GIF)')
  const name = format.toUpperCase()
  const own = FORMAT_WORDS[format]!.test(msg)
  // (images over the limit are refused from their header before decoding; this is a fallback)
  if (/pixel limit/i.test(msg)) return new ImageError(file, 'too-large', 'the image has more pixels than allowed')
  // Only the bytes: a message that names TIFF may still be another TIFF's, decoded side by side. A cut
  // TIFF always shows in them (its directory, or a strip it lists, runs past the end).
  const cut = format === 'tiff' ? tiffCutShort(bytes, true) : cutShort(bytes, format)
  if (cut) return new ImageError(file, 'truncated', `the image is truncated (the ${name} data stops before its end)`)
  return new ImageError(file, 'corrupt', `the image is corrupt (${own ? msg : `the ${name} data cannot be decoded`})`)
}

/**
 * Throw the ImageError for bytes that sharp's header reading refuses, that are
 * not in an accepted format, or that have too many pixels; if none, their format.
 */
async function refuse (bytes: Uint8Array, file: string, maxPixels: number): Promise<string> {
  let meta
  try {
    meta = await sharp(bytes).metadata()
  } catch (err) {
    throw classify(file, bytes, err)
  }
  if (!meta.format || !IMAGE_FORMATS.has(meta.format)) {
    throw new ImageError(file, 'not-an-image', `${meta.format ?? 'unknown'} is not an accepted image format (PNG, JPEG, WebP, TIFF or GIF)`)
  }
  const w = meta.width ?? 0
  const h = meta.height ?? 0
  if (w * h > maxPixels) {
    throw new ImageError(file, 'too-large', `${w}x${h} is ${w * h} pixels, over the limit of ${maxPixels}`)
  }
  return meta.format
}

/** Decode image bytes to an ink map, or throw ImageError. */
export async function preprocess (bytes: Uint8Array, file = '<image>', opts: PreprocessOptions = {}): Promise<InkImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS
  if (bytes.length === 0) throw new ImageError(file, 'empty', 'the file is empty (0 bytes)')
  // The five formats are told by their first bytes, and decoded straight away (sharp's pixel
  // limit refuses a bomb from its header); sharp's own reading of the header, a second pass
  // through libvips, is only needed to say what is wrong with anything else.
  const format = magicFormat(bytes) ?? (await refuse(bytes, file, maxPixels))
  let gray
  try {
    // failOn 'truncated' refuses cut-off files that libvips would otherwise fill with gray. libtiff
    // reports a cut strip or an unknown compression as an error, so a TIFF fails on errors.
    const failOn = format === 'tiff' ? 'error' : 'truncated'
    if (format === 'tiff' && tiffCutShort(bytes)) throw new Error('tiff: the directory lists data past the end of the file')
    gray = await rawGray(
      // (sharp reads a limit of 0 as none: a limit under one pixel is one pixel, which refuses every image)
      sharp(bytes, { failOn, limitInputPixels: maxPixels >= 1 ? maxPixels : 1, pages: 1 }).rotate().flatten({ background: '#ffffff' })
    )
  } catch (err) {
    await refuse(bytes, file, maxPixels)
    throw classify(file, bytes, err)
  }
  const ink = inkMap(gray)
  return { width: gray.width, height: gray.height, ink, format }
}
