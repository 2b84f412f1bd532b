/**
 * npm run bench:memory -- [--formulas N]... [--queries Q] [--json]
 *
 * The formula memory (memory/) at campus scale: N distinct formulas from the grammar (mix v3,
 * seed 25; default 100,000), embedded for real, indexed (HNSW, int8 vectors, exact re-rank),
 * then Q queries (other formulas of the grammar, default 500) against exhaustive search over
 * the same vectors. Reports recall@10, query latency p50/p99, the build rate, RSS and the bytes
 * of vector storage per formula, with the ratios to issue 25's targets: recall@10 >= 0.95 and
 * p99 <= 2 ms at 100,000 (<= 5 ms at 1,000,000); under 200 bytes of vector storage per formula.
 * Start-up: the index saved as a node saves it (memory/snapshot.ts, with the formulas beside it)
 * and loaded back, against building it again; the bytes it takes on disk per formula.
 */
import { Command, InvalidArgumentError } from 'commander'
import { FormulaGenerator } from '../formulas/grammar.js'
import { Rng } from '../formulas/rng.js'
import { embedFormula } from '../memory/embedding.js'
import { HNSW_EF_SEARCH, HNSW_M, VectorIndex } from '../memory/index.js'
import { canonicalize } from '../pipeline/latex/canonical.js'
import { readSnapshot, writeSnapshot } from '../memory/snapshot.js'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const TARGET_RECALL = 0.95
const TARGET_BYTES = 200
const targetP99 = (n: number): number => n <= 100_000 ? 2 : 5

const positiveInt = (v: string, prev: number[] = []): number[] => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number')
  return [...prev, n]
}

/** `count` distinct canonical formulas of the grammar. */
function formulas (gen: FormulaGenerator, count: number, seen: Set<string>): string[] {
  const out: string[] = []
  for (let tries = 0; out.length < count && tries < count * 10; tries++) {
    let f: string
    try { f = canonicalize(gen.formula()) } catch { continue }
    if (seen.has(f)) continue
    seen.add(f)
    out.push(f)
  }
  return out
}

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

async function main (): Promise<void> {
  const cmd = new Command('bench:memory')
    .option('--formulas <n>', 'formulas in the index; repeatable (default 100000)', positiveInt)
    .option('--queries <n>', 'queries, each also searched exhaustively (default 500)', (v: string) => positiveInt(v)[0]!, 500)
    .option('--ef <n>', `ef_search (default ${HNSW_EF_SEARCH})`, (v: string) => positiveInt(v)[0]!, HNSW_EF_SEARCH)
    .option('--m <n>', `HNSW M (default ${HNSW_M})`, (v: string) => positiveInt(v)[0]!, HNSW_M)
    .option('--json', 'print the results as JSON')
    .parse()
  const o = cmd.opts<{ formulas?: number[], queries: number, ef: number, m: number, json?: boolean }>()
  const results = []
  for (const n of o.formulas ?? [100_000]) {
    const gen = new FormulaGenerator(new Rng(25), 'v3')
    const seen = new Set<string>()
    let t0 = performance.now()
    const corpus = formulas(gen, n, seen)
    const vectors = corpus.map(f => embedFormula(f))
    const embedPerS = corpus.length / ((performance.now() - t0) / 1000)
    const rssBefore = process.memoryUsage().rss
    const index = new VectorIndex(vectors[0]!.length, 1024, o.ef, o.m)
    t0 = performance.now()
    for (const v of vectors) index.add(v)
    const buildPerS = corpus.length / ((performance.now() - t0) / 1000)
    const rssIndex = process.memoryUsage().rss - rssBefore
    const queries = formulas(gen, o.queries, seen).map(f => embedFormula(f))
    const times: number[] = []
    let found = 0
    for (const q of queries) {
      const s = performance.now()
      const hits = index.search(q, 10)
      times.push(performance.now() - s)
      const exact = new Set(index.exact(q, 10).map(h => h.id))
      found += hits.filter(h => exact.has(h.id)).length
    }
    times.sort((a, b) => a - b)
    const recall = found / (queries.length * 10)
    // Saved and loaded back, as a node does at stop and start.
    const dir = mkdtempSync(join(tmpdir(), 'texmesh-bench-memory-'))
    let saveMs: number, loadMs: number, diskBytes: number
    try {
      t0 = performance.now()
      writeSnapshot(dir, index, 'bench', { formulas: corpus })
      saveMs = performance.now() - t0
      const snap = readdirSync(dir).find(n => n.startsWith('snap-'))!
      diskBytes = readdirSync(join(dir, snap)).reduce((s, f) => s + statSync(join(dir, snap, f)).size, 0)
      t0 = performance.now()
      const loaded = readSnapshot(dir, vectors[0]!.length, 'bench', d => d)
      loadMs = performance.now() - t0
      if ('unusable' in loaded || loaded.index.size !== index.size) throw new Error(`the saved index did not load back: ${JSON.stringify(loaded)}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const bytes = index.bytesPerVector()
    results.push({
      formulas: corpus.length,
      queries: queries.length,
      recallAt10: recall,
      p50Ms: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
      embedPerS,
      insertPerS: buildPerS,
      startup: { buildS: corpus.length / embedPerS + corpus.length / buildPerS, saveS: saveMs / 1000, loadS: loadMs / 1000, diskBytesPerFormula: diskBytes / corpus.length },
      rssIndexMiB: rssIndex / 2 ** 20,
      bytesPerFormula: { int8Vectors: bytes.int8, graph: bytes.graph, rss: rssIndex / corpus.length },
      ratios: { recall: recall / TARGET_RECALL, p99: percentile(times, 0.99) / targetP99(n), bytes: bytes.int8 / TARGET_BYTES }
    })
  }
  if (o.json === true) { console.log(JSON.stringify(results, null, 2)); return }
  for (const r of results) {
    console.log(`${r.formulas} formulas, ${r.queries} queries, M ${o.m}, ef_search ${o.ef}`)
    console.log(`  recall@10          ${r.recallAt10.toFixed(3)}  (target >= ${TARGET_RECALL}: ratio ${r.ratios.recall.toFixed(2)})`)
    console.log(`  query p50 / p99    ${r.p50Ms.toFixed(3)} / ${r.p99Ms.toFixed(3)} ms  (target p99 <= ${targetP99(r.formulas)} ms: ratio ${r.ratios.p99.toFixed(2)})`)
    console.log(`  embed, insert      ${Math.round(r.embedPerS)} / ${Math.round(r.insertPerS)} formulas a second`)
    console.log(`  start-up           ${r.startup.loadS.toFixed(2)} s from the saved index, against ${r.startup.buildS.toFixed(1)} s to build it (saving took ${r.startup.saveS.toFixed(2)} s; ${Math.round(r.startup.diskBytesPerFormula)} bytes on disk per formula)`)
    console.log(`  bytes per formula  ${r.bytesPerFormula.int8Vectors} of int8 vector (target < ${TARGET_BYTES}: ratio ${r.ratios.bytes.toFixed(2)}); the HNSW graph's own float copy and links ${r.bytesPerFormula.graph}; RSS ${Math.round(r.bytesPerFormula.rss)} (${r.rssIndexMiB.toFixed(0)} MiB)`)
  }
}

await main()
