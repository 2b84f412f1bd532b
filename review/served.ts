/**
 * What a node answers for an image once people have reviewed it. Pure and
 * deterministic: every node with the same store gives the same answer.
 *
 * The rule, when reviewers disagree: each distinct formula (canonical form)
 * is backed by the reviewers who named it; the formula with the most
 * reviewers wins, then the one named most recently, then the smaller
 * canonical string. One reviewer cannot outvote two, however often it writes
 * (the store keeps one review per reviewer and image, the latest).
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

interface Backing { latex: string, by: string[], latest: number }

/** The formulas reviewers named for an image, most backed first (the rule above). */
export function rankReviews (reviews: ReadonlyMap<string, Review>): Backing[] {
  const byFormula = new Map<string, Backing>()
  for (const [author, r] of reviews) {
    const latex = canonicalOrSelf(r.latex)
    const b = byFormula.get(latex) ?? { latex, by: [], latest: 0 }
    b.by.push(author)
    b.latest = Math.max(b.latest, r.time)
    byFormula.set(latex, b)
  }
  for (const b of byFormula.values()) b.by.sort()
  return [...byFormula.values()].sort((a, b) =>
    b.by.length - a.by.length || b.latest - a.latest || (a.latex < b.latex ? -1 : a.latex > b.latex ? 1 : 0))
}

/** The outcome of an image's reviews for `answer` (undefined: nobody reviewed it). */
export function reviewOutcome (answer: { latex: string, certified: boolean }, reviews: ReadonlyMap<string, Review>): ReviewOutcome | undefined {
  const [winner, ...rest] = rankReviews(reviews)
  if (winner == null) return undefined
  const others = rest.map(b => ({ latex: b.latex, by: b.by }))
  const state: ReviewState = winner.latex === canonicalOrSelf(answer.latex) ? 'confirmed' : answer.certified ? 'disputed' : 'corrected'
  return { state, latex: winner.latex, by: winner.by, others }
}
