import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { beamSearch, type BeamSettings, type BeamStep } from '../pipeline/beam.js'

/**
 * The beam search of pipeline/beam.ts on a fake decoder: a fixed next-token distribution for
 * every prefix (made from a hash of it), over a vocabulary of the four special tokens and three
 * letters, small enough that every reading up to four letters can be scored by brute force.
 */
const BOS = 0
const EOS = 1
const PAD = 2
const UNK = 3
const VOCAB = 7

function distribution (prefix: readonly number[]): number[] {
  let h = 2166136261
  for (const t of prefix) h = Math.imul(h ^ (t + 1), 16777619) >>> 0
  const weights = Array.from({ length: VOCAB }, (_, v) => {
    h = Math.imul(h ^ (v + 7), 16777619) >>> 0
    return v === PAD || v === BOS || v === UNK ? 1e-6 : 0.05 + (h % 1000) / 1000
  })
  const total = weights.reduce((a, b) => a + b, 0)
  return weights.map(w => Math.log(w / total))
}

/** A decoder that remembers each row's prefix from the rows it continues. */
function fakeDecoder (): { step: BeamStep, calls: number[] } {
  let prefixes: number[][] = []
  const calls: number[] = []
  const step: BeamStep = async (tokens, parents) => {
    prefixes = tokens.map((t, i) => parents[i]! < 0 ? [t] : [...prefixes[parents[i]!]!, t])
    calls.push(tokens.length)
    return prefixes.map(p => distribution(p))
  }
  return { step, calls }
}

const settings = (width: number, prune = Infinity): BeamSettings => ({ width, maxLength: 4, alpha: 0.6, prune, bos: BOS, eos: EOS, never: [PAD, BOS, UNK] })

/** Every reading of up to `maxLength` letters, ended, scored as the search scores them. */
function everyReading (maxLength: number, alpha: number): Array<{ ids: number[], score: number }> {
  const out: Array<{ ids: number[], score: number }> = []
  const grow = (ids: number[], lp: number): void => {
    const next = distribution([BOS, ...ids])
    // Ended here: the end token's log-probability, the end token counted in the length.
    out.push({ ids, score: (lp + next[EOS]!) / Math.pow(ids.length + 1, alpha) })
    if (ids.length === maxLength) return
    for (let v = 4; v < VOCAB; v++) grow([...ids, v], lp + next[v]!)
  }
  grow([], 0)
  return out.sort((a, b) => b.score - a.score)
}

describe('beam search (pipeline/beam.ts) on a fake decoder', () => {
  it('a beam as wide as every reading finds the best ones, best first, as brute force ranks them', async () => {
    const found = await beamSearch(fakeDecoder().step, settings(200))
    const best = everyReading(3, 0.6).slice(0, 5)
    // Readings of four letters are ended by the length limit rather than scored with their end
    // token, so the comparison is on the readings up to three letters that lead.
    const short = found.filter(h => h.ids.length <= 3).slice(0, 5)
    assert.deepEqual(short.map(h => h.ids), best.map(h => h.ids))
    for (const [i, h] of short.entries()) assert.ok(Math.abs(h.score - best[i]!.score) < 1e-9)
    for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.score >= found[i]!.score, 'best first')
  })

  it('width 1 is greedy decoding: the likeliest token at every step', async () => {
    const [only, ...rest] = await beamSearch(fakeDecoder().step, settings(1))
    assert.equal(rest.length, 0)
    const greedy: number[] = []
    for (;;) {
      const lp = distribution([BOS, ...greedy])
      const v = [EOS, 4, 5, 6].reduce((a, b) => lp[b]! > lp[a]! ? b : a)
      if (v === EOS || greedy.length === 4) break
      greedy.push(v)
    }
    assert.deepEqual(only!.ids, greedy)
  })

  it('never picks padding, start or unknown, keeps at most `width` rows a step, and refuses a bad margin', async () => {
    const { step, calls } = fakeDecoder()
    const found = await beamSearch(step, settings(3))
    assert.equal(found.length, 3)
    for (const h of found) assert.ok(h.ids.every(v => v >= 4), h.ids.join(' '))
    assert.equal(calls[0], 1, 'one row, the start token, at the first step')
    assert.ok(calls.every(n => n <= 3))
    await assert.rejects(beamSearch(step, settings(3, -1)), RangeError)
  })

  it('pruning drops rows far behind the best one: no more decoder rows than without it', async () => {
    const loose = fakeDecoder()
    const tight = fakeDecoder()
    await beamSearch(loose.step, settings(5))
    await beamSearch(tight.step, settings(5, 0.1))
    const rows = (c: number[]): number => c.reduce((a, b) => a + b, 0)
    assert.ok(rows(tight.calls) < rows(loose.calls), `${rows(tight.calls)} rows pruned, ${rows(loose.calls)} not`)
  })
})
