/** `texmesh correct`, `confirm`, `stats` and `corrections export`: people's reviews of answers, what they say of each model, and the reviewed images as a labelled set. */
import type { Command } from 'commander'
import type { StatsView } from '../daemon/api-reviews.js'
import { MIN_REVIEW_WEIGHT } from '../../review/calibration.js'
import type { WrittenReview } from '../daemon/reviews.js'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { magicFormat } from '../../pipeline/preprocess.js'
import { TexmeshError } from '../errors.js'
import type { ReviewedImage } from '../daemon/reviews.js'
import { ApiClient } from './client.js'
import { dataDirOf, parsePositive, print, table, withDataDir, withJson, type CommonOptions } from './options.js'
import { printable } from './terminal.js'

const TARGET_HELP = 'a task id this node printed (texmesh submit), or the SHA-256 of an image the network has read'

function formatReview (r: WrittenReview): string {
  const what = r.verdict === 'success' || r.verdict === 'acceptable' || r.verdict === 'low-confidence'
    ? `confirmed ${printable(r.latex)}`
    : `corrected ${printable(r.reviewed.latex)} to ${printable(r.latex)}`
  const verdict = r.verdict + (r.rank != null ? ` (alternative ${r.rank})` : '')
  const served = r.served.state === 'disputed'
    ? 'The image keeps its certified answer; your review is shown beside it (disputed).'
    : r.served.latex !== r.latex
      ? `Other reviewers outweigh this review: every node answers ${printable(r.served.latex)}.`
      : r.served.state === 'corrected' ? 'Every node now answers this image with it (texmesh result says "corrected by").' : 'Every node shows the answer as confirmed.'
  return `${what}\nverdict  ${verdict}; the model (${r.reviewed.model}) said it with confidence ${r.reviewed.confidence.toFixed(2)}\nimage    ${r.hash}\n${served}`
}

function percent (x: number): string { return `${(100 * x).toFixed(1)} %` }

function formatStats (stats: StatsView[]): string {
  if (stats.length === 0) return 'no reviews yet (texmesh confirm / texmesh correct)'
  return stats.map(s => [
    `model ${s.model}: ${s.reviews} reviews; accuracy of reviewed answers ${percent(s.accuracy)} (mean confidence ${percent(s.confidence)}); calibration error ${percent(s.calibrationError)}`,
    s.calibration == null
      ? `network calibration: not yet (the shipped curve stands until reviews weigh ${MIN_REVIEW_WEIGHT})`
      : `network calibration: fitted on ${s.calibration.reviews} reviews (weight ${s.calibration.weight}); answers right 95 % of the time from confidence ${s.calibration.threshold?.toFixed(3) ?? '(none)'}`,
    table(['verdict', 'reviews'], Object.entries(s.verdicts).map(([v, n]) => [v, String(n)])),
    table(['confidence', 'reviews', 'right'], s.bins.filter(b => b.reviews > 0).map(b => [`${b.from.toFixed(1)}-${b.to.toFixed(1)}`, String(b.reviews), percent(b.accuracy ?? 0)]))
  ].join('\n')).join('\n\n')
}

/** `texmesh corrections export DIR`: the reviewed images this node holds, with a truth.jsonl. */
async function exportReviews (client: ApiClient, dir: string, opts: { force?: boolean, json?: boolean }): Promise<void> {
  const truthPath = join(dir, 'truth.jsonl')
  if (opts.force !== true && await stat(truthPath).then(() => true, () => false)) {
    throw new TexmeshError(`${truthPath} exists already; choose an empty folder, or --force to write over it`)
  }
  await mkdir(dir, { recursive: true })
  const all = await client.get<ReviewedImage[]>('/v1/reviews')
  // An image whose reviewers are tied between formulas has no truth to export.
  const reviewed = all.filter(r => r.settled)
  const lines: string[] = []
  let missing = 0
  for (const r of reviewed) {
    const bytes = await client.getBytes(`/v1/images/${r.hash}`)
    if (bytes == null) { missing++; continue }
    const format = magicFormat(bytes)
    const file = `${r.hash.slice(0, 16)}.${format === 'jpeg' ? 'jpg' : format === 'tiff' ? 'tif' : format ?? 'bin'}`
    await writeFile(join(dir, file), bytes)
    lines.push(JSON.stringify({ file, latex: r.latex, hash: r.hash, reviewers: r.by }))
  }
  await writeFile(truthPath, lines.map(l => l + '\n').join(''))
  const summary = { dir, exported: lines.length, reviewed: all.length, notHeld: missing, unsettled: all.length - reviewed.length }
  print(opts.json, summary, () => `exported ${lines.length} of ${all.length} reviewed images to ${dir} (truth.jsonl beside them)` +
    (missing > 0 ? `; ${missing} not held by this node (only its own tasks' images are: export where they were submitted)` : '') +
    (summary.unsettled > 0 ? `; ${summary.unsettled} left out, their reviewers tied between formulas` : '') +
    `\nEvaluate the model on them: npm run eval -- ${dir}`)
}

export function addReviewCommands (program: Command): void {
  const corrections = program.command('corrections').description('what people reviewed: export it as a labelled set')
  withJson(withDataDir(corrections.command('export')))
    .description('write the reviewed images this node holds, and a truth.jsonl of the formulas their reviewers settled on, to DIR')
    .argument('<dir>', 'the folder to write (made if missing)')
    .option('--force', 'write over a truth.jsonl already there')
    .addHelpText('after', `
The folder is a labelled set as npm run eval and the trainer read it: one image per reviewed image
(named by its SHA-256), and truth.jsonl with {"file", "latex", "hash", "reviewers"} per line, the
LaTeX in canonical form. Only the images of this node's own tasks are there to export.`)
    .action(async (dir: string, opts: CommonOptions & { force?: boolean }) => {
      await exportReviews(await ApiClient.forDataDir(dataDirOf(opts)), dir, opts)
    })

  withJson(withDataDir(program.command('correct')))
    .description('say what an answer should have been: every node then answers that image with it')
    .argument('<id-or-hash>', TARGET_HELP)
    .argument('<latex>', 'the right LaTeX (it must parse; it is stored in canonical form)')
    .option('--note <text>', 'a note kept with the correction')
    .addHelpText('after', `
The correction is stored under this node's id in the replicated store, with the answer it corrects
and the model that gave it. When reviewers disagree, the formula named by the most of them wins
(then the most recent); a certified answer is never replaced, the correction is shown beside it.`)
    .action(async (target: string, latex: string, opts: CommonOptions & { note?: string }) => {
      const r = await (await ApiClient.forDataDir(dataDirOf(opts))).post<WrittenReview>('/v1/reviews', { target, latex, ...(opts.note != null ? { note: opts.note } : {}) })
      print(opts.json, r, () => formatReview(r))
    })

  withJson(withDataDir(program.command('confirm')))
    .description('say an answer is right (or, with --alternative, that one of its alternatives is)')
    .argument('<id-or-hash>', TARGET_HELP)
    .option('--alternative <n>', 'the alternative that is right (1 = the first texmesh result lists)', parsePositive('--alternative', 16))
    .action(async (target: string, opts: CommonOptions & { alternative?: number }) => {
      const r = await (await ApiClient.forDataDir(dataDirOf(opts))).post<WrittenReview>('/v1/reviews', { target, ...(opts.alternative != null ? { alternative: opts.alternative } : {}) })
      print(opts.json, r, () => formatReview(r))
    })

  withJson(withDataDir(program.command('stats')))
    .description('what reviews say of each model: verdicts, accuracy of reviewed answers, calibration')
    .addHelpText('after', `
Verdicts: success (confirmed, confidence >= 0.95), acceptable (confirmed, 0.80-0.95),
low-confidence (confirmed, below 0.80), suboptimal (the right formula was an alternative),
failed (it was not among them). Calibration error: over ten confidence bins, the gap between
the confidence given and the share right, weighted by the bin's reviews.`)
    .action(async (opts: CommonOptions) => {
      const stats = await (await ApiClient.forDataDir(dataDirOf(opts))).get<StatsView[]>('/v1/stats')
      print(opts.json, stats, () => formatStats(stats))
    })
}
