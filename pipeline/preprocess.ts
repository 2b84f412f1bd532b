/**
 * Stage 1, preprocess: image bytes to an ink map.
 *
 * Decodes PNG, JPEG, WebP, TIFF and GIF (the first frame or page) with sharp,
 * applies EXIF orientation, makes it gray, inverts white-on-black and
 * stretches contrast (pipeline/model-input.ts, the same code the training data
 * went through). Bad input is refused with an ImageError that names the file
 * and the reason.
 */
import sharp from 'sharp';
import { inkMap, rawGray } from './model-input.js';

/** Why an image was refused. Match on `reason`, not on the message. */
export type ImageErrorReason = 'empty' | 'truncated' | 'corrupt' | 'not-an-image' | 'too-large' | 'no-ink';

export class ImageError extends Error {
  override name = 'ImageError';
  constructor(
    readonly file: string,
    readonly reason: ImageErrorReason,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** Formats sharp reads that the pipeline accepts. */
export const IMAGE_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'tiff', 'gif']);

/** 50 megapixels: a 600 dpi A4 page is 35. Bigger images are refused before decoding (decompression bombs). */
export const DEFAULT_MAX_PIXELS = 50_000_000;

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

function classify(file: string, err: unknown): ImageError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(msg)) return new ImageError(file, 'not-an-image', 'not an image (PNG, JPEG, WebP, TIFF or GIF)');
  if (/pixel limit/i.test(msg)) return new ImageError(file, 'too-large', 'the image has more pixels than allowed');
  if (/truncat|premature end|unexpected end|end of (file|stream|data)|not enough data|read error|short read/i.test(msg)) {
    return new ImageError(file, 'truncated', `the image is truncated (${msg.split('\n')[0]})`);
  }
  return new ImageError(file, 'corrupt', `the image is corrupt (${msg.split('\n')[0]})`);
}

/** Decode image bytes to an ink map, or throw ImageError. */
export async function preprocess(bytes: Uint8Array, file = '<image>', opts: PreprocessOptions = {}): Promise<InkImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageError(file, 'empty', 'the file is empty (0 bytes)');
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(bytes).metadata();
  } catch (err) {
    throw classify(file, err);
  }
  if (!meta.format || !IMAGE_FORMATS.has(meta.format)) {
    throw new ImageError(file, 'not-an-image', `${meta.format ?? 'unknown'} is not an accepted image format (PNG, JPEG, WebP, TIFF or GIF)`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageError(file, 'too-large', `${w}x${h} is ${w * h} pixels, over the limit of ${maxPixels}`);
  }
  let gray;
  try {
    // failOn 'truncated' refuses cut-off files that libvips would otherwise fill with gray.
    gray = await rawGray(
      sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels, pages: 1 }).rotate().flatten({ background: '#ffffff' }),
    );
  } catch (err) {
    throw classify(file, err);
  }
  const ink = inkMap(gray);
  return { width: gray.width, height: gray.height, ink, format: meta.format };
}
