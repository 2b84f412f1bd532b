/**
 * Write models/NAME/MODEL_CARD.md from the files next to it, so no figure is
 * copied by hand: model.json (version, SHA-256), training.json (recipe,
 * steps, time, hardware), eval-*.json (the held-out measurements) and
 * calibration.json (the confidence curve).
 *
 *   node dist/scripts/model-card.js models/texmesh-v1
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GLYPH_SCALES, RESCALE_BELOW_LOGPROB } from '../pipeline/scales.js'

interface Training {
  architecture: string;
  parameters: number;
  max_length: number;
  training: {
    steps: number;
    samples_seen: number;
    minutes: number;
    hardware: string;
    dev_history: { step: number; minutes: number; dev_exact: number; samples?: number; dev_loss?: number; n?: number }[];
    final_dev_greedy_exact: number | null;
    /** What was exported: the weights at the last step (absent), or their moving average (train2.py --ema). */
    weights?: string;
    /** The moving average's own dev checks, beside the weights' (train2.py --ema). */
    dev_history_moving_average?: { step: number; minutes: number; dev_exact: number; dev_loss?: number; n?: number }[];
    /** The average's figure on the whole dev set when the run ended (absent mid-run). */
    final_dev_greedy_exact_moving_average?: number | null;
    /** v1's train.py recipe, or v2's train2.py one (arch, geometry, lr, pixels a batch, ...) */
    run?: ({ batch: number; peak_lr: number; warmup: number; curriculum: number; label_smoothing: number } | V2Run) | null;
    prior?: Prior[];
  };
  recipe: Record<string, unknown>;
}

/** train2.py's recipe. */
interface V2Run {
  arch: string;
  geometry: string;
  glyph: number;
  max_h: number;
  max_w: number;
  pixels: number;
  max_batch: number;
  lr: number;
  warmup: number;
  count_loss: number;
  minutes: number;
}

/** A run whose weights this model's training started from. */
interface Prior {
  model?: string;
  sha256?: string;
  steps: number;
  samples_seen: number;
  minutes: number;
  hardware?: string;
}

/** The training section: this run, the runs it continued, and the totals. */
function trainingText (tr: Training['training']): string[] {
  const prior = tr.prior ?? []
  const run = tr.run
  const perStep = Math.round(tr.samples_seen / Math.max(1, tr.steps))
  const lines = [
    `${prior.length ? 'This run: ' : ''}${tr.steps} steps of ${perStep}, ${tr.samples_seen} samples seen, ${tr.minutes} minutes on ${tr.hardware}.`,
  ]
  if (prior.length) {
    for (const p of prior) {
      const from = p.model ? `\`${p.model}\`${p.sha256 ? ` (files ${p.sha256.slice(0, 16)})` : ''}` : 'an earlier run'
      lines.push(`It continued from ${from}: ${p.steps} steps, ${p.samples_seen} samples, ${p.minutes} minutes${p.hardware ? ` on ${p.hardware}` : ''}.`)
    }
    const minutes = prior.reduce((a, p) => a + p.minutes, tr.minutes)
    const samples = prior.reduce((a, p) => a + p.samples_seen, tr.samples_seen)
    lines.push(`In all: ${samples} samples seen in ${minutes.toFixed(1)} minutes of training.`)
  }
  if (run && 'arch' in run) {
    lines.push(`AdamW (peak learning rate ${run.lr}, warm-up over ${Math.round(run.warmup * 100)} % then cosine over the time budget of ${run.minutes} minutes), label smoothing 0.1, batches of one canvas height grouped by width under ${run.pixels} canvas pixels (at most ${run.max_batch} images)${run.count_loss > 0 ? `, symbol-counting loss ${run.count_loss}` : ''}; clean renders degraded and scaled on the fly (\`scripts/train/glyph.py\`).`)
    lines.push('Reproduce with `scripts/train/run2.sh data`, `scripts/train/run2.sh init` and `train` (or `train` alone from the committed checkpoint), then `scripts/train/run2.sh export`.')
    return lines
  }
  if (run) {
    const curriculum = run.curriculum > 0 ? `, curriculum from 24-token labels to all over the first ${Math.round(run.curriculum * 100)} %` : ', no curriculum'
    lines.push(`AdamW (peak learning rate ${run.peak_lr}, batch ${run.batch}${curriculum}, warm-up over ${Math.round(run.warmup * 100)} % then cosine over the time budget), label smoothing ${run.label_smoothing}.`)
  } else {
    lines.push('AdamW (peak learning rate 1.5e-3, batch 32, curriculum from 24-token labels to all over the first 35 %, warm-up then cosine over the time budget), label smoothing 0.1.')
  }
  lines.push(
    prior.length
      ? 'Reproduce with `scripts/train/run.sh data`, `scripts/train/run.sh resume` (from the model it continued), `scripts/train/run.sh export`.'
      : 'Reproduce with `scripts/train/run.sh data`, `scripts/train/run.sh train`, `scripts/train/run.sh export`.'
  )
  return lines
}

/** How far stated confidence is from the share of right answers, before and after the shipped curve. */
function confidenceText (
  calibration: { model: string; curve: [number, number][]; fittedOn: unknown[]; set: string; beam: number } | null,
  version: string,
  recipe: { seed?: number; profile?: string } | undefined,
  evals: [string, EvalReport][]
): string[] {
  if (calibration == null) return ['## Confidence', '', 'No calibration curve is shipped: confidences are the raw sequence probabilities.', '']
  if (calibration.model !== version) throw new Error(`calibration.json was fitted for ${calibration.model}, not ${version}: run npm run calibrate first`)
  const made = recipe?.seed != null ? ` of the ${recipe.profile ?? 'train'} profile with seed ${recipe.seed}` : ''
  const rows = evals.filter(([, r]) => r.summary.calibration != null)
  return [
    '## Confidence',
    '',
    'A result\'s confidence is the model\'s probability of its answer through the calibration curve in `calibration.json`,',
    `fitted by isotonic regression on \`${calibration.set}\` (${calibration.fittedOn.length} images${made}, never trained on; beam`,
    `${calibration.beam}) with \`npm run calibrate\`; ${calibration.curve.length} points. Label smoothing in training keeps`,
    'raw probabilities low even for right answers, so the curve mostly lifts them. Calibration error: answers binned',
    'by stated confidence (ten bins), the gap between confidence and share right, weighted by bin size.',
    '',
    '| held-out set | mean confidence | exact match | calibration error | (raw probability) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(([name, r]) => {
      const c = r.summary.calibration!
      return `| \`datasets/${name}\` | ${(100 * c.meanConfidence).toFixed(1)} % | ${(100 * r.summary.exactMatch).toFixed(1)} % | ${c.ece.toFixed(3)} | ${c.eceRaw.toFixed(3)} |`
    }),
    '',
  ]
}

/** Exact match by the truth's length: what a user can expect of short and long formulas. */
function lengthTable (evals: [string, EvalReport][]): string[] {
  const withBands = evals.filter(([, r]) => r.summary.byLength != null && r.summary.byLength.length > 0)
  if (withBands.length === 0) return []
  const bands = [...new Set(withBands.flatMap(([, r]) => r.summary.byLength!.map((b) => b.tokens)))]
  const cell = (r: EvalReport, band: string): string => {
    const b = r.summary.byLength!.find((x) => x.tokens === band)
    return b == null ? '-' : `${(100 * b.exactMatch).toFixed(1)} % (${b.images})`
  }
  return [
    'Exact match by the length of the formula in canonical tokens (images in each band in brackets):',
    '',
    `| held-out set | ${bands.join(' | ')} |`,
    `| --- | ${bands.map(() => '---').join(' | ')} |`,
    ...withBands.map(([name, r]) => `| \`datasets/${name}\` | ${bands.map((b) => cell(r, b)).join(' | ')} |`),
    '',
  ]
}

interface EvalReport {
  summary: {
    images: number;
    exactMatch: number;
    normalizedEditDistance: number;
    bleu: number;
    beam: number;
    msPerImage: number;
    byLength?: { tokens: string; images: number; exactMatch: number; normalizedEditDistance: number }[];
    calibration?: { meanConfidence: number; ece: number; eceRaw: number };
  };
  failures: unknown[];
}

const SETS: Record<string, string> = {
  'heldout-a': 'the generator with another seed (1001), rendered and degraded like the training data',
  'heldout-b': 'another seed (2002), rendered at a higher density (MathJax 10-12.5 px/ex, TeX 170-210 dpi) with stronger degradation (blur, noise, JPEG 20-45, rotation up to 2°)',
  'heldout-c': '287 real formulas typed by hand (calculus to machine learning), each by TeX in Computer Modern, Palatino and Times at 110, 160 and 220 dpi, plus a degraded scan-like copy; never generated',
}

async function main (): Promise<void> {
  const dir = process.argv[2]
  if (!dir) throw new Error('usage: model-card MODEL_DIR')
  const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { name: string; version: string; files: Record<string, string> }
  const t = JSON.parse(await readFile(join(dir, 'training.json'), 'utf8')) as Training
  const sizes = new Map<string, number>()
  for (const f of Object.keys(manifest.files)) sizes.set(f, (await readFile(join(dir, f))).length)
  const evals: [string, EvalReport][] = []
  for (const f of (await readdir(dir)).filter((x) => /^eval-.*\.json$/.test(x)).sort()) {
    evals.push([f.slice(5, -5), JSON.parse(await readFile(join(dir, f), 'utf8')) as EvalReport])
  }
  const calibration = await readFile(join(dir, 'calibration.json'), 'utf8').then(
    (text) => JSON.parse(text) as { model: string; curve: [number, number][]; fittedOn: unknown[]; set: string; beam: number },
    () => null
  )
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`
  const run = t.training.run
  const v2 = run != null && 'arch' in run ? run : null
  // v2's training record (design comparison, learning curve, forecast), written by scripts/train/report2.py.
  const record = await readFile(join(dir, 'TRAINING.md'), 'utf8').then((x) => x, () => null)
  const canvas = v2
    ? `a grayscale canvas on which its typical glyph is ${v2.glyph} pixels (height a multiple of 16 up to ${v2.max_h}, width a multiple of 32 up to ${v2.max_w}; see \`glyphCanvas\` in \`pipeline/model-input.ts\`)`
    : 'a 64 × 512 grayscale canvas (see `pipeline/model-input.ts`)'
  const shapes = v2
    ? ['The encoder maps one `image` float32 [1, 1, H, W] (1 = ink) to `memory` [1, S, D] with S = (H / 16) × (W / 8) and, for',
        'each decoder block i, its cross-attention keys `cross_k<i>` [1, h, D/h, S] and values `cross_v<i>` [1, h, S, D/h]. The']
    : ['The encoder maps one `image` float32 [1, 1, 64, 512] (1 = ink) to `memory` [1, 256, 192] and, for each decoder',
        'block i, its cross-attention keys `cross_k<i>` [1, 4, 48, 256] and values `cross_v<i>` [1, 4, 256, 48]. The']
  const lines = [
    `# Model card: ${manifest.name}`,
    '',
    `Version \`${manifest.version}\` (what results and votes carry; derived from the file hashes below).`,
    '',
    '## What it does',
    '',
    `Reads one printed display formula from ${canvas} and writes`,
    'canonical LaTeX tokens (see `pipeline/latex/canonical.ts`). Notation: Latin and Greek letters, digits, primes,',
    'relations and operators, \\infty \\partial \\nabla \\hbar \\ell, dots, \\mathbb and \\mathbf, scripts, \\frac, \\sqrt,',
    '\\binom, big operators with limits, delimiters, accents, named functions, \\bmod and \\pmod. Not yet: matrices,',
    '\\text, handwriting, several lines in one image (the pipeline segments those first).',
    '',
    '## Files',
    '',
    '| file | bytes | SHA-256 |',
    '| --- | --- | --- |',
    ...Object.entries(manifest.files).map(([f, h]) => `| \`${f}\` | ${sizes.get(f)} | \`${h}\` |`),
    '',
    ...shapes,
    'decoder step takes `token` int64 [rows] (the last token of each hypothesis, `<bos>` first), `position` int64 [1]',
    '(T), `history` int64 [rows, T] (per row, the cache slot of each earlier position), the cross-attention tensors',
    'and, per block, the key/value cache `past_k<i>`/`past_v<i>` [slots, 192], which the caller keeps; it gives',
    '`logprobs` [rows, vocabulary] for the next token and this step\'s keys and values `new_k<i>`/`new_v<i>` [rows, 192]',
    'for the caller to store. `vocab.json` lists the tokens by id; ids 0-3 are `<pad>`, `<bos>`, `<eos>`, `<unk>`.',
    `Outputs are at most ${t.max_length} tokens.`,
    '',
    'The decoder\'s linear layers are int8 with activations quantized at run time, one scale per step for all rows:',
    'a hypothesis\'s log-probability can move by about 0.1 with the other beams beside it. `parity.json` holds',
    'PyTorch\'s outputs on sample canvases; `test/model.test.ts` checks onnxruntime against them step by step.',
    '',
    '## Architecture',
    '',
    `${t.architecture}; ${(t.parameters / 1e6).toFixed(2)} M parameters.`,
    '',
    '## Data',
    '',
    ...(v2
      ? ['Everything is generated here (`scripts/datagen/`): formulas from a seeded grammar (`formulas/grammar.ts`; mix `v2` adds',
          'formulas of random symbols over the whole vocabulary and long multi-clause ones), labelled with their canonical',
          'form; rendered clean with MathJax 3 (its TeX font), MathJax 4 (STIX Two, TeX Gyre Termes, New Computer Modern) or',
          'TeX (latex + dvipng: Computer Modern, Palatino, Times, txfonts, pxfonts), stored at a 20-pixel glyph; degraded on',
          'the fly by the trainer (`scripts/train/glyph.py`: source glyph 6-36 px, margins, rotation, stroke, paper and ink',
          'levels, blur, low resolution, noise, binarisation, JPEG) and scaled as the pipeline scales. Held-out C is never',
          'generated: the grammar never writes its formulas and data generation skips them.']
      : ['Everything is generated here (`scripts/datagen/`): formulas from a seeded grammar (`formulas/grammar.ts`), labelled with',
          'their canonical form; rendered with MathJax (mathjax-full SVG, rasterised by sharp) or with TeX (latex + dvipng)',
          'in five math fonts (Computer Modern, Palatino, Times, txfonts, pxfonts); then degraded (`augment.ts`: margins,',
          'rotation, stroke thickness, gray and uneven paper, blur, noise, low resolution, JPEG, binarisation).']),
    '',
    '```json',
    JSON.stringify(t.recipe, null, 2),
    '```',
    '',
    '## Training',
    '',
    ...trainingText(t.training),
    '',
    '| step | minutes | dev exact match (greedy) |',
    '| --- | --- | --- |',
    ...t.training.dev_history.map((h) => `| ${h.step} | ${h.minutes.toFixed(1)} | ${pct(h.dev_exact)}${h.n != null ? ` (${h.n})` : ''} |`),
    ...(t.training.final_dev_greedy_exact != null ? [`| ${t.training.steps} (end) | ${t.training.minutes.toFixed(1)} | ${pct(t.training.final_dev_greedy_exact)} |`] : []),
    '',
    ...(t.training.weights != null
      ? [`This model is ${t.training.weights}, not the weights of the last step; the table above is the weights' learning curve, and the average's own dev checks were:`,
          '',
          '| step | minutes | dev exact match of the average (greedy) |',
          '| --- | --- | --- |',
          ...(t.training.dev_history_moving_average ?? []).map((h) => `| ${h.step} | ${h.minutes.toFixed(1)} | ${pct(h.dev_exact)}${h.n != null ? ` (${h.n})` : ''} |`),
          ...(t.training.final_dev_greedy_exact_moving_average != null
            ? [`| ${t.training.steps} (end) | ${t.training.minutes.toFixed(1)} | ${pct(t.training.final_dev_greedy_exact_moving_average)} |`]
            : []),
          '']
      : []),
    '## Measurements',
    '',
    'Exact match after normalisation to the canonical form, mean normalised token edit distance, corpus BLEU-4;',
    'the OCR pipeline as a user runs it (segmentation, wide formulas read in pieces, beam 5 through onnxruntime-node,',
    ...(v2
      ? [`canvases at ${GLYPH_SCALES[0]} of the measured glyph size, an answer with a log-probability under ${RESCALE_BELOW_LOGPROB} a region read again`,
          `at ${GLYPH_SCALES.slice(1).join(' and ')} and the likelier reading kept (\`pipeline/scales.ts\`); the best beam that parses and whose brackets pair).`,
          'Reproduce with `npm run eval -- datasets/NAME`.']
      : ['the best beam that parses). Reproduce with `npm run eval -- datasets/NAME`.']),
    '',
    '| held-out set | what it is | images | exact match | edit distance | BLEU-4 | ms/image |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...evals.map(
      ([name, r]) =>
        `| \`datasets/${name}\` | ${SETS[name] ?? ''} | ${r.summary.images} | ${pct(r.summary.exactMatch)} | ${r.summary.normalizedEditDistance.toFixed(4)} | ${r.summary.bleu.toFixed(4)} | ${r.summary.msPerImage.toFixed(0)} |`
    ),
    '',
    'Target (issue 18): exact match ≥ 90 %, edit distance ≤ 0.03 and BLEU-4 ≥ 0.95 on every held-out set. Each failure, truth against output,',
    'is listed in `eval-NAME.json` next to this card.',
    '',
    ...lengthTable(evals),
    ...(record != null ? [record.replace(/^# .*\n/, '').replace(/^## /gm, '### ').trim().replace(/^/, '## Training record (design comparison, learning curve, forecast)\n'), ''] : []),
    ...confidenceText(calibration, manifest.version, t.recipe['calibration'] as { seed?: number; profile?: string } | undefined, evals),
  ]
  await writeFile(join(dir, 'MODEL_CARD.md'), lines.join('\n'))
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
