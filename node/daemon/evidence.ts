import type { Replica } from '../../crdt/replica.js'
import { isEquivocation, verifyVote } from '../../protocols/votes/index.js'
import type { Log } from '../log.js'

/**
 * Equivocation evidence in the store, from any node, checked here: proven
 * equivocators' votes stop counting. One check at a time (changes that come
 * meanwhile are seen by one more pass), and an entry is verified once.
 */
export class EvidenceCheck {
  private run: Promise<void> | undefined
  private again = false
  /** evidence entries verified already (and found not to prove anything, or their voter flagged) */
  private readonly checked = new Set<string>()

  /** `equivocators` is the quorum's set: a voter added to it no longer counts. */
  constructor (private readonly replica: Replica, private readonly equivocators: () => Set<string>, private readonly log: Log) {}

  load (): Promise<void> {
    if (this.run != null) {
      this.again = true
      return this.run
    }
    this.run = (async () => {
      do {
        this.again = false
        await this.check()
      } while (this.again)
    })().finally(() => { this.run = undefined })
    return this.run
  }

  private async check (): Promise<void> {
    for (const e of this.replica.evidence()) {
      if (this.equivocators().has(e.voter)) continue
      const seen = `${e.voter}|${e.task}|${e.reporter}|${JSON.stringify(e.entry.votes)}`
      if (this.checked.has(seen)) continue
      this.checked.add(seen)
      const [a, b] = await Promise.all(e.entry.votes.map(async v => await verifyVote(v)))
      if (a?.ok === true && b?.ok === true && a.vote.voter === e.voter && isEquivocation(a.vote, b.vote)) {
        this.equivocators().add(e.voter)
        this.log.warn({ voter: e.voter, task: e.task, reporter: e.reporter }, 'equivocation evidence: the voter no longer counts')
      }
    }
  }
}
