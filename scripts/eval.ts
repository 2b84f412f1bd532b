/**
 * npm run eval -- DIR [--model DIR] [--beam N] [--report FILE] [--limit N] [--json]
 *
 * Recognise every image listed in DIR/truth.jsonl ({"file", "latex"} per line)
 * with the shipped model, through the OCR pipeline a user runs (preprocess,
 * segment, recognise with onnxruntime-node at the glyph scales of pipeline/scales.ts, the best beam
 * that parses and whose brackets pair,
 * confidence through the model's calibration curve), and report exact match
 * after normalisation, normalised edit distance and BLEU-4, and how well the
 * confidences are calibrated; every failure (truth vs output) goes to the
 * report file. An image the pipeline reads as several regions is one answer
 * (the regions joined by \\), as a user gets it.
 */
import { Command, InvalidArgumentError } from 'commander'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { z } from 'zod'
import { canonicalTokens, detokenize, tokenize } from '../pipeline/latex/canonical.js'
import { corpusBleu, normalizedEditDistance } from '../pipeline/latex/metrics.js'
import { expectedCalibrationError, rawProbability } from '../pipeline/confidence.js'
import { OcrPipeline } from '../pipeline/ocr.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'

const TruthLine = z.object({ file: z.string().min(1), latex: z.string() })

export interface EvalItem {
  file: string;
  truth: string;
  output: string | null;
  exact: boolean;
  ned: number;
  /** the model's probability of its answer, and that through the calibration curve */
  raw: number;
  confidence: number;
  error?: string;
}

export interface EvalSummary {
  dir: string;
  model: { name: string; version: string };
  beam: number;
  images: number;
  exactMatch: number;
  normalizedEditDistance: number;
  bleu: number;
  failures: number;
  msPerImage: number;
  /** the same measures by the truth's length in canonical tokens: where the model stops reading */
  byLength: LengthBand[];
  /** confidence against rightness: expected calibration error of the raw and the calibrated probability */
  calibration: { meanConfidence: number; ece: number; eceRaw: number };
}

export interface LengthBand {
  tokens: string;
  images: number;
  exactMatch: number;
  normalizedEditDistance: number;
}

/** Length bands, in canonical tokens (v1 formulas run to about 150). */
const BANDS: [number, number][] = [[1, 20], [21, 40], [41, 60], [61, 90], [91, Infinity]]

function byLength (items: EvalItem[], lengths: number[]): LengthBand[] {
  return BANDS.map(([lo, hi]) => {
    const band = items.filter((_, i) => lengths[i]! >= lo && lengths[i]! <= hi)
    const n = band.length
    return {
      tokens: hi === Infinity ? `${lo}+` : `${lo}-${hi}`,
      images: n,
      exactMatch: n ? band.filter((x) => x.exact).length / n : 0,
      normalizedEditDistance: n ? band.reduce((s, x) => s + x.ned, 0) / n : 0,
    }
  }).filter((b) => b.images > 0)
}

export function positiveInt (v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** Progress on stderr: a counter on a terminal, a line every hundred images otherwise, a newline at the end. */
export function stderrProgress (done: number, total: number): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total}${done === total ? '\n' : ''}`)
  else if (done % 100 === 0 || done === total) process.stderr.write(`${done}/${total}\n`)
}

export async function readTruth (dir: string): Promise<z.infer<typeof TruthLine>[]> {
  const path = join(dir, 'truth.jsonl')
  const text = await readFile(path, 'utf8').catch(() => {
    throw new Error(`${path}: no truth file (one JSON object per line: {"file": NAME, "latex": TRUTH})`)
  })
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i + 1] as const)
    .filter(([l]) => l.length > 0)
    .map(([l, n]) => {
      try {
        return TruthLine.parse(JSON.parse(l))
      } catch {
        throw new Error(`${path}:${n}: not a {"file", "latex"} JSON object`)
      }
    })
}

/** Tokens of an answer: its canonical form, or, for one that is no TeX (unbalanced braces), its tokens as they are. */
export function answerTokens (latex: string): string[] {
  try {
    return canonicalTokens(latex)
  } catch {
    try {
      return tokenize(latex)
    } catch {
      return [...latex] // not even tokens (a lone backslash at the end): its characters
    }
  }
}

export async function evaluate (
  dir: string,
  pipeline: OcrPipeline,
  opts: { beam: number; limit?: number; progress?: (done: number, total: number) => void }
): Promise<{ summary: EvalSummary; items: EvalItem[] }> {
  let truth = await readTruth(dir)
  if (opts.limit) truth = truth.slice(0, opts.limit)
  const items: EvalItem[] = []
  const pairs: { truth: string[]; output: string[] }[] = []
  const t0 = performance.now()
  for (const [i, t] of truth.entries()) {
    const want = canonicalTokens(t.latex)
    let item: EvalItem
    try {
      const r = await pipeline.recognize(await readFile(join(dir, t.file)), t.file, { beam: opts.beam })
      const got = answerTokens(r.latex)
      const exact = got.join(' ') === want.join(' ')
      // The model's own probability of the whole answer, before the curve (what calibration fits).
      const raw = rawProbability(r.regions.reduce((s, g) => s + g.score, 0))
      item = { file: t.file, truth: detokenize(want), output: detokenize(got), exact, ned: normalizedEditDistance(want, got), raw, confidence: r.confidence }
      pairs.push({ truth: want, output: got })
    } catch (err) {
      item = { file: t.file, truth: detokenize(want), output: null, exact: false, ned: 1, raw: 0, confidence: 0, error: (err as Error).message }
      pairs.push({ truth: want, output: [] })
    }
    items.push(item)
    opts.progress?.(i + 1, truth.length)
  }
  const n = items.length
  // Confidence is measured on the answers there were: an unreadable image states none.
  const answered = items.filter((x) => x.error == null)
  const summary: EvalSummary = {
    dir: resolve(dir),
    model: { name: pipeline.recognizer.manifest.name, version: pipeline.model },
    beam: opts.beam,
    images: n,
    exactMatch: n ? items.filter((x) => x.exact).length / n : 0,
    normalizedEditDistance: n ? items.reduce((s, x) => s + x.ned, 0) / n : 0,
    bleu: corpusBleu(pairs),
    failures: items.filter((x) => !x.exact).length,
    msPerImage: n ? (performance.now() - t0) / n : 0,
    byLength: byLength(items, pairs.map((p) => p.truth.length)),
    calibration: {
      meanConfidence: answered.length ? answered.reduce((s, x) => s + x.confidence, 0) / answered.length : 0,
      ece: expectedCalibrationError(answered.map((x) => ({ p: x.confidence, right: x.exact }))),
      eceRaw: expectedCalibrationError(answered.map((x) => ({ p: x.raw, right: x.exact }))),
    },
  }
  return { summary, items }
}

async function main (): Promise<void> {
  const cmd = new Command('eval')
    .description('measure the recogniser on a folder of images and its truth.jsonl')
    .argument('<dir>', 'folder with images and truth.jsonl')
    .option('--model <dir>', 'model folder', DEFAULT_MODEL_DIR)
    .option('--beam <n>', 'beam width', positiveInt, 5)
    .option('--limit <n>', 'only the first N images', positiveInt)
    .option('--report <file>', 'where to write the report (default: eval-report-DIRNAME.json)')
    .option('--json', 'print the summary as JSON')
    .parse()
  const dir = cmd.args[0]!
  const o = cmd.opts<{ model: string; beam: number; limit?: number; report?: string; json?: boolean }>()
  const pipeline = await OcrPipeline.load({ modelDir: o.model })
  const { summary, items } = await evaluate(dir, pipeline, {
    beam: o.beam,
    ...(o.limit ? { limit: o.limit } : {}),
    progress: stderrProgress,
  })
  const report = o.report ?? `eval-report-${basename(resolve(dir))}.json`
  await writeFile(report, JSON.stringify({ summary, failures: items.filter((x) => !x.exact) }, null, 2) + '\n')
  if (o.json) {
    console.log(JSON.stringify({ ...summary, report: resolve(report) }))
  } else {
    const pct = (x: number) => `${(100 * x).toFixed(1)} %`
    console.log(`${summary.images} images in ${dir}, model ${summary.model.name} ${summary.model.version}, beam ${summary.beam}`)
    console.log(`exact match (canonical)   ${pct(summary.exactMatch)}`)
    console.log(`normalised edit distance  ${summary.normalizedEditDistance.toFixed(4)}`)
    console.log(`BLEU-4                    ${summary.bleu.toFixed(4)}`)
    console.log(`time per image            ${summary.msPerImage.toFixed(1)} ms`)
    console.log('by length (tokens)        ' + summary.byLength.map((b) => `${b.tokens}: ${pct(b.exactMatch)} of ${b.images}`).join(', '))
    const c = summary.calibration
    console.log(`confidence                mean ${c.meanConfidence.toFixed(3)}, calibration error ${c.ece.toFixed(3)} (raw probability ${c.eceRaw.toFixed(3)})`)
    console.log(`${summary.failures} failures (truth vs output) in ${report}`)
  }
  await pipeline.release()
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`eval: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
