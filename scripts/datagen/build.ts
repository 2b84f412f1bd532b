/**
 * Build a dataset: formulas from the seeded grammar, rendered with MathJax or
 * TeX (several fonts), degraded by an augmentation profile.
 *
 *   shards: DIR/shard-NNNN.bin (uint8 model canvases, N x 64 x 512, ink = 255)
 *           + DIR/shard-NNNN.jsonl ({latex, tokens, renderer}) for training;
 *   images: DIR/NNNNN.png|jpg + DIR/truth.jsonl ({file, latex}) for evaluation;
 *   clean:  DIR/clean-NNNN.bin (clean renders' ink, 0..255, each cropped to its ink and scaled so its
 *           typical glyph is STORE_GLYPH px) + DIR/clean-NNNN.jsonl ({latex, tokens, renderer, w, h,
 *           offset}): the v2 trainer degrades and scales these itself, a new way for every step;
 *   ink:    DIR/ink-NNNN.bin + .jsonl (the same fields and glyph): degraded images as the pipeline sees
 *           them before scaling (decoded, ink map, cropped to the ink), for the v2 trainer's dev checks.
 *
 * Every shard has its own seed (seed * 100003 + shard), so shards can be built
 * by several processes in any order and come out the same.
 */
import { Command } from 'commander'
import { mkdir, writeFile, appendFile, rename } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { canonicalTokens } from '../../pipeline/latex/canonical.js'
import { canvasFromInk, decodeGray, fromGray, inkBox, inkMap, rawGray, INPUT_HEIGHT, INPUT_WIDTH } from '../../pipeline/model-input.js'
import { glyphSizeOf } from '../../pipeline/segment.js'
import { augment, HELDOUT_B_AUGMENT, TRAIN_AUGMENT, type AugmentProfile } from './augment.js'
import { FormulaGenerator, type GrammarMix } from '../../formulas/grammar.js'
import { isHeldoutC } from './heldout-c-guard.js'
import { renderMathjax } from '../../formulas/render-mathjax.js'
import { MATHJAX4_FONTS, renderMathjax4, type Mathjax4Font } from './render-mathjax4.js'
import { renderTex, TEX_FONTS, type TexFont } from './render-tex.js'
import { Rng } from '../../formulas/rng.js'

export const MAX_TOKENS = 150

export interface RenderProfile {
  /** Share of formulas rendered by MathJax; the rest by TeX. */
  mathjaxShare: number;
  /** MathJax pixels per ex. */
  exPx: [number, number];
  /** TeX dpi (12pt body). */
  dpi: [number, number];
  augment: AugmentProfile;
  /** The grammar's mix (grammar.ts FormulaGenerator): 'v1' when not given. */
  grammar?: GrammarMix;
  /** MathJax's fonts to pick from (MathJax 3's TeX font, or a MathJax 4 font); only the TeX font when not given. */
  mathjaxFonts?: readonly ('tex' | Mathjax4Font)[];
}

/** The clean renders' densities and fonts (profiles clean, clean2, clean3 and clean-v4 differ only in grammar). */
const CLEAN_RENDERS: RenderProfile = {
  mathjaxShare: 0.5,
  exPx: [14, 18],
  dpi: [220, 290],
  augment: { ...TRAIN_AUGMENT, pAny: 0 },
  mathjaxFonts: ['tex', ...(Object.keys(MATHJAX4_FONTS) as Mathjax4Font[])],
}

export const PROFILES: Record<string, RenderProfile> = {
  train: { mathjaxShare: 0.45, exPx: [4.5, 10], dpi: [80, 170], augment: TRAIN_AUGMENT },
  // Training, high resolution: screenshots of zoomed PDFs and clean scans, whose strokes come out
  // thin and sharp once scaled to the canvas. Clear of held-out B's densities (10-12.5 ex, 170-210 dpi).
  'train-hires': { mathjaxShare: 0.45, exPx: [13, 22], dpi: [220, 400], augment: TRAIN_AUGMENT },
  // Held-out A: the training recipe, another seed.
  'heldout-a': { mathjaxShare: 0.45, exPx: [4.5, 10], dpi: [80, 170], augment: TRAIN_AUGMENT },
  // Held-out B: other density ranges and stronger degradation.
  'heldout-b': { mathjaxShare: 0.45, exPx: [10, 12.5], dpi: [170, 210], augment: HELDOUT_B_AUGMENT },
  // Clean renders for the v2 trainer (no degradation here: it degrades on the fly), dense enough
  // that scaling them to STORE_GLYPH loses nothing.
  clean: CLEAN_RENDERS,
  // The same, with v2's grammar: random and long formulas besides the printed kinds.
  clean2: { ...CLEAN_RENDERS, grammar: 'v2' },
  // The same, with v3's grammar: v2's formulas and topic formulas (grammar.ts, topics.ts) besides.
  clean3: { ...CLEAN_RENDERS, grammar: 'v3' },
  // The same, with v4's grammar: v3's formulas and notation formulas (topics-notation.ts) besides.
  'clean-v4': { ...CLEAN_RENDERS, grammar: 'v4' },
  // A stream of what a campus reads, for bench:learning's calibration: v3's topic formulas at the
  // training densities, degraded as training degrades them (another seed than any training set).
  learning: {
    mathjaxShare: 0.45,
    exPx: [4.5, 12],
    dpi: [80, 210],
    augment: TRAIN_AUGMENT,
    grammar: 'v3',
    mathjaxFonts: ['tex', ...(Object.keys(MATHJAX4_FONTS) as Mathjax4Font[])],
  },
}

/** The typical glyph size (segment.ts glyphSizeOf) of the clean renders in a clean shard. */
export const STORE_GLYPH = 20

export interface Sample {
  latex: string;
  tokens: string[];
  renderer: string;
  image: Buffer;
}

/** Make `count` samples for one shard seed. */
export async function makeSamples (seed: number, count: number, profile: RenderProfile): Promise<Sample[]> {
  const r = new Rng(seed)
  const gen = new FormulaGenerator(r, profile.grammar ?? 'v1')
  const formulas: { latex: string; tokens: string[] }[] = []
  while (formulas.length < count) {
    const latex = gen.formula()
    const tokens = canonicalTokens(latex)
    if (tokens.length === 0 || tokens.length > MAX_TOKENS) continue
    if (isHeldoutC(tokens)) continue // held-out C (real formulas, datasets/heldout-c) is never trained on
    formulas.push({ latex, tokens })
  }
  const fonts = Object.keys(TEX_FONTS) as TexFont[]
  const plan = formulas.map((f) => ({
    ...f,
    mathjax: r.chance(profile.mathjaxShare),
    font: r.pick(fonts),
    exPx: r.range(profile.exPx[0], profile.exPx[1]),
    dpi: r.int(profile.dpi[0], profile.dpi[1]),
    // Drawn only for profiles that name fonts, so older profiles make the same data as before.
    mathjaxFont: profile.mathjaxFonts ? r.pick(profile.mathjaxFonts) : 'tex',
  }))
  const clean = new Map<number, { png: Buffer; renderer: string }>()
  for (const font of fonts) {
    // One TeX run per font and density band keeps the documents few.
    const idx = plan.map((p, i) => [p, i] as const).filter(([p]) => !p.mathjax && p.font === font)
    const bands = new Map<number, number[]>()
    for (const [p, i] of idx) {
      const band = Math.round(p.dpi / 30) * 30
      bands.set(band, [...(bands.get(band) ?? []), i])
    }
    for (const [dpi, members] of bands) {
      const pngs = await renderTex(members.map((i) => plan[i]!.latex), font, dpi)
      members.forEach((i, k) => {
        const png = pngs[k]
        if (png) clean.set(i, { png, renderer: `tex-${font}@${dpi}dpi` })
      })
    }
  }
  // sharp works on libvips threads: keep several images in flight.
  const slots: (Sample | null)[] = new Array(plan.length).fill(null)
  let next = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++
      if (i >= plan.length) return
      const p = plan[i]!
      const augRng = new Rng(seed ^ (i * 2654435761))
      let c = clean.get(i)
      if (!c) {
        try {
          c =
            p.mathjaxFont === 'tex'
              ? { png: await renderMathjax(p.latex, p.exPx), renderer: `mathjax@${p.exPx.toFixed(1)}ex` }
              : { png: await renderMathjax4(p.latex, p.exPx, p.mathjaxFont), renderer: `mathjax4-${p.mathjaxFont}@${p.exPx.toFixed(1)}ex` }
        } catch {
          continue
        }
      }
      slots[i] = { latex: p.latex, tokens: p.tokens, renderer: c.renderer, image: await augment(c.png, augRng, profile.augment) }
    }
  }
  await Promise.all(Array.from({ length: 6 }, worker))
  const out = slots.filter((x): x is Sample => x !== null)
  return out
}

async function mapPool<T, U> (xs: readonly T[], width: number, f: (x: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array(xs.length)
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < xs.length; i = next++) out[i] = await f(xs[i]!)
    })
  )
  return out
}

async function toCanvas (image: Buffer): Promise<Uint8Array> {
  const g = await decodeGray(image)
  const ink = inkMap(g)
  return canvasFromInk(ink, g.width, g.height, inkBox(ink, g.width, g.height))
}

async function buildShard (dir: string, shard: number, seed: number, count: number, profile: RenderProfile): Promise<void> {
  const name = `shard-${String(shard).padStart(4, '0')}`
  if (existsSync(join(dir, `${name}.jsonl`))) return
  const samples = await makeSamples(seed * 100003 + shard, count, profile)
  const made = await mapPool(samples, 6, async (s) => {
    try {
      return await toCanvas(s.image)
    } catch {
      return null // an augmentation that left no ink
    }
  })
  const canvases = Buffer.alloc(samples.length * INPUT_HEIGHT * INPUT_WIDTH)
  const lines: string[] = []
  let k = 0
  samples.forEach((s, i) => {
    const c = made[i]
    if (!c) return
    canvases.set(c, k * INPUT_HEIGHT * INPUT_WIDTH)
    lines.push(JSON.stringify({ latex: s.latex, tokens: s.tokens.join(' '), renderer: s.renderer }))
    k++
  })
  // The .bin first, then the .jsonl: a shard counts as done when its .jsonl exists.
  await writeFile(join(dir, `${name}.bin.tmp`), canvases.subarray(0, k * INPUT_HEIGHT * INPUT_WIDTH))
  await rename(join(dir, `${name}.bin.tmp`), join(dir, `${name}.bin`))
  await writeFile(join(dir, `${name}.jsonl.tmp`), lines.join('\n') + '\n')
  await rename(join(dir, `${name}.jsonl.tmp`), join(dir, `${name}.jsonl`))
}

interface InkCrop {
  w: number;
  h: number;
  glyph: number;
  data: Uint8Array;
}

/** An image as the pipeline sees it before scaling: decoded, ink map, cropped to the ink (null: no ink). */
async function inkCrop (image: Buffer): Promise<InkCrop | null> {
  const g = await decodeGray(image)
  const ink = inkMap(g)
  let box
  try {
    box = inkBox(ink, g.width, g.height)
  } catch {
    return null
  }
  const crop = await rawGray(fromGray({ width: g.width, height: g.height, data: ink }).extract(box))
  const glyph = glyphSizeOf(crop.data, crop.width, crop.height)
  return glyph > 0 ? { w: crop.width, h: crop.height, glyph, data: crop.data } : null
}

/** A clean render's ink crop scaled so that its typical glyph is STORE_GLYPH pixels. */
export async function cleanCrop (image: Buffer): Promise<InkCrop | null> {
  const c = await inkCrop(image)
  if (!c) return null
  const s = STORE_GLYPH / c.glyph
  const w = Math.max(1, Math.round(c.w * s))
  const h = Math.max(1, Math.round(c.h * s))
  const scaled = await rawGray(
    fromGray({ width: c.w, height: c.h, data: c.data }).resize(w, h, { fit: 'fill', kernel: s < 1 ? 'lanczos3' : 'cubic' })
  )
  return { w, h, glyph: STORE_GLYPH, data: scaled.data }
}

/** A shard of ink crops (clean renders scaled to STORE_GLYPH, or degraded images as they are). */
async function buildCropShard (dir: string, kind: 'clean' | 'ink', shard: number, seed: number, count: number, profile: RenderProfile): Promise<void> {
  const name = `${kind}-${String(shard).padStart(4, '0')}`
  if (existsSync(join(dir, `${name}.jsonl`))) return
  const samples = await makeSamples(seed * 100003 + shard, count, profile)
  const crops = await mapPool(samples, 6, async (s) => {
    try {
      return await (kind === 'clean' ? cleanCrop(s.image) : inkCrop(s.image))
    } catch {
      return null
    }
  })
  const parts: Uint8Array[] = []
  const lines: string[] = []
  let offset = 0
  samples.forEach((s, i) => {
    const c = crops[i]
    if (!c) return
    parts.push(c.data)
    lines.push(JSON.stringify({ latex: s.latex, tokens: s.tokens.join(' '), renderer: s.renderer, w: c.w, h: c.h, glyph: c.glyph, offset }))
    offset += c.data.length
  })
  await writeFile(join(dir, `${name}.bin.tmp`), Buffer.concat(parts))
  await rename(join(dir, `${name}.bin.tmp`), join(dir, `${name}.bin`))
  await writeFile(join(dir, `${name}.jsonl.tmp`), lines.join('\n') + '\n')
  await rename(join(dir, `${name}.jsonl.tmp`), join(dir, `${name}.jsonl`))
}

async function buildImages (dir: string, seed: number, count: number, profile: RenderProfile): Promise<void> {
  const samples = await makeSamples(seed * 100003, count, profile)
  const truth: string[] = []
  let k = 0
  for (const s of samples) {
    try {
      await toCanvas(s.image) // keep only images that have ink after degradation
    } catch {
      continue
    }
    const ext = s.image[0] === 0xff ? 'jpg' : 'png'
    const file = `${String(k).padStart(5, '0')}.${ext}`
    await writeFile(join(dir, file), s.image)
    truth.push(JSON.stringify({ file, latex: s.latex, renderer: s.renderer }))
    k++
  }
  await writeFile(join(dir, 'truth.jsonl'), truth.join('\n') + '\n')
}

async function main (): Promise<void> {
  const cmd = new Command('build-dataset')
    .description('generate, render and degrade formula images')
    .requiredOption('--out <dir>', 'output folder')
    .option('--format <kind>', 'shards (v1 training), clean (v2 training), ink (v2 dev checks) or images (evaluation)', 'shards')
    .option('--profile <name>', `one of ${Object.keys(PROFILES).join(', ')}`, 'train')
    .option('--seed <n>', 'dataset seed', '1')
    .option('--count <n>', 'samples per shard (or images in all)', '2000')
    .option('--shards <a:b>', 'shard numbers to build, from a to b-1', '0:1')
    .parse()
  const o = cmd.opts<{ out: string; format: string; profile: string; seed: string; count: string; shards: string }>()
  const profile = PROFILES[o.profile]
  if (!profile) throw new Error(`unknown profile ${o.profile}`)
  const seed = Number(o.seed)
  const count = Number(o.count)
  await mkdir(o.out, { recursive: true })
  if (o.format === 'images') {
    await buildImages(o.out, seed, count, profile)
    return
  }
  if (!['shards', 'clean', 'ink'].includes(o.format)) throw new Error(`unknown format ${o.format}`)
  const [a, b] = o.shards.split(':').map(Number) as [number, number]
  for (let s = a; s < b; s++) {
    const t = Date.now()
    if (o.format === 'shards') await buildShard(o.out, s, seed, count, profile)
    else await buildCropShard(o.out, o.format as 'clean' | 'ink', s, seed, count, profile)
    await appendFile(join(o.out, 'build.log'), `shard ${s} ${((Date.now() - t) / 1000).toFixed(1)}s\n`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : err)
    process.exit(1)
  })
}
