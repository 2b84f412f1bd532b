/**
 * Suboptimal verdicts are a ranking problem: the right formula was among the alternatives, ranked
 * below a wrong one. When the answer is a formula nobody has settled on, and an alternative is
 * one the network has confirmed or corrected to before (for any image), that alternative is put
 * first, provided the model was not sure of its answer (below RANK_UP_BELOW: on held-out C no
 * answer ranked up was more confident, and a confident, novel answer is not to be replaced by a
 * formula the network merely knows). Pure: `known` says whether a canonical formula is one the
 * network settled on.
 */

/** Only answers the model gave less confidence than this are ranked over. */
export const RANK_UP_BELOW = 0.9
import { canonicalOrSelf } from './verdict.js'

export interface RankedUp {
  /** the alternative put first */
  latex: string
  /** its place among the alternatives (1 = the first) */
  alternative: number
}

export function rankUp (answer: { latex: string, confidence: number }, alternatives: readonly string[], known: (canonical: string) => boolean): RankedUp | undefined {
  if (answer.confidence >= RANK_UP_BELOW || known(canonicalOrSelf(answer.latex))) return undefined
  const at = alternatives.findIndex(a => known(canonicalOrSelf(a)))
  return at >= 0 ? { latex: alternatives[at]!, alternative: at + 1 } : undefined
}
