/**
 * Held-out C: real formulas of the kinds people scan, typed by hand (datasets/heldout-c/source.jsonl,
 * one {"id", "topic", "latex"} a line), not made by the grammar. Each is rendered by TeX in three math
 * fonts at three densities (9 clean images) plus one degraded scan-like copy (the cm render at 160 dpi
 * through the held-out B degradation, seeded per formula), so a formula's 10 images differ only in how
 * it was printed and scanned.
 *
 *   node dist/scripts/datagen/heldout-c.js [--source FILE] [--out DIR] [--replace] [--limit N]
 *
 * Writes DIR/NNNNN.png|jpg (formula i's images are 10i .. 10i+9) and DIR/truth.jsonl
 * ({file, latex, renderer, id, topic}; latex is the source as written, as scripts/eval.ts reads it).
 * The same source gives the same bytes on every run. A folder whose truth.jsonl holds another formula
 * set is only rewritten with --replace.
 */
import { Command, InvalidArgumentError } from 'commander'
import { readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { canonicalize } from '../../pipeline/latex/canonical.js'
import { checkLatex } from '../../pipeline/latex/validate.js'
import { modelCanvas, NoInkError } from '../../pipeline/model-input.js'
import { DEFAULT_MODEL_DIR } from '../../pipeline/recognizer.js'
import { augment, HELDOUT_B_AUGMENT } from './augment.js'
import { MAX_TOKENS } from './build.js'
import { HELDOUT_C_SOURCE, readHeldoutC, type HeldoutCFormula } from './heldout-c-guard.js'
import { renderTex, type TexFont } from './render-tex.js'
import { Rng } from '../../formulas/rng.js'

/** The math fonts and densities of the clean renders: 9 images per formula. */
export const HELDOUT_C_FONTS: readonly TexFont[] = ['cm', 'palatino', 'times']
export const HELDOUT_C_DPIS: readonly number[] = [110, 160, 220]
/** The clean render that is degraded into the tenth image. */
export const DEGRADED_FROM = { font: 'cm' as TexFont, dpi: 160 }
export const IMAGES_PER_FORMULA = HELDOUT_C_FONTS.length * HELDOUT_C_DPIS.length + 1
/** Seed of the degradation: formula i's Rng is seeded HELDOUT_C_SEED * 100003 + i. */
export const HELDOUT_C_SEED = 3003
export const DEFAULT_OUT = dirname(HELDOUT_C_SOURCE)

export interface TruthLine {
  file: string;
  latex: string;
  renderer: string;
  id: string;
  topic: string;
}

/** The model's vocabulary (models/texmesh-v1/vocab.json). */
export function modelVocab (modelDir = DEFAULT_MODEL_DIR): Set<string> {
  return new Set(JSON.parse(readFileSync(join(modelDir, 'vocab.json'), 'utf8')) as string[])
}

/**
 * What the model cannot take in these formulas, one message per problem naming the source line:
 * a token outside the vocabulary, more than MAX_TOKENS tokens, a canonical form KaTeX does not parse.
 */
export function modelProblems (formulas: readonly HeldoutCFormula[], vocab: ReadonlySet<string>, source = HELDOUT_C_SOURCE): string[] {
  const out: string[] = []
  for (const f of formulas) {
    const where = `${source}:${f.line}: ${f.id}`
    const unknown = [...new Set(f.tokens.filter((t) => !vocab.has(t)))]
    if (unknown.length > 0) out.push(`${where}: tokens outside the vocabulary: ${unknown.join(' ')}`)
    if (f.tokens.length > MAX_TOKENS) out.push(`${where}: ${f.tokens.length} tokens, more than ${MAX_TOKENS}`)
    const parsed = checkLatex(canonicalize(f.latex))
    if (!parsed.ok) out.push(`${where}: its canonical form does not parse (${parsed.error ?? 'no reason'})`)
  }
  return out
}

/** Read the source and refuse it, naming every bad line, unless the model can take every formula. */
export function loadHeldoutCChecked (source = HELDOUT_C_SOURCE, vocab = modelVocab()): HeldoutCFormula[] {
  const formulas = readHeldoutC(source)
  const problems = modelProblems(formulas, vocab, source)
  if (problems.length > 0) throw new Error(`held-out C is not usable as it is:\n  ${problems.join('\n  ')}`)
  return formulas
}

export function imageName (formula: number, k: number, jpeg: boolean): string {
  return `${String(formula * IMAGES_PER_FORMULA + k).padStart(5, '0')}.${jpeg ? 'jpg' : 'png'}`
}

const IMAGE_FILE = /^\d{5}\.(png|jpg)$/

/** The formula set a truth.jsonl describes, as sorted "id\tlatex" lines (null: no truth file). */
async function formulaSetIn (dir: string): Promise<string[] | null> {
  let text: string
  try {
    text = await readFile(join(dir, 'truth.jsonl'), 'utf8')
  } catch {
    return null
  }
  const set = new Set<string>()
  text.split('\n').forEach((l, i) => {
    if (l.trim().length === 0) return
    try {
      const t = JSON.parse(l) as Partial<TruthLine>
      set.add(`${t.id ?? '(no id)'}\t${t.latex ?? ''}`)
    } catch {
      set.add(`(line ${i + 1} is not JSON)\t`)
    }
  })
  return [...set].sort()
}

/** Refuse (unless `replace`) to rewrite a folder that holds a different formula set. */
async function checkOverwrite (dir: string, formulas: readonly HeldoutCFormula[], replace: boolean): Promise<void> {
  const before = await formulaSetIn(dir)
  const images = (await readdir(dir)).filter((f) => IMAGE_FILE.test(f))
  if (before === null) {
    if (images.length > 0 && !replace) {
      throw new Error(`${dir} holds ${images.length} images but no truth.jsonl: pass --replace to rewrite it`)
    }
    return
  }
  const now = formulas.map((f) => `${f.id}\t${f.latex}`).sort()
  if (before.join('\n') === now.join('\n')) return
  const byId = (lines: string[]) => new Map(lines.map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)] as const))
  const latexBefore = byId(before)
  const latexNow = byId(now)
  const added = [...latexNow.keys()].filter((id) => !latexBefore.has(id))
  const removed = [...latexBefore.keys()].filter((id) => !latexNow.has(id))
  const changed = [...latexNow.keys()].filter((id) => latexBefore.has(id) && latexBefore.get(id) !== latexNow.get(id))
  const list = (xs: string[]) => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, ...` : xs.join(', '))
  const diff = [
    added.length ? `${added.length} added (${list(added)})` : '',
    removed.length ? `${removed.length} removed (${list(removed)})` : '',
    changed.length ? `${changed.length} changed (${list(changed)})` : '',
  ].filter(Boolean)
  const summary = diff.join(', ')
  if (!replace) {
    throw new Error(`${dir}/truth.jsonl holds another formula set than the source: ${summary}; pass --replace to rewrite the folder`)
  }
  console.log(`replacing the formula set in ${dir}: ${summary}`)
}

/** The degraded copy of formula i: the clean render through the held-out B profile, seeded per formula. */
async function degrade (clean: Buffer, i: number, id: string): Promise<Buffer> {
  // An augmentation that leaves no ink (rare) is redrawn with the next seed, so the set stays whole.
  for (let attempt = 0; attempt < 8; attempt++) {
    const seed = (HELDOUT_C_SEED * 100003 + i + attempt * 7919 * 100003) >>> 0
    const image = await augment(clean, new Rng(seed), HELDOUT_B_AUGMENT)
    try {
      await modelCanvas(image)
      return image
    } catch (err) {
      if (!(err instanceof NoInkError)) throw err
    }
  }
  throw new Error(`${id}: every degraded copy lost its ink`)
}

export interface BuildResult {
  formulas: number;
  images: number;
  bytes: number;
}

/** Render and write the whole folder: images first, truth.jsonl last. */
export async function buildHeldoutC (formulas: readonly HeldoutCFormula[], out: string, opts: { replace?: boolean; log?: (s: string) => void } = {}): Promise<BuildResult> {
  const log = opts.log ?? (() => {})
  await mkdir(out, { recursive: true })
  await checkOverwrite(out, formulas, opts.replace ?? false)
  const latex = formulas.map((f) => f.latex)
  // One TeX document per font and density: 9 runs in all.
  const clean = new Map<string, Buffer[]>()
  for (const font of HELDOUT_C_FONTS) {
    for (const dpi of HELDOUT_C_DPIS) {
      const t = Date.now()
      const pngs = await renderTex(latex, font, dpi)
      const refused = pngs.flatMap((p, i) => (p ? [] : [`${formulas[i]!.id} (line ${formulas[i]!.line})`]))
      if (refused.length > 0) throw new Error(`TeX (${font}, ${dpi} dpi) refused: ${refused.join(', ')}`)
      clean.set(`${font}@${dpi}`, pngs as Buffer[])
      log(`rendered ${formulas.length} formulas in ${font} at ${dpi} dpi (${((Date.now() - t) / 1000).toFixed(1)} s)`)
    }
  }
  const degraded: Buffer[] = []
  for (const [i, f] of formulas.entries()) {
    degraded.push(await degrade(clean.get(`${DEGRADED_FROM.font}@${DEGRADED_FROM.dpi}`)![i]!, i, f.id))
  }
  log(`degraded ${formulas.length} copies (${HELDOUT_B_AUGMENT.name} profile, seed ${HELDOUT_C_SEED})`)

  // The whole folder is rewritten: the old truth first, so a folder cut short never lists missing images.
  await rm(join(out, 'truth.jsonl'), { force: true })
  for (const f of await readdir(out)) if (IMAGE_FILE.test(f)) await rm(join(out, f))
  const truth: TruthLine[] = []
  let bytes = 0
  const put = async (i: number, k: number, image: Buffer, renderer: string): Promise<void> => {
    const f = formulas[i]!
    const file = imageName(i, k, image[0] === 0xff)
    await writeFile(join(out, file), image)
    bytes += image.length
    truth.push({ file, latex: f.latex, renderer, id: f.id, topic: f.topic })
  }
  for (let i = 0; i < formulas.length; i++) {
    let k = 0
    for (const font of HELDOUT_C_FONTS) {
      for (const dpi of HELDOUT_C_DPIS) await put(i, k++, clean.get(`${font}@${dpi}`)![i]!, `tex-${font}@${dpi}dpi`)
    }
    await put(i, k, degraded[i]!, `tex-${DEGRADED_FROM.font}@${DEGRADED_FROM.dpi}dpi+${HELDOUT_B_AUGMENT.name}`)
  }
  const text = truth.map((t) => JSON.stringify(t)).join('\n') + '\n'
  await writeFile(join(out, 'truth.jsonl.tmp'), text)
  await rename(join(out, 'truth.jsonl.tmp'), join(out, 'truth.jsonl'))
  return { formulas: formulas.length, images: truth.length, bytes: bytes + text.length }
}

/** Formulas per topic and by length in canonical tokens (the eval script's bands). */
export function describe (formulas: readonly HeldoutCFormula[]): string {
  const topics = new Map<string, number>()
  for (const f of formulas) topics.set(f.topic, (topics.get(f.topic) ?? 0) + 1)
  const bands: [number, number][] = [[1, 20], [21, 40], [41, 60], [61, 90], [91, Infinity]]
  const byLength = bands.map(([lo, hi]) => {
    const n = formulas.filter((f) => f.tokens.length >= lo && f.tokens.length <= hi).length
    return `${hi === Infinity ? `${lo}+` : `${lo}-${hi}`}: ${n}`
  })
  return [
    `${formulas.length} formulas; by topic: ${[...topics].map(([t, n]) => `${t} ${n}`).join(', ')}`,
    `by length (canonical tokens): ${byLength.join(', ')}`,
  ].join('\n')
}

function positiveInt (v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

async function folderBytes (dir: string): Promise<number> {
  let total = 0
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size
  return total
}

async function main (): Promise<void> {
  const cmd = new Command('heldout-c')
    .description('render held-out C (real formulas typed by hand) in three fonts at three densities, plus a degraded copy each')
    .option('--source <file>', 'the formulas', HELDOUT_C_SOURCE)
    .option('--out <dir>', 'output folder', DEFAULT_OUT)
    .option('--replace', 'rewrite a folder that holds another formula set')
    .option('--limit <n>', 'only the first N formulas (a trial: give another --out)', positiveInt)
    .parse()
  const o = cmd.opts<{ source: string; out: string; replace?: boolean; limit?: number }>()
  let formulas = loadHeldoutCChecked(o.source)
  if (o.limit) formulas = formulas.slice(0, o.limit)
  console.log(describe(formulas))
  const t = Date.now()
  const r = await buildHeldoutC(formulas, o.out, { replace: o.replace ?? false, log: (s) => console.log(s) })
  const folder = await folderBytes(o.out)
  console.log(
    `${r.images} images for ${r.formulas} formulas in ${o.out} (${(r.bytes / 1e6).toFixed(1)} MB written, ` +
      `folder ${(folder / 1e6).toFixed(1)} MB) in ${((Date.now() - t) / 1000).toFixed(0)} s`
  )
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`heldout-c: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
