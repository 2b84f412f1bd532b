/**
 * Suboptimal verdicts are a ranking problem: the right formula was among the alternatives, ranked
 * below a wrong one. When the answer is a formula nobody has settled on, and an alternative is
 * one the network has confirmed or corrected to before (for any image), that alternative is put
 * first. Pure: `known` says whether a canonical formula is one the network settled on.
 */
import { canonicalOrSelf } from './verdict.js'

export interface RankedUp {
  /** the alternative put first */
  latex: string
  /** its place among the alternatives (1 = the first) */
  alternative: number
}

export function rankUp (answer: string, alternatives: readonly string[], known: (canonical: string) => boolean): RankedUp | undefined {
  if (known(canonicalOrSelf(answer))) return undefined
  const at = alternatives.findIndex(a => known(canonicalOrSelf(a)))
  return at >= 0 ? { latex: alternatives[at]!, alternative: at + 1 } : undefined
}
