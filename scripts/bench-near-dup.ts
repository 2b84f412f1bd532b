/**
 * npm run bench:near-duplicates -- [--index DIR[:N]]... [--rescans N] [--tune DIR[:FROM:TO]] [--check DIR[:FROM:TO]] [--json FILE]
 *
 * When may a node answer a new image from memory (issue 25)? An image nearly identical to one
 * whose answer was corrected or certified gets that answer, if it passes two checks: its image
 * embedding (pipeline/image-embedding.ts) is within a cosine threshold of the remembered image's,
 * and the model, fed the remembered answer on the new image (one teacher-forced pass,
 * pipeline/forced.ts), finds no token of it less likely than a floor. The rule is reuse.ts's own
 * (chooseReuse: the most similar first; one that agrees with the model's reading ends the search).
 *
 * The test: an index of remembered images (default held-out C and the first 2,000 images of the
 * learning stream, with their true LaTeX as the remembered answers); as queries, re-scans of
 * index images (resized 0.7-1.4x, padded, half of them blurred, half saved as JPEG at quality
 * 50-90), which should be reused, and images of formulas the index does not hold, which must not
 * be: one set to choose the thresholds on (`--tune`), another, never used to choose, to report
 * the wrong-reuse rate on (`--check`). The thresholds chosen are those that leave the most
 * re-scans answered right while reusing no tuning image wrongly (the goal: under 1 in 1,000). `--from-json FILE` reports on a run's saved queries without reading again.
 */
import { Command, InvalidArgumentError } from 'commander'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { Rng } from '../formulas/rng.js'
import { decodeEmbedding } from '../pipeline/image-embedding.js'
import { OcrPipeline } from '../pipeline/ocr.js'
import { chooseReuse, scoringOrder, type ReuseCandidate } from '../node/daemon/reuse.js'
import { dot } from '../memory/quantize.js'
import { canonicalOrSelf } from '../review/verdict.js'
import { readTruth, stderrProgress } from './eval.js'

const HERE = fileURLToPath(new URL('../..', import.meta.url))
/** The least cosine at which remembered images are checked at all. */
const SCORED_FROM = 0.8
const COSINES = [0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99]
const FLOORS = [-0.5, -1, -1.5, -2, -3, -4, -5, -6, -8, -Infinity]
/** The tuning goal: no tuning image reused wrongly (so the estimate is under 1 in 2,640 for the default set). */
const TUNE_WRONG = 0

interface Item { dir: string, file: string, truth: string }
/** A query: its true LaTeX and the model's reading (canonical), and the remembered answers in the order reuse checks them. */
interface Query { kind: 'rescan' | 'tune' | 'check', truth: string, reading: string, nearest: number, candidates: ReuseCandidate[] }

function spec (s: string): { dir: string, from: number, to: number } {
  const [dir, a, b] = s.split(':')
  const from = b == null ? 0 : Number(a)
  const to = b == null ? (a == null ? Infinity : Number(a)) : Number(b)
  if (!dir || !Number.isInteger(from) || !(to > from)) throw new InvalidArgumentError(`${s}: give DIR, DIR:N or DIR:FROM:TO`)
  return { dir, from, to }
}

async function items (s: { dir: string, from: number, to: number }): Promise<Item[]> {
  const truth = await readTruth(s.dir)
  return truth.slice(s.from, s.to).map(t => ({ dir: s.dir, file: t.file, truth: canonicalOrSelf(t.latex) }))
}

/** A re-scan: resized, padded, blurred or saved as JPEG (seeded). */
async function rescan (bytes: Buffer, rng: Rng): Promise<Buffer> {
  const meta = await sharp(bytes).metadata()
  const f = 0.7 + 0.7 * rng.next()
  const pad = (): number => Math.floor(rng.next() * 24)
  let img = sharp(bytes).flatten({ background: '#ffffff' }).resize(Math.max(8, Math.round(meta.width! * f)), Math.max(8, Math.round(meta.height! * f)))
    .extend({ top: pad(), bottom: pad(), left: pad(), right: pad(), background: '#ffffff' })
  const blurred = rng.next() < 0.5
  if (blurred) img = sharp(await img.png().toBuffer()).blur(0.4 + 0.6 * rng.next())
  return rng.next() < 0.5 ? await img.jpeg({ quality: 50 + Math.floor(41 * rng.next()) }).toBuffer() : await img.png().toBuffer()
}

function positive (v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number, 1 or more')
  return n
}

const opts = new Command('bench:near-duplicates')
  .description('choose and check the thresholds of near-duplicate reuse')
  .option('--index <dir[:n]>', 'remembered images (repeatable)', (v, p: string[]) => [...p, v], [] as string[])
  .option('--rescans <n>', 're-scans of index images', positive, 1000)
  .option('--tune <spec>', 'distinct formulas to choose thresholds on', 'training/learning/stream:2000:6000')
  .option('--check <spec>', 'distinct formulas to report on', 'training/learning/stream2:0:4000')
  .option('--seed <n>', 'seed of the re-scans', positive, 25)
  .option('--json <file>', 'write every query\'s candidates here')
  .option('--from-json <file>', 'report on the queries a run saved with --json, without reading again')
  .parse().opts<{ index: string[], rescans: number, tune: string, check: string, seed: number, json?: string, fromJson?: string }>()

const queries: Query[] = opts.fromJson != null ? JSON.parse(await readFile(opts.fromJson, 'utf8')) as Query[] : await readAll()

/** Read the index, the re-scans and the distinct images (and save the queries with --json). */
async function readAll (): Promise<Query[]> {
  const queries: Query[] = []
  const indexSpecs = (opts.index.length > 0 ? opts.index : [join(HERE, 'datasets/heldout-c'), 'training/learning/stream:2000']).map(spec)
  const pipeline = await OcrPipeline.load()
  const index: Array<Item & { vec: Int8Array }> = []
  const all = (await Promise.all(indexSpecs.map(items))).flat()
  for (const [i, it] of all.entries()) {
    const r = await pipeline.recognize(await readFile(join(it.dir, it.file)), it.file)
    const vec = r.embedding != null ? decodeEmbedding(r.embedding) : undefined
    if (vec != null) index.push({ ...it, vec })
    stderrProgress(i + 1, all.length)
  }
  console.log(`index: ${index.length} of ${all.length} images have an embedding (one formula, read in one piece)`)

  /** The query's remembered images at SCORED_FROM or more, as reuse orders them (reuse.ts), each scored with its answer. */
  async function query (bytes: Buffer, truth: string, kind: Query['kind']): Promise<Query | undefined> {
    const r = await pipeline.recognize(bytes)
    if (r.embedding == null) return undefined
    const reading = canonicalOrSelf(r.latex)
    const q = Float32Array.from(decodeEmbedding(r.embedding)!, x => x / 127)
    const near = index.map(e => ({ latex: e.truth, cosine: dot(q, e.vec) })).sort((a, b) => b.cosine - a.cosine)
    const candidates: ReuseCandidate[] = scoringOrder(reading, near.filter(n => n.cosine >= SCORED_FROM))
    const toScore = candidates.filter(c => c.latex !== reading)
    const scores = toScore.length > 0 ? await pipeline.score(bytes, toScore.map(c => c.latex)) : []
    for (const [i, c] of toScore.entries()) if (scores?.[i] != null) c.worst = scores[i]!.worst
    return { kind, truth, reading, nearest: near[0]?.cosine ?? 0, candidates }
  }

  const rng = new Rng(opts.seed)
  const sample = index.filter((_, i) => i % Math.max(1, Math.floor(index.length / opts.rescans)) === 0).slice(0, opts.rescans)
  for (const [i, it] of sample.entries()) {
    const q = await query(await rescan(await readFile(join(it.dir, it.file)), rng), it.truth, 'rescan')
    if (q) queries.push(q)
    stderrProgress(i + 1, sample.length)
  }
  const remembered = new Set(index.map(e => e.truth))
  for (const kind of ['tune', 'check'] as const) {
    const set = (await items(spec(kind === 'tune' ? opts.tune : opts.check))).filter(it => !remembered.has(it.truth))
    for (const [i, it] of set.entries()) {
      const q = await query(await readFile(join(it.dir, it.file)), it.truth, kind)
      if (q) queries.push(q)
      stderrProgress(i + 1, set.length)
    }
  }
  await pipeline.release()
  if (opts.json) await writeFile(opts.json, JSON.stringify(queries))
  return queries
}

/** What the rule (reuse.ts) does to one query at cosine c and floor f: no reuse, or a reuse of the right or a wrong answer. */
function decide (q: Query, c: number, floor: number): { reused: 'none' | 'right' | 'wrong', answer: string } {
  const at = chooseReuse(q.reading, q.candidates, c, floor)
  return at == null ? { reused: 'none', answer: q.reading } : { reused: q.candidates[at]!.latex === q.truth ? 'right' : 'wrong', answer: q.candidates[at]!.latex }
}
/** Per kind of query: how many, answered right in the end, reuses that fixed a misreading, reuses of a wrong answer. */
function tally (kind: Query['kind'], c: number, floor: number): { n: number, right: number, fixed: number, wrong: number } {
  const qs = queries.filter(q => q.kind === kind)
  const d = qs.map(q => ({ q, ...decide(q, c, floor) }))
  return {
    n: qs.length,
    right: d.filter(x => x.answer === x.q.truth).length,
    fixed: d.filter(x => x.reused === 'right' && x.q.reading !== x.q.truth).length,
    wrong: d.filter(x => x.reused === 'wrong').length
  }
}
const pct = (a: number, n: number): string => `${(100 * a / Math.max(1, n)).toFixed(1)} %`
const rows = COSINES.flatMap(c => FLOORS.map(f => ({ c, f, rescan: tally('rescan', c, f), tune: tally('tune', c, f), check: tally('check', c, f) })))
const modelRight = queries.filter(q => q.kind === 'rescan' && q.reading === q.truth).length
console.log(`\nre-scans the model reads right by itself: ${pct(modelRight, rows[0]!.rescan.n)} of ${rows[0]!.rescan.n}`)
console.log('\n| cosine >= | worst token >= | re-scans right in the end | misreadings fixed | wrong reuses (re-scans) | tuning images reused wrongly | check images reused wrongly |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const r of rows.filter(r => r.f === -Infinity || r.c === 0.9 || r.c === 0.99)) {
  console.log(`| ${r.c} | ${r.f} | ${pct(r.rescan.right, r.rescan.n)} | ${r.rescan.fixed} | ${r.rescan.wrong} | ${r.tune.wrong} of ${r.tune.n} | ${r.check.wrong} of ${r.check.n} |`)
}
const ok = rows.filter(r => r.tune.wrong <= TUNE_WRONG * r.tune.n).sort((a, b) => b.rescan.right - a.rescan.right || b.c - a.c)
const best = ok[0]
if (best == null) console.log('\nno rule meets the tuning goal')
else {
  console.log(`\nchosen on the tuning set (the most re-scans right, no tuning image reused wrongly): cosine >= ${best.c}, worst token >= ${best.f}`)
  console.log(`  re-scans right: ${pct(modelRight, best.rescan.n)} read by the model -> ${pct(best.rescan.right, best.rescan.n)} with reuse (${best.rescan.fixed} misreadings fixed, ${best.rescan.wrong} wrong reuses)`)
  console.log(`  tuning images reused wrongly: ${best.tune.wrong} of ${best.tune.n}`)
  console.log(`  check images reused wrongly: ${best.check.wrong} of ${best.check.n} (${(1000 * best.check.wrong / Math.max(1, best.check.n)).toFixed(2)} per 1,000; goal < 1)`)
}
