/**
 * Every vote seen on the topic, whatever its task (this node's own included):
 * verified, from a member, and kept for a while, bounded, so that a voter that
 * signs two different votes for one task is caught as an equivocator (both
 * votes are kept as evidence and its votes stop counting, everywhere). Each
 * voter's progress is followed here too: every vote a voter signs, on any
 * task, is seen on the topic, so a voter working through a queue is known to
 * be alive.
 */
import { isEquivocation, verifyVote, type SignedVote } from './vote.js'
import { FOREIGN_VOTES_MS, MAX_BALLOTS_PER_TASK, MAX_RECENT_VOTE_BYTES, MAX_TRACKED_VOTERS, RECENT_TASKS } from './constants.js'
import type { Shared } from './shared.js'

/**
 * A voter's progress: when a fresh vote of it last arrived (performance.now()), how many fresh votes
 * it has signed, the newest signing time seen, and its own typical time from ballot (or its previous
 * vote) to vote.
 */
export interface Progress { at: number, count: number, newest: number, typical?: number }

/** A verified vote of a member, new here: what counting it on a ballot needs to know. */
export interface SeenVote {
  vote: SignedVote
  /** an earlier vote of its voter, on the same task, image and model, with another answer (equivocation) */
  conflicting: SignedVote | undefined
  /** signed after every vote of its voter seen before, and recently: progress */
  fresh: boolean
  /** its voter's progress before this vote */
  before: Progress | undefined
}

/** About what a vote takes in memory: its strings (two bytes a character at worst) and the object around them. */
function voteBytes (v: SignedVote): number {
  return 2 * (v.task.length + v.image.length + v.model.length + v.latex.length + v.voter.length + v.sig.length) + 160
}

export class VoteWatch {
  /** equivocators seen anywhere (their votes never count) */
  readonly equivocators = new Set<string>()
  /** every verified vote of recent tasks, by task and VOTER!IMAGE!MODEL, to catch equivocation on any task; oldest task first */
  private readonly recent = new Map<string, { byVoter: Map<string, SignedVote[]>, bytes: number, at: number }>()
  private recentBytes = 0
  /** tasks this node has voted on (their votes in `recent` are kept to the byte bound, not to FOREIGN_VOTES_MS) */
  readonly votedTasks = new Set<string>()
  /**
   * per voter: its Progress. Fresh votes only: signed after every vote of it seen before, and
   * recently, so replayed old votes (anyone can relay them) never count as progress.
   */
  readonly progress = new Map<string, Progress>()

  /** `isOpen`: is this one of this node's open ballots (its votes stay in `recent`)? */
  constructor (private readonly shared: Shared, private readonly isOpen: (task: string) => boolean) {}

  /**
   * A vote from the network (or this node): verified, kept to catch equivocation, counted as its
   * voter's progress. Undefined for one that is invalid, not a member's, or already seen.
   */
  async see (input: unknown, arrived: number): Promise<SeenVote | undefined> {
    const { log, init } = this.shared
    const check = await verifyVote(input)
    if (!check.ok) {
      log.debug({ reason: check.reason, detail: check.detail }, 'refused a vote')
      return
    }
    const v = check.vote
    if (!init.isMember(v.voter)) {
      log.debug({ task: v.task, voter: v.voter }, 'ignored a vote from a non-member')
      return
    }
    // Equivocation is caught on any task this node sees votes for, not only its own.
    let entry = this.recent.get(v.task)
    if (entry == null) this.recent.set(v.task, entry = { byVoter: new Map(), bytes: 0, at: Date.now() })
    const byVoter = entry.byVoter
    // Votes are compared within one voter, image and model: only there do two answers conflict.
    const ballotKey = `${v.voter}!${v.image}!${v.model}`
    const seen = byVoter.get(ballotKey) ?? []
    if (seen.some(m => m.sig === v.sig)) return // a replay or a duplicate delivery
    const conflicting = seen.find(m => isEquivocation(m, v))
    if (conflicting == null && seen.length > 0) return // the same vote signed again (a re-vote after a restart)
    if (seen.length > 0 || byVoter.size < MAX_BALLOTS_PER_TASK) {
      const kept = [...seen, v].slice(-4)
      const delta = kept.reduce((n, x) => n + voteBytes(x), 0) - seen.reduce((n, x) => n + voteBytes(x), 0)
      byVoter.set(ballotKey, kept)
      entry.bytes += delta
      this.recentBytes += delta
      this.trimRecent(v.task)
    }
    // A fresh vote: the voter is making progress (whatever the task), so its ballots here are not silent.
    const before = this.progress.get(v.voter)
    const fresh = v.time > (before?.newest ?? 0) && Math.abs(Date.now() - v.time) < 2 * this.shared.silenceMs
    if (fresh) {
      this.progress.delete(v.voter)
      this.progress.set(v.voter, { at: arrived, count: (before?.count ?? 0) + 1, newest: v.time, ...(before?.typical != null ? { typical: before.typical } : {}) })
      for (const old of this.progress.keys()) { if (this.progress.size <= MAX_TRACKED_VOTERS) break; this.progress.delete(old) }
    }
    if (conflicting != null && !this.equivocators.has(v.voter)) {
      this.equivocators.add(v.voter)
      log.warn({ voter: v.voter, task: v.task }, 'equivocation: two different signed votes on one task')
      await init.onEquivocation(conflicting, v).catch(err => { log.warn({ err }, 'storing equivocation evidence failed') })
    }
    return { vote: v, conflicting, fresh, before }
  }

  /** One more of a voter's times from ballot (or its previous vote) to vote: its typical time moves toward it. */
  addServiceTime (voter: string, service: number): void {
    const p = this.progress.get(voter)
    if (p != null) p.typical = p.typical == null ? service : 0.8 * p.typical + 0.2 * service
  }

  /**
   * Keep `recent` within RECENT_TASKS and MAX_RECENT_VOTE_BYTES, dropping the oldest tasks first,
   * and drop tasks this node neither originates nor voted on once FOREIGN_VOTES_MS old. The task
   * a vote has just come in for stays (its votes are one task's: at most a few MiB).
   */
  private trimRecent (current: string): void {
    const now = Date.now()
    for (const [task, e] of this.recent) {
      const over = this.recent.size > RECENT_TASKS || this.recentBytes > MAX_RECENT_VOTE_BYTES
      const stale = now - e.at > FOREIGN_VOTES_MS && !this.isOpen(task) && !this.votedTasks.has(task)
      if (!over && !stale) break
      // The task a vote just came for, and this node's open ballots (bounded by the voters' windows), stay.
      if (task === current || this.isOpen(task)) continue
      this.recent.delete(task)
      this.recentBytes -= e.bytes
    }
  }

  /** Bytes of votes kept to catch equivocation, and on how many tasks (for tests and status). */
  recentVotes (): { tasks: number, bytes: number } {
    return { tasks: this.recent.size, bytes: this.recentBytes }
  }
}
