/**
 * Make a clean render look like a real scan or screenshot: margins, slight
 * rotation, stroke thickness, gray or uneven paper, blur, noise, low
 * resolution, JPEG artefacts, binarisation. Each effect's range comes from a
 * profile, so held-out data can be degraded differently from training data.
 */
import { decodeGray, fromGray, rawGray } from '../../pipeline/model-input.js'
import type { Rng } from '../../formulas/rng.js'

export interface AugmentProfile {
  name: string;
  /** Probability that any augmentation is applied at all (the rest stay clean). */
  pAny: number;
  margin: [number, number];
  pRotate: number;
  maxRotateDeg: number;
  pStroke: number;
  pPaper: number;
  pUneven: number;
  pBlur: number;
  blurSigma: [number, number];
  pNoise: number;
  noiseStd: [number, number];
  pLowRes: number;
  lowResScale: [number, number];
  pJpeg: number;
  jpegQuality: [number, number];
  pBinarize: number;
}

export const TRAIN_AUGMENT: AugmentProfile = {
  name: 'train',
  pAny: 0.85,
  margin: [0, 40],
  pRotate: 0.4,
  maxRotateDeg: 1.5,
  pStroke: 0.25,
  pPaper: 0.4,
  pUneven: 0.25,
  pBlur: 0.35,
  blurSigma: [0.3, 1.1],
  pNoise: 0.35,
  noiseStd: [2, 18],
  pLowRes: 0.25,
  lowResScale: [0.55, 0.9],
  pJpeg: 0.3,
  jpegQuality: [30, 85],
  pBinarize: 0.08,
}

/** Held-out set B: stronger and differently ranged degradation than training. */
export const HELDOUT_B_AUGMENT: AugmentProfile = {
  name: 'heldout-b',
  pAny: 1,
  margin: [10, 80],
  pRotate: 0.6,
  maxRotateDeg: 2,
  pStroke: 0.35,
  pPaper: 0.6,
  pUneven: 0.4,
  pBlur: 0.5,
  blurSigma: [0.6, 1.4],
  pNoise: 0.5,
  noiseStd: [10, 24],
  pLowRes: 0.3,
  lowResScale: [0.5, 0.7],
  pJpeg: 0.5,
  jpegQuality: [20, 45],
  pBinarize: 0.12,
}

function morph (img: Uint8Array, w: number, h: number, dilateInk: boolean): Uint8Array {
  // Ink is dark: thickening the strokes is a min filter over a 2x2 neighbourhood.
  const out = new Uint8Array(img.length)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = img[y * w + x]!
      for (const [dx, dy] of [[1, 0], [0, 1], [1, 1]] as const) {
        const xx = Math.min(w - 1, x + dx)
        const yy = Math.min(h - 1, y + dy)
        const u = img[yy * w + xx]!
        v = dilateInk ? Math.min(v, u) : Math.max(v, u)
      }
      out[y * w + x] = v
    }
  }
  return out
}

/** Degrade a clean black-on-white render; returns an encoded image (PNG or JPEG). */
export async function augment (clean: Buffer, r: Rng, p: AugmentProfile): Promise<Buffer> {
  if (!r.chance(p.pAny)) return clean
  let g = await decodeGray(clean)
  if (r.chance(p.pStroke) && g.width * g.height < 4_000_000) {
    // Thicken only: thinning erases the hairlines of small renders.
    g = { ...g, data: morph(g.data, g.width, g.height, true) }
  }
  // Margins (asymmetric) on white paper.
  const m = () => r.int(p.margin[0], p.margin[1])
  const white = { r: 255, g: 255, b: 255 }
  g = await rawGray(fromGray(g).extend({ top: m(), bottom: m(), left: m(), right: m(), background: white }))
  if (r.chance(p.pRotate)) {
    g = await rawGray(fromGray(g).rotate(r.range(-p.maxRotateDeg, p.maxRotateDeg), { background: white }))
  }
  const { width: w, height: h } = g
  const px = new Uint8Array(g.data)
  // Paper and ink levels, maybe a gradient across the page.
  if (r.chance(p.pPaper) || r.chance(p.pUneven)) {
    const paper0 = r.int(175, 255)
    const paper1 = r.chance(p.pUneven) ? r.int(165, 255) : paper0
    const inkLevel = r.int(0, 80)
    const horizontal = r.chance(0.5)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const t = horizontal ? x / Math.max(1, w - 1) : y / Math.max(1, h - 1)
        const paper = paper0 + (paper1 - paper0) * t
        const v = px[y * w + x]! / 255
        px[y * w + x] = Math.round(inkLevel + (paper - inkLevel) * v)
      }
    }
  }
  let s = fromGray({ width: w, height: h, data: px })
  if (r.chance(p.pBlur)) s = s.blur(r.range(p.blurSigma[0], p.blurSigma[1]))
  if (r.chance(p.pLowRes)) {
    const k = r.range(p.lowResScale[0], p.lowResScale[1])
    const small = await rawGray(s.resize(Math.max(8, Math.round(w * k)), Math.max(8, Math.round(h * k)), { fit: 'fill' }))
    s = fromGray(small).resize(w, h, { fit: 'fill', kernel: 'linear' })
  }
  const out = new Uint8Array((await rawGray(s)).data)
  const binarize = r.chance(p.pBinarize)
  if (!binarize && r.chance(p.pNoise)) {
    const std = r.range(p.noiseStd[0], p.noiseStd[1])
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(out[i]! + std * r.gauss())))
  }
  if (binarize) {
    let lo = 255
    let hi = 0
    for (const v of out) {
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    const t = (lo + hi) / 2
    for (let i = 0; i < out.length; i++) out[i] = out[i]! < t ? 0 : 255
  }
  const enc = fromGray({ width: w, height: h, data: out })
  if (r.chance(p.pJpeg)) return enc.jpeg({ quality: r.int(p.jpegQuality[0], p.jpegQuality[1]) }).toBuffer()
  return enc.png().toBuffer()
}
