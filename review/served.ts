/**
 * What a node answers for an image once people have reviewed it. Pure and
 * deterministic: every node with the same store gives the same answer.
 *
 * The rule, when reviewers disagree: each distinct formula (canonical form)
 * is backed by the reviewers who named it, and the formula with the most
 * reviewers wins. One reviewer cannot outvote two, however often it writes
 * (the store keeps one review per reviewer and image, the latest). A tie
 * settles nothing new: if the answer is among the formulas tied first, it
 * stands; otherwise the smaller canonical string is taken, so that every
 * node agrees. No clock decides (a reviewer's clock is its own to set).
 *
 * The outcome for the answer the model (or the quorum) gave:
 * - the winner is that answer: `confirmed`;
 * - the winner differs and the answer is not certified: `corrected`, and the
 *   winner is served in its place, saying so and by whom;
 * - the winner differs and the answer carries a quorum certificate that
 *   holds: `disputed`. The certified answer stays (a signed claim of the
 *   quorum is never replaced silently); the correction is shown beside it.
 */
import { canonicalOrSelf, type Review } from './verdict.js'

export type ReviewState = 'confirmed' | 'corrected' | 'disputed'

export interface ReviewOutcome {
  state: ReviewState
  /** the formula the reviewers settled on (canonical) */
  latex: string
  /** the reviewers who named it */
  by: string[]
  /** reviewers who named another formula: each formula, canonical, and who named it */
  others: Array<{ latex: string, by: string[] }>
}

interface Backing { latex: string, by: string[] }

/** The formulas reviewers named for an image, most backed first (the rule above). */
export function rankReviews (reviews: ReadonlyMap<string, Review>): Backing[] {
  const byFormula = new Map<string, Backing>()
  for (const [author, r] of reviews) {
    const latex = canonicalOrSelf(r.latex)
    const b = byFormula.get(latex) ?? { latex, by: [] }
    b.by.push(author)
    byFormula.set(latex, b)
  }
  for (const b of byFormula.values()) b.by.sort()
  return [...byFormula.values()].sort((a, b) => b.by.length - a.by.length || (a.latex < b.latex ? -1 : a.latex > b.latex ? 1 : 0))
}

/** The outcome of an image's reviews for `answer` (undefined: nobody reviewed it). */
export function reviewOutcome (answer: { latex: string, certified: boolean }, reviews: ReadonlyMap<string, Review>): ReviewOutcome | undefined {
  const ranked = rankReviews(reviews)
  if (ranked.length === 0) return undefined
  const own = canonicalOrSelf(answer.latex)
  // Among the formulas tied first, the answer itself stands.
  const tied = ranked.filter(b => b.by.length === ranked[0]!.by.length)
  const winner = tied.find(b => b.latex === own) ?? ranked[0]!
  const others = ranked.filter(b => b !== winner).map(b => ({ latex: b.latex, by: b.by }))
  const state: ReviewState = winner.latex === own ? 'confirmed' : answer.certified ? 'disputed' : 'corrected'
  return { state, latex: winner.latex, by: winner.by, others }
}
