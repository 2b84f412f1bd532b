/**
 * What an origin knows of each voter beyond one ballot: suspected of silence
 * lately, dissenting from certified answers lately. It decides the order in
 * which voters are asked, how many ballots each may hold at once, and how long
 * one may show no progress before it is suspected.
 */
import { MAX_TRACKED_VOTERS, VOTER_WINDOW } from './constants.js'
import { dissentNow, rankVoters, suspicionMs } from './policy.js'
import type { Poll } from './poll.js'
import type { Shared } from './shared.js'
import type { VoteWatch } from './watch.js'

export class Standing {
  /** per voter: how often its votes disagreed with certified answers lately (see DISSENT_HALF_LIFE_MS) */
  private readonly dissent = new Map<string, { score: number, at: number }>()
  /** voters suspected on one of this node's ballots and not heard from on one since: chosen last */
  readonly suspects = new Set<string>()

  constructor (private readonly shared: Shared, private readonly watch: VoteWatch) {}

  /**
   * Candidates in the order they should be asked: not suspected first, then the least loaded, then
   * this node (it holds the image, and its own reading gives the certified result its regions), ties
   * at random.
   */
  rank (candidates: string[], load: Map<string, number>): string[] {
    return rankVoters(candidates, p => ({ suspected: this.suspects.has(p), dissenter: this.dissenter(p), load: load.get(p) ?? 0, self: p === this.shared.self }), this.shared.init.random ?? Math.random)
  }

  /** Did this voter's votes disagree with certified answers lately? (Chosen last, and one ballot at a time: a wrong voter on a ballot costs extra readings.) */
  dissenter (voter: string): boolean {
    const d = this.dissent.get(voter)
    if (d == null) return false
    return dissentNow(d.score, d.at, performance.now()) >= 0.5
  }

  /** The ballots a voter may hold: VOTER_WINDOW, or one while it dissents or is suspected. */
  windowOf (voter: string): number {
    return this.dissenter(voter) || this.suspects.has(voter) ? 1 : VOTER_WINDOW
  }

  /** The time after which a voter without progress is suspected: a few of its typical times per ballot (or all voters' median, `median`, whichever is longer). */
  suspectMs (voter: string, median: number): number {
    return suspicionMs(this.watch.progress.get(voter)?.typical ?? 0, median, this.shared.silenceMs)
  }

  /** A certificate formed: voters on its ballot whose votes disagreed with it are remembered as dissenters for a while. */
  noteDissent (poll: Poll, latex: string): void {
    const now = performance.now()
    for (const [voter, votes] of poll.votes) {
      if (this.watch.equivocators.has(voter)) continue
      const agreed = votes.length === 1 && votes[0]!.latex === latex && votes[0]!.model === this.shared.init.model
      if (agreed) continue
      const d = this.dissent.get(voter)
      const score = (d == null ? 0 : dissentNow(d.score, d.at, now)) + 1
      this.dissent.delete(voter)
      this.dissent.set(voter, { score, at: now })
      for (const old of this.dissent.keys()) { if (this.dissent.size <= MAX_TRACKED_VOTERS) break; this.dissent.delete(old) }
    }
  }
}
