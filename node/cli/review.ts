/** `texmesh correct`, `texmesh confirm` and `texmesh stats`: people's reviews of answers, and what they say of each model. */
import type { Command } from 'commander'
import type { StatsView } from '../daemon/api-reviews.js'
import { MIN_REVIEW_WEIGHT } from '../../review/calibration.js'
import type { WrittenReview } from '../daemon/reviews.js'
import { ApiClient } from './client.js'
import { dataDirOf, parsePositive, print, table, withDataDir, withJson, type CommonOptions } from './options.js'
import { printable } from './terminal.js'

const TARGET_HELP = 'a task id this node printed (texmesh submit), or the SHA-256 of an image the network has read'

function formatReview (r: WrittenReview): string {
  const what = r.verdict === 'success' || r.verdict === 'acceptable' || r.verdict === 'low-confidence'
    ? `confirmed ${printable(r.latex)}`
    : `corrected ${printable(r.reviewed.latex)} to ${printable(r.latex)}`
  const verdict = r.verdict + (r.rank != null ? ` (alternative ${r.rank})` : '')
  return `${what}\nverdict  ${verdict}; the model (${r.reviewed.model}) said ${r.reviewed.confidence.toFixed(2)}\nimage    ${r.hash}\nEvery node now answers this image with it (texmesh result shows "corrected by").`
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

export function addReviewCommands (program: Command): void {
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
