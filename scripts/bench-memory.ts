/**
 * npm run bench:memory -- [--formulas N]... [--queries Q] [--ef E]... [--rerank R]... [--m M] [--keep DIR] [--json]
 *
 * The formula memory (memory/) at campus scale: N distinct formulas from the grammar (mix v3,
 * seed 25; default 100,000), embedded for real, indexed (HNSW over int8 vectors), then Q queries
 * (other formulas of the grammar, default 500, after 100 to warm up) against exhaustive search
 * over the exact (float) vectors. For each ef_search asked: the graph's ten best in its own
 * int8 order, and for each --rerank R, its best R re-ranked as a node searches (each candidate's
 * formula embedded again). The searches are timed in passes of their own and the exhaustive ones run after, so
 * their garbage is not collected inside the timings. `--keep DIR` keeps each index built and
 * loads it the next time. Reports recall@10, query latency p50/p99, the build rate, RSS and the
 * bytes of vector storage per formula, with the ratios to issue 25's targets: recall@10 >= 0.95
 * and p99 <= 2 ms at 100,000 (<= 5 ms at 1,000,000); under 200 bytes of vector storage per formula.
 * Start-up: the index saved as a node saves it (memory/snapshot.ts, with the formulas beside it)
 * and loaded back, against building it again; the bytes it takes on disk per formula.
 */
import { Command, InvalidArgumentError } from 'commander'
import { FormulaGenerator } from '../formulas/grammar.js'
import { Rng } from '../formulas/rng.js'
import { DIMENSIONS, embedFormula, embeddingFingerprint } from '../memory/embedding.js'
import { efSearchFor, exhaustive, HNSW_M, rerankCount, VectorIndex, type ExactVector, type Hit } from '../memory/index.js'
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

const WARM_UP = 100

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

/** Searches timed apart from the exhaustive ones (whose garbage would otherwise land in the timings). */
function timeSearches (index: VectorIndex, warmUp: Float32Array[], queries: Float32Array[], exact?: ExactVector, rerank?: number): { times: number[], hits: Array<Array<{ id: number }>> } {
  // Without exact vectors: the graph's ten best, in its int8 order.
  const search = (q: Float32Array): Array<{ id: number }> => exact == null ? index.candidates(q, 10).map(id => ({ id })) : index.search(q, 10, exact, rerank)
  for (const q of warmUp) search(q)
  const times: number[] = []
  const hits: Array<Array<{ id: number }>> = []
  for (const q of queries) {
    const s = performance.now()
    hits.push(search(q))
    times.push(performance.now() - s)
  }
  return { times: times.sort((a, b) => a - b), hits }
}

/** recall@10 against the exhaustive search over the exact vectors: the share of the true ten found. */
function recall (hits: Array<Array<{ id: number }>>, exact: Hit[][]): number {
  let found = 0
  hits.forEach((h, i) => {
    const truth = new Set(exact[i]!.map(t => t.id))
    found += h.filter(x => truth.has(x.id)).length
  })
  return found / (hits.length * 10)
}

async function main (): Promise<void> {
  const cmd = new Command('bench:memory')
    .option('--formulas <n>', 'formulas in the index; repeatable (default 100000)', positiveInt)
    .option('--queries <n>', 'queries, each also searched exhaustively', (v: string) => positiveInt(v)[0]!, 500)
    .option('--ef <n>', 'ef_search; repeatable: each is measured on the same index (default: the shipped rule by size, 200 up to 200,000 rising to 600 at 1,000,000)', positiveInt)
    .option('--rerank <n>', 'candidates re-ranked by their exact vectors; repeatable (default: the shipped rule for k = 10, 14 up to 200,000 formulas rising to 24 at 1,000,000)', positiveInt)
    .option('--m <n>', `HNSW M (default ${HNSW_M})`, (v: string) => positiveInt(v)[0]!, HNSW_M)
    .option('--grown <n>', 'grow the index as a node whose memory grows by traffic does: saved every N formulas, so that segments are frozen by the shipped rule, read from their files and merged past four (the insert rate then counts saves and merges); searches then ask every segment (ef_search by each segment\'s size unless --ef)', (v: string) => positiveInt(v)[0]!)
    .option('--keep <dir>', 'keep each built index in DIR/N-M (a saved copy, as a node keeps it) and load it from there the next time instead of building it')
    .option('--json', 'print the results as JSON')
    .parse()
  const o = cmd.opts<{ formulas?: number[], queries: number, ef?: number[], rerank?: number[], m: number, grown?: number, keep?: string, json?: boolean }>()
  if (o.grown != null && o.keep != null) cmd.error('error: --grown builds the index as it grows: it cannot be kept (--keep)')
  const results = []
  for (const n of o.formulas ?? [100_000]) {
    // Grown: each segment searched with ef_search by its own size, as a node does.
    const efs: Array<number | undefined> = o.ef ?? [o.grown != null ? undefined : efSearchFor(n)]
    const gen = new FormulaGenerator(new Rng(25), 'v3')
    const seen = new Set<string>()
    const corpus = formulas(gen, n, seen)
    // Embedding (canonical tokens, features, hashing), timed on up to 20,000 of them.
    const sample = corpus.slice(0, 20_000)
    let t0 = performance.now()
    for (const f of sample) embedFormula(f)
    const embedPerS = sample.length / ((performance.now() - t0) / 1000)
    const dimensions = DIMENSIONS
    const kept = o.keep == null ? undefined : join(o.keep, `${n}-${o.m}`)
    let index: VectorIndex
    let insertPerS: number | undefined
    // The exact (float) vectors: the reference the exhaustive search ranks by.
    const vectors = corpus.map(f => embedFormula(f))
    let rssBefore = process.memoryUsage().rss
    const loadedKept = kept == null ? undefined : await readSnapshot(kept, dimensions, embeddingFingerprint())
    if (loadedKept != null && !('unusable' in loadedKept) && loadedKept.index.size === corpus.length) {
      index = loadedKept.index
    } else {
      rssBefore = process.memoryUsage().rss
      index = new VectorIndex(dimensions, efs[0], o.m)
      t0 = performance.now()
      const grownDir = o.grown != null ? mkdtempSync(join(tmpdir(), 'texmesh-bench-grown-')) : undefined
      vectors.forEach((v, i) => {
        index.add(v)
        if (grownDir != null && (i + 1) % o.grown! === 0) {
          writeSnapshot(grownDir, index, 'bench', { formulas: [] })
          // Segments merged as a node merges them after its saves (here at once, not in slices).
          for (let m = index.merging(id => vectors[id]!); m != null; m = index.merging(id => vectors[id]!)) for (const step of m) void step
        }
      })
      insertPerS = corpus.length / ((performance.now() - t0) / 1000)
      // Its segments stay read from their files (mapped) after these go.
      if (grownDir != null) rmSync(grownDir, { recursive: true, force: true })
      if (kept != null) writeSnapshot(kept, index, embeddingFingerprint(), { formulas: [corpus.length] })
    }
    const rssIndex = process.memoryUsage().rss - rssBefore
    const queries = formulas(gen, o.queries + WARM_UP, seen).map(f => embedFormula(f))
    const measured = queries.slice(WARM_UP)
    // Re-ranked as a node re-ranks: each candidate's formula embedded again.
    const reembed: ExactVector = id => embedFormula(corpus[id]!)
    const reranks = o.rerank ?? [rerankCount(10, n)]
    const timed = efs.flatMap(ef => {
      index.efSearch = ef
      return [0, ...reranks].map(rerank => ({ ef, rerank, ...timeSearches(index, queries.slice(0, WARM_UP), measured, rerank > 0 ? reembed : undefined, rerank) }))
    })
    const exact = measured.map(q => exhaustive(vectors, q, 10))
    // as searched (the save below freezes what is in memory)
    const segments = index.segments
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
      const loaded = await readSnapshot(dir, dimensions, 'bench')
      if ('unusable' in loaded || loaded.index.size !== index.size) throw new Error(`the saved index did not load back: ${JSON.stringify(loaded)}`)
      // its formulas read back too, as a node reads them
      let read = 0
      for await (const batch of loaded.records('formulas')) read += batch.length
      loadMs = performance.now() - t0
      if (read !== corpus.length) throw new Error(`${read} formulas read back of ${corpus.length}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const bytes = index.bytesPerVector()
    const buildS = insertPerS == null ? undefined : corpus.length / embedPerS + corpus.length / insertPerS
    results.push({
      formulas: corpus.length,
      queries: measured.length,
      m: o.m,
      segments,
      searches: timed.map(t => {
        const r = recall(t.hits, exact)
        const times = t.times
        return { ef: t.ef, rerank: t.rerank, recallAt10: r, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99), ratios: { recall: r / TARGET_RECALL, p99: percentile(times, 0.99) / targetP99(n) } }
      }),
      embedPerS,
      insertPerS: insertPerS ?? null,
      startup: { buildS: buildS ?? null, saveS: saveMs / 1000, loadS: loadMs / 1000, diskBytesPerFormula: diskBytes / corpus.length },
      rssIndexMiB: rssIndex / 2 ** 20,
      bytesPerFormula: { int8Vectors: bytes.vector, graphLinks: bytes.links, rss: rssIndex / corpus.length },
      ratios: { bytes: bytes.vector / TARGET_BYTES }
    })
  }
  if (o.json === true) { console.log(JSON.stringify(results, null, 2)); return }
  for (const r of results) {
    console.log(`${r.formulas} formulas, ${r.queries} queries, M ${r.m}${r.segments.frozen > 0 ? `; ${r.segments.frozen} segments read from their files and ${r.segments.inMemory} formulas in memory` : ''}`)
    for (const s of r.searches) {
      console.log(`  ef_search ${String(s.ef ?? 'by segment').padEnd(4)} ${s.rerank > 0 ? `top ${String(s.rerank).padEnd(3)} re-ranked` : 'the graph alone  '} recall@10 ${s.recallAt10.toFixed(3)} (target >= ${TARGET_RECALL}: ratio ${s.ratios.recall.toFixed(2)}), ` +
        `query p50 / p99 ${s.p50Ms.toFixed(3)} / ${s.p99Ms.toFixed(3)} ms (target p99 <= ${targetP99(r.formulas)} ms: ratio ${s.ratios.p99.toFixed(2)})`)
    }
    console.log(`  embed, insert      ${Math.round(r.embedPerS)} / ${r.insertPerS == null ? 'not measured (the index was loaded from --keep)' : Math.round(r.insertPerS)} formulas a second`)
    console.log(`  start-up           ${r.startup.loadS.toFixed(2)} s from the saved index, against ${r.startup.buildS == null ? '(not measured)' : r.startup.buildS.toFixed(1)} s to build it (saving took ${r.startup.saveS.toFixed(2)} s; ${Math.round(r.startup.diskBytesPerFormula)} bytes on disk per formula)`)
    console.log(`  bytes per formula  ${r.bytesPerFormula.int8Vectors} of int8 vector, the only copy (target < ${TARGET_BYTES}: ratio ${r.ratios.bytes.toFixed(2)}); the graph's links about ${r.bytesPerFormula.graphLinks}; RSS ${Math.round(r.bytesPerFormula.rss)} (${r.rssIndexMiB.toFixed(0)} MiB)`)
  }
}

await main()
