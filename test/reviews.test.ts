/**
 * People's reviews: verdicts, the rule when reviewers disagree, statistics (pure), and between
 * real nodes with the shipped model: a correction made on one node is served by another, the
 * documented rule for disagreement, the CLI.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { verdictOf, type Review } from '../review/verdict.js'
import { rankReviews, reviewOutcome } from '../review/served.js'
import { reviewStats } from '../review/stats.js'
import type { RunningNode } from '../node/daemon/start.js'
import type { TaskView } from '../node/daemon/work.js'
import { DataDir } from '../node/datadir/datadir.js'
import { collect, runCli, startConnectedNodes, stopNodes, waitFor } from './helpers.js'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { sha256Hex } from '../util/sha256.js'
import { canonicalize } from '../pipeline/latex/canonical.js'
import { RANK_UP_BELOW } from '../review/ranking.js'

const SUM = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
const FRACTION = fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))
const HELDOUT_C = fileURLToPath(new URL('../../datasets/heldout-c/', import.meta.url))
const UNSURE = ['00020.png', '00021.png', '00025.png', '00018.png', '00023.png', '00024.png']

const review = (latex: string, answer: string, confidence: number, alternatives: string[] = [], time = 1): Review =>
  ({ latex, reviewed: { latex: answer, model: 'm1', confidence, alternatives }, time })

describe('review verdicts, disagreement and statistics', () => {
  it('gives the design\'s five verdicts, comparing canonical forms', () => {
    assert.deepEqual(verdictOf(review('x^{2}', 'x^2', 0.97)), { verdict: 'success' })
    assert.deepEqual(verdictOf(review('x^{2}', 'x^{2}', 0.95)), { verdict: 'success' })
    assert.deepEqual(verdictOf(review('x^{2}', 'x^{2}', 0.9)), { verdict: 'acceptable' })
    assert.deepEqual(verdictOf(review('x^{2}', 'x^{2}', 0.8)), { verdict: 'acceptable' })
    assert.deepEqual(verdictOf(review('x^{2}', 'x^{2}', 0.79)), { verdict: 'low-confidence' })
    assert.deepEqual(verdictOf(review('\\frac{a}{b}', 'a/b', 0.6, ['ab', '\\frac ab'])), { verdict: 'suboptimal', rank: 2 })
    assert.deepEqual(verdictOf(review('\\alpha', 'a', 0.6, ['ab'])), { verdict: 'failed' })
  })

  it('the formula with the most reviewers wins; a tie keeps the answer; one reviewer counts once; no clock decides', () => {
    const two = new Map([['p1', review('y', 'x', 0.5, [], 5)], ['p2', review('y', 'x', 0.5, [], 1)], ['p3', review('z', 'x', 0.5, [], 9)]])
    assert.deepEqual(rankReviews(two).map(b => [b.latex, b.by]), [['y', ['p1', 'p2']], ['z', ['p3']]])
    // The outcome for the answer: corrected, confirmed, or (a certified answer) disputed.
    assert.deepEqual(reviewOutcome({ latex: 'x', certified: false }, two), { state: 'corrected', latex: 'y', by: ['p1', 'p2'], others: [{ latex: 'z', by: ['p3'] }] })
    assert.equal(reviewOutcome({ latex: 'y', certified: false }, two)?.state, 'confirmed')
    assert.equal(reviewOutcome({ latex: 'x', certified: true }, two)?.state, 'disputed')
    assert.equal(reviewOutcome({ latex: 'x', certified: false }, new Map()), undefined)
    // One against one: the answer stands, however late (or far in the future) the other review is dated.
    const tie = new Map([['p1', review('x', 'x', 0.5, [], 5)], ['p3', review('z', 'x', 0.5, [], 9e15)]])
    assert.deepEqual(reviewOutcome({ latex: 'x', certified: false }, tie), { state: 'confirmed', latex: 'x', by: ['p1'], others: [{ latex: 'z', by: ['p3'] }] })
    // Tied between two formulas, neither the answer: the smaller canonical string, on every node.
    const neither = new Map([['p1', review('z', 'x', 0.5, [], 1)], ['p3', review('y', 'x', 0.5, [], 9)]])
    assert.equal(reviewOutcome({ latex: 'x', certified: false }, neither)?.latex, 'y')
    assert.equal(reviewOutcome({ latex: 'x', certified: false }, new Map([...neither].reverse()))?.latex, 'y')
  })

  it('statistics per model: verdicts, accuracy and the calibration error over ten bins', () => {
    // Five answers at 0.9 of which four right, five at 0.3 of which one right.
    const reviews = [
      ...[1, 2, 3, 4].map(() => review('x', 'x', 0.9)), review('y', 'x', 0.9, ['y']),
      review('x', 'x', 0.3), ...[1, 2, 3, 4].map(() => review('y', 'x', 0.3)),
      { ...review('x', 'x', 0.99), reviewed: { latex: 'x', model: 'm2', confidence: 0.99, alternatives: [] } }
    ]
    const [m1, m2] = reviewStats(reviews)
    assert.equal(m1!.model, 'm1')
    assert.equal(m1!.reviews, 10)
    assert.deepEqual(m1!.verdicts, { success: 0, acceptable: 4, 'low-confidence': 1, suboptimal: 1, failed: 4 })
    assert.equal(m1!.accuracy, 0.5)
    // |0.8 - 0.9| and |0.2 - 0.3|, each half the reviews.
    assert.ok(Math.abs(m1!.calibrationError - 0.1) < 1e-9, String(m1!.calibrationError))
    assert.equal(m1!.bins.filter(b => b.reviews > 0).length, 2)
    assert.deepEqual(m2!.verdicts.success, 1)
  })
})

describe('reviews between real nodes', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  let a: RunningNode, b: RunningNode, c: RunningNode

  before(async () => {
    await startConnectedNodes(3, dirs, nodes)
    ;[a, b, c] = nodes as [RunningNode, RunningNode, RunningNode]
  })
  after(async () => { await stopNodes(dirs, nodes) })

  const post = async (node: RunningNode, dir: string, body: unknown): Promise<{ status: number, json: any }> => {
    const token = (await readFile(new DataDir(dir).paths.apiToken, 'utf8')).trim()
    const r = await fetch(`http://127.0.0.1:${node.apiPort}/v1/reviews`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { status: r.status, json: await r.json() }
  }
  const done = async (node: RunningNode, id: string): Promise<TaskView> =>
    await waitFor(`task ${id} done`, async () => { const t = await node.task(id); return t?.state === 'done' ? t : undefined }, 60_000)

  it('a correction made on B is served by A for that image, saying so and by whom; A\'s cache answers with it too', async () => {
    const bytes = await readFile(FRACTION)
    const t = await done(a, (await a.submit(bytes, { file: 'fraction.png', critical: false })).id)
    const model = t.result!.latex
    // B has no task for it: it reviews by the image's hash, what the network answers for it.
    const wrong = await post(b, dirs[1]!, { target: t.hash, latex: '\\frac{1}{' })
    assert.equal(wrong.status, 400)
    assert.match(wrong.json.error, /does not parse/)
    const unknown = await post(b, dirs[1]!, { target: 'f'.repeat(64), latex: 'x' })
    assert.equal(unknown.status, 404)
    const fix = await post(b, dirs[1]!, { target: t.hash, latex: '\\dfrac{x+1}{y} ', note: 'test' })
    assert.equal(fix.status, 200, JSON.stringify(fix.json))
    assert.equal(fix.json.latex, '\\frac{x+1}{y}', 'stored in canonical form')
    assert.equal(fix.json.verdict, 'failed')
    assert.equal(fix.json.reviewed.latex, model)
    assert.equal(fix.json.by, b.peerId.toString())

    const served = await waitFor('A to serve B\'s correction', async () => { const v = await a.task(t.id); return v?.result?.review != null ? v : undefined })
    assert.equal(served.result!.latex, '\\frac{x+1}{y}')
    assert.equal(served.result!.confidence, 1)
    assert.deepEqual(served.result!.review, { state: 'corrected', latex: '\\frac{x+1}{y}', by: [b.peerId.toString()], others: [], original: { latex: model, confidence: t.result!.confidence } })
    const again = await a.submit(bytes, { file: 'again.png', critical: false })
    assert.equal(again.cached, true)
    assert.equal(again.result?.latex, '\\frac{x+1}{y}')
    assert.equal(again.result?.review?.state, 'corrected')
    // The CLI says it.
    const shown = await runCli(['result', t.id, '--data-dir', dirs[0]!])
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, /\\frac\{x\+1\}\{y\}.*corrected by 1 reviewer .*the model said/)
  })

  it('when reviewers disagree, the formula most of them named wins, a tie keeps the answer; confirm and stats from the CLI', async () => {
    const bytes = await readFile(SUM)
    const t = await done(a, (await a.submit(bytes, { file: 'sum.png', critical: false })).id)
    const answer = t.result!.latex
    // A confirms what its model said (from the CLI); then B corrects it: one against one, the answer stands.
    const confirm = await runCli(['confirm', t.id, '--data-dir', dirs[0]!])
    assert.equal(confirm.code, 0, confirm.stderr)
    assert.match(confirm.stdout, /^confirmed /)
    assert.match(confirm.stdout, /verdict +(success|acceptable|low-confidence)/)
    await new Promise(resolve => setTimeout(resolve, 5))
    const other = await runCli(['correct', t.hash, '\\sum_{i=0}^{n}i', '--json', '--data-dir', dirs[1]!])
    assert.equal(other.code, 0, other.stderr)
    assert.equal(JSON.parse(other.stdout).verdict, 'failed')
    assert.equal(JSON.parse(other.stdout).served.state, 'confirmed', 'B is told its review is outweighed')
    const tied = await waitFor('A to see B\'s correction', async () => { const v = await a.task(t.id); return v?.result?.review?.others.length === 1 ? v : undefined })
    assert.equal(tied.result!.latex, answer)
    assert.equal(tied.result!.review!.state, 'confirmed')
    assert.deepEqual(tied.result!.review!.others, [{ latex: '\\sum_{i=0}^{n}i', by: [b.peerId.toString()] }])
    // C sides with A: two against one, A's answer stands, confirmed by both.
    await waitFor('C to have the result', () => [...c.replica.results(t.hash).keys()].length > 0)
    const side = await post(c, dirs[2]!, { target: t.hash })
    assert.equal(side.status, 200, JSON.stringify(side.json))
    const settled = await waitFor('A to see two reviewers confirm', async () => { const v = await a.task(t.id); return v?.result?.review?.by.length === 2 ? v : undefined })
    assert.equal(settled.result!.review!.state, 'confirmed')
    assert.equal(settled.result!.latex, answer)
    assert.deepEqual(settled.result!.review!.by, [a.peerId.toString(), c.peerId.toString()].sort())

    // Statistics: the same on every node once the reviews have travelled.
    const stats = await waitFor('every node to count the 4 reviews', async () => {
      const all = await Promise.all(dirs.map(async d => await runCli(['stats', '--json', '--data-dir', d])))
      const parsed = all.map(r => JSON.parse(r.stdout))
      return parsed.every(p => p[0]?.reviews === 4) ? parsed : undefined
    })
    assert.deepEqual(stats[1], stats[0])
    assert.deepEqual(stats[2], stats[0])
    assert.equal(stats[0][0].verdicts.failed, 2)
    const human = await runCli(['stats', '--data-dir', dirs[0]!])
    assert.match(human.stdout, /4 reviews; accuracy of reviewed answers 50\.0 %/)
  })

  it('corrections export writes the reviewed images with a truth.jsonl that npm run eval reads', async () => {
    const out = join(dirs[0]!, 'export')
    const exported = await runCli(['corrections', 'export', out, '--json', '--data-dir', dirs[0]!])
    assert.equal(exported.code, 0, exported.stderr)
    assert.deepEqual(JSON.parse(exported.stdout), { dir: out, exported: 2, reviewed: 2, notHeld: 0, unsettled: 0 })
    const truth = (await readFile(join(out, 'truth.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { file: string, latex: string, hash: string, reviewers: string[] })
    assert.deepEqual(truth.map(t => t.latex).sort(), ['\\frac{x+1}{y}', (await a.task((await a.tasks(10)).find(t => t.file === 'sum.png')!.id))!.result!.latex].sort())
    for (const t of truth) assert.equal(sha256Hex(await readFile(join(out, t.file))), t.hash)
    // B holds neither image (they were A's tasks): it says so.
    const fromB = await runCli(['corrections', 'export', join(dirs[1]!, 'export'), '--data-dir', dirs[1]!])
    assert.match(fromB.stdout, /exported 0 of 2 reviewed images .*; 2 not held by this node/)
    assert.match((await runCli(['corrections', 'export', out, '--data-dir', dirs[0]!])).stderr, /exists already/)
    // The round trip: the model read the sum right (confirmed), the fraction wrong (corrected).
    const evaluated = await collect(spawn(process.execPath, [fileURLToPath(new URL('../scripts/eval.js', import.meta.url)), out, '--json', '--report', join(out, 'report.json')], { stdio: ['ignore', 'pipe', 'pipe'] }))
    assert.equal(evaluated.code, 0, evaluated.stderr)
    const summary = JSON.parse(evaluated.stdout) as { images: number, exactMatch: number }
    assert.equal(summary.images, 2)
    assert.equal(summary.exactMatch, 0.5)
    // And on to the trainer: the export as a shard of its crops (scripts/train/run2.sh finetune's first step).
    const shard = join(dirs[0]!, 'shard')
    const converted = await collect(spawn(process.execPath, [fileURLToPath(new URL('../scripts/datagen/from-labelled.js', import.meta.url)), out, '--out', shard], { stdio: ['ignore', 'pipe', 'pipe'] }))
    assert.equal(converted.code, 0, converted.stderr)
    assert.match(converted.stdout, /^2 of 2 images written to /)
    const rows = (await readFile(join(shard, 'clean-0000.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { latex: string, tokens: string, w: number, h: number, glyph: number, offset: number })
    assert.deepEqual(rows.map(r => r.latex).sort(), truth.map(t => t.latex).sort())
    const bytes = (await readFile(join(shard, 'clean-0000.bin'))).length
    assert.equal(bytes, rows.reduce((n, r) => n + r.w * r.h, 0))
    for (const r of rows) assert.ok(r.tokens.split(' ').length > 3 && r.glyph === 20, JSON.stringify(r))
  })

  it('ranks up an alternative the network settled on for another image; confirming it is a suboptimal verdict', async () => {
    // An image the model is unsure of (ranking passes over confident answers): the first of a few held-out C renderings.
    let t: TaskView | undefined
    for (const file of UNSURE) {
      const read = await done(a, (await a.submit(await readFile(join(HELDOUT_C, file)), { file, critical: false })).id)
      if (read.result!.confidence < RANK_UP_BELOW && read.result!.alternatives.length >= 2 && read.result!.regions.length === 1) { t = read; break }
    }
    assert.ok(t != null, `none of ${UNSURE.join(', ')} is read with confidence below ${RANK_UP_BELOW}`)
    const model = t.result!.latex
    assert.equal(t.result!.rankedUp, undefined)
    const alternative = t.result!.alternatives[1]
    assert.ok(alternative != null, 'the fixture has two alternatives or more')
    // B settles that formula for another image (a review written to its store, as the API would).
    await b.replica.putCorrection(sha256Hex(new TextEncoder().encode('another image')), { latex: canonicalize(alternative.latex), reviewed: { latex: 'x', model: t.result!.model, confidence: 0.5, alternatives: [] }, time: Date.now() })
    const ranked = await waitFor('A to rank the alternative up', async () => { const v = await a.task(t.id); return v?.result?.rankedUp != null ? v : undefined })
    assert.equal(ranked.result!.latex, alternative.latex)
    assert.deepEqual(ranked.result!.rankedUp, { from: model, alternative: 2 })
    // Confirming what is served: the model was suboptimal, the right formula its second alternative.
    const confirmed = await post(a, dirs[0]!, { target: t.id })
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.json))
    assert.deepEqual([confirmed.json.verdict, confirmed.json.rank, confirmed.json.reviewed.latex], ['suboptimal', 2, model])
    const after = await a.task(t.id)
    assert.equal(after?.result?.review?.state, 'corrected')
    assert.equal(after?.result?.latex, canonicalize(alternative.latex))
  })
})
