/**
 * Formula memory: the structural embedding puts related formulas near each other, int8 storage
 * keeps scores, the HNSW index agrees with exhaustive search; between real nodes, a formula read
 * on one node is found by search on another, and bad queries get clear errors.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { embedFormula, DIMENSIONS } from '../memory/embedding.js'
import { dot, quantize } from '../memory/quantize.js'
import { VectorIndex } from '../memory/index.js'
import { Rng } from '../formulas/rng.js'
import type { RunningNode } from '../node/daemon/start.js'
import { DataDir } from '../node/datadir/datadir.js'
import { runCli, startConnectedNodes, stopNodes, waitFor } from './helpers.js'

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

  it('int8 storage keeps cosine scores within a hundredth', () => {
    const a = embedFormula('a^2+b^2=c^2')
    const b = embedFormula('a^{2}-b^{2}=(a-b)(a+b)')
    assert.ok(Math.abs(dot(a, quantize(b)) - cos(a, b)) < 0.01)
  })

  it('the HNSW index finds what exhaustive search finds (2,000 random unit vectors)', () => {
    const rng = new Rng(7)
    const index = new VectorIndex(32, 16)
    const unit = (): Float32Array => {
      const v = Float32Array.from({ length: 32 }, () => rng.next() - 0.5)
      const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
      return v.map(x => x / n)
    }
    for (let i = 0; i < 2000; i++) index.add(unit())
    assert.equal(index.size, 2000)
    let found = 0
    for (let i = 0; i < 50; i++) {
      const q = unit()
      const exact = new Set(index.exact(q, 10).map(h => h.id))
      found += index.search(q, 10).filter(h => exact.has(h.id)).length
    }
    assert.ok(found / 500 >= 0.95, `recall@10 ${found / 500}`)
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
    assert.equal((await ask('latex=x&k=1000')).status, 400)
    assert.equal((await fetch(`http://127.0.0.1:${a.apiPort}/v1/search?latex=x`)).status, 401, 'search shows answers: it needs the token')
  })
})
