/**
 * Formula memory: the structural embedding puts related formulas near each other, int8 storage
 * keeps scores, the HNSW index agrees with exhaustive search; between real nodes, a formula read
 * on one node is found by search on another, and bad queries get clear errors; the index saved
 * in the data dir is loaded at start, repaired from the store after a kill -9, and not used when
 * damaged or made by another embedding.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, rename, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { embedFormula, embedTokens, DIMENSIONS, forEachPlace, WEIGHTS } from '../memory/embedding.js'
import { canonicalTokens } from '../pipeline/latex/canonical.js'
import { dot, quantize } from '../memory/quantize.js'
import { efSearchFor, exhaustive, rerankCount, VectorIndex } from '../memory/index.js'
import { Rng } from '../formulas/rng.js'
import type { RunningNode } from '../node/daemon/start.js'
import { DataDir } from '../node/datadir/datadir.js'
import { collect, removeDir, runCli, spawnCli, startConnectedNodes, startTestNode, stopNodes, tempDir, waitFor } from './helpers.js'
import { sha256Hex } from '../util/sha256.js'
import { writeSnapshot, readSnapshot } from '../memory/snapshot.js'

const FRACTION = fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))
const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0)

describe('formula memory (pure)', () => {
  it('puts formulas that share structure near each other, and apart from others', () => {
    const q = embedFormula('\\int_0^1 x^n dx')
    const near = cos(q, embedFormula('\\int_0^1 x^{n+1} dx'))
    for (const far of ['\\sum_{k=1}^{\\infty} \\frac{1}{k^2}', 'E = mc^2', '\\nabla \\times \\mathbf{B} = \\mu_0 \\mathbf{J}']) {
      assert.ok(near > cos(q, embedFormula(far)) + 0.2, `${near} against ${far}`)
    }
    // Equal canonical forms embed equally; every embedding is a unit vector.
    assert.deepEqual(embedFormula('x^2+\\frac12'), embedFormula('x^{2} + \\frac{1}{2}'))
    assert.ok(Math.abs(cos(q, q) - 1) < 1e-5)
    assert.equal(q.length, DIMENSIONS)
    assert.throws(() => embedFormula('\\frac{1}{'), /brace/)
  })

  it('features hashed as they are read embed as their names would (a plain count by name as the reference, long formulas included)', () => {
    // The reference: each feature's name built and counted, then hashed (FNV-1a) into a signed slot.
    const reference = (tokens: string[]): Float32Array => {
      const named = new Map<string, { weight: number, count: number }>()
      const add = (key: string, weight: number): void => { const f = named.get(key); if (f != null) f.count++; else named.set(key, { weight, count: 1 }) }
      tokens.forEach((t, i) => {
        add(`t ${t}`, WEIGHTS.token)
        if (i + 1 < tokens.length) add(`b ${t} ${tokens[i + 1]!}`, WEIGHTS.bigram)
        if (i + 2 < tokens.length) add(`g ${t} ${tokens[i + 1]!} ${tokens[i + 2]!}`, WEIGHTS.trigram)
      })
      // (the walk over places is the embedding's own: what is checked is the hashing as read)
      forEachPlace(tokens, (outer, inner, t) => { add(`p ${outer == null ? '' : `${outer}>`}${inner}>${t}`, WEIGHTS.path) })
      const v = new Float32Array(DIMENSIONS)
      for (const [key, { weight, count }] of named) {
        let h = 0x811c9dc5
        for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
        h >>>= 0
        v[h % DIMENSIONS]! += (h & 0x80000000 ? -1 : 1) * weight * (1 + Math.log(count))
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
      return v.map(x => x / norm)
    }
    const long = Array.from({ length: 120 }, (_, i) => `\\frac{x_{${i}}}{\\sqrt{y^{${i % 7}}+\\alpha_{${i}}}}`).join('+')
    for (const f of ['\\int_0^1 x^n dx', 'e^{i\\pi}+1=0', '\\sqrt{\\frac{a}{b^{2}}}', 'x', long]) {
      const tokens = canonicalTokens(f)
      assert.deepEqual(embedTokens(tokens), reference(tokens), f.slice(0, 40))
    }
    assert.ok(canonicalTokens(long).length > 2000)
  })

  it('int8 rounding (quantize.ts, as the image memory stores its vectors) keeps cosine scores within a hundredth', () => {
    const a = embedFormula('a^2+b^2=c^2')
    const b = embedFormula('a^{2}-b^{2}=(a-b)(a+b)')
    assert.ok(Math.abs(dot(a, quantize(b)) - cos(a, b)) < 0.01)
  })

  it('the HNSW index finds what exhaustive search finds (2,000 random unit vectors)', () => {
    const rng = new Rng(7)
    const index = new VectorIndex(32)
    const vectors: Float32Array[] = []
    const unit = (): Float32Array => {
      const v = Float32Array.from({ length: 32 }, () => rng.next() - 0.5)
      const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
      return v.map(x => x / n)
    }
    for (let i = 0; i < 2000; i++) {
      vectors.push(unit())
      assert.equal(index.add(vectors[i]!), i)
    }
    assert.equal(index.size, 2000)
    let found = 0
    let reranked = 0
    const byId = (id: number): Float32Array => vectors[id]!
    for (let i = 0; i < 50; i++) {
      const q = unit()
      const exact = exhaustive(vectors, q, 10)
      const ids = new Set(exact.map(h => h.id))
      // The graph's own (int8) order finds most; re-ranked by the exact vectors, more, with their scores.
      found += index.candidates(q, 10).filter(id => ids.has(id)).length
      const exactHits = index.search(q, 10, byId)
      reranked += exactHits.filter(h => ids.has(h.id)).length
      for (const h of exactHits) assert.equal(h.score, cos(q, vectors[h.id]!))
      assert.deepEqual(exactHits.map(h => h.score), [...exactHits.map(h => h.score)].sort((a, b) => b - a))
    }
    assert.ok(found / 500 >= 0.9, `recall@10 ${found / 500}`)
    assert.ok(reranked / 500 >= 0.95 && reranked >= found, `re-ranked recall@10 ${reranked / 500}, the graph's ${found / 500}`)
    assert.throws(() => index.search(new Float32Array(8), 10, byId), /8 dimensions/)
    assert.throws(() => index.add(new Float32Array(8)), /8 dimensions/)
    // The exhaustive search keeps the best k, best first, ties by id, as ranking all would.
    const q = unit()
    const top = exhaustive(vectors, q, 2000)
    assert.equal(top.length, 2000)
    assert.deepEqual(exhaustive(vectors, q, 10), top.slice(0, 10))
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.score > top[i]!.score || (top[i - 1]!.score === top[i]!.score && top[i - 1]!.id < top[i]!.id))
  })

  it('a saved index is checked before it is read: a changed byte, a missing check or other dimensions are refused with the reason', async () => {
    const dir = await tempDir()
    try {
      const index = new VectorIndex(16)
      for (let i = 0; i < 50; i++) index.add(Float32Array.from({ length: 16 }, (_, d) => d === i % 16 ? 1 : 0.01 * d))
      index.save(dir)
      assert.equal(VectorIndex.load(dir, 16).size, 50)
      assert.throws(() => VectorIndex.load(dir, 32), /not usable: .*16 bytes, not 32/)
      const file = join(dir, 'seg-0.usearch')
      const bytes = await readFile(file)
      bytes[Math.floor(bytes.length / 2)]! ^= 0x40
      await writeFile(file, bytes)
      assert.throws(() => VectorIndex.load(dir, 16), /not usable: it is damaged/)
      await writeFile(join(dir, 'seg-0.check.json'), '{}')
      assert.throws(() => VectorIndex.load(dir, 16), /check .* is missing or malformed/)
    } finally {
      await removeDir(dir)
    }
  })

  it('searches wider and re-ranks more as the index grows: ef_search 200 and 14 re-ranked up to 200,000 vectors, 600 and 24 from 1,000,000', () => {
    assert.deepEqual([1, 100_000, 200_000, 447_214, 1_000_000, 10_000_000].map(efSearchFor), [200, 200, 200, 400, 600, 600])
    assert.deepEqual([1, 100_000, 200_000, 447_214, 1_000_000, 10_000_000].map(n => rerankCount(10, n)), [14, 14, 14, 20, 24, 24])
    assert.deepEqual([rerankCount(1, 0), rerankCount(100, 0), rerankCount(100, 1_000_000)], [5, 140, 240])
  })
})

describe('formula memory between real nodes', { timeout: 90_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  before(async () => {
    await startConnectedNodes(2, dirs, nodes)
  })
  after(async () => { await stopNodes(dirs, nodes) })

  it('finds on A a formula read on B, with where it came from; bad queries get clear errors', async () => {
    const [a, b] = nodes as [RunningNode, RunningNode]
    const t = await waitFor('B to read the image', async () => {
      const v = await b.task((await b.submit(await readFile(FRACTION), { file: 'fraction.png', critical: false })).id)
      return v?.state === 'done' ? v : undefined
    }, 60_000)
    const answer = t.result!.latex
    const found = await waitFor('A to find it', async () => {
      const r = await runCli(['search', answer, '--json', '--data-dir', dirs[0]!])
      const parsed = JSON.parse(r.stdout) as { hits: Array<{ latex: string, score: number, sources: Array<{ hash: string, by: string, kind: string }> }> }
      return parsed.hits[0]?.latex === answer ? parsed : undefined
    }, 20_000)
    assert.ok(found.hits[0]!.score > 0.99)
    // Where it came from: that image, read by whichever node's worker took the task (either may have).
    for (const s of found.hits[0]!.sources) assert.deepEqual([s.hash, s.kind], [t.hash, 'result'])
    // and the task it answered: one of B's (the image was handed to B), whichever node read it
    const bTasks = new Set((await b.tasks(100)).map(v => v.id))
    for (const s of found.hits[0]!.sources) assert.ok(bTasks.has((s as { task?: string }).task ?? ''), JSON.stringify(s))
    assert.ok(found.hits[0]!.sources.some(s => s.by === t.result!.by))
    // A review is a source of the formula it names: a correction, then (rewritten) a confirmation, which leaves the first.
    const review = (latex: string): Parameters<typeof b.replica.putCorrection>[1] => ({ latex, reviewed: { latex: answer, model: t.result!.model, confidence: 0.5, alternatives: [] }, time: Date.now() })
    await b.replica.putCorrection(t.hash, review('\\zeta(s)=\\sum_{n=1}^{\\infty}n^{-s}'))
    const corrected = await waitFor('A to index the correction', async () => {
      const hits = (await a.search('\\zeta(s)=\\sum_{n=1}^{\\infty}n^{-s}', 1))
      return hits[0]?.latex.startsWith('\\zeta') === true ? hits[0] : undefined
    }, 20_000)
    assert.deepEqual(corrected.sources.map(s => s.kind), ['correction'])
    await b.replica.putCorrection(t.hash, review(answer))
    const confirmed = await waitFor('A to see it rewritten as a confirmation', async () => {
      const hits = await a.search(answer, 3)
      return hits[0]?.sources.some(s => s.kind === 'confirmation') === true ? hits : undefined
    }, 20_000)
    assert.equal(confirmed[0]!.latex, answer)
    assert.ok(!(await a.search('\\zeta(s)=\\sum_{n=1}^{\\infty}n^{-s}', 3)).some(h => h.latex.startsWith('\\zeta')), 'a formula left by its only source is not found')
    // A nearby formula finds it too.
    const near = await runCli(['search', answer.replace(/b/g, 'c'), '--data-dir', dirs[0]!])
    assert.equal(near.code, 0, near.stderr)
    assert.match(near.stdout, /^ 1\. 0\.\d{3} /)
    const token = (await readFile(new DataDir(dirs[0]!).paths.apiToken, 'utf8')).trim()
    const ask = async (query: string): Promise<{ status: number, error: string }> => {
      const r = await fetch(`http://127.0.0.1:${a.apiPort}/v1/search?${query}`, { headers: { authorization: `Bearer ${token}` } })
      return { status: r.status, error: ((await r.json()) as { error?: string }).error ?? '' }
    }
    assert.deepEqual(await ask('latex='), { status: 400, error: 'an empty query: give a formula in LaTeX' })
    assert.match((await ask(`latex=${'x'.repeat(5000)}`)).error, /at most 4096 characters/)
    assert.match((await ask('latex=%5Cfrac%7B1%7D%7B')).error, /not LaTeX this reader can take/)
    assert.match((await ask(`latex=${encodeURIComponent('integral of x squared')}`)).error, /reads as prose \("integral of"\): give a formula in LaTeX/)
    assert.equal((await ask('latex=x&k=1000')).status, 400)
    assert.equal((await fetch(`http://127.0.0.1:${a.apiPort}/v1/search?latex=x`)).status, 401, 'search shows answers: it needs the token')
  })
})

describe('formula memory saved in the data dir', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(removeDir)) })
  const hashOf = (i: number): string => sha256Hex(new TextEncoder().encode(`memory test ${i}`))
  const result = (latex: string): { latex: string, confidence: number, alternatives: [], model: string, time: number } => ({ latex, confidence: 0.9, alternatives: [], model: 'm', time: Date.now() })
  const INTEGRAL = '\\int_{0}^{1} x^{n} d x'
  const EULER = 'e^{i \\pi}+1=0'

  it('a node starts from its saved index, repairs it from the store after a kill -9, and builds it again when the copy is damaged', async () => {
    const dir = await tempDir()
    const peerDir = await tempDir()
    dirs.push(dir, peerDir)
    // A first start builds it; a clean stop saves it.
    const first = await startTestNode(dir)
    assert.equal((await first.memoryStarted).from, 'built')
    await first.replica.putResult(hashOf(1), result(INTEGRAL))
    await first.stop()
    assert.match(await readFile(join(new DataDir(dir).paths.memory, 'CURRENT'), 'utf8'), /^snap-\d+$/)

    // The node as a daemon loads it; a result arrives from a peer; the daemon is killed (SIGKILL) before it saves again.
    const daemon = spawnCli(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--no-mdns', '--data-dir', dir])
    const done = collect(daemon)
    let peer: RunningNode | undefined
    try {
      const runtime = await waitFor('the daemon to start', async () => await new DataDir(dir).runtime(), 30_000)
      const status = await (await fetch(`http://127.0.0.1:${runtime.apiPort}/v1/status`)).json() as { addresses: string[] }
      peer = await startTestNode(peerDir, { bootstrap: [status.addresses[0]!] })
      await peer.replica.putResult(hashOf(2), result(EULER))
      const token = (await readFile(new DataDir(dir).paths.apiToken, 'utf8')).trim()
      await waitFor('the daemon to index the peer\'s result', async () => {
        const r = await (await fetch(`http://127.0.0.1:${runtime.apiPort}/v1/search?latex=${encodeURIComponent(EULER)}&k=1`, { headers: { authorization: `Bearer ${token}` } })).json() as { hits: Array<{ score: number }> }
        return (r.hits[0]?.score ?? 0) > 0.99
      }, 30_000)
    } finally {
      await peer?.stop()
      daemon.kill('SIGKILL')
    }
    const log = await done
    assert.match(log.stderr + log.stdout, /formula memory loaded/)

    // Started again: the saved copy, with the result written after it added from the store.
    const again = await startTestNode(dir)
    try {
      const started = await again.memoryStarted
      assert.deepEqual([started.from, started.formulas, started.added, started.reused], ['saved', 2, 1, 1])
      for (const [latex, hash] of [[INTEGRAL, hashOf(1)], [EULER, hashOf(2)]] as const) {
        const hit = again.search(latex, 1)[0]!
        assert.ok(hit.score > 0.99, latex)
        assert.deepEqual(hit.sources.map(s => s.hash), [hash])
      }
    } finally {
      await again.stop()
    }

    // A damaged copy is not used: the memory is built from the store, and finds the same.
    const memoryDir = new DataDir(dir).paths.memory
    const current = (await readFile(join(memoryDir, 'CURRENT'), 'utf8')).trim()
    await truncate(join(memoryDir, current, 'seg-0.usearch'), 100)
    const rebuilt = await startTestNode(dir)
    try {
      const started = await rebuilt.memoryStarted
      assert.equal(started.from, 'built')
      assert.match(started.unusable ?? '', /damaged/)
      assert.ok(rebuilt.search(EULER, 1)[0]!.score > 0.99)
    } finally {
      await rebuilt.stop()
    }
    // The rebuilt copy was saved at that stop, over the damaged one.
    const after = await startTestNode(dir)
    try {
      const started = await after.memoryStarted
      assert.deepEqual([started.from, started.added], ['saved', 0])
    } finally {
      await after.stop()
    }
    // A copy whose records are readable but wrong (a formula id out of range), or not JSON, is not used either, nor does it stop the start.
    const copyDir = async (): Promise<string> => join(memoryDir, (await readFile(join(memoryDir, 'CURRENT'), 'utf8')).trim())
    const startsBuilt = async (unusable: RegExp): Promise<void> => {
      const node = await startTestNode(dir)
      try {
        const started = await node.memoryStarted
        assert.equal(started.from, 'built')
        assert.match(started.unusable ?? '', unusable)
        assert.equal(node.search(INTEGRAL, 1)[0]!.sources[0]!.hash, hashOf(1))
      } finally {
        await node.stop()
      }
    }
    const entriesFile = join(await copyDir(), 'entries.jsonl')
    const lines = (await readFile(entriesFile, 'utf8')).split('\n')
    lines[0] = JSON.stringify([(JSON.parse(lines[0]!) as unknown[])[0], 'print', [-1]])
    await writeFile(entriesFile, lines.join('\n'))
    await startsBuilt(/malformed entry/)
    await writeFile(join(await copyDir(), 'formulas.jsonl'), '"x"\n{not json\n')
    await startsBuilt(/formulas.jsonl, line 2: not JSON/)

    // Entries saved with prints as text ("TIME:HASH", by versions before prints were numbers) are taken as they are.
    const textPrints = join(await copyDir(), 'entries.jsonl')
    const latexOf = new Map([[hashOf(1), INTEGRAL], [hashOf(2), EULER]])
    const saved = (await readFile(textPrints, 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as [string, number, number, number[]])
    assert.equal(saved.length, 2)
    await writeFile(textPrints, saved.map(([key, time, , ids], i) => {
      const latex = latexOf.get(key.slice(key.indexOf(':') + 1, key.lastIndexOf('/')))!
      // The second with a print that reads as none: that entry alone is read again.
      const print = i === 0 ? `${time}:${createHash('sha256').update(latex).digest('base64url').slice(0, 11)}` : 'odd print'
      return `${JSON.stringify([key, print, ids])}\n`
    }).join(''))
    const textPrinted = await startTestNode(dir)
    try {
      const started = await textPrinted.memoryStarted
      assert.deepEqual([started.from, started.added, started.reused, started.unusable], ['saved', 0, 1, undefined])
    } finally {
      await textPrinted.stop()
    }
    // Saved again at that stop, as this version saves prints.
    const resaved = (await readFile(join(await copyDir(), 'entries.jsonl'), 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as unknown[])
    assert.deepEqual(resaved.map(e => [e.length, typeof e[1]]), [[4, 'number'], [4, 'number']])

    // A copy saved by the version before (format 3: the index in one file, the records in data.json) is read.
    const old = await copyDir()
    const records = async (name: string): Promise<unknown[]> => (await readFile(join(old, `${name}.jsonl`), 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as unknown)
    await writeFile(join(old, 'data.json'), JSON.stringify({ formulas: await records('formulas'), entries: await records('entries') }))
    await rename(join(old, 'seg-0.usearch'), join(old, 'vectors-graph.usearch'))
    await rename(join(old, 'seg-0.check.json'), join(old, 'vectors-graph.check.json'))
    const meta = JSON.parse(await readFile(join(old, 'meta.json'), 'utf8')) as { format: number }
    await writeFile(join(old, 'meta.json'), JSON.stringify({ ...meta, format: 3 }))
    const legacy = await startTestNode(dir)
    try {
      const started = await legacy.memoryStarted
      assert.deepEqual([started.from, started.added, started.unusable], ['saved', 0, undefined])
      assert.equal(legacy.search(EULER, 1)[0]!.sources[0]!.hash, hashOf(2))
    } finally {
      await legacy.stop()
    }
  })

  it('a copy half-written when a crash came is ignored, the last complete one used, and cleared by the next save', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const index = new VectorIndex(DIMENSIONS)
    index.add(embedFormula(INTEGRAL))
    writeSnapshot(dir, index, 'e', { n: [1] })
    // What a kill -9 in the middle of the next save leaves: a half-written copy, and a pointer not yet renamed.
    await mkdir(join(dir, 'snap-2.tmp'))
    await writeFile(join(dir, 'snap-2.tmp', 'seg-0.usearch'), 'half')
    await writeFile(join(dir, 'CURRENT.tmp'), 'snap-2')
    const read = await readSnapshot(dir, DIMENSIONS, 'e')
    assert.ok(!('unusable' in read), JSON.stringify(read))
    assert.deepEqual([await collectRecords(read.records('n')), read.index.size], [[1], 1])
    // Another embedding's copy is not used.
    assert.match((await readSnapshot(dir, DIMENSIONS, 'other') as { unusable: string }).unusable, /another embedding/)
    writeSnapshot(dir, index, 'e', { n: [2] })
    assert.deepEqual((await readdir(dir)).sort(), ['CURRENT', 'snap-2'])
  })
})

async function collectRecords (batches: AsyncGenerator<unknown[]>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const batch of batches) out.push(...batch)
  return out
}
