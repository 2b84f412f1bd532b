/**
 * Beam search as a pure function over a decoder step, so that the recogniser
 * runs it on its ONNX decoder (with a cache of keys and values that rows
 * share by slot) and tests run the same search on a fake decoder.
 *
 * Scores are log-probability / length^alpha, the end token counted in the
 * length. A live hypothesis more than `prune` nats behind the best live one of
 * the same length is dropped; the search stops once `width` hypotheses have
 * ended and the best live one, scored at its length, no longer beats the worst
 * of them (log-probabilities only fall as a hypothesis grows).
 */

/**
 * One decoder step: for each row, the log-probabilities of the next token (one
 * entry per vocabulary token). Row i continues row `parents[i]` of the step
 * before with token `tokens[i]`; at the first step there is one row, the start
 * token, with parent -1.
 */
export type BeamStep = (tokens: number[], parents: number[]) => Promise<ArrayLike<number>[]>

export interface BeamSettings {
  /** hypotheses kept (1: greedy decoding) */
  width: number
  /** the most tokens a hypothesis may have before it is ended */
  maxLength: number
  /** the length normalisation's exponent */
  alpha: number
  /** nats behind the best live hypothesis at which one is dropped (Infinity: never) */
  prune: number
  bos: number
  eos: number
  /** tokens never chosen (padding, start, unknown) */
  never: readonly number[]
}

export interface BeamHypothesis {
  /** the tokens read, without the start and end tokens */
  ids: number[]
  logprob: number
  score: number
}

/** The hypotheses a beam search ends with, best first. */
export async function beamSearch (step: BeamStep, s: BeamSettings): Promise<BeamHypothesis[]> {
  if (!(s.prune >= 0)) throw new RangeError(`beam pruning margin ${s.prune}: must be a number of nats >= 0`)
  const { width, eos } = s
  const never = new Set(s.never)
  const norm = (lp: number, len: number): number => lp / Math.pow(Math.max(1, len), s.alpha)
  let alive: Array<{ ids: number[], logprob: number, row: number }> = [{ ids: [s.bos], logprob: 0, row: -1 }]
  const done: Array<{ ids: number[], logprob: number, score: number }> = []
  const topIds = new Int32Array(width)
  const topLps = new Float64Array(width)
  for (let len = 1; len <= s.maxLength + 1 && alive.length > 0; len++) {
    const logprobs = await step(alive.map(h => h.ids[h.ids.length - 1]!), alive.map(h => h.row))
    const cand: Array<{ parent: number, token: number, logprob: number }> = []
    alive.forEach((h, i) => {
      const lp = logprobs[i]!
      // The top `width` tokens of each row are enough to fill the next beam (kept sorted by insertion;
      // of equal ones, the lower token first).
      let k = 0
      for (let v = 0; v < lp.length; v++) {
        const x = lp[v]!
        if ((k === width && x <= topLps[width - 1]!) || never.has(v)) continue
        let j = k < width ? k++ : width - 1
        while (j > 0 && topLps[j - 1]! < x) {
          topLps[j] = topLps[j - 1]!
          topIds[j] = topIds[j - 1]!
          j--
        }
        topLps[j] = x
        topIds[j] = v
      }
      for (let j = 0; j < k; j++) cand.push({ parent: i, token: topIds[j]!, logprob: h.logprob + topLps[j]! })
    })
    cand.sort((a, b) => b.logprob - a.logprob)
    // Dropped: live hypotheses far behind the best live one of the same length (not against ended
    // ones: scores are length-normalised, so one behind a shorter hypothesis may still overtake it).
    const floor = (cand.find(c => c.token !== eos)?.logprob ?? -Infinity) - s.prune
    const next: typeof alive = []
    for (const c of cand) {
      const ids = [...alive[c.parent]!.ids, c.token]
      if (c.token === eos || len > s.maxLength) done.push({ ids, logprob: c.logprob, score: norm(c.logprob, ids.length - 1) })
      else if (next.length < width && c.logprob >= floor) next.push({ ids, logprob: c.logprob, row: c.parent })
      if (next.length >= width && done.length >= width) break
    }
    alive = next
    if (done.length >= width) {
      done.sort((a, b) => b.score - a.score)
      done.length = width
      const bestAlive = alive.reduce((m, h) => Math.max(m, h.logprob), -Infinity)
      if (norm(bestAlive, len) <= done[width - 1]!.score) break
    }
  }
  done.sort((a, b) => b.score - a.score)
  return done.slice(0, width).map(h => ({ ids: h.ids.slice(1).filter(v => v !== eos), logprob: h.logprob, score: h.score }))
}
