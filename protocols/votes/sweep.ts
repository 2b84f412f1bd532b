/**
 * Deadlines that follow progress: every SWEEP_MS the origin looks at its open
 * ballots for voters that stopped making progress. A voter is suspected when it
 * has shown no progress for a while (a few of its typical reading times, at
 * least MIN_SUSPECT_MS) or has voted SKIP_VOTES times since the ballot reached
 * it without voting on it; a suspected voter is asked once more, and the
 * ballot grows by as many voters as a quorum then lacks (its vote still counts
 * if it comes). A busy voter is sent the ballot again once it has made room.
 */
import { BUSY_RETRY_VOTES, MAX_REASKS, SKIP_VOTES } from './constants.js'
import type { Origin } from './origin.js'
import type { Shared } from './shared.js'
import type { Standing } from './standing.js'
import type { VoteWatch } from './watch.js'

export class Sweeper {
  private sweeping = false

  constructor (private readonly shared: Shared, private readonly watch: VoteWatch, private readonly standing: Standing, private readonly origin: Origin) {}

  /** Look at every open ballot for voters that stopped making progress. */
  sweep (): void {
    if (this.sweeping || this.shared.stopped) return
    this.sweeping = true
    const { log, silenceMs } = this.shared
    const run = async (): Promise<void> => {
      const now = performance.now()
      const median = this.shared.timing.service.median() ?? 0
      for (const poll of [...this.origin.polls.values()]) {
        if (poll.done) continue
        let changed = false
        let reask = false
        for (const [voter, a] of poll.asked) {
          if (poll.votes.has(voter) || this.watch.equivocators.has(voter) || a.gaveUp) continue
          const p = this.watch.progress.get(voter)
          const quiet = now - Math.max(a.at, p?.at ?? 0)
          const skipped = (p?.count ?? 0) - a.count > SKIP_VOTES
          if (a.busy) {
            // It refused the ballot: sent again once it has made room, given up only if it falls silent.
            if (quiet > silenceMs) {
              a.gaveUp = true
              changed = true
            } else if ((p?.count ?? 0) - a.count >= BUSY_RETRY_VOTES || quiet > this.standing.suspectMs(voter, median)) {
              a.busy = false
              a.at = now
              a.count = p?.count ?? 0
              reask = true
            }
            continue
          }
          if (!a.suspected) {
            if (quiet <= this.standing.suspectMs(voter, median) && !skipped) continue
            a.suspected = true
            this.standing.suspects.add(voter)
            this.shared.counts.suspected++
            log.info({ task: poll.task.id, voter, quietMs: Math.round(quiet), skipped }, 'a voter is suspected of silence: asked again, and the ballot grows')
            changed = true
          }
          if (!a.reasked) {
            // A voter may simply have missed the ballot: asked once more, from now on.
            a.reasked = true
            a.at = now
            a.count = p?.count ?? 0
            reask = true
          } else if (skipped && a.reasks < MAX_REASKS) {
            // Alive, but past the ballot without a vote on it: the ballot or the vote may have been lost.
            a.reasks++
            a.at = now
            a.count = p?.count ?? 0
            reask = true
          } else if (quiet > silenceMs || skipped) {
            a.gaveUp = true
            changed = true
          }
        }
        const round = poll.round
        if (changed) await this.origin.grow(poll)
        // Growing published the ballot again; otherwise it goes out again now for the voters asked again.
        if (reask && !poll.done && poll.round === round) this.origin.ask(poll, [])
      }
    }
    run().catch(err => { log.warn({ err: (err as Error).message }, 'looking at open ballots failed') }).finally(() => { this.sweeping = false })
  }
}
