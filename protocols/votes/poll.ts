/** What an origin keeps of each of its ballots while it is open (origin.ts asks and counts, sweep.ts watches its voters). */
import type { CriticalTask } from './index.js'
import type { SignedVote } from './vote.js'

/** Where a voter on a ballot stands, as the origin sees it. */
export interface Asked {
  /** when the ballot went out to it (asked again: when it was asked again) */
  at: number
  /** its progress count then */
  count: number
  /** no progress for too long, skipped the ballot, or said it was busy: the ballot grows as if it would not vote */
  suspected: boolean
  /** asked again once suspected */
  reasked: boolean
  /** how many times it was asked again after going past the ballot (a ballot or vote lost on a loaded network) */
  reasks: number
  /** it said its queue was full: sent the ballot again once it has made room */
  busy: boolean
  /** silent for `silenceMs` after being asked again: no longer waited for */
  gaveUp: boolean
}

export interface Poll {
  task: CriticalTask
  /** when the task was handed to the quorum, and when its first ballot went out (performance.now()) */
  began: number
  ballotAt: number
  /** when the vote being counted arrived (performance.now()) */
  arrived?: number
  round: number
  voters: string[]
  asked: Map<string, Asked>
  /** every distinct vote per voter (two or more: equivocation) */
  votes: Map<string, SignedVote[]>
  equivocators: Set<string>
  /** answers whose 2f+1 votes made a certificate that would not verify: they do not count toward a quorum */
  failed: Set<string>
  done: boolean
}
