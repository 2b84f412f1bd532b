// The pipeline's answer side: checking LaTeX, choosing an answer from a beam, joining the
// readings of a region read in pieces, and confidence (its calibration curve, fitted and shipped).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { checkLatex } from '../pipeline/latex/validate.js'
import { ModelFileError } from '../pipeline/model-error.js'
import { calibrate, CalibrationCurve, expectedCalibrationError, fitCalibration, loadShippedCurve, rawProbability, IDENTITY_CURVE } from '../pipeline/confidence.js'
import { delimitersPair } from '../pipeline/latex/delimiters.js'
import { chooseAnswer, joinPieces, PAIRING_MARGIN, readingScore } from '../pipeline/answer.js'
import { turnedWins, TURN_MARGIN } from '../pipeline/ocr.js'
import { removeDir, tempDir } from './helpers.js'

describe('LaTeX check and answer choice', () => {
  it('accepts TeX math and refuses broken strings', () => {
    for (const ok of ['x^{2}+1', "x'^{2}_{0}", '\\frac{a}{b}', '\\sqrt[3]{x}', '\\left(x\\right.', '\\mathbb{R}', 'a\\pmod{n}']) {
      assert.ok(checkLatex(ok).ok, ok)
    }
    for (const bad of ['x^{2', '\\frac{a}', "x'_{0}^{2}", '', 'a}']) {
      assert.equal(checkLatex(bad).ok, false, bad)
    }
  })

  it('takes the best beam that parses and says so', () => {
    const box = { x: 0, y: 0, width: 10, height: 10 }
    const hyp = (latex: string, logprob: number) => ({ tokens: [], latex, logprob, score: logprob })
    const fallback = chooseAnswer([hyp('\\frac{a}', -1), hyp('\\frac{a}{b}', -2), hyp('x^{2', -3), hyp('a+b', -4)], box)
    assert.equal(fallback.latex, '\\frac{a}{b}')
    assert.equal(fallback.parse, 'alternative')
    assert.deepEqual(fallback.alternatives.map(a => a.latex), ['a+b'])
    const best = chooseAnswer([hyp('x^2', -0.5), hyp('x^{2}', -0.7), hyp('x^{3}', -2)], box)
    assert.equal(best.latex, 'x^{2}', 'canonical form, and one entry per canonical string')
    assert.equal(best.parse, 'best')
    assert.deepEqual(best.alternatives, [{ latex: 'x^{3}', score: -2 }])
    assert.ok(Math.abs(best.confidence - Math.exp(-0.5)) < 1e-12)
    const none = chooseAnswer([hyp('x^{2', -1), hyp('\\frac{a}', -2)], box)
    assert.equal(none.parse, 'none')
    assert.equal(none.latex, 'x^{2')
  })

  it('scores a whole reading as the beam scores one: log-probability over its length to the 0.6, each region\'s end counted', () => {
    const region = (latex: string, score: number) => ({ latex, score })
    assert.ok(Math.abs(readingScore({ regions: [region('x^{2}', -2)] }) - -2 / Math.pow(5 + 1, 0.6)) < 1e-12)
    assert.ok(Math.abs(readingScore({ regions: [region('a', -1), region('b+c', -3)] }) - -4 / Math.pow(2 + 4, 0.6)) < 1e-12)
    assert.ok(readingScore({ regions: [region('x+y+z', -3)] }) > readingScore({ regions: [region('x', -3)] }), 'as likely, and longer: better')
  })

  it('knows when brackets pair', () => {
    // (a string that does not even tokenize, a lone backslash at the end, is judged elsewhere)
    for (const ok of ['x', 'f(x)=[a+b]', '\\{x\\mid x>0\\}', '\\langle u,v\\rangle', '(\\frac{[a]}{b})^{2}', '\\|x\\|', '(x\\']) {
      assert.ok(delimitersPair(ok), ok)
    }
    for (const bad of ['[x+y|', '(a', 'a)', '[a,b)', '(\\frac{a}{b]', '\\{x\\rangle']) {
      assert.equal(delimitersPair(bad), false, bad)
    }
  })

  it('prefers a reading whose brackets pair, when it is at most PAIRING_MARGIN nats less likely', () => {
    const box = { x: 0, y: 0, width: 10, height: 10 }
    const hyp = (latex: string, logprob: number) => ({ tokens: [], latex, logprob, score: logprob })
    // held-out C's entropy bracket, its `]` read as `|` (texmesh-v2+de227d7e)
    const paired = chooseAnswer([hyp('E=[x^{2}|', -3), hyp('E=(x^{2}]', -3.5), hyp('E=[x^{2}]', -3 - PAIRING_MARGIN)], box)
    assert.equal(paired.latex, 'E=[x^{2}]')
    assert.equal(paired.parse, 'alternative')
    assert.deepEqual(paired.alternatives.map(a => a.latex), ['E=[x^{2}|', 'E=(x^{2}]'])
    assert.ok(Math.abs(paired.confidence - Math.exp(-3 - PAIRING_MARGIN)) < 1e-12, 'the confidence is the chosen reading\'s')
    const far = chooseAnswer([hyp('E=[x^{2}|', -3), hyp('E=[x^{2}]', -3.01 - PAIRING_MARGIN)], box)
    assert.equal(far.latex, 'E=[x^{2}|', 'too much less likely: the model\'s answer stands')
    assert.equal(far.parse, 'best')
    const interval = chooseAnswer([hyp('x\\in[a,b)', -1), hyp('x\\in[a,b', -1.5)], box)
    assert.equal(interval.latex, 'x\\in[a,b)', 'no other reading pairs them: the answer stands')
    const broken = chooseAnswer([hyp('E=[x^{2}|', -3), hyp('E=[x^{2}]^', -3.5)], box)
    assert.equal(broken.latex, 'E=[x^{2}|', 'the one that pairs them does not parse: the answer stands')
  })
})

describe('a region read in pieces', () => {
  const hyp = (tokens: string[], logprob: number) => ({ tokens, latex: tokens.join(' '), logprob, score: logprob })
  it('joins the pieces\' readings, the best first, then one piece swapped at a time, likeliest first', () => {
    const joined = joinPieces([[hyp(['x', '='], -1), hyp(['x', '-'], -3)], [hyp(['1'], -0.5), hyp(['l'], -2), hyp(['I'], -4)]], 3)
    assert.deepEqual(joined.map(h => [h.tokens.join(' '), h.logprob]), [['x = 1', -1.5], ['x = l', -3], ['x - 1', -3.5]])
    assert.equal(joined[0]!.latex, 'x=1')
    // scored as the beam scores a reading: log-probability over length^0.6, each piece's end counted
    assert.ok(Math.abs(joined[0]!.score - -1.5 / Math.pow(3 + 2, 0.6)) < 1e-12)
    // a longer swap can outrank a likelier shorter one, as in the beam
    const longer = joinPieces([[hyp(['x', '='], -1)], [hyp(['1'], -0.5), hyp(['l'], -2), hyp(['1', '1', '1'], -2.2)]], 3)
    assert.deepEqual(longer.map(h => h.tokens.join(' ')), ['x = 1', 'x = 1 1 1', 'x = l'])
    assert.deepEqual(joinPieces([[hyp(['a'], -1)]], 5), [hyp(['a'], -1)], 'one piece: its own readings')
    assert.deepEqual(joinPieces([[hyp(['a'], -1)], []], 5), [], 'a piece without a reading: none')
  })
})

describe('a formula on its side', () => {
  const reading = (...confidences: number[]) => ({ confidence: confidences.reduce((p, c) => p * c, 1), regions: confidences })
  it('is read turned when that whole reading is likelier than the narrow upright regions it fell apart into', () => {
    // one-formula.png turned 90 degrees, texmesh-v2 at 840 minutes: `+` and `-` upright, x^{2}+y^{2}=1 turned.
    assert.equal(turnedWins(reading(0.982, 0.958), reading(0.966), true), true)
    assert.equal(turnedWins(reading(0.982, 0.958), reading(0.9), true), false)
  })
  it('needs a clear margin, region for region, against a tall formula or a column of formulas standing upright', () => {
    assert.equal(turnedWins(reading(0.861), reading(0.9), false), false)
    assert.equal(turnedWins(reading(0.8), reading(0.8 * TURN_MARGIN + 0.01), false), true)
    // six confident lines (0.53 in all) against one turned reading at 0.6: upright, region for region
    assert.equal(turnedWins(reading(0.9, 0.9, 0.9, 0.9, 0.9, 0.9), reading(0.6), false), false)
    assert.equal(turnedWins(reading(0.9, 0.9), reading(0.85, 0.99), false), false)
  })
})

describe('confidence', () => {
  it('is the sequence probability through the calibration curve', () => {
    assert.equal(rawProbability(0), 1)
    assert.ok(Math.abs(rawProbability(Math.log(0.25)) - 0.25) < 1e-12)
    assert.equal(calibrate(0.3), 0.3, 'identity by default')
    const curve = CalibrationCurve.parse({ points: [[0, 0], [0.5, 0.2], [1, 0.9]] })
    assert.ok(Math.abs(calibrate(0.25, curve) - 0.1) < 1e-12)
    assert.ok(Math.abs(calibrate(0.75, curve) - 0.55) < 1e-12)
    assert.equal(calibrate(1, curve), 0.9)
  })

  it('refuses curves that decrease or leave [0, 1]', () => {
    assert.equal(CalibrationCurve.safeParse({ points: [[0, 0.5], [1, 0.2]] }).success, false)
    assert.equal(CalibrationCurve.safeParse({ points: [[0.5, 0], [0.2, 1]] }).success, false)
    assert.equal(CalibrationCurve.safeParse({ points: [[0, 0], [1, 1.5]] }).success, false)
  })

  it('fits a rising curve that says how often answers of each raw probability were right', () => {
    // A model that is right 10 % of the time at raw 0.01, 50 % at 0.1 and 90 % at 0.5, out of order.
    const outcomes: Array<{ raw: number, right: boolean }> = []
    for (const [raw, rate] of [[0.5, 0.9], [0.01, 0.1], [0.1, 0.5]] as const) {
      for (let i = 0; i < 100; i++) outcomes.push({ raw, right: i < rate * 100 })
    }
    const curve = fitCalibration(outcomes)
    assert.deepEqual(curve.points.map(p => Number(p[0].toFixed(9))), [0.01, 0.1, 0.5])
    assert.deepEqual(curve.points.map(p => p[1]), [11 / 102, 51 / 102, 91 / 102], 'each rate with one right and one wrong pseudo-answer')
    const stated = (f: (r: number) => number): number => expectedCalibrationError(outcomes.map(o => ({ p: f(o.raw), right: o.right })))
    assert.ok(Math.abs(stated(r => r) - (0.09 + 0.4 + 0.4) / 3) < 1e-9, 'the raw probability is far off')
    assert.ok(stated(r => calibrate(r, curve)) < 0.01, 'the curve is close')
  })

  it('pools answers that would make the curve fall', () => {
    // Right at 0.2, wrong at 0.3: a falling pair, pooled into one step from 0.2 to 0.3.
    const outcomes = [{ raw: 0.1, right: false }, { raw: 0.2, right: true }, { raw: 0.3, right: false }, { raw: 0.9, right: true }]
    const curve = fitCalibration(outcomes)
    assert.deepEqual(curve.points, [[0.1, 1 / 3], [0.2, 2 / 4], [0.3, 2 / 4], [0.9, 2 / 3]])
    // Each answer it was fitted on maps to its own pool's (smoothed) rate.
    assert.deepEqual(outcomes.map(o => calibrate(o.raw, curve)), [1 / 3, 2 / 4, 2 / 4, 2 / 3])
    assert.equal(calibrate(0.6, curve), 2 / 4 + (0.6 - 0.3) / (0.9 - 0.3) * (2 / 3 - 2 / 4), 'a straight line between pools')
    assert.deepEqual(fitCalibration([{ raw: 0.4, right: true }, { raw: 0.4, right: false }]).points, [[0, 0.5], [1, 0.5]], 'one pool is a constant')
    assert.deepEqual(fitCalibration([]), IDENTITY_CURVE)
  })

  it('gives no confidence where there is no probability, and a curve is fitted around one', () => {
    assert.equal(rawProbability(NaN), 0)
    const curve = CalibrationCurve.parse({ points: [[0, 0.1], [1, 0.9]] })
    assert.equal(calibrate(NaN, curve), 0)
    const fitted = fitCalibration([{ raw: NaN, right: true }, { raw: 0.2, right: false }, { raw: 0.6, right: true }])
    assert.deepEqual(fitted.points, [[0.2, 1 / 3], [0.6, 2 / 3]], 'the NaN left out (it never pools: NaN !== NaN)')
    assert.equal(expectedCalibrationError([{ p: NaN, right: true }, { p: 0.25, right: false }]), 0.25)
    const box = { x: 0, y: 0, width: 1, height: 1 }
    assert.equal(chooseAnswer([], box, curve).confidence, 0, 'an empty beam: no answer, no confidence')
  })

  it('loads the curve a model folder ships, and refuses one fitted for another model version', async () => {
    const dir = await tempDir()
    try {
      assert.deepEqual(await loadShippedCurve(dir, 'm+1'), IDENTITY_CURVE, 'none shipped: the identity')
      const file = { model: 'm+1', curve: [[0.01, 0.1], [0.2, 0.9]], fittedOn: [[0.01, 0], [0.2, 1]], set: 'datasets/calibration', beam: 5 }
      await writeFile(dir + '/calibration.json', JSON.stringify(file))
      assert.deepEqual(await loadShippedCurve(dir, 'm+1'), { points: file.curve })
      await assert.rejects(loadShippedCurve(dir, 'm+2'), /calibration\.json was fitted for model m\+1, not m\+2/)
      await writeFile(dir + '/calibration.json', JSON.stringify({ ...file, curve: [[0.2, 0.9], [0.01, 0.1]] }))
      await assert.rejects(loadShippedCurve(dir, 'm+1'), (err: unknown) => err instanceof ModelFileError && /calibration\.json is not a calibration curve \(raw values must increase; the curve must not decrease\)/.test(err.message))
      await writeFile(dir + '/calibration.json', '{"model":')
      await assert.rejects(loadShippedCurve(dir, 'm+1'), /calibration\.json is not a calibration curve \(Unexpected end of JSON input\)/)
    } finally {
      await removeDir(dir)
    }
  })
})
