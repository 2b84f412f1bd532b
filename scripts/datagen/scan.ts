/**
 * A page as a scanner gives it back: grey paper and ink that is not quite black, blurred, with
 * sensor noise, through JPEG. For the scanned-page detector's training words (words.ts) and for
 * bench:documents' scans of its generated PDFs. Deterministic for a seed.
 */
import sharp from 'sharp'
import { Rng } from '../../formulas/rng.js'
import type { GrayPage } from '../../documents/pdf.js'

export async function scanLike (page: GrayPage, seed: number): Promise<GrayPage> {
  const rng = new Rng(seed)
  const between = (a: number, b: number): number => a + (b - a) * rng.next()
  const paper = between(215, 250)
  const ink = between(10, 70)
  const noise = between(3, 12)
  const data = new Uint8Array(page.data.length)
  for (let i = 0; i < data.length; i++) {
    const v = ink + (paper - ink) * (page.data[i]! / 255)
    // Two uniform draws: a rough bell, cheaper than Box-Muller per pixel.
    data[i] = Math.max(0, Math.min(255, Math.round(v + noise * (rng.next() + rng.next() - 1) * 1.7)))
  }
  const { data: out, info } = await sharp(Buffer.from(data.buffer), { raw: { width: page.width, height: page.height, channels: 1 } })
    .blur(between(0.4, 1.0))
    .jpeg({ quality: Math.round(between(45, 85)) })
    .toBuffer()
    .then(async jpeg => await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true }))
  return { data: new Uint8Array(out.buffer, out.byteOffset, info.width * info.height), width: info.width, height: info.height, dpi: page.dpi }
}
