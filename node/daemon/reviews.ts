import type { Replica } from '../../crdt/replica.js'
import { MAX_RESULT_LATEX, type CorrectionEntry } from '../../crdt/schemas.js'
import { canonicalize } from '../../pipeline/latex/canonical.js'
import { checkLatex } from '../../pipeline/latex/validate.js'
import { rankReviews, reviewOutcome, type ReviewOutcome, type ReviewState } from '../../review/served.js'
import { reviewStats, type ModelStats } from '../../review/stats.js'
import { verdictOf, type Review, type Verdict } from '../../review/verdict.js'
import type { ResultView } from './task-view.js'
import { isoTime } from '../../util/time.js'

/**
 * People's reviews on this node: writing one (a correction, a confirmation,
 * or an alternative picked) into the replicated store, what the reviews of an
 * image say of an answer, and the statistics of every review in the store.
 */

/** What a reviewer asks: confirm the answer (neither field), pick alternative N (1-based), or give the right LaTeX. */
export interface ReviewRequest { latex?: string, alternative?: number, note?: string }

/** A review that cannot be taken: why, and the HTTP status the API answers with. */
export class ReviewError extends Error {
  constructor (message: string, readonly status: 400 | 403 | 404 | 409) { super(message) }
}

/**
 * A reviewed image, as `texmesh corrections export` lists it: the formula most of its reviewers
 * named, who did, and whether it is settled (not tied with another formula).
 */
export interface ReviewedImage { hash: string, latex: string, by: string[], reviews: number, settled: boolean }

/** One review of an image, as GET /v1/reviews/HASH lists it. */
export interface ListedReview {
  by: string
  latex: string
  verdict: Verdict
  rank?: number
  time: string
  note?: string
  /** the admin revoked the reviewer: the review no longer counts */
  revoked?: true
}

/** A written review, as the API answers it. */
export interface WrittenReview {
  hash: string
  by: string
  latex: string
  verdict: Verdict
  /** for a suboptimal verdict: where the right formula was among the alternatives (1 = first) */
  rank?: number
  reviewed: CorrectionEntry['reviewed']
  time: string
  /** what the image is answered with now, every review counted (review/served.ts) */
  served: { state: ReviewState, latex: string }
}

/** Whose reviews count (a revoked member's do not), and a way to hear when that changes. */
export interface Reviewers {
  counts: (author: string) => boolean
  /** call `listener` when an author stops counting; answers how to stop listening */
  onChange: (listener: () => void) => () => void
}

/** Everyone's reviews count: an open network, where nobody is revoked. */
export const EVERY_REVIEWER: Reviewers = { counts: () => true, onChange: () => () => {} }

export interface ReviewsInit {
  replica: Replica
  /** whose reviews count (default: everyone's) */
  reviewers?: Reviewers
  /** why this node may not review now (a private network's non-member), or undefined */
  refusal: () => string | undefined
  /** the answer served for a task id of this node or an image hash */
  answer: (target: string) => Promise<{ hash: string, result: ResultView } | undefined>
}

export class Reviews {
  private readonly replica: Replica
  /** what is derived from every review, made again when reviews change */
  private cache: { reviewed?: ReviewedImage[], settled?: Set<string>, stats?: ModelStats[] } = {}
  private readonly reviewers: Reviewers
  private readonly unsubscribe: Array<() => void>

  constructor (private readonly init: ReviewsInit) {
    this.replica = init.replica
    this.reviewers = init.reviewers ?? EVERY_REVIEWER
    this.unsubscribe = [
      init.replica.subscribe(change => { if (change.map === 'corrections') this.cache = {} }),
      this.reviewers.onChange(() => { this.cache = {} })
    ]
  }

  /** Whether a canonical formula is one the network settled on for some image (ranking, review/ranking.ts); undefined while none is. */
  knownFormulas (): ((canonical: string) => boolean) | undefined {
    const settled = this.cache.settled ??= new Set(this.reviewed().filter(r => r.settled).map(r => r.latex))
    return settled.size === 0 ? undefined : canonical => settled.has(canonical)
  }

  stop (): void { for (const u of this.unsubscribe) u() }

  /** An image's reviews that count, by reviewer. */
  of (hash: string): Map<string, CorrectionEntry> {
    return new Map([...this.replica.corrections(hash)].filter(([by]) => this.reviewers.counts(by)))
  }

  /** What an image's reviews say of `answer` (undefined: none). */
  outcome (hash: string, answer: { latex: string, certified: boolean }): ReviewOutcome | undefined {
    const reviews = this.of(hash)
    return reviews.size === 0 ? undefined : reviewOutcome(answer, reviews)
  }

  /** Review the answer served for `target` (a task id of this node, or an image hash). */
  async review (target: string, request: ReviewRequest): Promise<WrittenReview> {
    const refused = this.init.refusal()
    if (refused != null) throw new ReviewError(refused, 403)
    const found = await this.init.answer(target)
    if (found == null) throw new ReviewError(`no result for ${target.slice(0, 80)} to review (a task id of this node, or the SHA-256 of an image the network has read)`, 404)
    return await this.write(found.hash, found.result, request)
  }

  /** An image's reviews with their verdicts, newest first; those of revoked members too, marked. */
  list (hash: string): ListedReview[] {
    return [...this.replica.corrections(hash)].sort(([, a], [, b]) => b.time - a.time).map(([by, r]) => {
      const { verdict, rank } = verdictOf(r)
      const listed: ListedReview = { by, latex: r.latex, verdict, ...(rank != null ? { rank } : {}), time: isoTime(r.time), ...(r.note != null ? { note: r.note } : {}) }
      return this.reviewers.counts(by) ? listed : { ...listed, revoked: true }
    })
  }

  /**
   * Review `answer` (the result served for the image, as the reviewer saw it): store the LaTeX
   * they say is right, canonical, with what they reviewed, under this node's id.
   */
  private async write (hash: string, answer: ResultView, request: ReviewRequest): Promise<WrittenReview> {
    // What was reviewed is the model's answer, not a correction, a ranked-up alternative or a
    // remembered answer (node/daemon/reuse.ts) served in its place,
    const result = answer.review?.original?.latex ?? answer.rankedUp?.from ?? answer.latex
    const reviewed = {
      latex: answer.reused?.read ?? result,
      model: answer.model,
      // and its own confidence, before the network's calibration: the curve is fitted on that scale
      confidence: answer.reused?.confidence ?? answer.review?.original?.confidence ?? answer.calibration?.from ?? answer.confidence,
      alternatives: answer.alternatives.slice(0, 16).map(a => a.latex)
    }
    let latex: string
    if (request.latex != null && request.alternative != null) throw new ReviewError('give the right LaTeX or an alternative\'s number, not both', 400)
    if (request.alternative != null) {
      const alt = answer.alternatives[request.alternative - 1]
      if (alt == null) throw new ReviewError(`the answer has ${answer.alternatives.length} alternatives; there is no number ${request.alternative}`, 400)
      latex = alt.latex
    } else {
      // Confirming confirms what was served (a correction, a ranked-up alternative, or the model's answer).
      latex = request.latex ?? answer.latex
    }
    if (latex.length > MAX_RESULT_LATEX) throw new ReviewError(`the LaTeX is longer than ${MAX_RESULT_LATEX} characters`, 400)
    const parse = checkLatex(latex)
    if (!parse.ok) throw new ReviewError(`the LaTeX does not parse: ${parse.error ?? '?'}`, 400)
    let canonical: string
    try {
      canonical = canonicalize(latex)
    } catch (err) {
      throw new ReviewError(`the LaTeX does not parse: ${(err as Error).message}`, 400)
    }
    // What is stored must parse too (the canonical form only drops ways of writing).
    const stored = checkLatex(canonical)
    if (!stored.ok) throw new ReviewError(`the LaTeX's canonical form, ${canonical.slice(0, 200)}, does not parse: ${stored.error ?? '?'}`, 400)
    const entry: CorrectionEntry = { latex: canonical, reviewed, time: Date.now(), ...(request.note != null ? { note: request.note } : {}) }
    await this.replica.putCorrection(hash, entry)
    const { verdict, rank } = verdictOf(entry)
    // What the image is answered with now, all reviews counted (this one may be outvoted, or meet a certificate).
    const served = reviewOutcome({ latex: result, certified: answer.certificate != null && answer.review?.state !== 'corrected' }, this.of(hash))!
    return { hash, by: this.replica.author, latex: canonical, verdict, ...(rank != null ? { rank } : {}), reviewed, time: isoTime(entry.time), served: { state: served.state, latex: served.latex } }
  }

  /** Every reviewed image: the formula its reviewers settled on (the rule of review/served.ts), who named it, and how many reviewed it. */
  reviewed (): ReviewedImage[] {
    if (this.cache.reviewed != null) return this.cache.reviewed
    const byImage = new Map<string, Map<string, Review>>()
    for (const { hash, author, entry } of this.counted()) {
      const m = byImage.get(hash) ?? new Map<string, Review>()
      m.set(author, entry)
      byImage.set(hash, m)
    }
    this.cache.reviewed = [...byImage].sort(([a], [b]) => a < b ? -1 : 1).map(([hash, reviews]) => {
      const [winner, second] = rankReviews(reviews)
      return { hash, latex: winner!.latex, by: winner!.by, reviews: reviews.size, settled: second == null || second.by.length < winner!.by.length }
    })
    return this.cache.reviewed
  }

  /** Per model version: reviews, verdicts, accuracy and calibration, from every review in the store. */
  stats (): ModelStats[] {
    this.cache.stats ??= reviewStats(this.counted().map(r => r.entry))
    return this.cache.stats
  }

  /** Every review in the store that counts. */
  private counted (): ReturnType<Replica['reviews']> {
    return this.replica.reviews().filter(r => this.reviewers.counts(r.author))
  }
}
