/**
 * The network's calibration: the isotonic fit (pure: monotone, order-independent, a flood
 * weighs as one typical reviewer), and between real nodes: every node fits and records the
 * same curve from the same reviews, and serves confidences through it.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { applyCurve, fitCalibration, isotonic, MIN_REVIEW_WEIGHT, thresholdOf } from '../review/calibration.js'
import type { Review } from '../review/verdict.js'
import type { RunningNode } from '../node/daemon/start.js'
import { DataDir } from '../node/datadir/datadir.js'
import { sha256Hex } from '../util/sha256.js'
import { startConnectedNodes, stopNodes, waitFor } from './helpers.js'

const SUM = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))

/** A review of an answer 'x' given at `confidence`: a confirmation when `right`. */
const review = (model: string, confidence: number, right: boolean, time = 1): Review =>
  ({ latex: right ? 'x' : 'y', reviewed: { latex: 'x', model, confidence, alternatives: [] }, time })

/** n reviews whose answers are right as often as a curve `truth` says, spread over confidence (deterministic). */
function honest (author: string, model: string, n: number, truth: (c: number) => number): Array<{ author: string, review: Review }> {
  return Array.from({ length: n }, (_, i) => {
    const c = (i + 0.5) / n
    // Right in a share truth(c) of each run of ten neighbouring confidences.
    return { author, review: review(model, c, (i % 10) < Math.round(10 * truth(c))) }
  })
}

describe('the network\'s calibration curve (pure)', () => {
  it('isotonic regression: monotone, pools violators, the same curve whatever the order', () => {
    const pts = [{ x: 0.1, y: 0, w: 1 }, { x: 0.2, y: 1, w: 1 }, { x: 0.3, y: 0, w: 1 }, { x: 0.4, y: 1, w: 1 }]
    const curve = isotonic(pts)
    assert.deepEqual(curve, [[0, 0], [0.1, 0], [0.25, 0.5], [0.4, 1], [1, 1]])
    assert.deepEqual(isotonic([...pts].reverse()), curve)
    for (let i = 1; i < curve.length; i++) assert.ok(curve[i]![0] > curve[i - 1]![0] && curve[i]![1] >= curve[i - 1]![1])
    assert.ok(Math.abs(applyCurve(curve, 0.175) - 0.25) < 1e-12)
    assert.equal(thresholdOf(curve, 0.95), 0.385)
    assert.equal(thresholdOf([[0, 0], [1, 0.9]], 0.95), null)
  })

  it('needs enough reviews; a flood of one reviewer weighs as much as the median reviewer', () => {
    const truth = (c: number): number => c
    const three = [...honest('a', 'm', 100, truth), ...honest('b', 'm', 100, truth), ...honest('c', 'm', 100, truth)]
    assert.equal(fitCalibration('m', three.slice(0, MIN_REVIEW_WEIGHT - 1)), undefined)
    assert.equal(fitCalibration('other', three), undefined)
    const fair = fitCalibration('m', three)!
    assert.equal(fair.reviews, 300)
    assert.ok(fair.threshold != null && fair.threshold > 0.8, String(fair.threshold))
    // 10,000 reviews of one member claiming answers at 0.3 are always right ...
    const flood = Array.from({ length: 10_000 }, () => ({ author: 'f', review: review('m', 0.3, true) }))
    const flooded = fitCalibration('m', [...three, ...flood])!
    // ... count as 100 such reviews, as much as each honest reviewer wrote.
    const asOne = fitCalibration('m', [...three, ...flood.slice(0, 100)])!
    assert.deepEqual(flooded.curve, asOne.curve)
    assert.equal(flooded.weight, 400)
    // With two reviewers, a flood weighs as much as the other reviewer's reviews.
    const pair = fitCalibration('m', [...honest('a', 'm', 150, truth), ...flood])!
    assert.equal(pair.weight, 300)
    // and the same reviews in another order give the same curve.
    assert.deepEqual(fitCalibration('m', [...three].reverse())!.curve, fair.curve)
  })
})

describe('calibration between real nodes', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  before(async () => {
    await startConnectedNodes(3, dirs, nodes)
  })
  after(async () => { await stopNodes(dirs, nodes) })

  it('every node fits the same curve from the reviews of two, one records it, and every node serves confidences through it', async () => {
    const [a, b, c] = nodes as [RunningNode, RunningNode, RunningNode]
    const model = (await a.status()).model!
    // Reviews as two nodes wrote them (overconfident answers: right as often as c^2), each of another image.
    const truth = (x: number): number => x * x
    for (const [i, node] of [a, b].entries()) {
      for (const [j, r] of honest(node.peerId.toString(), model, 130, truth).entries()) {
        await node.replica.putCorrection(sha256Hex(new TextEncoder().encode(`image ${i} ${j}`)), r.review)
      }
    }
    const stats = await waitFor('every node to fit a curve on 260 reviews', async () => {
      const all = await Promise.all(nodes.map(async (n, i) => {
        const token = (await readFile(new DataDir(dirs[i]!).paths.apiToken, 'utf8')).trim()
        return await (await fetch(`http://127.0.0.1:${n.apiPort}/v1/stats`, { headers: { authorization: `Bearer ${token}` } })).json() as Array<{ model: string, reviews: number, calibration: { curve: number[][], reviews: number, threshold: number | null } | null }>
      }))
      return all.every(s => s[0]?.calibration?.reviews === 260) ? all : undefined
    }, 30_000)
    assert.deepEqual(stats[1], stats[0])
    assert.deepEqual(stats[2], stats[0])
    const curve = stats[0]![0]!.calibration!.curve
    assert.ok(applyCurve(curve as Array<[number, number]>, 0.5) < 0.4, 'overconfidence is corrected')
    // Recorded in the calibration map, the same curve on every node, with its points.
    const recorded = await waitFor('the curve recorded and synced', () => {
      const maps = nodes.map(n => [...n.replica.calibration(model).values()])
      return maps.every(m => m.length > 0) ? maps : undefined
    }, 20_000)
    for (const entries of recorded) {
      for (const e of entries) {
        assert.deepEqual(e.curve, curve)
        assert.equal(e.fittedOn.length, 260)
      }
    }
    // Recorded once, by the reviewer with the smallest peer id.
    const recorder = [a, b].map(n => n.peerId.toString()).sort()[0]!
    for (const n of nodes) assert.deepEqual([...n.replica.calibration(model).keys()], [recorder])
    assert.equal(recorded[0]![0]!.reviews, 260)
    // A result served on C now carries the network's calibration of the model's confidence.
    const t = await waitFor('a result', async () => {
      const v = await c.task((await c.submit(await readFile(SUM), { file: 'sum.png', critical: false })).id)
      return v?.state === 'done' ? v : undefined
    }, 60_000)
    const from = t.result!.calibration!.from
    assert.equal(t.result!.calibration!.reviews, 260)
    assert.ok(Math.abs(t.result!.confidence - applyCurve(curve as Array<[number, number]>, from)) < 1e-9)
  })
})
